"""Texts, style sheet and icons shown in the app, read with :mod:`importlib.resources` (works from a wheel)."""

from __future__ import annotations

from functools import cache
from importlib.resources import files


@cache
def read_text(name: str) -> str:
    """The text of the resource file ``name`` (e.g. ``"style.qss"``)."""
    return files(__name__).joinpath(name).read_text(encoding="utf-8")


@cache
def sections(name: str) -> dict[str, str]:
    """A Markdown-like resource split at its ``## key`` headings: ``{key: body}``, bodies stripped."""
    out: dict[str, str] = {}
    key = None
    for line in read_text(name).splitlines():
        if line.startswith("## "):
            key = line[3:].strip()
            out[key] = ""
        elif key is not None:
            out[key] += line + "\n"
    return {k: v.strip() for k, v in out.items()}
