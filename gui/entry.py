"""The ``fitscope`` command: ``fitscope`` opens the app, ``fitscope fit …`` trains headless."""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    # The app's arrays are small and its two threads (GUI, training) share the machine: BLAS threads on top
    # of them only contend. Set before NumPy is first imported.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "fit":
        from engine.cli import main as cli_main

        return cli_main(args)
    if args and args[0] in ("-h", "--help"):
        print("usage: fitscope            open the app\n       fitscope fit --help   train from the command line")
        return 0
    from gui.app import main as app_main

    return app_main(args)


if __name__ == "__main__":
    sys.exit(main())
