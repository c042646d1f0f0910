"""What every ``fitscope`` command that trains shares: its options, their parsing, and the experiment they make.

A command module calls :func:`add_training_options` on its parser and :func:`experiment_from_args` on the
parsed options: data, columns, model, loss, optimizer, rate, batch size, epochs, split, seed, shuffling,
normalization and start point then mean the same everywhere.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, NoReturn

from ..files import shown
from ..settings import (
    ACTIVATIONS,
    BATCH_SIZE_MAX,
    DEFAULT_LEARNING_RATE,
    EPOCHS_MAX,
    LOSSES,
    MAX_LAYERS,
    MAX_UNITS,
    MODELS,
    OPTIMIZERS,
    SEED_MAX,
    FitSettings,
)

if TYPE_CHECKING:
    from ..experiment import Experiment
    from ..run import FitRun

EXIT_OK, EXIT_USAGE, EXIT_DIVERGED, EXIT_INTERRUPTED = 0, 2, 3, 130
#: Exit status when the reader of the output went away (``fitscope fit … | head -1``): 128 + SIGPIPE.
EXIT_CLOSED = 141


def silence(stream: object) -> None:
    """Point a closed output stream's descriptor at the null device, so that nothing fails again when Python
    flushes it at exit."""
    try:
        fd = stream.fileno()  # type: ignore[attr-defined]
        null = os.open(os.devnull, os.O_WRONLY)
    except (OSError, ValueError, AttributeError):
        return
    try:
        os.dup2(null, fd)
    except OSError:
        pass
    finally:
        os.close(null)


class UsageError(Exception):
    """Bad input found by the CLI itself (a malformed list, an unwritable file): exit status 2."""


#: The longest message line the CLI prints about the user's input (longer ones are cut in the middle).
MESSAGE_LIMIT = 300


def one_line(message: str, limit: int = MESSAGE_LIMIT) -> str:
    """``message`` on one line of at most about ``limit`` characters (control characters escaped)."""
    return shown(" ".join(str(message).split()), limit)


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one ``error: …`` line (exit status 2) of reasonable length."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"error: {one_line(message)} (see '{self.prog} --help')\n")


def _value(text: str) -> str:
    """A value the user typed, quoted for a message (escaped to one line, cut if long)."""
    return repr(shown(text, 40))


def whole(low: int, high: int, what: str = "a whole number") -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{_value(text)} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be {what} from {low:,} to {high:,}, not {_value(text)}")
        return value

    parse.__name__ = "whole number"
    return parse


def number(low: float = -math.inf, high: float = math.inf, *, low_open: bool = False, high_open: bool = False,
           what: str = "a number") -> Callable[[str], float]:
    """An argparse type: a finite number in a range (NaN and infinity are bad input, like any other word)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{_value(text)} is not a number") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{_value(text)} is not a finite number")
        if value < low or value > high or (low_open and value == low) or (high_open and value == high):
            raise argparse.ArgumentTypeError(f"must be {what}, not {_value(text)}")
        return value

    parse.__name__ = "number"
    return parse


def file_name(option: str) -> Callable[[str], str]:
    """An argparse type for an output file: not empty, not ``-`` (standard output is not written to)."""

    def parse(text: str) -> str:
        if not text.strip():
            raise argparse.ArgumentTypeError("needs a file name")
        if text == "-":
            raise argparse.ArgumentTypeError("needs a file name (writing to standard output is not supported)")
        return text

    parse.__name__ = f"{option} file"
    return parse


def fmt(x: float | None) -> str:
    """A loss for people: six significant digits, readable from 1e-4 to 1e4."""
    return "n/a" if x is None else f"{x:.6g}"


def add_training_options(parser: argparse.ArgumentParser) -> None:
    """The options of a training run: data and columns, model, loss and optimizer, the fit loop, the start."""
    from ..data import BUILTIN

    parser.add_argument("--data", default=BUILTIN[0], metavar="NAME|PATH",
                        help=f"a built-in data set ({', '.join(BUILTIN)}) or a CSV file (default: %(default)s)")
    parser.add_argument("--target", metavar="COL", help="target column of a CSV file (its name as it is, commas "
                                                        "included)")
    parser.add_argument("--features", metavar="A,B,…",
                        help="feature columns of a CSV file, separated by commas; quote a name that holds a "
                             "comma as in a CSV file: --features '\"size, MB\",rooms' (a quote inside a "
                             "quoted name is doubled)")
    parser.add_argument("--model", choices=MODELS)
    parser.add_argument("--hidden", metavar="N,N,…", help="units per hidden layer of the MLP, e.g. 50,50")
    parser.add_argument("--activation", choices=ACTIVATIONS)
    parser.add_argument("--loss", choices=LOSSES)
    parser.add_argument("--optimizer", choices=OPTIMIZERS)
    parser.add_argument("--lr", type=number(0, low_open=True, what="a positive number"), metavar="RATE",
                        help="learning rate (default: the data set's, or tfjs's for a given --optimizer)")
    parser.add_argument("--momentum", type=number(0, what="a number >= 0"),
                        help="momentum of the momentum optimizer (tfjs default 0.9)")
    parser.add_argument("--batch-size", type=whole(1, BATCH_SIZE_MAX), metavar="N")
    parser.add_argument("--epochs", type=whole(0, EPOCHS_MAX), metavar="N")
    parser.add_argument("--validation-split", type=number(0, 1, high_open=True, what="a fraction from 0 to "
                                                                                      "below 1"),
                        metavar="FRACTION")
    parser.add_argument("--seed", type=whole(0, SEED_MAX))
    parser.add_argument("--no-shuffle", action="store_true", help="keep the rows in order in every epoch")
    parser.add_argument("--shuffle-data", action=argparse.BooleanOptionalAction,
                        help="shuffle the training rows once, with the seed, before the validation split "
                             "(on for boston-housing, as tfjs-examples' loader does)")
    parser.add_argument("--normalize", action=argparse.BooleanOptionalAction,
                        help="z-score the features with the training statistics")
    parser.add_argument("--init", metavar="K,B", help="initial kernel and bias of a one-feature linear model")


