"""What the hostile tests share: running ``fitscope fit`` (in the test's process or as a real one), a snapshot of
a folder to prove that nothing the user had was changed, and the shape of a one-line message."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

from fitscope.engine.cli import main

ROOT = Path(__file__).resolve().parents[1]

#: The longest message line a user should ever get about bad input.
LONGEST = 400


def fit(*args, cwd: Path | None = None) -> tuple[int, str, str]:
    """``fitscope fit ARGS`` in this process (from ``cwd`` if given): (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    here = os.getcwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["fit", *map(str, args)])
    finally:
        os.chdir(here)
    return code, out.getvalue(), err.getvalue()


def command(*args, cwd: Path | None = None) -> tuple[int, str, str]:
    """``fitscope ARGS`` (any command) in this process, through the CLI's ``main``."""
    out, err = io.StringIO(), io.StringIO()
    here = os.getcwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([*map(str, args)])
    finally:
        os.chdir(here)
    return code, out.getvalue(), err.getvalue()


def one_line(err: str, start: str = "error: ") -> str:
    """Assert that ``err`` is exactly one line starting with ``start``, short, without a traceback; return it."""
    assert err.endswith("\n"), repr(err)
    assert err.count("\n") == 1, f"not one line: {err!r}"
    assert err.startswith(start), err
    assert "Traceback" not in err
    assert len(err) <= LONGEST, f"{len(err)} characters: {err[:200]!r}…"
    return err.rstrip("\n")


def snapshot(folder: Path) -> dict[str, tuple]:
    """Everything in ``folder`` (recursively, links not followed): kind, content or link target, permissions."""
    seen = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            info = os.lstat(path)
            rel = os.path.relpath(path, folder)
            if stat.S_ISLNK(info.st_mode):
                seen[rel] = ("link", os.readlink(path))
            elif stat.S_ISREG(info.st_mode):
                with open(path, "rb") as f:
                    seen[rel] = ("file", f.read(), stat.S_IMODE(info.st_mode))
            elif stat.S_ISDIR(info.st_mode):
                seen[rel] = ("dir", stat.S_IMODE(info.st_mode))
            else:
                seen[rel] = ("special", stat.S_IFMT(info.st_mode))
    return seen


def temporary_files(folder: Path) -> list[str]:
    """Temporary files of the writer left in ``folder``."""
    return sorted(p.name for p in Path(folder).rglob(".*.tmp"))


def table(path: Path, rows: int = 6, header: str = "x,y") -> Path:
    """A small CSV of ``y ≈ 2x + 1``."""
    lines = [header] + [f"{i},{2 * i + 1 + (0.1 if i % 2 else -0.1)}" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def process(*args, cwd: Path, env: dict | None = None, **kw) -> subprocess.Popen:
    """A real ``python -m fitscope ARGS`` process (pipes for its output)."""
    return subprocess.Popen([sys.executable, "-m", "fitscope", *map(str, args)], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def script(code: str, *args, cwd: Path, **kw) -> subprocess.Popen:
    """A real Python process running ``code`` (which may patch the engine, then call the CLI)."""
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def catches_sigterm(pid: int) -> bool:
    """Whether process ``pid`` has a handler for SIGTERM (Python has none of its own: fitscope's is in place)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    for line in status.splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (signal.SIGTERM - 1) & 1)
    return False


def wait_for(predicate, timeout: float = 60.0, step: float = 0.002) -> None:
    """Poll ``predicate`` until it is true (a test that waits for a real process)."""
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError("timed out")
        time.sleep(step)


HAS_PROC = Path("/proc/self/status").exists()
