"""``fitscope fit …``: train from the command line, Keras-style, and optionally save the history and trace.

::

    fitscope fit --data boston-housing --epochs 200 --history history.csv --trace trace.csv

Options left out take the data set's own settings (:attr:`Dataset.defaults`: the book's, for the built-in
data). One line per epoch, then a summary: the final training and validation losses, the test loss and the
baseline loss (always predicting the training target's mean).

Files (written atomically, through a temporary file in the same folder; the formats are
:mod:`engine.export`'s, which the app's File > Export writes too):

- ``--history FILE``: ``epoch,loss,val_loss``, one row per epoch (``val_loss`` empty without a split);
- ``--trace FILE``: ``step,epoch,batch,loss,<parameter names>``; row 0 holds the initial parameters, row
  ``s`` the parameters after update ``s``, its epoch (1-based), batch (0-based) and the batch's loss before
  the update. Numbers are written in full (``repr``), so they read back bit for bit.

Exit status: 0 done; 2 bad input (one ``error:`` line on stderr); 3 training diverged (the files hold what
was done until then); 130 interrupted with Ctrl-C (likewise).
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from typing import NoReturn, TextIO

from .data import BUILTIN, DataError, load
from .experiment import Experiment
from .export import HISTORY_HEADER, AtomicCsv, ExportError, history_row, trace_header, trace_row, trace_start_row
from .settings import ACTIVATIONS, DEFAULT_LEARNING_RATE, LOSSES, MODELS, OPTIMIZERS, FitSettings
from .trainer import DivergedReport, EpochReport, Phase, StepReport

EXIT_OK, EXIT_USAGE, EXIT_DIVERGED, EXIT_INTERRUPTED = 0, 2, 3, 130

#: The subcommands of ``fitscope`` (the word after it).
COMMANDS = ("fit",)


class UsageError(Exception):
    """Bad input found by the CLI itself (a malformed list, an unwritable file): exit status 2."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one ``error: …`` line (exit status 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"error: {message} (see 'fitscope fit --help')\n")


def _fmt(x: float | None) -> str:
    """A loss for people: six significant digits, readable from 1e-4 to 1e4."""
    return "n/a" if x is None else f"{x:.6g}"


def build_parser() -> argparse.ArgumentParser:
    """The ``fitscope`` parser, with its one command, ``fit``."""
    parser = _Parser(prog="fitscope", description="A microscope on model.fit().")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    fit = commands.add_parser(
        "fit",
        help="train a model and print its progress",
        description="Train a model as TensorFlow.js's fit() does. Options left out take the data set's "
        "defaults (the book's settings for the built-in data).",
    )
    fit.add_argument("--data", default=BUILTIN[0], metavar="NAME|PATH",
                     help=f"a built-in data set ({', '.join(BUILTIN)}) or a CSV file (default: %(default)s)")
    fit.add_argument("--target", metavar="COL", help="target column of a CSV file")
    fit.add_argument("--features", metavar="A,B,…", help="feature columns of a CSV file")
    fit.add_argument("--model", choices=MODELS)
    fit.add_argument("--hidden", metavar="N,N,…", help="units per hidden layer of the MLP, e.g. 50,50")
    fit.add_argument("--activation", choices=ACTIVATIONS)
    fit.add_argument("--loss", choices=LOSSES)
    fit.add_argument("--optimizer", choices=OPTIMIZERS)
    fit.add_argument("--lr", type=float, metavar="RATE",
                     help="learning rate (default: the data set's, or tfjs's for a given --optimizer)")
    fit.add_argument("--momentum", type=float, help="momentum of the momentum optimizer (tfjs default 0.9)")
    fit.add_argument("--batch-size", type=int, metavar="N")
    fit.add_argument("--epochs", type=int, metavar="N")
    fit.add_argument("--validation-split", type=float, metavar="FRACTION")
    fit.add_argument("--seed", type=int)
    fit.add_argument("--no-shuffle", action="store_true", help="keep the rows in order in every epoch")
    fit.add_argument("--shuffle-data", action=argparse.BooleanOptionalAction,
                     help="shuffle the training rows once, with the seed, before the validation split "
                          "(on for boston-housing, as tfjs-examples' loader does)")
    fit.add_argument("--normalize", action=argparse.BooleanOptionalAction,
                     help="z-score the features with the training statistics")
    fit.add_argument("--init", metavar="K,B", help="initial kernel and bias of a one-feature linear model")
    fit.add_argument("--history", metavar="FILE", help="write epoch,loss,val_loss as CSV")
    fit.add_argument("--trace", metavar="FILE", help="write the parameters after every step as CSV")
    fit.add_argument("--quiet", action="store_true", help="print the summary only, not every epoch")
    return parser


