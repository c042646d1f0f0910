"""``fitscope sweep …``: the same run with many learning rates, and where training stops converging.

::

    fitscope sweep --data download-time --loss mse --batch-size 20 --lr-min 0.001 --lr-max 1 --num 40 --csv sweep.csv

Takes the options of ``fitscope fit`` (apart from ``--lr``, ``--history`` and ``--trace``) and trains that
setup from the same start once per rate, ``--num`` rates log-spaced from ``--lr-min`` to ``--lr-max``
(:mod:`engine.sweep`). It prints the stability limit ``2/λmax`` first where it applies (a linear model with
MSE, trained with SGD or momentum), then one line per rate as it ends, then the lowest final loss and the
rates that diverged.

``--csv FILE`` writes ``learning_rate,final_loss,val_loss,diverged``, one row per rate in ascending order
(``diverged`` 0 or 1; ``val_loss`` empty without a validation split; the losses of a run the trainer stopped
are ``nan``), atomically, through :mod:`engine.export`.

Exit status: 0 done (rates that diverge are results, not errors); 2 bad input (one ``error:`` line on
stderr); 130 interrupted with Ctrl-C (the file then holds the rates done until then).
"""

from __future__ import annotations

import argparse
from typing import TextIO

from .common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    UsageError,
    add_training_options,
    data_files,
    experiment_from_args,
    fmt,
)

NAME = "sweep"

#: Defaults of the range: four decades below 1.
LR_MIN, LR_MAX, NUM = 1e-4, 1.0, 30


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """``fitscope sweep``'s options: ``fit``'s training options and the range of rates."""
    from ..sweep import NUM_RATES

    sweep = subparsers.add_parser(
        NAME,
        help="train with many learning rates and show which diverge",
        description="Train the same setup from the same start with learning rates log-spaced over a range, "
        "and print each one's final losses; for a linear model with MSE, also the stability limit 2/λmax of "
        "full-batch gradient descent. Options left out take the data set's defaults.",
    )
    add_training_options(sweep)
    sweep.add_argument("--lr-min", type=float, default=LR_MIN, metavar="RATE",
                       help="the smallest learning rate (default: %(default)g)")
    sweep.add_argument("--lr-max", type=float, default=LR_MAX, metavar="RATE",
                       help="the largest learning rate (default: %(default)g)")
    sweep.add_argument("--num", type=int, default=NUM, metavar="N",
                       help=f"how many rates, {NUM_RATES[0]} to {NUM_RATES[1]} (default: %(default)s)")
    sweep.add_argument("--csv", metavar="FILE", help="write learning_rate,final_loss,val_loss,diverged as CSV")
    sweep.add_argument("--quiet", action="store_true", help="print the limit and the summary only")
    return sweep


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Sweep as the options say; return the exit status."""
    from ..export import AtomicCsv
    from ..sweep import SWEEP_HEADER, Sweep, log_rates

    if args.lr is not None:
        raise UsageError("--lr does not apply to a sweep: its rates are set by --lr-min, --lr-max and --num")
    try:
        rates = log_rates(args.lr_min, args.lr_max, args.num)
    except ValueError as e:
        raise UsageError(str(e)) from None
    exp = experiment_from_args(args)
    try:
        sweep = Sweep(exp, rates)
    except ValueError as e:  # no epoch to run
        raise UsageError(str(e)) from None
    if exp.notice:
        print(f"note: {exp.notice}", file=out)
    s = exp.settings
    model = "linear" if s.model == "linear" else f"mlp {','.join(map(str, s.hidden))} {s.activation}"
    print(f"{len(rates)} learning rates from {rates[0]:g} to {rates[-1]:g}, {sweep.epochs} epochs each "
          f"({model}, {s.loss}, {s.optimizer}, batch {s.batch_size} of {len(exp.y)} rows)", file=out)
    if sweep.limit is not None:
        print(sweep.limit_text(), file=out)
    print(f"start loss: {fmt(sweep.start_loss)}", file=out, flush=True)

    csv = AtomicCsv(args.csv, SWEEP_HEADER, inputs=data_files(args)) if args.csv else None  # never over the data
    try:
        try:
            for result in sweep.run():
                if csv is not None:
                    csv.write(result.csv_row())
                if not args.quiet:
                    print(sweep.line(result), file=out, flush=True)
        except KeyboardInterrupt:
            if csv is not None:
                csv.commit()
            saved = " (the file holds them)" if csv is not None else ""
            print(f"interrupted after {len(sweep.results)} of {len(rates)} rates{saved}", file=err)
            return EXIT_INTERRUPTED
        if csv is not None:
            csv.commit()
    except BaseException:
        if csv is not None:
            csv.discard()
        raise
    for line in summary(sweep):
        print(line, file=out)
    return EXIT_OK


def summary(sweep) -> list[str]:
    """The closing lines: the lowest final loss and its rate, and the rates that diverged."""
    best = sweep.best()
    lines = ["lowest final loss:  " + ("n/a (every rate diverged)" if best is None
                                         else f"{fmt(best.final_loss)} at lr {best.learning_rate:.4g}")]
    diverged = [r for r in sweep.results if r.diverged]
    if diverged:
        stable, first = sweep.threshold()
        below = f", the largest that did not: {stable:.4g}" if stable is not None else ""
        lines.append(f"diverged:           {len(diverged)} of {len(sweep.results)} rates, from {first:.4g}{below}")
    else:
        lines.append(f"diverged:           none of {len(sweep.results)} rates")
    return lines
