"""What is remembered of a run: the trajectory, the batch losses and the epoch losses, and their JSON form.

A :class:`History` records the trainer's reports (:meth:`History.add`); the app's tabs draw from it and save
it in sessions (:meth:`History.to_json`, :meth:`History.from_json`).

The history is bounded, and training never stops for it: it keeps at most :attr:`History.max_rows` rows of
parameters and :attr:`History.max_losses` batch losses (:class:`Thinned`). Until a column is full it holds
every step; then it keeps the run's start, its latest step and an evenly thinned middle — the steps that are
multiples of a stride, which doubles each time the column fills again. What is kept depends on the step
numbers only (and, for the parameters, on where the latest epoch ended), never on timing, so two identical
runs keep identical rows. The step number of every kept row is in :attr:`History.param_steps` and
:attr:`History.loss_steps`; the epoch table is kept whole.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from .serial import array_from_json, array_to_json, float_from_json, float_to_json, int_from_json
from .trainer import DivergedReport, EpochReport, Phase, Report, StepReport

_HISTORIES = itertools.count()  # a number of its own for every history (see History.growth)

#: The most rows of parameters, and of batch losses, a history keeps (a 2-parameter run keeps 16 MiB of
#: trajectory at most). A run's owner may set fewer (a bound in bytes for a wide model); never below
#: :data:`MIN_ROWS`.
MAX_ROWS = 2**20
MIN_ROWS = 16


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
            self.reserve(max(need, 2 * len(self._data)))
        self._data[self.n : need] = rows
        self.n = need

    def reserve(self, rows: int) -> None:
        """Make room for ``rows`` rows in all (room is memory only once rows are written in it)."""
        if rows > len(self._data):
            grown = np.empty((rows, self._data.shape[1]))
            grown[: self.n] = self._data[: self.n]
            self._data = grown

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


class Thinned:
    """Rows of values, one per kept step of a run, at most ``cap`` of them, thinned the same way every time.

    Steps are appended in increasing order. While there is room every step is kept. A full column doubles its
    :attr:`stride` (as often as needed) and keeps only: its ``first`` step, the steps that are multiples of
    the stride, the :attr:`pinned` step (the latest epoch end, for the trajectory) and the latest step. A new
    step replaces the latest row if that one is none of these. So the rows kept are a function of the step
    numbers (and the pinned step) alone, and there are never more than ``cap``.

    Parameters
    ----------
    width : int
        Values per row.
    cap : int
        The most rows kept (at least :data:`MIN_ROWS`).
    first : int
        The first step of the column (0 for the trajectory, whose row 0 is the start; 1 for batch losses).
    capacity : int
        Rows to make room for at once (grown by doubling, never beyond ``cap``).
    """

    def __init__(self, width: int, cap: int, first: int, capacity: int = 1024) -> None:
        self.cap = max(MIN_ROWS, int(cap))
        self.first = first
        capacity = max(1, min(self.cap, int(capacity)))
        self._values = np.empty((capacity, width))
        self._steps = np.empty(capacity, dtype=np.int64)
        self.n = 0
        self.stride = 1
        self.pinned = -1
        #: Bumped whenever rows before :attr:`settled` may change (thinning, truncation, loading): a cache of
        #: something computed per row stays valid for the rows that were settled when it was made, while this
        #: stays the same.
        self.layout = 0

    # --- reading ---
    @property
    def values(self) -> np.ndarray:
        """The kept rows (n, width): a view, valid until the next change."""
        return self._values[: self.n]

    @property
    def steps(self) -> np.ndarray:
        """The step of each kept row (n,), increasing: a read-only view, valid until the next change."""
        view = self._steps[: self.n]
        view.flags.writeable = False
        return view

    @property
    def nbytes(self) -> int:
        """The memory the rows take, as allocated (never more than ``cap`` rows)."""
        return self._values.nbytes + self._steps.nbytes

    @property
    def last(self) -> int:
        """The latest step (``first - 1`` when empty)."""
        return int(self._steps[self.n - 1]) if self.n else self.first - 1

    @property
    def every_step(self) -> bool:
        """Whether every step from ``first`` to the latest is kept (nothing was thinned out)."""
        return self.n == self.last - self.first + 1

    @property
    def settled(self) -> int:
        """How many of the first rows stay as they are while :attr:`layout` stays the same: all but the last two,
        and but the pinned row and those after it (they move up one when another epoch ends and the pinned
        step goes). A cache of something computed per row keeps its first ``settled`` rows (counted when it
        was made) and computes the rest afresh."""
        settled = self.n - 2
        if self.pinned >= 0 and not self._rule_keeps(self.pinned, -1):
            i = self.index(self.pinned)
            if i is not None:
                settled = min(settled, i)
        return max(0, settled)

    def index(self, step: int) -> int | None:
        """The row of ``step``, or None if it is not kept."""
        i = int(np.searchsorted(self._steps[: self.n], step))
        return i if i < self.n and self._steps[i] == step else None

    def _kept(self, step: int) -> bool:
        """Whether ``step`` stays when a later one comes (the first, a multiple of the stride, the pinned)."""
        return step == self.first or step % self.stride == 0 or step == self.pinned

    # --- changing ---
    def append(self, step: int, row) -> None:
        """Record ``step`` (later than the latest) with its values ``row``."""
        if self.n and step <= self._steps[self.n - 1]:
            raise ValueError(f"step {step} does not follow step {self._steps[self.n - 1]}")
        if self.n and not self._kept(int(self._steps[self.n - 1])):
            i = self.n - 1  # the latest row was kept only as the latest: the new one takes its place
        else:
            if self.n == self.cap:
                self._thin()
            if self.n and not self._kept(int(self._steps[self.n - 1])):
                i = self.n - 1
            else:
                if self.n == len(self._steps):
                    self._grow()
                i = self.n
                self.n += 1
        self._values[i] = row
        self._steps[i] = step

    def extend(self, steps: np.ndarray, rows, pins: list[int] = ()) -> None:
        """Record the ``steps`` (increasing, later than the latest) with their ``rows`` (an array (k, width), or a
        sequence of k rows: only those kept are copied, a few of a long delivery once the column is thinned),
        pinning each of ``pins`` (steps among them, increasing: the epoch ends) once its row is in: the same rows
        as :meth:`append` and :meth:`pin` one by one, in one go.

        The rows kept then are those the rule keeps with the final pin, and the latest; the pins in between
        each let the one before go. When the column could fill up meanwhile, the steps are appended one by one
        (the stride's doubling depends on the moment it fills)."""
        k = len(steps)
        if not k:
            return
        if self.n and steps[0] <= self._steps[self.n - 1]:
            raise ValueError(f"step {steps[0]} does not follow step {self._steps[self.n - 1]}")
        final_pin = pins[-1] if pins else self.pinned
        stride = self.stride
        keep = np.ones(k, dtype=bool) if stride == 1 else (
            (steps % stride == 0) | (steps == self.first) | (steps == final_pin))
        keep[-1] = True
        new = int(np.count_nonzero(keep))
        if self.n + new + 2 >= self.cap:  # it may fill: the one-by-one way, which thins as it must
            pinning = iter(pins)
            pin = next(pinning, None)
            for step, row in zip(steps.tolist(), rows, strict=True):
                self.append(step, row)
                if step == pin:
                    self.pin(step)
                    pin = next(pinning, None)
            return
        # The rows kept so far that the rule lets go now: the latest (kept only as the latest) and the pinned one
        # (if another epoch ended).
        n = self.n
        while n and not self._rule_keeps(int(self._steps[n - 1]), final_pin):
            n -= 1  # at most two rows: the latest, and the pinned before it
        old = self.pinned
        if old != final_pin and old >= 0 and not self._rule_keeps(old, final_pin):
            i = self.index(old)
            if i is not None and i < n:  # (at or after `settled`: no change of layout)
                self._values[i : n - 1] = self._values[i + 1 : n]
                self._steps[i : n - 1] = self._steps[i + 1 : n]
                n -= 1
        need = n + new
        while need > len(self._steps):
            self.n = n
            self._grow()
        if new == k:
            self._values[n:need] = rows
            self._steps[n:need] = steps
        else:
            if isinstance(rows, np.ndarray):
                self._values[n:need] = rows[keep]
            else:
                self._values[n:need] = [rows[i] for i in np.flatnonzero(keep).tolist()]
            self._steps[n:need] = steps[keep]
        self.n, self.pinned = need, final_pin

    def _rule_keeps(self, step: int, pinned: int) -> bool:
        return step == self.first or step % self.stride == 0 or step == pinned

    def pin(self, step: int) -> None:
        """Keep ``step`` (the latest epoch end) until another is pinned; the one pinned before goes, unless the
        rule keeps it. Cheap: only the rows kept since that one move (about an epoch's steps over the stride),
        none of them :attr:`settled`."""
        old, self.pinned = self.pinned, step
        if old == step or self._kept(old):
            return
        i = self.index(old)
        if i is not None and i < self.n - 1:
            self._values[i : self.n - 1] = self._values[i + 1 : self.n]
            self._steps[i : self.n - 1] = self._steps[i + 1 : self.n]
            self.n -= 1

    def truncate(self, step: int) -> None:
        """Forget the rows after ``step``."""
        self.n = int(np.searchsorted(self._steps[: self.n], step, side="right"))
        self.layout += 1

    def load(self, steps: np.ndarray, rows: np.ndarray, pinned: int = -1) -> None:
        """Replace the contents with ``rows`` of ``steps`` (increasing), inferring the stride they were thinned
        with, and thinning them further if they are more than ``cap``."""
        n = len(steps)
        if n > len(self._steps):
            self._values = np.empty((n, self._values.shape[1]))
            self._steps = np.empty(n, dtype=np.int64)
        self._values[:n] = rows
        self._steps[:n] = steps
        self.n, self.pinned = n, pinned
        self.stride = 1
        if n and not self.every_step:
            middle = np.asarray(steps[:-1], dtype=np.int64)
            middle = middle[(middle != self.first) & (middle != pinned) & (middle > 0)]
            if len(middle):  # the largest power of two dividing every step kept by the rule
                self.stride = int(np.bitwise_and(middle, -middle).min())
        while self.n > self.cap:
            self._thin()
        if len(self._steps) > self.cap:  # more rows were loaded than are kept: give the memory back
            self._values = self._values[: self.cap].copy()
            self._steps = self._steps[: self.cap].copy()
        self.layout += 1

    def _grow(self) -> None:
        self.reserve(2 * len(self._steps))

    def reserve(self, rows: int) -> None:
        """Make room for ``rows`` rows in all, never beyond :attr:`cap` (room is memory only once rows are
        written in it)."""
        capacity = min(self.cap, rows)
        if capacity <= len(self._steps):
            return
        values = np.empty((capacity, self._values.shape[1]))
        steps = np.empty(capacity, dtype=np.int64)
        values[: self.n] = self._values[: self.n]
        steps[: self.n] = self._steps[: self.n]
        self._values, self._steps = values, steps

    def _thin(self) -> None:
        """Double the stride (as often as needed to make room for a row) and drop what the rule lets go."""
        steps = self._steps[: self.n]
        last = int(steps[-1])
        while True:
            self.stride *= 2
            keep = (steps % self.stride == 0) | (steps == self.first) | (steps == self.pinned)
            keep[-1] = True
            if keep.sum() < self.cap or self.stride > last:
                break
        rows = np.flatnonzero(keep)
        k = len(rows)
        # In place, a block of rows at a time: row i comes from row rows[i] >= i, so a block's sources are never
        # overwritten before they are read, and no copy of the whole column is made (a wide model's trajectory
        # is tens of megabytes: a frame's worth of time to allocate and copy at once).
        values = self._values
        block = max(1, (1 << 20) // (8 * values.shape[1]))
        for start in range(0, k, block):
            end = min(k, start + block)
            values[start:end] = values[rows[start:end]]
        self._steps[:k] = steps[keep]
        self.n = k
        self.layout += 1


class History:
    """The trajectory and losses of one trainer, from its start parameters on (bounded: see the module).

    Attributes
    ----------
    params : ndarray (rows, n_params)
        The kept parameters: row 0 is the start (step 0), the last row the parameters now.
    param_steps : ndarray of int (rows,)
        The step of each row of :attr:`params`: row i holds the parameters after update ``param_steps[i]``.
    batch_loss : ndarray (loss rows,)
        The kept batch losses. The loss of batch s is measured before update s, at the parameters of step
        s − 1 (the batch's mean loss, as tfjs logs it).
    loss_steps : ndarray of int (loss rows,)
        The batch (the update) of each batch loss: 1, 2, … while nothing is thinned out.
    steps : int
        The number of updates recorded (the latest step), not the number of rows.
    epochs : ndarray (n_epochs, 5)
        Columns: epoch, step, loss, val_loss, test_loss (NaN where there is none). Every epoch.
    last_step : StepReport or None
        The most recent step report, of any phase.
    diverged : DivergedReport or None
    """

    def __init__(self, start: np.ndarray, steps: int = 1023, max_rows: int | None = None,
                 max_losses: int | None = None) -> None:
        """``steps``: how many updates to make room for at once (growing a wide trajectory later copies it; the
        epoch table makes room for as many epochs, memory that is only used as they come).
        ``max_rows``, ``max_losses``: the most rows of parameters and of batch losses to keep (default and
        ceiling :data:`MAX_ROWS`)."""
        start = np.asarray(start, dtype=np.float64)
        rows = MAX_ROWS if max_rows is None else min(MAX_ROWS, max_rows)
        losses = MAX_ROWS if max_losses is None else min(MAX_ROWS, max_losses)
        self._params = Thinned(start.size, rows, 0, max(1, steps + 1))
        self._params.append(0, start)
        self._loss = Thinned(1, losses, 1, max(1, steps))
        self._epochs = Growable(5, max(64, steps))
        self.last_step: StepReport | None = None
        self.diverged: DivergedReport | None = None
        self.version = 0  # bumped at every change, so views can tell whether to redraw
        self._epoch_rows: tuple | None = None  # (layout, epochs, rows, settled rows) of the last epoch_rows()
        self._uid = next(_HISTORIES)

    @classmethod
    def from_arrays(cls, params: np.ndarray, batch_loss: np.ndarray, epochs: np.ndarray,
                    last_step: StepReport | None = None, diverged: DivergedReport | None = None,
                    room: int = 1023, param_steps: np.ndarray | None = None, loss_steps: np.ndarray | None = None,
                    max_rows: int | None = None, max_losses: int | None = None) -> History:
        """A history holding these rows, as :meth:`add` would have made them (a session opened from a file).

        ``param_steps``, ``loss_steps``: the step of each row (None: every step, 0 … and 1 …). ``room``: how
        many updates in all to make room for at once. Rows beyond ``max_rows``/``max_losses`` are thinned out.
        :class:`ValueError` (one line) if the shapes or the steps do not fit together.
        """
        params = np.asarray(params, dtype=np.float64)
        batch_loss = np.asarray(batch_loss, dtype=np.float64)
        epochs = np.asarray(epochs, dtype=np.float64)
        if params.ndim != 2 or len(params) < 1:
            raise ValueError("the trajectory has no start")
        if not np.isfinite(params).all():
            raise ValueError("the trajectory holds numbers that are not finite")
        if param_steps is None:
            param_steps = np.arange(len(params), dtype=np.int64)
        else:
            param_steps = _steps(param_steps, len(params), "the trajectory")
            if param_steps[0] != 0:
                raise ValueError("the trajectory's steps do not start at 0")
        steps = int(param_steps[-1])
        if batch_loss.ndim != 1:
            raise ValueError("the batch losses are not one column")
        if loss_steps is None:
            if len(batch_loss) != steps:
                raise ValueError(f"{len(batch_loss)} batch losses for {steps} steps")
            loss_steps = np.arange(1, steps + 1, dtype=np.int64)
        else:
            loss_steps = _steps(loss_steps, len(batch_loss), "the batch losses")
            if len(loss_steps) and (loss_steps[0] != 1 or loss_steps[-1] != steps) or not len(loss_steps) and steps:
                raise ValueError(f"the batch losses' steps do not run from 1 to {steps}")
        if epochs.ndim != 2 or epochs.shape[1] != 5:
            raise ValueError("the epoch rows are not (epoch, step, loss, val_loss, test_loss)")
        ends = epochs[:, 1]
        if not np.isfinite(epochs[:, :2]).all() or np.any(ends != np.round(ends)):
            raise ValueError("the epoch rows' numbers are not whole")
        if len(ends) and (np.any(np.diff(ends) < 0) or ends[0] < 1 or ends[-1] > steps):
            raise ValueError("the epochs do not end at steps of the trajectory")
        history = cls(params[0], steps=max(room, len(params)), max_rows=max_rows, max_losses=max_losses)
        pinned = int(ends[-1]) if len(ends) else -1
        history._params.load(param_steps, params, pinned)
        history._loss.load(loss_steps, batch_loss[:, None])
        history._epochs.fill(epochs)
        history.last_step = last_step
        history.diverged = diverged
        return history

    def reserve(self, steps: int) -> None:
        """Make room for ``steps`` updates in all (the run was made longer): growing later, during the run,
        would copy what is kept at some delivery, a pause of the GUI thread that grows with the run."""
        self._params.reserve(steps + 1)
        self._loss.reserve(steps)
        self._epochs.reserve(max(64, steps))

    @property
    def max_rows(self) -> int:
        """The most rows of parameters kept."""
        return self._params.cap

    @property
    def max_losses(self) -> int:
        """The most batch losses kept."""
        return self._loss.cap

    @property
    def nbytes(self) -> int:
        """The memory the trajectory's rows take (as allocated): at most :attr:`max_rows` rows of parameters."""
        return self._params.nbytes

    @property
    def params(self) -> np.ndarray:
        return self._params.values

    @property
    def param_steps(self) -> np.ndarray:
        return self._params.steps

    @property
    def current(self) -> np.ndarray:
        """The parameters now (the last row of :attr:`params`)."""
        return self._params.values[-1]

    @property
    def steps(self) -> int:
        return self._params.last

    @property
    def batch_loss(self) -> np.ndarray:
        return self._loss.values[:, 0]

    @property
    def loss_steps(self) -> np.ndarray:
        return self._loss.steps

    @property
    def thinned(self) -> bool:
        """Whether some step's parameters or batch loss were let go."""
        return not (self._params.every_step and self._loss.every_step)

    @property
    def layout(self) -> int:
        """Changes whenever kept rows before :attr:`settled` may have changed or gone (thinning, truncation):
        something cached per row of :attr:`params` stays valid for the rows that were settled when it was made,
        while this stays the same."""
        return self._params.layout

    @property
    def settled(self) -> int:
        """How many of the first rows of :attr:`params` stay as they are while :attr:`growth` stays the same: all
        but the last two, and but the latest epoch end's row and those after it (that row goes when the next
        epoch ends, unless the thinning keeps it). What was computed for them may be kept."""
        return self._params.settled

    @property
    def epochs(self) -> np.ndarray:
        return self._epochs.view

    @property
    def growth(self) -> tuple[int, int]:
        """Stays the same while this history's trajectory only grows at its end (new rows; the rows after the
        :attr:`settled` ones replaced or moved): what is drawn from its settled rows may then be kept, and only
        the rows after them drawn."""
        return self._uid, self._params.layout

    @property
    def loss_growth(self) -> tuple[int, int]:
        """Stays the same while the batch losses and the epoch table only grow at their end (new rows; the latest
        batch loss replaced): what is drawn from them may then be kept, and only the new ones drawn."""
        return self._uid, self._loss.layout

    @property
    def epoch_steps(self) -> np.ndarray:
        """The step number at the end of each epoch (as ints)."""
        return self._epochs.view[:, 1].astype(int)

    def row_of(self, step: int) -> int | None:
        """The row of :attr:`params` that holds ``step``, or None if that step was not kept."""
        return self._params.index(step)

    def loss_of(self, step: int) -> float | None:
        """The batch loss of ``step`` (measured before that update), or None if it was not kept."""
        i = self._loss.index(step)
        return None if i is None else float(self._loss.values[i, 0])

    def last_kept_epoch(self) -> tuple[int, np.ndarray] | None:
        """The latest epoch whose end's parameters are kept, and those parameters (None: no such epoch). While
        the run goes on that is the latest epoch (its end is always kept)."""
        ends = self._epochs.view[:, 1].astype(np.int64)
        steps = self._params.steps
        rows = np.searchsorted(steps, ends)
        kept = np.flatnonzero((rows < len(steps)) & (steps[np.minimum(rows, len(steps) - 1)] == ends))
        if not len(kept):
            return None
        return int(kept[-1]) + 1, self.params[rows[kept[-1]]]

    def epoch_rows(self) -> np.ndarray:
        """The rows of :attr:`params` where an epoch ended, for those epoch ends that are kept (int array).
        The latest epoch end is always kept while the run goes on.

        Kept between calls: while the rows' layout stays (see :attr:`layout`), only the epochs that ended
        after the last row settled at the call before are looked up again, so a frame that draws them costs the
        same at any length of run."""
        steps = self._params.steps
        ends = self._epochs.view[:, 1]
        cached = self._epoch_rows
        if (cached is not None and cached[0] == self._params.layout and cached[1] <= len(ends)
                and 1 <= cached[3] <= len(steps)):
            _, _, rows, settled = cached
            keep = int(np.searchsorted(rows, settled))  # the settled rows stay as they were
            first = int(np.searchsorted(ends, steps[settled - 1], side="right"))
            rows = np.concatenate([rows[:keep], _rows_of(steps, ends[first:])])
        else:
            rows = _rows_of(steps, ends)
        self._epoch_rows = (self._params.layout, len(ends), rows, self._params.settled)
        return rows

    def add(self, report: Report) -> None:
        """Record one report from the trainer."""
        self.version += 1
        if isinstance(report, StepReport):
            self.last_step = report
            self.diverged = None  # training went on after a divergence (at a smaller rate, say), as its trainer did
            if report.phase is Phase.UPDATE:
                self._params.append(report.step, report.params_after)
                self._loss.append(report.step, report.loss)
        elif isinstance(report, EpochReport):
            nan = float("nan")
            self._epochs.append((
                report.epoch,
                report.step,
                report.loss,
                nan if report.val_loss is None else report.val_loss,
                nan if report.test_loss is None else report.test_loss,
            ))
            self._params.pin(report.step)
        elif isinstance(report, DivergedReport):
            self.diverged = report

    def add_many(self, reports) -> None:
        """Record the trainer's reports, in order: the same as :meth:`add` for each, with the rows of the
        updates and the epochs written in one go (a delivery at full speed holds hundreds)."""
        steps: list[int] = []
        rows: list[np.ndarray] = []
        losses: list[float] = []
        epochs: list[tuple] = []
        last_step = self.last_step
        diverged = self.diverged
        nan = float("nan")
        update, step_report, epoch_report = Phase.UPDATE, StepReport, EpochReport
        for report in reports:
            kind = type(report)
            if kind is step_report:
                last_step = report
                diverged = None  # training went on after a divergence (at a smaller rate, say), as its trainer did
                if report.phase is update:
                    steps.append(report.step)
                    rows.append(report.params_after)
                    losses.append(report.loss)
            elif kind is epoch_report:
                epochs.append((report.epoch, report.step, report.loss,
                               nan if report.val_loss is None else report.val_loss,
                               nan if report.test_loss is None else report.test_loss))
            elif kind is DivergedReport:
                diverged = report
        self._flush(steps, rows, losses, epochs)
        self.last_step, self.diverged = last_step, diverged
        self.version += len(reports)

    def _flush(self, steps: list[int], rows: list[np.ndarray], losses: list[float], epochs: list[tuple]) -> None:
        """Write the rows gathered by :meth:`add_many`."""
        while epochs and (not steps or epochs[0][1] < steps[0]):  # the end of an epoch recorded before
            first = epochs.pop(0)
            self._epochs.append(first)
            self._params.pin(int(first[1]))
        if steps:
            at = np.array(steps, dtype=np.int64)
            self._params.extend(at, rows, [int(e[1]) for e in epochs])  # (only the rows kept are copied)
            self._loss.extend(at, np.array(losses)[:, None])
        if epochs:
            self._epochs.extend(np.array(epochs, dtype=np.float64))

    def truncate(self, report: StepReport | None) -> None:
        """Go back to the step of ``report`` (the :class:`StepReport` of a kept step, after its update; None:
        the start), forgetting everything after it: later rows, epochs that ended later, the divergence.

        The step's batch loss is taken from the report if it was not kept. :class:`ValueError` if the step's
        parameters were not kept or are not the report's.
        """
        step = 0 if report is None else report.step
        row = self.row_of(step)
        if report is not None and (report.phase is not Phase.UPDATE or row is None
                                   or not np.array_equal(self.params[row], report.params_after)):
            raise ValueError(f"step {step} is not a kept step of this trajectory")
        if report is None and row is None:
            raise ValueError("the trajectory has no start")
        self.version += 1
        self._params.truncate(step)
        self._loss.truncate(step)
        if report is not None and self._loss.last != step:
            self._loss.append(step, report.loss)
        ends = self._epochs.view[:, 1]
        self._epochs.n = int(np.searchsorted(ends, step, side="right"))
        self._params.pinned = int(ends[self._epochs.n - 1]) if self._epochs.n else -1
        self.last_step = report
        self.diverged = None

    # --- JSON (sessions) ---
    def to_json(self) -> dict[str, Any]:
        """The history as JSON-safe values; long arrays as base64 of their float64 bytes (exact). The steps of
        the rows are written only for a thinned column (absent: every step)."""
        value = {
            "params": array_to_json(self.params),
            "batch_loss": array_to_json(self.batch_loss),
            "epochs": array_to_json(self.epochs),
            "last_step": step_to_json(self.last_step),
            "diverged": diverged_to_json(self.diverged),
        }
        if not self._params.every_step:
            value["param_steps"] = array_to_json(self.param_steps)
        if not self._loss.every_step:
            value["loss_steps"] = array_to_json(self.loss_steps)
        return value

    @classmethod
    def from_json(cls, value: Any, n_params: int, n_rows: int, room: int = 1023, max_rows: int | None = None,
                  max_losses: int | None = None) -> History:
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
            param_steps, loss_steps = (
                None if value.get(key) is None else array_from_json(value[key], what, dtype="int64", ndim=1)
                for key, what in (("param_steps", "the trajectory's steps"), ("loss_steps", "the losses' steps")))
        except KeyError as e:
            raise ValueError(f"the history has no {e.args[0]!r}") from None
        return cls.from_arrays(params, batch_loss, epochs, last, diverged, room=room, param_steps=param_steps,
                               loss_steps=loss_steps, max_rows=max_rows, max_losses=max_losses)


def _rows_of(steps: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The rows of ``steps`` (increasing) that hold the steps ``ends``, for those it holds."""
    ends = ends.astype(np.int64)
    rows = np.searchsorted(steps, ends)
    found = rows < len(steps)
    found[found] = steps[rows[found]] == ends[found]
    return rows[found]


def _steps(steps: Any, n: int, what: str) -> np.ndarray:
    """Checked step numbers of ``n`` rows: whole, increasing."""
    steps = np.asarray(steps)
    if steps.ndim != 1 or steps.dtype.kind not in "iu":
        raise ValueError(f"{what}'s steps are not whole numbers")
    if len(steps) != n:
        raise ValueError(f"{what} has {n} rows but {len(steps)} steps")
    steps = steps.astype(np.int64)
    if n and (steps[0] < 0 or np.any(np.diff(steps) <= 0)):
        raise ValueError(f"{what}'s steps are not increasing")
    return steps


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
