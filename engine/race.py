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
"""

from __future__ import annotations

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