def split_list(text: str, option: str) -> list[str]:
    """The items of a comma-separated option, read as a CSV line: ``"size, MB",rooms`` is two items."""
    try:
        parts = next(csv.reader([text], skipinitialspace=True, strict=True), [])
    except csv.Error:
        raise UsageError(f"{option} has a quote that is not closed: {_value(text)}") from None
    parts = [p.strip() for p in parts]
    if not parts or not all(parts):
        raise UsageError(f"{option} takes a comma-separated list without empty items, not {_value(text)}")
    return parts


def parse_floats(text: str, option: str, count: int) -> tuple[float, ...]:
    parts = split_list(text, option)
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != count or len(parts) != count:
        raise UsageError(f"{option} takes {count} comma-separated numbers, not {_value(text)}")
    if not all(math.isfinite(v) for v in values):
        raise UsageError(f"{option} takes finite numbers, not {_value(text)}")
    return values


def parse_hidden(text: str) -> tuple[int, ...]:
    try:
        units = tuple(int(p) for p in split_list(text, "--hidden"))
    except ValueError:
        raise UsageError(f"--hidden takes comma-separated whole numbers, e.g. 50,50, not {_value(text)}") from None
    if len(units) > MAX_LAYERS or not all(1 <= u <= MAX_UNITS for u in units):
        raise UsageError(f"--hidden takes 1 to {MAX_LAYERS} layers of 1 to {MAX_UNITS:,} units, not {_value(text)}")
    return units


def settings_from_args(args: argparse.Namespace, defaults: FitSettings) -> FitSettings:
    """``defaults`` with every option the user gave put in (not yet validated)."""
    changes: dict[str, object] = {}
    for name in ("model", "activation", "loss", "optimizer", "momentum", "batch_size", "epochs",
                 "validation_split", "seed", "normalize", "shuffle_data"):
        value = getattr(args, name)  # the options' names are the settings' names
        if value is not None:
            changes[name] = value
    if args.lr is not None:
        changes["learning_rate"] = args.lr
    elif args.optimizer is not None:
        changes["learning_rate"] = DEFAULT_LEARNING_RATE[args.optimizer]
    if args.hidden is not None:
        changes["hidden"] = parse_hidden(args.hidden)
    if args.no_shuffle:
        changes["shuffle"] = False
    if args.init is not None:
        changes["init"] = parse_floats(args.init, "--init", 2)
    settings = replace(defaults, **changes)
    if args.init is not None and settings.model != "linear":
        raise UsageError("--init applies to a one-feature linear model only")
    if settings.model != "mlp":  # options that would be silently ignored
        for option, given in (("--hidden", args.hidden), ("--activation", args.activation)):
            if given is not None:
                raise UsageError(f"{option} applies to --model mlp only")
    if args.momentum is not None and settings.optimizer != "momentum":
        raise UsageError("--momentum applies to --optimizer momentum only")
    if settings.seed < 0:
        raise UsageError(f"the seed must be a whole number >= 0, not {settings.seed}")
    return settings


def check_args(args: argparse.Namespace) -> None:
    """Check the training options that need no data (lists, their ranges, empty names), before anything is
    read or allocated; :class:`UsageError` if one is bad."""
    if args.data is not None and not args.data.strip():
        raise UsageError("--data needs a built-in name or a file name")
    for option, value in (("--target", args.target), ("--features", args.features)):
        if value is not None and not value.strip():
            raise UsageError(f"{option} needs a column name")
    if args.features is not None:
        split_list(args.features, "--features")
    if args.hidden is not None:
        parse_hidden(args.hidden)
    if args.init is not None:
        parse_floats(args.init, "--init", 2)


def data_files(args: argparse.Namespace) -> list[str]:
    """The files a run of these options reads (none for a built-in data set)."""
    from ..data import BUILTIN

    return [] if args.data in BUILTIN else [args.data]


def experiment_from_args(args: argparse.Namespace) -> Experiment:
    """Load the data and build the experiment the options describe; bad input raises :class:`UsageError`."""
    return run_from_args(args).experiment


def run_from_args(args: argparse.Namespace) -> FitRun:
    """Load the data and build the run the options describe (the app's tabs hold the same kind of run); bad
    input raises :class:`UsageError`."""
    from ..data import BUILTIN, DataError, load
    from ..run import FitRun

    check_args(args)
    features = None if args.features is None else split_list(args.features, "--features")
    try:
        dataset = load(args.data, target=args.target, features=features)
    except DataError as e:
        hint = ""
        if args.data not in BUILTIN and not os.path.lexists(os.path.expanduser(args.data)):
            hint = f"; nor is it a built-in data set ({', '.join(BUILTIN)})"
        raise UsageError(f"{one_line(str(e))}{hint}") from None
    try:
        return FitRun(dataset, settings_from_args(args, dataset.defaults))
    except DataError as e:  # data too large for float64
        raise UsageError(one_line(str(e))) from None
    except ValueError as e:  # the settings' complaints
        raise UsageError(one_line(str(e))) from None
