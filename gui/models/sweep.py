"""What a learning-rate sweep of a training tab is, without widgets: its setup, its range, its plan, its job and
how its results read.

- :class:`SweepSetup`: the tab's data set, settings and start point, copied when the sweep starts;
- :func:`default_range` and :func:`read_range`: the rates offered for a setup, and the rates typed
  (:func:`~fitscope.engine.sweep.log_rates`; a bad range is a :class:`ValueError` of one line);
- :class:`SweepPlan`: what the sweep knows before its first run (the rates, the stability limit, the loss at
  the start);
- :func:`threshold`, :func:`best` and :func:`caption`: what the results so far say;
- :class:`SweepJob`: one sweep asked for, with a cancel that works from any thread.

The dialog (:mod:`fitscope.gui.dialogs.sweep`) runs a job in a thread of its own and draws its results with
:class:`~fitscope.gui.panels.sweep_plot.SweepPlot`.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from fitscope.engine.curvature import Curvature
from fitscope.engine.data import BUILTIN, Dataset
from fitscope.engine.numbers import compact
from fitscope.engine.race import LABELS
from fitscope.engine.run import FitRun
from fitscope.engine.settings import EPOCHS_MAX, LEARNING_RATE_RANGE, FitSettings, n_train_rows
from fitscope.engine.sweep import RateResult, Sweep, log_rates

#: The stability limit is computed for the default range only over at most this many rows (in the GUI thread).
LIMIT_ROWS = 200_000


@dataclass(frozen=True, eq=False)
class SweepSetup:
    """A tab's setup as it was when the sweep started: its data set, settings and start point.

    ``start`` is a read-only copy of the flat parameters the tab's run started from (row 0 of its history);
    ``chosen`` says whether the user chose it (a click, typed numbers) rather than the seed's initial weights.
    """

    dataset: Dataset
    settings: FitSettings
    start: np.ndarray
    chosen: bool

    @classmethod
    def of(cls, run: FitRun) -> SweepSetup:
        """The setup of the tab's ``run`` now."""
        start = np.array(run.history.params[0], dtype=np.float64)
        start.flags.writeable = False
        return cls(run.dataset, run.settings, start, run.start is not None or run.settings.init is not None)

    @property
    def rows(self) -> int:
        """The training rows (the validation rows taken off)."""
        return n_train_rows(len(self.dataset.y_train), self.settings.validation_split)

    def same_as(self, other: SweepSetup | None) -> bool:
        """Whether ``other`` sweeps the same: data, settings (but the rate and the epochs) and start."""
        if other is None or other.dataset is not self.dataset or other.start.shape != self.start.shape:
            return False
        ignored = {"learning_rate": 1.0, "epochs": 1}
        return (replace(other.settings, **ignored) == replace(self.settings, **ignored)
                and np.array_equal(other.start, self.start))

    def describe(self) -> str:
        """One line: the model, loss, optimizer, batches, data and start (the rate and epochs are the sweep's)."""
        s = self.settings
        model = "linear model" if s.model == "linear" else \
            f"MLP {'-'.join(map(str, s.hidden))} {s.activation}"
        optimizer = LABELS.get(s.optimizer, s.optimizer)
        if s.optimizer == "momentum":
            optimizer += f" {s.momentum:g}"
        n = self.rows
        batch = f"full batch of {n} rows" if s.batch_size >= n else f"batches of {s.batch_size} of {n} rows"
        data = self.dataset.name if self.dataset.source in BUILTIN else os.path.basename(self.dataset.name)
        extras = [x for x in ("normalized" if s.normalize and self.dataset.n_features > 1 else "",
                              f"validation split {s.validation_split:g}" if s.validation_split > 0 else "") if x]
        start = self.start
        if start.size == 2:
            where = f"from kernel {compact(start[0])}, bias {compact(start[1])}"
        else:
            where = "from the start point chosen on the tab" if self.chosen else \
                f"from the initial weights of seed {s.seed}"
        return (f"{data}{' (' + ', '.join(extras) + ')' if extras else ''}: {model}, {s.loss.upper()}, {optimizer}, "
                f"{batch}, {where}")


def default_range(run: FitRun) -> tuple[float, float]:
    """A range of rates for ``run``'s setup: whole decades around the stability limit ``2/λmax`` (from a hundredth
    of it to ten times it) where there is one, else from a hundredth to a hundred times the run's rate."""
    s = run.settings
    limit = None
    if s.model == "linear" and s.loss == "mse" and len(run.experiment.y) <= LIMIT_ROWS:
        limit = Curvature.from_rows(run.experiment.X).limit(s.optimizer, s.momentum)
    lo, hi = (limit / 100, limit * 10) if limit else (s.learning_rate / 100, s.learning_rate * 100)
    lo = 10.0 ** math.floor(math.log10(lo))
    hi = 10.0 ** math.ceil(math.log10(hi))
    return max(lo, LEARNING_RATE_RANGE[0]), min(hi, LEARNING_RATE_RANGE[1])


def read_range(lo_text: str, hi_text: str, num: int, epochs: int) -> np.ndarray:
    """The rates the fields ask for (:func:`~fitscope.engine.sweep.log_rates`); :class:`ValueError` with one
    line saying what is wrong."""
    values = []
    for text, which in ((lo_text, "smallest"), (hi_text, "largest")):
        try:
            values.append(float(text.strip()))
        except ValueError:
            shown = text.strip() or "nothing"
            raise ValueError(f"the {which} learning rate must be a positive number, not {shown!r}") from None
    rates = log_rates(values[0], values[1], num)
    bottom, top = LEARNING_RATE_RANGE
    if rates[-1] > top:
        raise ValueError(f"the largest learning rate may be at most {top:g}, as in the tabs")
    if rates[0] < bottom:
        raise ValueError(f"the smallest learning rate may be at least {bottom:g}, as in the tabs")
    if not 1 <= epochs <= EPOCHS_MAX:
        raise ValueError(f"the number of epochs must be from 1 to {EPOCHS_MAX:,}")
    return rates


