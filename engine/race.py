"""Optimizers raced on one loss surface: several trainers advanced in lockstep on the same batches.

Each racer is an ordinary :class:`~engine.trainer.Trainer` of its own, built from the same data, the same
start and the same seed. Equal seeds make equal shuffles, so every racer sees the same batches in the same
order; and since a racer *is* the engine's trainer, its trajectory is bit for bit the one that optimizer
makes alone. A :class:`Race` advances all of them one batch at a time and is a
:class:`~fitscope.engine.trainer.Trainable`, so :mod:`fitscope.gui.worker` drives it as it drives one trainer,
in one thread: a step, an epoch, Run and Pause move every racer together, which one worker per racer could
not promise.

A racer whose training diverges stops there (its last report is a :class:`~engine.trainer.DivergedReport`);
the others go on. The race as a whole has diverged only when every racer has.

Reports: for each batch a :class:`RaceStepReport`, for each epoch end a :class:`RaceEpochReport`. Their
arrays carry a leading racer axis, and their :attr:`racers` holds each racer's own report (``None`` for a
racer already stopped).

The finish line is a distance to the optimum, the tolerance. A racer *first touches* it at its first step
within the tolerance, and *settles* at the first step after which every later step of the race is within it
(:func:`settled_step`; :class:`Finish` keeps both up step by step). Only a racer that settled can win:
:func:`standing` ranks them by the step they settled at, then by their final distance. :class:`RateScan` races
racers again at other learning rates, to say which of those settle in a race's steps.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import combinations
from typing import NamedTuple

import numpy as np

from .data import Dataset
from .experiment import Experiment
from .losses import MAE, MSE
from .optimizers import OPTIMIZERS, Optimizer
from .settings import DEFAULT_LEARNING_RATE, FitSettings
from .surface import QuadraticStats
from .trainer import DivergedReport, EpochReport, Phase, StepReport, Trainer

#: How each optimizer is called on screen.
LABELS = {"sgd": "SGD", "momentum": "Momentum", "rmsprop": "RMSProp", "adam": "Adam"}


@dataclass(frozen=True)
class RacerSpec:
    """One racer: an optimizer by tfjs name, its learning rate (``None``: tfjs's default) and options.

    ``options`` are the optimizer's other hyperparameters by keyword, e.g. ``{"momentum": 0.9}`` or
    ``{"beta1": 0.9, "beta2": 0.999}``; unset ones keep tfjs's defaults.
    """

    optimizer: str
    learning_rate: float | None = None
    options: Mapping[str, float] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return LABELS.get(self.optimizer, self.optimizer)

    @property
    def rate(self) -> float:
        """The learning rate this racer uses."""
        return DEFAULT_LEARNING_RATE[self.optimizer] if self.learning_rate is None else float(self.learning_rate)

    def build(self) -> Optimizer:
        """A fresh optimizer with these settings."""
        try:
            cls = OPTIMIZERS[self.optimizer]
        except KeyError:
            raise ValueError(f"unknown optimizer {self.optimizer!r} (choose {', '.join(OPTIMIZERS)})") from None
        try:
            return cls(learning_rate=self.rate, **dict(self.options))
        except TypeError:
            raise ValueError(f"{self.label} takes no option among {', '.join(self.options)}") from None


class RaceStepReport(NamedTuple):
    """One batch of the race (``step`` 1-based, ``epoch`` 1-based, ``batch`` 0-based within it).

    ``params_before`` and ``params_after`` have shape (n_racers, n_params), NaN for racers not running;
    ``indices`` is the batch all racers trained on. ``racers[i]`` is racer i's own report: a ``StepReport``,
    a ``DivergedReport`` (it stopped at this batch) or ``None`` (it had stopped before).
    """

    step: int
    epoch: int
    batch: int
    batches_per_epoch: int
    indices: np.ndarray
    params_before: np.ndarray
    params_after: np.ndarray
    racers: tuple[StepReport | DivergedReport | None, ...]

    kind = "batch"  # what this report ends (not a field)

    @property
    def params(self) -> np.ndarray:
        """The racers' parameters after this batch (n_racers, n_params)."""
        return self.params_after


class RaceEpochReport(NamedTuple):
    """The end of an epoch of the race; ``params`` stacked (n_racers, n_params); ``racers[i]`` an
    :class:`~fitscope.engine.trainer.EpochReport` or ``None`` (racer i had stopped)."""

    epoch: int
    step: int
    params: np.ndarray
    racers: tuple[EpochReport | None, ...]

    kind = "epoch"  # what this report ends (not a field)


class Race:
    """Trainers advanced together, one batch each per step.

    Parameters
    ----------
    trainers : sequence of Trainer
        Same rows, same batch size; build them with the same seed so that they shuffle alike
        (:meth:`build` does all of this).
    names : sequence of str
        One label per trainer.
    """

    def __init__(self, trainers: Sequence[Trainer], names: Sequence[str]) -> None:
        if not trainers:
            raise ValueError("a race needs at least one racer")
        if len(names) != len(trainers):
            raise ValueError("one name per racer")
        first = trainers[0]
        for t in trainers[1:]:
            if t.n_rows != first.n_rows or t.batch_size != first.batch_size:
                raise ValueError("racers must train on the same rows with the same batch size")
        self.trainers = list(trainers)
        self.names = list(names)
        self._iters: list[Iterator | None] = [None] * len(trainers)
        self._epochs = first.epochs
        for t in self.trainers:
            t.epochs = self._epochs
            t.phases = False
        self.phases = False  # set by the worker; a race is stepped by whole batches only
        self.step = 0
        self.epoch = 0
        self.diverged: DivergedReport | None = None
        self._requested: int | None = None  # a new epoch limit asked for by configure()

    @classmethod
    def build(cls, dataset: Dataset, settings: FitSettings, racers: Sequence[RacerSpec]) -> Race:
        """One trainer per racer, from ``dataset`` and ``settings`` (start ``settings.init``, seed, batch
        size, loss, epochs); each with its own optimizer."""
        trainers = []
        for spec in racers:
            experiment = Experiment(dataset, replace(settings, optimizer=spec.optimizer, learning_rate=spec.rate))
            experiment.trainer.optimizer = spec.build()
            trainers.append(experiment.trainer)
        return cls(trainers, [spec.label for spec in racers])

    # --- the trainer interface the worker uses ---
    @property
    def epochs(self) -> int:
        return self._epochs

    @epochs.setter
    def epochs(self, n: int) -> None:
        self._epochs = int(n)
        for t in self.trainers:
            t.epochs = self._epochs

    @property
    def running(self) -> list[int]:
        """The racers still in the race (not diverged)."""
        return [i for i, t in enumerate(self.trainers) if t.diverged is None]

    @property
    def params(self) -> np.ndarray:
        """The racers' current parameters, stacked (n_racers, n_params)."""
        return np.stack([t.params for t in self.trainers])

    @property
    def finished(self) -> bool:
        """True when every running racer has done ``epochs`` epochs (counting a new limit asked for with
        :meth:`configure`), or every racer has diverged."""
        if self.diverged is not None:
            return True
        limit = self._requested
        if limit is None:
            return all(self.trainers[i].finished for i in self.running)
        return all(self.trainers[i].between_epochs and self.trainers[i].epoch >= limit for i in self.running)

    @property
    def at_epoch_end(self) -> bool:
        """True between the last batch of an epoch and its :class:`RaceEpochReport`."""
        return any(self.trainers[i].at_epoch_end for i in self.running)

    def clear_divergence(self) -> None:
        """Nothing to clear: a racer that diverged stays out of this race (a new race starts afresh)."""

    def allow_another_epoch(self) -> None:
        """Raise the epoch limit by one if every running racer has reached it (a step taken by hand)."""
        self._apply_request()
        if self.diverged is None and self.finished:
            self.epochs = self.epoch + 1

    def configure(self, epochs: int) -> None:
        """Ask for a new epoch limit for every racer (never below the epochs they have done), from any thread;
        it is taken on by all of them at once, before the race's next batch."""
        self._requested = int(epochs)  # one assignment: the thread that runs the race reads it whole

    def _apply_request(self) -> None:
        limit, self._requested = self._requested, None
        if limit is not None:
            self._epochs = limit
            for t in self.trainers:
                t.epochs = max(limit, t.epoch)

    def state(self) -> dict:
        """The race's progress and every racer's :meth:`~engine.trainer.Trainer.state`, JSON-safe (taken while
        nobody runs the race: a new epoch limit asked for is applied first)."""
        self._apply_request()
        return {"step": self.step, "epoch": self.epoch, "epochs": self._epochs,
                "racers": [t.state() for t in self.trainers]}

    def restore(self, state: dict) -> None:
        """Take back a :meth:`state` of a race of the same racers (:class:`ValueError`, and no change, if bad)."""
        if not isinstance(state, dict) or not isinstance(state.get("racers"), list):
            raise ValueError("the race state is malformed")
        if len(state["racers"]) != len(self.trainers):
            raise ValueError(f"the race state has {len(state['racers'])} racers, not {len(self.trainers)}")
        step, epoch, epochs = (state.get(k) for k in ("step", "epoch", "epochs"))
        if not all(type(v) is int and v >= 0 for v in (step, epoch, epochs)):
            raise ValueError("the race's progress is malformed")
        saved = [t.state() for t in self.trainers]  # a bad racer puts back the ones restored before it
        try:
            for t, s in zip(self.trainers, state["racers"], strict=True):
                t.restore(s)
        except ValueError:
            for t, s in zip(self.trainers, saved, strict=True):
                t.restore(s)
            raise
        self.step, self.epoch, self._epochs = step, epoch, epochs
        for t in self.trainers:
            t.epochs = epochs
            t.phases = False
        self._iters = [None] * len(self.trainers)
        self.diverged = None if self.running else self.trainers[0].diverged

    def run(self) -> Iterator[RaceStepReport | RaceEpochReport]:
        """Advance every running racer by one batch per report, until :attr:`finished`."""
        while True:
            self._apply_request()
            if self.finished:
                return
            yield self._end_epoch() if self.at_epoch_end else self._batch()

    __iter__ = run

    # --- internals ---
    def _next(self, i: int):
        """Racer i's next report (a new generator if its last one ended, e.g. after ``epochs`` was raised)."""
        for _ in range(2):
            if self._iters[i] is None:
                self._iters[i] = self.trainers[i].run()
            report = next(self._iters[i], None)
            if report is not None:
                return report
            self._iters[i] = None
        raise RuntimeError(f"racer {self.names[i]} has nothing left to do")  # finished is checked first

    def _stacked(self, reports, attr: str) -> np.ndarray:
        n_params = self.trainers[0].params.size
        out = np.full((len(self.trainers), n_params), np.nan)
        for i, r in enumerate(reports):
            if r is not None and not isinstance(r, DivergedReport):
                out[i] = getattr(r, attr)
        out.flags.writeable = False
        return out

    def _batch(self) -> RaceStepReport:
        reports: list[StepReport | DivergedReport | None] = [None] * len(self.trainers)
        for i in self.running:
            report = self._next(i)
            if isinstance(report, StepReport) and report.phase is not Phase.UPDATE:
                raise RuntimeError("racers train by whole batches")  # their phases flag is never set
            reports[i] = report
        steps = [r for r in reports if isinstance(r, StepReport)]
        if steps:
            ref = steps[0]
            epoch, batch, per_epoch, indices = ref.epoch, ref.batch, ref.batches_per_epoch, ref.indices
        else:  # every racer still running diverged at this batch
            ref = next(r for r in reports if r is not None)
            epoch, batch, per_epoch, indices = ref.epoch, ref.batch, 0, np.empty(0, dtype=np.intp)
            self.diverged = ref
        self.step += 1
        return RaceStepReport(self.step, epoch, batch, per_epoch, indices, self._stacked(reports, "params_before"),
                              self._stacked(reports, "params_after"), tuple(reports))

    def _end_epoch(self) -> RaceEpochReport:
        reports: list[EpochReport | None] = [None] * len(self.trainers)
        for i in self.running:
            reports[i] = self._next(i)
        self.epoch += 1
        return RaceEpochReport(self.epoch, self.step, self._stacked(reports, "params"), tuple(reports))


# --- the finish line ---
def optimum(X: np.ndarray, y: np.ndarray, loss: type[MSE] | type[MAE]) -> tuple[np.ndarray, float]:
    """The best (kernel, bias) of a one-feature linear model on ``(X, y)`` and its loss, exactly.

    MSE: least squares. MAE: a least-absolute-deviations line passes through two of the points, so the
    best of the lines through every pair is the optimum (O(n³); meant for small data such as download-time).
    """
    if X.shape[1] != 1:
        raise ValueError("the optimum is computed for a one-feature linear model only")
    if loss is MSE:
        theta = QuadraticStats.from_data(X, y).optimum()
        return theta, float(training_losses(X, y, MSE, theta[None])[0])
    x = X[:, 0]
    pairs = np.array([(i, j) for i, j in combinations(range(len(x)), 2) if x[i] != x[j]], dtype=np.intp)
    if len(pairs) == 0:  # every x the same: the best line is flat at the median
        theta = np.array([0.0, float(np.median(y))])
    else:
        i, j = pairs[:, 0], pairs[:, 1]
        k = (y[j] - y[i]) / (x[j] - x[i])
        candidates = np.column_stack([k, y[i] - k * x[i]])
        theta = candidates[np.argmin(training_losses(X, y, MAE, candidates))]
    return theta, float(training_losses(X, y, loss, theta[None])[0])


def training_losses(X: np.ndarray, y: np.ndarray, loss: type[MSE] | type[MAE], thetas: np.ndarray) -> np.ndarray:
    """The loss on all of ``(X, y)`` of a linear model at each row of ``thetas`` (m, n_features + 1): (m,)."""
    thetas = np.asarray(thetas, dtype=np.float64)
    with np.errstate(all="ignore"):
        residuals = thetas[:, :-1] @ X.T + thetas[:, -1:] - y
        return (residuals * residuals).mean(axis=1) if loss is MSE else np.abs(residuals).mean(axis=1)


def steps_to_within(trajectory: np.ndarray, target: np.ndarray, tolerance: float, start: int = 0) -> int | None:
    """The first step ``s >= start`` at which ``‖trajectory[s] − target‖ ≤ tolerance`` (row 0 is the start)."""
    rows = np.asarray(trajectory)[start:]
    if not len(rows):
        return None
    with np.errstate(all="ignore"):
        hit = np.flatnonzero(np.linalg.norm(rows - target, axis=1) <= tolerance)
    return start + int(hit[0]) if hit.size else None


def distances(trajectory: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``‖trajectory[s] − target‖`` for each row (m, n_params) → (m,); a row that is not finite is infinitely far."""
    with np.errstate(all="ignore"):
        d = np.linalg.norm(np.asarray(trajectory, dtype=np.float64) - target, axis=1)
    return np.where(np.isnan(d), np.inf, d)


def settled_step(trajectory: np.ndarray, target: np.ndarray, tolerance: float) -> int | None:
    """The first step ``s`` after which the racer stays within ``tolerance`` of ``target``: every row from ``s``
    to the last is within it (row 0 is the start). None when the last row is outside: it did not settle."""
    return Finish.of(trajectory, target, tolerance).inside_since


@dataclass
class Finish:
    """One racer against the finish line (a distance ``tolerance`` to the optimum), kept up step by step.

    Attributes
    ----------
    tolerance : float
    first_touch : int or None
        The first step within the tolerance (None: never yet).
    inside_since : int or None
        While the racer's last step is within the tolerance, the first step of its current stay inside (the
        step after the last one outside); None while it is outside. Once the race has ended, this is the step it
        *settled* at: every later step is within the tolerance.
    last_step : int
        The last step seen (-1: none yet).
    """

    tolerance: float
    first_touch: int | None = None
    inside_since: int | None = None
    last_step: int = -1

    @classmethod
    def of(cls, trajectory: np.ndarray, target: np.ndarray, tolerance: float,
           steps: np.ndarray | None = None) -> Finish:
        """The finish of a whole trajectory (m, n_params); ``steps`` the step of each row (default 0, 1, …)."""
        rows = np.asarray(trajectory)
        finish = cls(float(tolerance))
        finish.add(np.arange(len(rows)) if steps is None else np.asarray(steps), distances(rows, target))
        return finish

    @property
    def inside(self) -> bool:
        """Whether the last step seen is within the tolerance."""
        return self.inside_since is not None

    def add(self, steps: np.ndarray, distance: np.ndarray) -> None:
        """The next steps (increasing, after :attr:`last_step`) and their distances to the optimum, (m,) each.

        Exact when no step is left out; for a history that keeps some steps only, the first kept step inside
        stands for the step the racer came in at."""
        if not len(steps):
            return
        inside = np.asarray(distance) <= self.tolerance
        if self.first_touch is None and inside.any():
            self.first_touch = int(steps[int(np.argmax(inside))])
        outside = np.flatnonzero(~inside)
        if not inside[-1]:
            self.inside_since = None
        elif outside.size:
            self.inside_since = int(steps[outside[-1] + 1])
        elif self.inside_since is None:
            self.inside_since = int(steps[0])
        self.last_step = int(steps[-1])


class Standing(NamedTuple):
    """The outcome of a race that has ended: :attr:`order` lists the racers that settled, best first (by the step
    they settled at, then by their final distance); :attr:`tie` says whether the winner shares its settled step
    with the next (and so won on distance); :attr:`winners` are the racers that share both with the first (more
    than one: a dead heat)."""

    order: list[int]
    tie: bool
    winners: list[int]

    @property
    def winner(self) -> int | None:
        return self.order[0] if self.order else None


def standing(settled: Sequence[int | None], final: Sequence[float]) -> Standing:
    """Rank the racers of an ended race: ``settled[i]`` the step racer i settled at (None: it ended outside the
    tolerance, or diverged, and cannot win), ``final[i]`` its distance to the optimum at the end."""
    order = sorted((i for i, s in enumerate(settled) if s is not None), key=lambda i: (settled[i], final[i]))
    tie = len(order) > 1 and settled[order[0]] == settled[order[1]]
    best = (settled[order[0]], final[order[0]]) if order else None
    return Standing(order, tie, [i for i in order if (settled[i], final[i]) == best])


#: The learning rates :class:`RateScan` tries: 1, 2 and 5 per decade, from 0.001 to 1.
SCAN_RATES = tuple(float(f"{m * 10.0 ** e:g}") for e in range(-3, 0) for m in (1, 2, 3, 4, 5, 7)) + (1.0,)


class Trial(NamedTuple):
    """One rate tried by :class:`RateScan`: where the racer settled (None: it did not), how far it ended from the
    optimum (``inf`` if it diverged) and whether it diverged."""

    optimizer: str
    rate: float
    settled: int | None
    final: float
    diverged: bool


class RateScan:
    """Which learning rates let each of some racers settle within the tolerance in a race's steps.

    Every racer of ``specs`` is raced at every rate of ``rates`` (its other options kept) on the course of
    ``settings`` (same data, start, seed and batches, ``settings.epochs`` epochs), with the engine's own trainers.
    :meth:`run` advances them one batch at a time (a caller can stop between two batches); :attr:`trials` then
    holds one :class:`Trial` per racer and rate, in the order of ``specs`` then ``rates``.
    """

    def __init__(self, dataset: Dataset, settings: FitSettings, specs: Sequence[RacerSpec], target: np.ndarray,
                 tolerance: float, rates: Sequence[float] = SCAN_RATES) -> None:
        self.specs = [replace(spec, learning_rate=float(rate)) for spec in specs for rate in rates]
        self.target = np.asarray(target, dtype=np.float64)
        self.race = Race.build(dataset, settings, self.specs)
        start = self.race.params
        self._finishes = [Finish.of(start[i : i + 1], self.target, tolerance) for i in range(len(self.specs))]
        self.trials: list[Trial] | None = None

    def run(self) -> Iterator[int]:
        """Race every candidate to the end, yielding the step after each batch; then fill :attr:`trials`."""
        for report in self.race.run():
            if isinstance(report, RaceStepReport):
                d = distances(report.params_after, self.target)
                for i, own in enumerate(report.racers):
                    if isinstance(own, StepReport):
                        self._finishes[i].add(np.array([report.step]), d[i : i + 1])
                yield report.step
        params = self.race.params
        self.trials = [
            Trial(spec.optimizer, spec.rate, None if t.diverged is not None else f.inside_since,
                  math.inf if t.diverged is not None else float(distances(params[i : i + 1], self.target)[0]),
                  t.diverged is not None)
            for i, (spec, t, f) in enumerate(zip(self.specs, self.race.trainers, self._finishes, strict=True))
        ]
