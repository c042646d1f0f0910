"""What every ``fitscope`` command that trains shares: its options, their parsing, and the experiment they make.

A command module calls :func:`add_training_options` on its parser and :func:`experiment_from_args` on the
parsed options: data, columns, model, loss, optimizer, rate, batch size, epochs, split, seed, shuffling,
normalization and start point then mean the same everywhere.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import replace
from typing import TYPE_CHECKING, NoReturn

from ..settings import ACTIVATIONS, DEFAULT_LEARNING_RATE, LOSSES, MODELS, OPTIMIZERS, FitSettings

if TYPE_CHECKING:
    from ..experiment import Experiment

EXIT_OK, EXIT_USAGE, EXIT_DIVERGED, EXIT_INTERRUPTED = 0, 2, 3, 130


class UsageError(Exception):
    """Bad input found by the CLI itself (a malformed list, an unwritable file): exit status 2."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one ``error: …`` line (exit status 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"error: {message} (see '{self.prog} --help')\n")


def fmt(x: float | None) -> str:
    """A loss for people: six significant digits, readable from 1e-4 to 1e4."""
    return "n/a" if x is None else f"{x:.6g}"


def add_training_options(parser: argparse.ArgumentParser) -> None:
    """The options of a training run: data and columns, model, loss and optimizer, the fit loop, the start."""
    from ..data import BUILTIN

    parser.add_argument("--data", default=BUILTIN[0], metavar="NAME|PATH",
                        help=f"a built-in data set ({', '.join(BUILTIN)}) or a CSV file (default: %(default)s)")
    parser.add_argument("--target", metavar="COL", help="target column of a CSV file")
    parser.add_argument("--features", metavar="A,B,…", help="feature columns of a CSV file")
    parser.add_argument("--model", choices=MODELS)
    parser.add_argument("--hidden", metavar="N,N,…", help="units per hidden layer of the MLP, e.g. 50,50")
    parser.add_argument("--activation", choices=ACTIVATIONS)
    parser.add_argument("--loss", choices=LOSSES)
    parser.add_argument("--optimizer", choices=OPTIMIZERS)
    parser.add_argument("--lr", type=float, metavar="RATE",
                        help="learning rate (default: the data set's, or tfjs's for a given --optimizer)")
    parser.add_argument("--momentum", type=float, help="momentum of the momentum optimizer (tfjs default 0.9)")
    parser.add_argument("--batch-size", type=int, metavar="N")
    parser.add_argument("--epochs", type=int, metavar="N")
    parser.add_argument("--validation-split", type=float, metavar="FRACTION")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--no-shuffle", action="store_true", help="keep the rows in order in every epoch")
    parser.add_argument("--shuffle-data", action=argparse.BooleanOptionalAction,
                        help="shuffle the training rows once, with the seed, before the validation split "
                             "(on for boston-housing, as tfjs-examples' loader does)")
    parser.add_argument("--normalize", action=argparse.BooleanOptionalAction,
                        help="z-score the features with the training statistics")
    parser.add_argument("--init", metavar="K,B", help="initial kernel and bias of a one-feature linear model")


def split_list(text: str, option: str) -> list[str]:
    parts = [p.strip() for p in text.split(",")]
    if not all(parts):
        raise UsageError(f"{option} takes a comma-separated list without empty items, not {text!r}")
    return parts


def parse_floats(text: str, option: str, count: int) -> tuple[float, ...]:
    parts = split_list(text, option)
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != count or len(parts) != count:
        raise UsageError(f"{option} takes {count} comma-separated numbers, not {text!r}")
    return values


def parse_hidden(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in split_list(text, "--hidden"))
    except ValueError:
        raise UsageError(f"--hidden takes comma-separated whole numbers, e.g. 50,50, not {text!r}") from None


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


def experiment_from_args(args: argparse.Namespace) -> Experiment:
    """Load the data and build the experiment the options describe; bad input raises :class:`UsageError`."""
    from ..data import BUILTIN, DataError, load
    from ..experiment import Experiment

    features = None if args.features is None else split_list(args.features, "--features")
    try:
        dataset = load(args.data, target=args.target, features=features)
    except DataError as e:
        hint = ""
        if args.data not in BUILTIN and not os.path.exists(os.path.expanduser(args.data)):
            hint = f"; nor is it a built-in data set ({', '.join(BUILTIN)})"
        raise UsageError(f"{e}{hint}") from None
    try:
        return Experiment(dataset, settings_from_args(args, dataset.defaults))
    except ValueError as e:  # the settings' complaints
        raise UsageError(" ".join(str(e).split())) from None