@dataclass(frozen=True, eq=False)
class SweepPlan:
    """What the sweep knows before its first run (sent by the worker once the sweep is built).

    Attributes
    ----------
    rates : ndarray of shape (num,)
        Ascending, read-only.
    epochs : int
    limit : float or None
        The stability limit of full-batch training (a linear model with MSE and SGD or momentum).
    limit_exact : bool
        Every batch holds all the training rows: the limit is the sweep's own.
    limit_name : str
        ``2/λmax`` or ``2(1 + m)/λmax``.
    start_loss : float
    validation : bool
        The runs have a validation split.
    batch_size, rows : int
    loss : str
        The loss's name ("mse", "mae").
    """

    rates: np.ndarray
    epochs: int
    limit: float | None
    limit_exact: bool
    limit_name: str
    start_loss: float
    validation: bool
    batch_size: int
    rows: int
    loss: str

    @classmethod
    def of(cls, sweep: Sweep) -> SweepPlan:
        s = sweep.settings
        name = "2/λmax" if s.optimizer == "sgd" else f"2(1 + {s.momentum:g})/λmax"
        rates = sweep.rates.copy()
        rates.flags.writeable = False
        return cls(rates, sweep.epochs, sweep.limit, sweep.limit_exact, name, float(sweep.start_loss),
                   sweep.experiment.X_val is not None, s.batch_size, len(sweep.experiment.y), s.loss)

    @property
    def step(self) -> float:
        """The grid's step: the ratio of two neighbouring rates."""
        r = self.rates
        return float((r[-1] / r[0]) ** (1 / (len(r) - 1))) if len(r) > 1 else 1.0


def threshold(results: Sequence[RateResult]) -> tuple[float | None, float | None]:
    """``(last stable, first diverged)`` of results in ascending order of rate, as
    :meth:`~fitscope.engine.sweep.Sweep.threshold` reads them."""
    first = next((r for r in results if r.diverged), None)
    if first is None:
        return max((r.learning_rate for r in results), default=None), None
    below = [r.learning_rate for r in results if not r.diverged and r.learning_rate < first.learning_rate]
    return (max(below) if below else None), first.learning_rate


def best(results: Sequence[RateResult]) -> RateResult | None:
    """The run with the lowest final training loss among those that did not diverge."""
    finite = [r for r in results if not r.diverged and math.isfinite(r.final_loss)]
    return min(finite, key=lambda r: r.final_loss, default=None)


def caption(plan: SweepPlan | None, results: Sequence[RateResult], finished: bool) -> str:
    """One sentence: what the plot shows and, where the stability limit applies, how the measured divergence
    relates to it (plain text)."""
    if plan is None:
        return ("Start trains the tab's setup from its start once per learning rate and plots each run's final "
                "loss against the rate.")
    losses = "training and validation loss" if plan.validation else "training loss"
    text = f"The final {losses} after {plan.epochs:,} epochs at each learning rate (✕ at the top: diverged)"
    stable, first = threshold(results)
    low = best(results)
    if plan.limit is not None:
        limit = f"{plan.limit_name} = {compact(plan.limit)}"
        if not plan.limit_exact:
            found = f": here the first rate that diverged is {compact(first)}" if first is not None else ""
            return (f"{text}; with batches of {plan.batch_size} of {plan.rows} rows, {limit} (the limit of "
                    f"full-batch gradient descent) is only a reference{found}.")
        if first is None:
            if not finished:
                return f"{text}; full-batch gradient descent diverges above {limit}."
            where = ("the range stays below" if plan.rates[-1] < plan.limit else
                     "none diverged, although it reaches" if plan.rates[-1] == plan.limit else
                     "none diverged, although it passes")
            return f"{text}; {where} {limit}, above which full-batch gradient descent diverges."
        if stable is not None and stable < plan.limit <= first:
            steps = math.log(first / stable) / math.log(plan.step) if plan.step > 1 else 1
            which = "neighbouring rates of the sweep, " if steps < 1.5 else ""
            return (f"{text}; {limit} lies between {which}{compact(stable)}, the largest rate that converged, and "
                    f"{compact(first)}, the first that diverged, as full-batch gradient descent predicts.")
        side = "below" if first < plan.limit else "above"
        return f"{text}; the first rate that diverged, {compact(first)}, lies {side} {limit}."
    if first is not None:
        lowest = f", and the lowest final loss, {compact(low.final_loss)}, came at {compact(low.learning_rate)}" \
            if low is not None else ""
        return f"{text}; the first rate that diverged is {compact(first)}{lowest}."
    if finished:
        return f"{text}; none diverged: larger rates show where training breaks down."
    return f"{text}."


class SweepJob:
    """One sweep asked for: the setup, the rates and epochs, and a cancel that works from any thread, before
    the sweep is built or while it runs."""

    def __init__(self, setup: SweepSetup, rates: np.ndarray, epochs: int) -> None:
        self.setup, self.rates, self.epochs = setup, rates, int(epochs)
        self._cancel = threading.Event()
        self._lock = threading.Lock()
        self._sweep: Sweep | None = None

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        """Stop the sweep after the batch under way (or before it starts)."""
        with self._lock:
            self._cancel.set()
            sweep = self._sweep
        if sweep is not None:
            sweep.cancel()

    def attach(self, sweep: Sweep) -> None:
        """From the worker: the sweep was built (cancelled at once if the job was)."""
        with self._lock:
            self._sweep = sweep
            if self._cancel.is_set():
                sweep.cancel()
