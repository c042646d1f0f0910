"""Learning-rate sweeps: the same run with many learning rates, and where training stops converging.

A :class:`Sweep` trains an :class:`~engine.experiment.Experiment`'s setup (its rows, model, loss, optimizer,
batch size, shuffling and seed) from one start point, once per learning rate, for a chosen number of epochs.
Each run is a fresh :class:`~engine.trainer.Trainer`, so its numbers are exactly those of ``fit()`` with that
rate (``fitscope fit --lr RATE`` prints the same final losses): the final training loss is the last epoch's,
as tfjs logs it (the mean of that epoch's batch losses), and the validation loss is that of the final weights.

A run *diverges* when the trainer stops it (a loss, gradient or weight becomes infinite or NaN, or the loss
explodes past :data:`~engine.trainer.BLOWUP` times its reference: see :mod:`engine.trainer`; the run's losses
are then NaN, as tfjs reports them), or when it runs all its epochs but ends with a training loss above the
loss at its start. A rate just above the stability limit grows slowly, for many steps before the trainer
would stop it; the second test counts it as diverged all the same (below the limit, full-batch gradient
descent on a quadratic lowers the loss at every step, so it never ends above its start).

For a linear model with MSE, the sweep knows the exact stability limit ``2/λmax`` of full-batch gradient
descent (:mod:`engine.curvature`; ``2(1 + m)/λmax`` with momentum). It is exact for the run when every batch
holds all the rows (batch size ≥ rows, :attr:`Sweep.limit_exact`); with smaller batches it is a reference.

Long work for a GUI: :meth:`Sweep.run` is a generator of one :class:`RateResult` per rate, in ascending
order (show the partial results as they come); it checks :meth:`Sweep.cancel` (callable from any thread)
after every batch and reports progress through a callback. Dropping the generator stops it too.

>>> from fitscope.engine.data import load
>>> from fitscope.engine.experiment import Experiment
>>> sweep = Sweep(Experiment(load("boston-housing")), log_rates(1e-3, 1.0, 30), epochs=200)
>>> for result in sweep.run():                                   # doctest: +SKIP
...     print(result.learning_rate, result.final_loss, result.diverged)
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from .curvature import Curvature, curvature_of, stability_limit
from .experiment import Experiment, build_model, build_optimizer
from .export import full
from .trainer import DivergedReport, EpochReport, Trainer

#: How many learning rates a sweep takes (the app's dialog and ``fitscope sweep``).
NUM_RATES = (20, 60)

#: The sweep's CSV: one row per rate, ascending.
SWEEP_HEADER = ("learning_rate", "final_loss", "val_loss", "diverged")


def log_rates(lr_min: float, lr_max: float, num: int, num_range: tuple[int, int] | None = NUM_RATES) -> np.ndarray:
    """``num`` learning rates log-spaced from ``lr_min`` to ``lr_max``, both included, ascending.

    Raises :class:`ValueError` (a one-line message) unless ``0 < lr_min < lr_max < inf`` and ``num`` is a whole
    number within ``num_range`` (``None``: at least 2).

    Returns
    -------
    ndarray of shape (num,)
    """
    lo, hi = float(lr_min), float(lr_max)
    if not (math.isfinite(lo) and lo > 0):
        raise ValueError(f"the smallest learning rate must be a positive number, not {lr_min!r}")
    if not (math.isfinite(hi) and hi > 0):
        raise ValueError(f"the largest learning rate must be a positive number, not {lr_max!r}")
    if not lo < hi:
        raise ValueError(f"the smallest learning rate ({lo:g}) must be below the largest ({hi:g})")
    first, last = num_range if num_range is not None else (2, None)
    if isinstance(num, bool) or int(num) != num or num < first or (last is not None and num > last):
        span = f"from {first} to {last}" if last is not None else f"at least {first}"
        raise ValueError(f"the number of learning rates must be a whole number {span}, not {num!r}")
    rates = np.geomspace(lo, hi, int(num))
    rates[0], rates[-1] = lo, hi  # exactly the ends asked for
    return rates


@dataclass(frozen=True)
class RateResult:
    """One learning rate's run.

    Attributes
    ----------
    index : int
        Position of the rate in :attr:`Sweep.rates`.
    learning_rate : float
    final_loss : float
        The last epoch's training loss as ``fit()`` logs it; NaN if the trainer stopped the run.
    val_loss : float or None
        The validation loss after the last epoch (NaN if the trainer stopped the run); None without a
        validation split.
    diverged : bool
        The trainer stopped the run, or it ended with a training loss above :attr:`Sweep.start_loss`.
    diverged_step, diverged_epoch : int or None
        The update (1-based) and epoch (1-based) at which the trainer stopped the run; None if it ran all
        its epochs (diverged or not).
    epochs : int
        Epochs completed.
    """

    index: int
    learning_rate: float
    final_loss: float
    val_loss: float | None
    diverged: bool
    diverged_step: int | None
    diverged_epoch: int | None
    epochs: int

    @property
    def stopped(self) -> bool:
        """True when the trainer stopped the run (its losses are NaN)."""
        return self.diverged_step is not None

    def csv_row(self) -> list[str]:
        """The row of :data:`SWEEP_HEADER`: numbers in full, ``val_loss`` empty without a split, 0 or 1."""
        val = "" if self.val_loss is None else full(self.val_loss)
        return [full(self.learning_rate), full(self.final_loss), val, "1" if self.diverged else "0"]


class Sweep:
    """The runs of one setup with several learning rates.

    Parameters
    ----------
    experiment : Experiment
        Gives the rows (training and validation), the model's structure, the loss, the optimizer and its
        momentum, the batch size, the shuffling and the seed. Its own trainer is not touched.
    rates : sequence of float, shape (num,)
        Positive learning rates; they are run in ascending order (see :func:`log_rates`).
    epochs : int, optional
        Epochs per run (default: the experiment's settings).
    start : ndarray of shape (n_params,), optional
        The flat parameters every run starts from (default: the model's initial parameters, as
        ``fitscope fit`` starts; pass the point the user clicked to sweep from there).

    Attributes
    ----------
    rates : ndarray of shape (num,)
    results : list of RateResult
        The runs done so far, in ascending order of rate.
    start_loss : float
        The training loss at the start (the same for every rate).
    curvature : Curvature or None
        For a linear model with MSE.
    """

    def __init__(
        self,
        experiment: Experiment,
        rates: Sequence[float] | np.ndarray,
        epochs: int | None = None,
        start: np.ndarray | None = None,
    ) -> None:
        rates = np.sort(np.asarray(rates, dtype=np.float64).ravel())
        if rates.size == 0 or not (np.all(np.isfinite(rates)) and np.all(rates > 0)):
            raise ValueError("the learning rates must be positive numbers")
        self.experiment = experiment
        self.settings = experiment.settings
        self.rates = rates
        self.epochs = self.settings.epochs if epochs is None else int(epochs)
        if self.epochs < 1:
            raise ValueError(f"a sweep needs at least one epoch per rate, not {self.epochs}")
        model = build_model(self.settings, experiment.dataset.n_features)
        self.start = model.get_flat() if start is None else np.asarray(start, dtype=np.float64).copy()
        if self.start.shape != (model.n_params,):
            raise ValueError(f"the start needs {model.n_params} parameters, not {self.start.shape}")
        self.start.flags.writeable = False
        self.start_loss = experiment.loss_at(self.start)
        self.curvature: Curvature | None = None
        if experiment.is_linear and experiment.loss.name == "mse":
            self.curvature = curvature_of(experiment)
        self.results: list[RateResult] = []
        self._cancel = threading.Event()

    # --- what is known before any run ---
    @property
    def limit(self) -> float | None:
        """The stability limit of full-batch training, for a linear model with MSE and SGD or momentum.

        ``2/λmax`` (SGD) or ``2(1 + m)/λmax`` (momentum) of the Hessian of the training loss; None otherwise.
        """
        if self.curvature is None:
            return None
        return stability_limit(self.curvature.lam_max, self.settings.optimizer, self.settings.momentum)

    @property
    def limit_exact(self) -> bool:
        """True when :attr:`limit` is the run's own limit: every batch holds all the training rows."""
        return self.limit is not None and self.settings.batch_size >= len(self.experiment.y)

    def limit_text(self) -> str:
        """One line about the limit, for a caption or the CLI ("" when there is none)."""
        limit = self.limit
        if limit is None:
            return ""
        formula = "2/λmax" if self.settings.optimizer == "sgd" else f"2(1 + {self.settings.momentum:g})/λmax"
        text = f"stability limit {formula} = {limit:.4g} (λmax = {self.curvature.lam_max:.4g})"
        if self.limit_exact:
            return f"{text}: full-batch gradient descent diverges above it"
        n, b = len(self.experiment.y), self.settings.batch_size
        return f"{text}, the limit of full-batch gradient descent (here batches of {b} of {n} rows: a reference)"

    # --- running ---
    def cancel(self) -> None:
        """Ask :meth:`run` to stop (from any thread): it returns after the batch under way."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def done(self) -> bool:
        """True when every rate has run."""
        return len(self.results) == len(self.rates)

    def run(self, progress: Callable[[int, int], None] | None = None) -> Iterator[RateResult]:
        """Run the rates not yet run, in ascending order, yielding each one's result as it ends.

        Parameters
        ----------
        progress : callable(done, total), optional
            Called after every epoch of every run with the epochs done so far and the total
            (``len(rates) · epochs``; a diverged run counts all its epochs as done).

        Stops, without a result for the rate under way, when :meth:`cancel` is called; a later ``run()``
        (after :meth:`resume`) goes on with that rate.
        """
        total = len(self.rates) * self.epochs
        for index in range(len(self.results), len(self.rates)):
            if self._cancel.is_set():
                return
            result = self._run_one(index, progress, total)
            if result is None:
                return
            self.results.append(result)
            if progress is not None:
                progress((index + 1) * self.epochs, total)
            yield result

    def run_all(self, progress: Callable[[int, int], None] | None = None) -> list[RateResult]:
        """Run every rate left (or until cancelled) and return :attr:`results`."""
        for _ in self.run(progress):
            pass
        return self.results

    def resume(self) -> None:
        """Clear a :meth:`cancel`, so that :meth:`run` may go on."""
        self._cancel.clear()

    def trainer(self, learning_rate: float, epochs: int | None = None) -> Trainer:
        """A fresh trainer of this setup from :attr:`start` with ``learning_rate`` (what each run trains)."""
        exp, settings = self.experiment, self.settings
        model = build_model(settings, exp.dataset.n_features)
        model.set_flat(self.start)
        optimizer = build_optimizer(settings)
        optimizer.learning_rate = float(learning_rate)
        return Trainer(
            model, exp.loss, optimizer, exp.X, exp.y,
            batch_size=settings.batch_size,
            epochs=self.epochs if epochs is None else epochs,
            validation=None if exp.X_val is None else (exp.X_val, exp.y_val),
            shuffle=settings.shuffle,
            seed=settings.seed,
        )

    def _run_one(self, index: int, progress, total: int) -> RateResult | None:
        lr = float(self.rates[index])
        trainer = self.trainer(lr)
        last: EpochReport | None = None
        cancelled = self._cancel.is_set
        for report in trainer.run():
            if isinstance(report, EpochReport):
                last = report
                if progress is not None:
                    progress(index * self.epochs + report.epoch, total)
            elif isinstance(report, DivergedReport):
                nan_val = None if self.experiment.X_val is None else math.nan
                return RateResult(index, lr, math.nan, nan_val, True, report.step, report.epoch, trainer.epoch)
            if cancelled() and not trainer.finished:
                return None
        assert last is not None  # at least one epoch ran
        rose = float(last.loss) > self.start_loss
        return RateResult(index, lr, float(last.loss), last.val_loss, rose, None, None, last.epoch)

    # --- reading the results ---
    def threshold(self) -> tuple[float | None, float | None]:
        """``(last stable, first diverged)``: the smallest rate run that diverged, and the largest rate below it
        that did not (None where there is none)."""
        first = next((r for r in self.results if r.diverged), None)
        if first is None:
            stable = [r.learning_rate for r in self.results]
            return (max(stable) if stable else None), None
        below = [r.learning_rate for r in self.results if not r.diverged and r.learning_rate < first.learning_rate]
        return (max(below) if below else None), first.learning_rate

    def best(self) -> RateResult | None:
        """The run with the lowest final training loss (None before any run, or if every run diverged)."""
        finite = [r for r in self.results if not r.diverged and math.isfinite(r.final_loss)]
        return min(finite, key=lambda r: r.final_loss, default=None)

    def line(self, result: RateResult) -> str:
        """One line for a terminal: the rate, the final losses, or where it diverged."""
        text = f"lr {result.learning_rate:<11.4g}"
        if result.stopped:
            return f"{text} diverged at step {result.diverged_step} (epoch {result.diverged_epoch})"
        text += f" loss: {result.final_loss:.6g}"
        if result.val_loss is not None:
            text += f" - val_loss: {result.val_loss:.6g}"
        return f"{text} - diverged (above the start, {self.start_loss:.6g})" if result.diverged else text

    def csv_rows(self) -> list[list[str]]:
        """The rows of :data:`SWEEP_HEADER` for the results so far (ascending rate)."""
        return [r.csv_row() for r in self.results]
