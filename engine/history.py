"""What is remembered of a run: the trajectory, the batch losses and the epoch losses, and their JSON form.

A :class:`History` records the trainer's reports (:meth:`History.add`); the app's tabs draw from it and save
it in sessions (:meth:`History.to_json`, :meth:`History.from_json`). Arrays grow by doubling, so appending a
step costs O(1) and a plot gets a view without copying.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .serial import array_from_json, array_to_json, float_from_json, float_to_json, int_from_json
from .trainer import DivergedReport, EpochReport, Phase, Report, StepReport


class Growable:
    """A 2-D float64 array that grows by rows (``width`` columns); :attr:`view` is the rows so far."""

    def __init__(self, width: int, capacity: int = 1024) -> None:
        self._data = np.empty((max(1, capacity), width))
        self.n = 0

    def append(self, row) -> None:
        if self.n == len(self._data):
            self._data = np.concatenate([self._data, np.empty_like(self._data)])
        self._data[self.n] = row
        self.n += 1

    def extend(self, rows: np.ndarray) -> None:
        """Append several rows at once (shape (k, width), or (k,) for one column)."""
        rows = np.asarray(rows, dtype=np.float64).reshape(-1, self._data.shape[1])
        need = self.n + len(rows)
        if need > len(self._data):
            grown = np.empty((max(need, 2 * len(self._data)), self._data.shape[1]))
            grown[: self.n] = self._data[: self.n]
            self._data = grown
        self._data[self.n : need] = rows
        self.n = need

    def fill(self, rows: np.ndarray) -> None:
        """Replace the contents with ``rows`` (keeping any larger capacity)."""
        rows = np.asarray(rows, dtype=np.float64).reshape(-1, self._data.shape[1])
        if len(self._data) < len(rows):
            self._data = np.empty((len(rows), self._data.shape[1]))
        self._data[: len(rows)] = rows
        self.n = len(rows)

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
        self._params = Growable(start.size, max(1, steps + 1))
        self._params.append(start)
        self._loss = Growable(1, max(1, steps))
        self._epochs = Growable(5, 64)
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
        history._params.fill(params)
        history._loss.fill(batch_loss)
        history._epochs.fill(epochs)
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

    # --- JSON (sessions) ---
    def to_json(self) -> dict[str, Any]:
        """The history as JSON-safe values; long arrays as base64 of their float64 bytes (exact)."""
        return {
            "params": array_to_json(self.params),
            "batch_loss": array_to_json(self.batch_loss),
            "epochs": array_to_json(self.epochs),
            "last_step": step_to_json(self.last_step),
            "diverged": diverged_to_json(self.diverged),
        }

    @classmethod
    def from_json(cls, value: Any, n_params: int, n_rows: int, room: int = 1023) -> History:
        """A history of a model with ``n_params`` parameters trained on ``n_rows`` rows (:class:`ValueError`
        with a one-line message if anything is malformed)."""
        if not isinstance(value, dict):
            raise ValueError("the history is malformed")
        try:
            params = array_from_json(value["params"], "the trajectory", ndim=2)
            if params.shape[1] != n_params or len(params) < 1:
                raise ValueError(f"the trajectory is not one of {n_params} parameters")
            batch_loss = array_from_json(value["batch_loss"], "the batch losses", ndim=1)
            epochs = array_from_json(value["epochs"], "the epoch losses", ndim=2)
            last = step_from_json(value["last_step"], n_params, n_rows)
            diverged = diverged_from_json(value["diverged"], n_params)
        except KeyError as e:
            raise ValueError(f"the history has no {e.args[0]!r}") from None
        return cls.from_arrays(params, batch_loss, epochs, last, diverged, room=room)


# --------------------------------------------------------------------------- reports as JSON
def _frozen(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


def _array(value: Any, what: str, n: int | None = None, ndim: int = 1, dtype: str = "float64") -> np.ndarray:
    a = array_from_json(value, what, dtype=dtype, ndim=ndim)
    if n is not None and a.shape[-1] != n:
        raise ValueError(f"{what} has {a.shape[-1]} values, not {n}")
    return _frozen(a)


def _opt_array(a: np.ndarray | None) -> dict | None:
    return None if a is None else array_to_json(a)


def step_to_json(report: StepReport | None) -> dict | None:
    if report is None:
        return None
    return {
        "phase": int(report.phase), "step": report.step, "epoch": report.epoch, "batch": report.batch,
        "batches_per_epoch": report.batches_per_epoch, "indices": array_to_json(report.indices),
        "params_before": array_to_json(report.params_before), "predictions": _opt_array(report.predictions),
        "loss": None if report.loss is None else float_to_json(report.loss),
        "gradient": _opt_array(report.gradient), "params_after": _opt_array(report.params_after),
        "learning_rate": float_to_json(report.learning_rate),
    }


def step_from_json(value: Any, n_params: int, n_rows: int) -> StepReport | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError("the last step is malformed")
    phase = int_from_json(value["phase"], "the phase")
    if phase > max(Phase):
        raise ValueError("the phase is unknown")
    indices = _array(value["indices"], "the batch's rows", dtype="int64")
    if indices.size and (indices.min() < 0 or indices.max() >= n_rows):
        raise ValueError("the batch's rows are out of range")

    def opt(key: str, n: int | None) -> np.ndarray | None:
        return None if value[key] is None else _array(value[key], f"the last step's {key}", n)

    return StepReport(
        Phase(phase), int_from_json(value["step"], "the step"), int_from_json(value["epoch"], "the epoch"),
        int_from_json(value["batch"], "the batch"), int_from_json(value["batches_per_epoch"], "the batch count"),
        indices, _array(value["params_before"], "the last step's parameters", n_params),
        opt("predictions", len(indices)),
        None if value["loss"] is None else float_from_json(value["loss"], "the batch loss"),
        opt("gradient", n_params), opt("params_after", n_params),
        float_from_json(value["learning_rate"], "the learning rate"),
    )


def diverged_to_json(report: DivergedReport | None) -> dict | None:
    if report is None:
        return None
    return {"step": report.step, "epoch": report.epoch, "batch": report.batch, "what": report.what,
            "learning_rate": float_to_json(report.learning_rate), "params": array_to_json(report.params),
            "how": report.how}


def diverged_from_json(value: Any, n_params: int) -> DivergedReport | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value["what"], str) or not isinstance(value["how"], str):
        raise ValueError("the divergence is malformed")
    return DivergedReport(
        int_from_json(value["step"], "the divergence's step"), int_from_json(value["epoch"], "its epoch"),
        int_from_json(value["batch"], "its batch"), value["what"],
        float_from_json(value["learning_rate"], "its learning rate"),
        _array(value["params"], "its parameters", n_params), value["how"],
    )
