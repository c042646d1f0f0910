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
from typing import TYPE_CHECKING, TextIO

from .common import EXIT_DIVERGED, EXIT_INTERRUPTED, EXIT_OK, add_training_options, experiment_from_args, fmt

if TYPE_CHECKING:
    from ..experiment import Experiment
    from ..trainer import EpochReport

NAME = "fit"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """``fitscope fit``'s options."""
    fit = subparsers.add_parser(
        NAME,
        help="train a model and print its progress",
        description="Train a model as TensorFlow.js's fit() does. Options left out take the data set's "
        "defaults (the book's settings for the built-in data).",
    )
    add_training_options(fit)
    fit.add_argument("--history", metavar="FILE", help="write epoch,loss,val_loss as CSV")
    fit.add_argument("--trace", metavar="FILE", help="write the parameters after every step as CSV")
    fit.add_argument("--quiet", action="store_true", help="print the summary only, not every epoch")
    return fit


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Train as the options say; return the exit status."""
    return train(experiment_from_args(args), args, out, err)


def train(exp: Experiment, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run the experiment, print its progress and summary, write the files; return the exit status."""
    from ..export import HISTORY_HEADER, AtomicCsv, history_row, trace_header, trace_row, trace_start_row
    from ..trainer import DivergedReport, EpochReport, Phase, StepReport

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
    line = f"Epoch {report.epoch}/{epochs} - loss: {fmt(report.loss)}"
    if report.val_loss is not None:
        line += f" - val_loss: {fmt(report.val_loss)}"
    return line


def summary(exp: Experiment, last: EpochReport | None) -> list[str]:
    """The closing lines: final training and validation losses, test loss, baseline loss."""
    rows = [("final training loss", "n/a (no epoch was run)" if last is None else fmt(last.loss))]
    if last is not None and last.val_loss is not None:
        rows.append(("final validation loss", fmt(last.val_loss)))
    test = exp.test_loss()
    if test is not None:
        rows.append(("test loss", fmt(test)))
    split = "test" if exp.X_test is not None else "train"
    mean = fmt(float(exp.dataset.y_train.mean()))
    where = "on the test set" if split == "test" else "on the training rows"
    rows.append(("baseline loss", f"{fmt(exp.baseline_loss(split))}  (always predicting the mean "
                                  f"training target, {mean}, {where})"))
    width = max(len(label) for label, _ in rows) + 1
    return [f"{label + ':':<{width}} {value}" for label, value in rows]
