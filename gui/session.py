"""The session file: a JSON document that holds the whole window's work.

::

    {
      "format": "fitscope-session",
      "version": 2,
      "saved": "2025-01-31T12:00:00+00:00",
      "current_view": "surfaceView",
      "views": {"surfaceView": {"model": {...}, "view": {...}}, "bostonView": {...}, "raceView": {...}}
    }

Each training tab's part holds its model's state (``model``: the data source — a built-in name, or a CSV
path with its target, features and a digest of the numbers —, the settings, the start, the trainer's exact
state, the trajectory and the history; see :meth:`fitscope.engine.run.FitRun.state`) and the view's own
(``view``: the plots' ranges, the log scales, the speed). Small arrays are lists of numbers; long ones (the
trajectory) are base64 of their float64 bytes: both read back bit for bit. Version 1 files (fitscope 0.1,
whose parts kept the values of the tab's controls beside the settings) are read by converting them
(:func:`upgrade`).

Reading is strict and safe: only a regular file of at most
:data:`~fitscope.engine.settings.MAX_SESSION_BYTES` (checked before it is read), JSON only (nothing is
unpickled or evaluated), NaN/Infinity tokens refused, the format and version checked. Anything wrong raises
:class:`SessionError` with one line for the user. Writing is atomic (:func:`fitscope.engine.export.atomic_write`).
"""

from __future__ import annotations

import copy
import datetime
import json
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

from fitscope.engine.export import ExportError, atomic_write
from fitscope.engine.files import FileError, read_regular
from fitscope.engine.settings import MAX_SESSION_BYTES

FORMAT = "fitscope-session"
VERSION = 2
SUFFIX = ".json"
FILTER = "fitscope session (*.json);;All files (*)"


class SessionError(Exception):
    """A session cannot be read (or written); ``str(e)`` is one line for the user."""


# --------------------------------------------------------------------------- the file
def write_session(path: str | os.PathLike[str], current_view: str, views: Mapping[str, dict],
                  inputs: Sequence[str] = ()) -> None:
    """Write a session document to ``path`` atomically (:class:`SessionError` if it cannot be written);
    ``inputs``: the data files of its tabs, which it must not overwrite."""
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "saved": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "current_view": current_view,
        "views": dict(views),
    }
    try:
        text = json.dumps(doc, allow_nan=False, indent=1)
    except (TypeError, ValueError) as e:  # a value JSON cannot hold: a bug, never a bad file
        raise SessionError(f"cannot save the session: {e}") from None
    try:
        atomic_write(path, text + "\n", inputs=inputs)
    except ExportError as e:
        raise SessionError(str(e)) from None


def _no_constant(token: str) -> float:
    raise ValueError(f"{token} is not a number JSON allows")


def _finite_float(text: str) -> float:
    x = float(text)
    if not math.isfinite(x):
        raise ValueError(f"{text} is out of range")
    return x


def _unclosed(text: str) -> bool:
    """Whether a JSON text leaves an object, a list or a string open at its end (a file cut short)."""
    depth, in_string, escaped = 0, False, False
    for c in text:
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "{[":
            depth += 1
        elif c in "}]":
            depth -= 1
    return in_string or depth > 0