def _split_list(text: str, option: str) -> list[str]:
    parts = [p.strip() for p in text.split(",")]
    if not all(parts):
        raise UsageError(f"{option} takes a comma-separated list without empty items, not {text!r}")
    return parts


def _parse_floats(text: str, option: str, count: int) -> tuple[float, ...]:
    parts = _split_list(text, option)
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != count or len(parts) != count:
        raise UsageError(f"{option} takes {count} comma-separated numbers, not {text!r}")
    return values


def _parse_hidden(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in _split_list(text, "--hidden"))
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
        changes["hidden"] = _parse_hidden(args.hidden)
    if args.no_shuffle:
        changes["shuffle"] = False
    if args.init is not None:
        changes["init"] = _parse_floats(args.init, "--init", 2)
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


def setup(args: argparse.Namespace) -> Experiment:
    """Load the data and build the experiment the options describe; bad input raises :class:`UsageError`."""
    features = None if args.features is None else _split_list(args.features, "--features")
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


def train(exp: Experiment, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run the experiment, print its progress and summary, write the files; return the exit status."""
    if exp.notice:
        print(f"note: {exp.notice}", file=out)
    files: list[AtomicCsv] = []
    try:
        history = trace = None
        if args.history:
            history = AtomicCsv(args.history, HISTORY_HEADER)
            files.append(history)
        if args.trace:
            trace = AtomicCsv(args.trace, trace_header(exp.param_names))
            files.append(trace)
            trace.write(trace_start_row(exp.trainer.params))

        last: EpochReport | None = None
        diverged: DivergedReport | None = None
        try:
            for report in exp.trainer.run():
                if isinstance(report, StepReport):
                    if trace is not None and report.phase == Phase.UPDATE:
                        trace.write(trace_row(report.step, report.epoch, report.batch, report.loss,
                                              report.params_after))
                elif isinstance(report, EpochReport):
                    last = report
                    if history is not None:
                        history.write(history_row(report.epoch, report.loss, report.val_loss))
                    if not args.quiet:
                        print(_epoch_line(report, exp.settings.epochs), file=out, flush=True)
                else:
                    diverged = report
        except KeyboardInterrupt:
            for f in files:
                f.commit()
            saved = " (the files hold what was done until then)" if files else ""
            print(f"interrupted in epoch {exp.trainer.epoch + 1}, after {exp.trainer.step} steps{saved}",
                  file=err)
            return EXIT_INTERRUPTED
        for f in files:
            f.commit()
    except BaseException:
        for f in files:
            f.discard()
        raise

    if diverged is not None:
        print(diverged.message, file=err)
        return EXIT_DIVERGED
    for line in summary(exp, last):
        print(line, file=out)
    return EXIT_OK


def _epoch_line(report: EpochReport, epochs: int) -> str:
    line = f"Epoch {report.epoch}/{epochs} - loss: {_fmt(report.loss)}"
    if report.val_loss is not None:
        line += f" - val_loss: {_fmt(report.val_loss)}"
    return line


def summary(exp: Experiment, last: EpochReport | None) -> list[str]:
    """The closing lines: final training and validation losses, test loss, baseline loss."""
    rows = [("final training loss", "n/a (no epoch was run)" if last is None else _fmt(last.loss))]
    if last is not None and last.val_loss is not None:
        rows.append(("final validation loss", _fmt(last.val_loss)))
    test = exp.test_loss()
    if test is not None:
        rows.append(("test loss", _fmt(test)))
    split = "test" if exp.X_test is not None else "train"
    mean = _fmt(float(exp.dataset.y_train.mean()))
    where = "on the test set" if split == "test" else "on the training rows"
    rows.append(("baseline loss", f"{_fmt(exp.baseline_loss(split))}  (always predicting the mean "
                                  f"training target, {mean}, {where})"))
    width = max(len(label) for label, _ in rows) + 1
    return [f"{label + ':':<{width}} {value}" for label, value in rows]


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``fitscope fit …``: ``argv`` starts after the program name (``["fit", …]``)."""
    try:
        args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
        return train(setup(args), args, sys.stdout, sys.stderr)
    except SystemExit as e:  # from argparse: --help (0) or a usage error (2, already reported)
        return 0 if e.code is None else int(e.code)
    except (UsageError, ExportError) as e:  # bad input, or a file that cannot be written
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
