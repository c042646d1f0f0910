"""The ``fitscope`` commands: ``fitscope COMMAND [options]``.

Each command is a module of this package with

- ``add_parser(subparsers)``: adds its sub-parser (its name, help and options) to ``fitscope``'s, and
- ``run(args, out, err) -> int``: does the work with the parsed options, printing to ``out`` and ``err``,
  and returns the exit status;

and is listed once in :data:`COMMANDS`, which both :func:`main` and the ``fitscope`` command
(``package/__main__.py``) read. Options shared by the commands that train live in :mod:`.common`.

Exit status: 0 done; 2 bad input (one ``error:`` line on stderr); 3 training diverged; 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from types import ModuleType
from typing import TextIO

from .. import interrupts
from ..export import ExportError
from . import code, fit, sweep
from .common import (
    EXIT_CLOSED,
    EXIT_DIVERGED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    Parser,
    UsageError,
    one_line,
    silence,
)

__all__ = ["COMMANDS", "EXIT_DIVERGED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "UsageError", "build_parser",
           "main"]

#: The subcommands of ``fitscope`` (the word after it), each a module with ``add_parser`` and ``run``.
COMMANDS: dict[str, ModuleType] = {
    "fit": fit,
    "sweep": sweep,
    "code": code,
}


def build_parser() -> Parser:
    """The ``fitscope`` parser, with a sub-parser per command of :data:`COMMANDS`."""
    parser = Parser(prog="fitscope", description="A microscope on model.fit().")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS.values():
        module.add_parser(subparsers)
    return parser


def _command_parser(parser: Parser, command: str) -> Parser:
    """The sub-parser of ``command``."""
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices[command]


def main(argv: list[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Entry point of ``fitscope COMMAND …``: ``argv`` starts after the program name (``["fit", …]``).

    Ctrl-C (SIGINT) and SIGTERM are handled for the whole call (:mod:`engine.interrupts`): exit status 130 or
    143, one line on stderr, never a traceback. Bad input and files that cannot be written or read: one
    ``error:`` line, exit status 2.
    """
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    restore = interrupts.install()
    try:
        return _main(sys.argv[1:] if argv is None else argv, out, err)
    except KeyboardInterrupt:  # while parsing, or anything a command does not catch itself
        return _interrupted(err)
    except Exception:
        if interrupts.pending() is None:
            raise
        return _interrupted(err)  # an error a signal caused on its way (NumPy's import makes it an ImportError)
    finally:
        restore()


def _interrupted(err: TextIO) -> int:
    stop = interrupts.acknowledge() or interrupts.Interrupted()
    print(f"{stop.verb}: nothing was written", file=err)
    return stop.status


def _main(argv: list[str], out: TextIO, err: TextIO) -> int:
    try:
        parser = build_parser()
        args, unknown = parser.parse_known_args(argv)
        if unknown:  # said by the command's parser, so that the message points to the command's help
            _command_parser(parser, args.command).error(f"unrecognized arguments: {' '.join(unknown)}")
        return COMMANDS[args.command].run(args, out, err)
    except SystemExit as e:  # from argparse: --help (0) or a usage error (2, already reported)
        return 0 if e.code is None else int(e.code)
    except (UsageError, ExportError) as e:  # bad input, or a file that cannot be written
        print(f"error: {one_line(str(e))}", file=err)
        return EXIT_USAGE
    except BrokenPipeError:  # the reader of the output went away (``fitscope fit … | head -1``)
        silence(out)
        print("stopped: the output was closed", file=err)
        return EXIT_CLOSED
    except MemoryError:
        print("error: out of memory (try a smaller model, fewer rows or a smaller batch)", file=err)
        return EXIT_USAGE
    except OSError as e:  # the terminal or a pipe failing under us
        print(f"error: {one_line(e.strerror or str(e))}", file=err)
        return EXIT_USAGE