def read_session(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The session document at ``path``, its header checked and upgraded to this version's form;
    :class:`SessionError` if it is not one we read."""
    name = os.path.basename(os.fspath(path)) or os.fspath(path)
    try:
        raw = read_regular(path, MAX_SESSION_BYTES, name=name)
    except FileError as e:
        raise SessionError(f"Cannot open {e}.") from None
    if not raw.strip():
        raise SessionError(f"{name} is empty: it is not a fitscope session.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SessionError(f"{name} is not a fitscope session (it is not a text file).") from None
    try:
        doc = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except json.JSONDecodeError as e:
        if e.pos >= len(text.rstrip()) or _unclosed(text):  # it ends in the middle of the document
            raise SessionError(f"{name} is cut short: the file ends in the middle (it was not saved "
                               "completely).") from None
        raise SessionError(f"{name} is damaged: it is not valid JSON (line {e.lineno}, column {e.colno}).") from None
    except (ValueError, RecursionError):
        raise SessionError(f"{name} is damaged: it holds values a session cannot have.") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise SessionError(f"{name} is not a fitscope session (it is some other JSON file).")
    version = doc.get("version")
    if type(version) is not int or version < 1:
        raise SessionError(f"{name} is damaged: its format version is missing or invalid.")
    if version > VERSION:
        raise SessionError(f"{name} was saved by a newer fitscope (session version {version}); "
                           f"this one reads version {VERSION}. Update fitscope to open it.")
    if not isinstance(doc.get("views"), dict) or not isinstance(doc.get("current_view", ""), str):
        raise SessionError(f"{name} is damaged: it has no views.")
    if not doc["views"]:
        raise SessionError(f"{name} holds no tab's part: there is nothing to open.")
    if version == 1:
        try:
            doc = upgrade(doc)
        except (KeyError, TypeError, AttributeError, ValueError, IndexError, RecursionError):
            raise SessionError(f"{name} is damaged: its tabs' parts are not those of a fitscope session.") from None
    return doc


# --------------------------------------------------------------------------- version 1
#: The values of a version-1 part's controls that the settings of its run did not follow while it trained.
_LIVE_CONTROLS = ("learning_rate", "batch_size", "loss", "optimizer", "epochs")


def upgrade(doc: dict[str, Any]) -> dict[str, Any]:
    """A version-1 document in this version's form (KeyError/TypeError/ValueError if it is malformed).

    In version 1 a part kept the settings its run started with and, apart, the values of the tab's controls,
    which a change made while training reached without restarting (a learning rate, say); here the settings
    are those of the run now. A batch shown phase by phase was replayed from the last step; here the trainer
    keeps the phase it is at.
    """
    doc = copy.deepcopy(doc)
    views = {}
    for key, part in doc["views"].items():
        upgrade_part = {"surfaceView": _surface_v1, "bostonView": _boston_v1, "raceView": _race_v1}.get(key)
        if upgrade_part is not None:
            views[key] = upgrade_part(part)
    doc["views"], doc["version"] = views, VERSION
    return doc


def _live(settings: dict, controls: dict, keys=_LIVE_CONTROLS) -> dict:
    return {**settings, **{k: controls[k] for k in keys if k in controls}}


def _phase_in_trainer(trainer: dict, history: dict) -> dict:
    """The phase a version-1 session was saved at, put into its trainer's state."""
    last = history.get("last_step")
    if isinstance(last, dict) and last.get("phase") != 4 and history.get("diverged") is None:
        indices = last["indices"]
        rows = math.prod(indices["shape"]) if isinstance(indices, dict) else 0
        return {**trainer, "shown_phase": last["phase"], "shown_rows": rows}
    return trainer


def _surface_v1(part: dict) -> dict:
    controls = part["controls"]
    return {
        "model": {"data": part["data"], "settings": _live(part["settings"], controls), "start": None,
                  "trainer": _phase_in_trainer(part["trainer"], part["history"]), "history": part["history"],
                  "finished": part["finished"]},
        "view": {"speed": controls.get("speed", 5), "range": part["range"], "log_scale": part["log_scale"],
                 "chosen": part["chosen"]},
    }


def _boston_v1(part: dict) -> dict:
    controls = part["controls"]
    return {
        "model": {"data": part["data"], "settings": _live(part["settings"], controls), "start": part["start"],
                  "trainer": part["trainer"], "history": part["history"], "finished": part["finished"],
                  "pair": part["pair"]},
        "view": {"range": part["range"], "log_scale": part["log_scale"]},
    }


def _race_v1(part: dict) -> dict:
    from fitscope.gui.models.race import OPTIONS, RACERS, Racer

    controls = part["controls"]
    racing = {r["optimizer"]: r for r in part["racers"]}
    racers = {}
    for key in RACERS:
        default = Racer.default(key)
        if key in racing:
            rate, options = racing[key]["learning_rate"], racing[key]["options"]
        else:
            rate = controls.get(f"{key}.learning_rate", default.learning_rate)
            options = {o.keyword: controls.get(f"{key}.{o.keyword}", o.default) for o in OPTIONS[key]}
        racers[key] = {"enabled": key in racing, "learning_rate": rate, "options": options}
    settings = {**part["settings"], "init": part["start"]}
    return {
        "model": {"data": part["data"], "settings": settings, "racers": racers,
                  "tolerance": controls.get("tolerance", 0.01), "race": part["race"],
                  "histories": part["histories"], "done": part["done"]},
        "view": {"speed": controls.get("speed", 5), "range": part["range"], "log_scale": part["log_scale"]},
    }


# --------------------------------------------------------------------------- a view's own part: its fields
def range_field(value: Any, what: str = "the plot's range") -> tuple[float, float, float, float]:
    """A visible range ``(x0, x1, y0, y1)``: four finite numbers, each pair increasing."""
    if not isinstance(value, list) or len(value) != 4 or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in value):
        raise ValueError(f"{what} is not four numbers")
    x0, x1, y0, y1 = (float(v) for v in value)
    if not all(math.isfinite(v) and abs(v) < 1e150 for v in (x0, x1, y0, y1)) or not (x0 < x1 and y0 < y1):
        raise ValueError(f"{what} is not a valid window")
    return x0, x1, y0, y1


def bool_value(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{what} is not true or false")
    return value
