"""What a view remembers of a run: the trajectory, the batch losses and the epoch losses.

Pure Python and NumPy (no Qt): the views append each report they receive, then draw from here.
Arrays grow by doubling, so appending a step costs O(1) and a plot gets a view without copying.
"""

from __future__ import annotations

import numpy as np

from fitscope.engine.trainer import DivergedReport, EpochReport, Phase, Report, StepReport


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

    @classmethod
    def from_arrays(cls, params: np.ndarray, batch_loss: np.ndarray, epochs: np.ndarray,
                    last_step: StepReport | None = None, diverged: DivergedReport | None = None,
                    room: int = 1023) -> History:
        """A history holding these rows, as :meth:`add` would have made them (a session opened from a file).

        ``room``: how many updates in all to make room for at once. :class:`ValueError` if the shapes do
        not fit together.
        """
        params = np.asarray(params, dtype=np.float64)
        batch_loss = np.asarray(batch_loss, dtype=np.float64)
        epochs = np.asarray(epochs, dtype=np.float64)
        if params.ndim != 2 or len(params) < 1:
            raise ValueError("the trajectory has no start")
        if not np.isfinite(params).all():
            raise ValueError("the trajectory holds numbers that are not finite")
        steps = len(params) - 1
        if batch_loss.shape != (steps,):
            raise ValueError(f"{len(batch_loss)} batch losses for {steps} steps")
        if epochs.ndim != 2 or epochs.shape[1] != 5:
            raise ValueError("the epoch rows are not (epoch, step, loss, val_loss, test_loss)")
        ends = epochs[:, 1]
        if not np.isfinite(epochs[:, :2]).all() or np.any(ends != np.round(ends)):
            raise ValueError("the epoch rows' numbers are not whole")
        if len(ends) and (np.any(np.diff(ends) < 0) or ends[0] < 1 or ends[-1] > steps):
            raise ValueError("the epochs do not end at steps of the trajectory")
        history = cls(params[0], steps=max(room, steps))
        for grow, rows in ((history._params, params), (history._loss, batch_loss[:, None]), (history._epochs, epochs)):
            if len(grow._data) < len(rows):
                grow._data = np.empty((len(rows), grow._data.shape[1]))
            grow._data[: len(rows)] = rows
            grow.n = len(rows)
        history.last_step = last_step
        history.diverged = diverged
        return history

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
                self.diverged = None  # training went on after a divergence (at a smaller rate, say)
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
