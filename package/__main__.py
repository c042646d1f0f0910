"""The ``fitscope`` command: ``fitscope`` opens the app, ``fitscope fit …`` trains headless.

The first word is checked before anything starts: a word that is no command is a usage error (exit 2), so
that a typo never opens a window (or, on a machine without a display, aborts in Qt).
"""

from __future__ import annotations

import os
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
    from fitscope.engine.cli import COMMANDS

    usage = USAGE.format(commands=", ".join(COMMANDS))
    if not args:
        return app()
    if args[0] in ("-h", "--help"):
        print(usage)
        return 0
    if args[0] == "--version":
        from fitscope import __version__

        print(f"fitscope {__version__}")
        return 0
    if args[0] in COMMANDS:
        from fitscope.engine.cli import main as cli_main

        return cli_main(args)
    word = args[0] if len(args[0]) <= 40 else args[0][:40] + "…"
    print(f"error: {word!r} is not a fitscope command (choose {', '.join(COMMANDS)}; "
          "'fitscope' alone opens the app)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
