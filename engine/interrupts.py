"""Ctrl-C and SIGTERM in a command-line run: a clean exit at any moment, and never half a file.

:func:`install` (main thread only) gives SIGINT and SIGTERM one handler that raises :class:`Interrupted` (a
:class:`KeyboardInterrupt`, so ``except KeyboardInterrupt`` sees both) — but never inside a :func:`deferred`
block: there the signal is only recorded, and raised when the block ends, or earlier at a :func:`check`.
A run defers signals where an exception would leave something half done (a row half written, some files
renamed and others not) and checks at the points where stopping is clean (between two reports).

Only the first signal is raised by the handler: once a run is stopping, more Ctrl-C (pressed twice,
quickly) are recorded and ignored, so cleaning up is never cut short. A signal whose exception some library
swallowed (one raised inside a finalizer is dropped by Python; NumPy turns one raised during its import into
an ImportError) is still pending until the code that stops the run calls :func:`acknowledge`: the next
:func:`check` raises it again, and :func:`pending` tells a catch-all that the error it caught is really
the interruption. While the handlers are installed, an :class:`Interrupted` that Python could not raise (in
a finalizer) is dropped silently instead of printed.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator

__all__ = ["Interrupted", "acknowledge", "check", "deferred", "hold", "install", "pending", "release"]

_HANDLED = tuple(s for s in (getattr(signal, "SIGINT", None), getattr(signal, "SIGTERM", None)) if s is not None)


class Interrupted(KeyboardInterrupt):
    """SIGINT (Ctrl-C) or SIGTERM received; :attr:`status` is the conventional exit status, 128 + signal."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signum)
        self.signum = int(signum)

    @property
    def status(self) -> int:
        return 128 + self.signum

    @property
    def verb(self) -> str:
        """"interrupted" (Ctrl-C) or "terminated" (SIGTERM)."""
        return "terminated" if self.signum == getattr(signal, "SIGTERM", -1) else "interrupted"


class _State:
    def __init__(self) -> None:
        self.pending: int | None = None  # the first signal received
        self.raised = False  # the handler raised an Interrupted: later signals are recorded only
        self.acknowledged = False  # the run caught it and is stopping: check() raises nothing any more
        self.depth = 0  # deferred() blocks open


_state = _State()


def _handler(signum: int, frame: object) -> None:
    if _state.pending is None:
        _state.pending = signum
    if _state.depth == 0 and not _state.raised:
        _state.raised = True
        raise Interrupted(_state.pending)


def _unraisable(hook: Callable) -> Callable:
    def drop_interruptions(info: object) -> None:
        if not isinstance(getattr(info, "exc_value", None), KeyboardInterrupt):
            hook(info)

    return drop_interruptions


def install() -> Callable[[], None]:
    """Handle SIGINT and SIGTERM as described above, from now on; returns the function that puts the
    previous handlers (and state) back. Outside the main thread it does nothing (only the main thread
    receives signals in Python)."""
    global _state
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    saved_state, _state = _state, _State()
    previous = {}
    for signum in _HANDLED:
        previous[signum] = signal.signal(signum, _handler)
    saved_hook = sys.unraisablehook
    sys.unraisablehook = _unraisable(saved_hook)

    def restore() -> None:
        global _state
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        sys.unraisablehook = saved_hook
        _state = saved_state

    return restore


def pending() -> int | None:
    """The signal received, if any (until the handlers are restored)."""
    return _state.pending


def acknowledge() -> Interrupted | None:
    """Say that the run is stopping for the signal received (nothing raises any more); returns it as an
    :class:`Interrupted`, or None if no signal came."""
    _state.acknowledged = _state.raised = True
    return None if _state.pending is None else Interrupted(_state.pending)


def check() -> None:
    """Raise :class:`Interrupted` now if a signal came and the run has not acknowledged it yet (also when the
    handler's exception was swallowed on its way)."""
    if _state.pending is not None and not _state.acknowledged:
        _state.raised = True
        raise Interrupted(_state.pending)


def hold() -> None:
    """Open a :func:`deferred` block without a ``with`` (cheaper, for one row of a file); close it with
    :func:`release`, in a ``finally``."""
    _state.depth += 1


def release() -> None:
    """Close the block :func:`hold` opened; a signal that came meanwhile is raised now."""
    _state.depth -= 1
    if _state.depth == 0 and _state.pending is not None and not _state.raised:
        _state.raised = True
        raise Interrupted(_state.pending)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """A block that signals do not cut short: one arriving inside is raised when the block ends (unless
    the block ends with an exception of its own, or the handler raised one already: whoever caught that one
    is stopping the run)."""
    _state.depth += 1
    try:
        yield
    finally:
        _state.depth -= 1
    if _state.depth == 0 and _state.pending is not None and not _state.raised:
        _state.raised = True
        raise Interrupted(_state.pending)
