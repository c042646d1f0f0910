"""What a view remembers of a run: the trajectory, the batch losses and the epoch losses.

Pure Python and NumPy (no Qt): the views append each report they receive, then draw from here.
Arrays grow by doubling, so appending a step costs O(1) and a plot gets a view without copying.
"""

from __future__ import annotations

import numpy as np

from engine.trainer import DivergedReport, EpochReport, Phase, Report, StepReport


class _Growable:
    """A 2-D float64 array that grows by rows."""

    def __init__(self, width: int, capacity: int = 1024) -> None:
        self._data = np.empty((capacity, width))
        self.n = 0

    def append(self, row) -> None:
        if self.n == len(self._data):
            self._data = np.concatenate([self._data, np.empty_like(self._data)])
        self._data[self.n] = row
        self.n += 1

    @property
    def view(self) -> np.ndarray:
        return self._data[: self.n]


class History:
    """The trajectory and losses of one trainer, from its start parameters on.

    Attributes
    ----------
    params : ndarray (steps + 1, n_params)
        Row 0 is the start; row s the parameters after update s.
    batch_loss : ndarray (steps,)
        Row s − 1 is the loss of batch s, before its update.
    epochs : ndarray (n_epochs, 5)
        Columns: epoch, step, loss, val_loss, test_loss (NaN where there is none).
    last_step : StepReport or None
        The most recent step report, of any phase.
    diverged : DivergedReport or None
    """

    def __init__(self, start: np.ndarray, steps: int = 1023) -> None:
        """``steps``: how many updates to make room for at once (growing a wide trajectory later copies it)."""
        start = np.asarray(start, dtype=np.float64)
        self._params = _Growable(start.size, max(1, steps + 1))
        self._params.append(start)
        self._loss = _Growable(1, max(1, steps))
        self._epochs = _Growable(5, 64)
        self.last_step: StepReport | None = None
        self.diverged: DivergedReport | None = None
        self.version = 0  # bumped at every change, so views can tell whether to redraw

    @property
    def params(self) -> np.ndarray:
        return self._params.view

    @property
    def current(self) -> np.ndarray:
        """The parameters now (the last row of :attr:`params`)."""
        return self._params.view[-1]

    @property
    def steps(self) -> int:
        return self._params.n - 1

    @property
    def batch_loss(self) -> np.ndarray:
        return self._loss.view[:, 0]

    @property
    def epochs(self) -> np.ndarray:
        return self._epochs.view

    @property
    def epoch_steps(self) -> np.ndarray:
        """The step number at the end of each epoch (as ints)."""
        return self._epochs.view[:, 1].astype(int)

    def add(self, report: Report) -> None:
        """Record one report from the trainer."""
        self.version += 1
        if isinstance(report, StepReport):
            self.last_step = report
            if report.phase is Phase.UPDATE:
                self._params.append(report.params_after)
                self._loss.append((report.loss,))
        elif isinstance(report, EpochReport):
            nan = float("nan")
            self._epochs.append((
                report.epoch,
                report.step,
                report.loss,
                nan if report.val_loss is None else report.val_loss,
                nan if report.test_loss is None else report.test_loss,
            ))
        elif isinstance(report, DivergedReport):
            self.diverged = report
