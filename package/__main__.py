"""The ``fitscope`` command: ``fitscope`` opens the app, ``fitscope fit …`` trains headless.

The first word is checked before anything starts: a word that is no command is a usage error (exit 2), so
that a typo never opens a window (or, on a machine without a display, aborts in Qt).
"""

from __future__ import annotations

import os
import signal
import sys

USAGE = """\
usage: fitscope                 open the app
       fitscope COMMAND …       (COMMAND: {commands}; 'fitscope COMMAND --help' for its options)
       fitscope --version"""


def _one_blas_thread() -> None:
    # The app's arrays are small and its two threads (GUI, training) share the machine: BLAS threads on top
    # of them only contend. Set before NumPy is first imported.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def app() -> int:
    """``fitscope-app``: the app alone (a GUI entry point, without a console window on Windows)."""
    _one_blas_thread()
    from fitscope.gui.app import main as app_main

    return app_main([])


def main(argv: list[str] | None = None) -> int:
    _one_blas_thread()
    args = sys.argv[1:] if argv is None else list(argv)
    if not args:
        return app()
    # A command line: Ctrl-C and SIGTERM end it cleanly (exit 130 or 143, one line, no traceback) from here
    # on, through the imports of NumPy and pandas too: first with a handler of this module's own, until
    # fitscope.engine.interrupts (which imports nothing heavy) takes over.
    _first_signal.clear()
    previous = {s: signal.signal(s, _early) for s in _SIGNALS}
    restore = None
    try:
        from fitscope.engine import interrupts

        restore = interrupts.install()
        _stop_if_signalled()
        return _command(args)
    except KeyboardInterrupt:
        return _interrupted()
    except Exception:
        if not _first_signal and ("fitscope.engine.interrupts" not in sys.modules
                                  or sys.modules["fitscope.engine.interrupts"].pending() is None):
            raise
        return _interrupted()  # an error a signal caused on its way (NumPy's import makes it an ImportError)
    finally:
        if argv is None:  # the process ends now: a signal this late changes nothing any more
            for s in _SIGNALS:
                signal.signal(s, signal.SIG_IGN)
        else:
            if restore is not None:
                restore()
            for s, handler in previous.items():
                signal.signal(s, handler)


_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM") if hasattr(signal, name))
_first_signal: list[int] = []


def _early(signum: int, frame: object) -> None:
    """Until fitscope.engine.interrupts takes over: the first signal raises KeyboardInterrupt, the next are
    ignored (the command is stopping)."""
    if not _first_signal:
        _first_signal.append(signum)
        raise KeyboardInterrupt


def _stop_if_signalled() -> None:
    """A signal that came during an import may have raised its KeyboardInterrupt where Python only prints it
    (in a weak reference's callback, say): the command must stop all the same."""
    if _first_signal:
        raise KeyboardInterrupt


def _interrupted() -> int:
    """Ctrl-C or SIGTERM before the command had anything to write: one line, 130 or 143."""
    signum = _first_signal[0] if _first_signal else signal.SIGINT
    if "fitscope.engine.interrupts" in sys.modules:
        interrupts = sys.modules["fitscope.engine.interrupts"]
        signum = interrupts.pending() or signum
        interrupts.acknowledge()
    verb = "terminated" if signum == getattr(signal, "SIGTERM", None) else "interrupted"
    print(f"{verb}: nothing was written", file=sys.stderr)
    return 128 + signum


def _command(args: list[str]) -> int:
    from fitscope.engine.cli import COMMANDS

    usage = USAGE.format(commands=", ".join(COMMANDS))
    if args[0] in ("-h", "--help"):
        print(usage)
        return 0
    if args[0] == "--version":
        from fitscope import __version__

        print(f"fitscope {__version__}")
        return 0
    if args[0] in COMMANDS:
        from fitscope.engine.cli import main as cli_main

        _stop_if_signalled()
        return cli_main(args)
    word = args[0] if len(args[0]) <= 40 else args[0][:40] + "…"
    print(f"error: {word!r} is not a fitscope command (choose {', '.join(COMMANDS)}; "
          "'fitscope' alone opens the app)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
