"""Training in a worker thread: a :class:`TrainingWorker` (a QObject living in a QThread) drives a
:class:`~engine.trainer.Trainer` and sends every report to the GUI thread; a :class:`TrainingController`
in the GUI thread owns the thread and is the only way views talk to the worker.

Delivery: each report is signalled as soon as it is made, unless the GUI thread has not yet taken the
previous delivery (it is drawing, say); then the reports made meanwhile go out together with the next
one. Stepping by hand, that is one signal per phase or batch; at full speed it bounds the GUI's event
queue to one delivery, so clicks, keys and timers are never stuck behind thousands of queued signals.

Threading rules (see DESIGN.md):

- Reports cross threads through ``Signal(object)``; the engine's reports are frozen and their arrays are
  read-only copies, so sharing them is safe.
- The worker's loop checks a stop flag once per batch; settings changed from the GUI are queued under a
  lock and applied by the worker before its next batch.
- Every report is tagged with the generation of the trainer that made it. Replacing the trainer (a click
  on the surface, Reset) starts a new generation, and reports still in flight from the old one are dropped.
- Shutdown: stop flag → ``quit()`` → ``wait()``, on window close and at ``aboutToQuit``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Any

from PySide6.QtCore import QElapsedTimer, QObject, QThread, QTimer, Signal, Slot

from fitscope.engine.trainer import DivergedReport, EpochReport, Phase, Report, StepReport, Trainer


class Unit(StrEnum):
    """How far one request advances training."""

    PHASE = "phase"
    BATCH = "batch"
    EPOCH = "epoch"
    RUN = "run"


#: Seconds between two deliveries of reports to the GUI thread, at the least (~30 a second at full speed).
DELIVERY_INTERVAL = 0.03

#: While training, the worker sleeps YIELD_FOR seconds every YIELD_EVERY seconds, so that the GUI thread gets
#: the interpreter lock within a few milliseconds whenever it needs it.
YIELD_EVERY = 0.004
YIELD_FOR = 0.0003


class TrainingWorker(QObject):
    """Runs in the worker thread. Only :class:`TrainingController` talks to it."""

    reports = Signal(int, object)  # generation, a tuple of reports in order
    stopped = Signal(int, str)  # generation, why: "step" | "paused" | "done" | "diverged"

    def __init__(self) -> None:
        super().__init__()
        self._stop_upto = 0  # requests numbered up to this one are to stop (an int write is atomic)
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._pending: list[tuple[int, Callable[[Trainer], None]]] = []  # (generation, change)
        self._trainer: Trainer | None = None
        self._gen = 0
        self._iter: Iterator[Report] | None = None
        self._mid_batch = False
        self.delay = 0.0  # seconds to wait after each batch while running
        self._outbox: list[Report] = []
        self._taken = threading.Event()  # the GUI thread has taken the last delivery
        self._taken.set()
        self._gui_free = threading.Event()  # cleared while the GUI thread draws
        self._gui_free.set()

    # --- called from the GUI thread (thread-safe) ---
    def request_stop(self, upto: int) -> None:
        """Stop every request numbered ``upto`` or less, at its next report."""
        self._stop_upto = upto
        self._wake.set()

    def post(self, generation: int, change: Callable[[Trainer], None]) -> None:
        """Queue ``change(trainer)`` to run in the worker thread before the next batch of the trainer of
        ``generation`` (never on an earlier trainer still finishing its last request)."""
        with self._lock:
            self._pending.append((generation, change))

    def set_delay(self, seconds: float) -> None:
        self.delay = max(0.0, float(seconds))
        self._wake.set()

    def taken(self) -> None:
        """The GUI thread has handled the last delivery: the next report may go out at once."""
        self._taken.set()

    # --- delivery: every report, in order, with at most one delivery waiting in the GUI's queue ---
    def _deliver(self, report: Report) -> None:
        """Send ``report`` now if the GUI has taken the last delivery, else keep it for the next one.

        At full speed the reports made while the GUI thread draws go out together: the event queue never
        floods, the GUI stays responsive, and no report is lost or reordered.
        """
        self._outbox.append(report)
        if self._taken.is_set():
            self._flush()

    def _flush(self) -> None:
        if self._outbox:
            self._taken.clear()
            self.reports.emit(self._gen, tuple(self._outbox))
            self._outbox = []

    # --- slots: run in the worker thread ---
    @Slot(int, object)
    def set_trainer(self, generation: int, trainer: Trainer) -> None:
        self._trainer, self._gen, self._iter, self._mid_batch = trainer, generation, None, False

    @Slot(int, object)
    def resume_in_batch(self, generation: int, reports: Iterator[Report]) -> None:
        """Go on with ``reports``: the current trainer's ``run()``, already inside a batch (an opened session)."""
        if generation == self._gen:
            self._iter, self._mid_batch = reports, True

    @Slot(int, int, str)
    def advance(self, generation: int, request: int, unit: str) -> None:
        if generation != self._gen or self._trainer is None:
            return
        self._trainer.clear_divergence()  # going on after a divergence retries the failed batch
        unit = Unit(unit)
        trainer = self._trainer
        why = self._run(trainer, request) if unit is Unit.RUN else self._advance(trainer, request, unit)
        self._flush()
        self.stopped.emit(generation, why)

    def _run(self, trainer: Trainer, request: int) -> str:
        """Train until the epoch limit, divergence or a stop request, in slices of YIELD_EVERY seconds.

        Between slices: deliver what the GUI thread is ready to take, give way while it draws, check for a
        stop, apply queued changes, and sleep (briefly, or for the chosen delay after each batch).
        """
        while True:
            self._apply_pending(trainer)
            if self._iter is None:
                if trainer.finished:
                    return "diverged" if trainer.diverged is not None else "done"
                self._iter = trainer.run()
            trainer.phases = False
            outbox, slow = self._outbox, self.delay > 0
            deadline = time.perf_counter() + YIELD_EVERY
            for report in self._iter:
                outbox.append(report)
                if isinstance(report, DivergedReport):
                    self._iter = None
                    return "diverged"
                if slow and (isinstance(report, EpochReport) or (
                    isinstance(report, StepReport) and report.phase is Phase.UPDATE and not trainer.at_epoch_end
                )):
                    break  # one batch per delay (a batch that ends an epoch: once its epoch's report is out)
                if time.perf_counter() > deadline:
                    break
            else:
                self._iter = None  # the epoch limit: the next round says "done"
            if self._taken.is_set():
                self._flush()
            if not self._gui_free.is_set():
                self._gui_free.wait(0.25)  # the GUI thread is drawing: leave it the interpreter lock
            if self._stop_upto >= request:
                return "paused"
            if slow:
                self._flush()
                self._wake.clear()
                self._wake.wait(self.delay)
                if self._stop_upto >= request:
                    return "paused"
            else:
                # Let the GUI thread take the interpreter lock if it waits for it: NumPy's brief releases of
                # the lock are not enough, as this thread wins it back before the GUI thread wakes.
                time.sleep(YIELD_FOR)

    def _advance(self, trainer: Trainer, request: int, unit: Unit) -> str:
        """One phase, batch or epoch, each report delivered as soon as the GUI thread can take it."""
        while True:
            self._apply_pending(trainer)
            if self._iter is None:
                if trainer.finished and trainer.diverged is None:
                    trainer.epochs = trainer.epoch + 1  # a step by hand may go past the epoch limit
                if trainer.finished:
                    return "diverged"
                self._iter = trainer.run()
            trainer.phases = unit is Unit.PHASE  # read by the trainer when it starts a batch
            report = next(self._iter, None)
            if report is None:
                self._iter = None
                continue
            self._deliver(report)
            if isinstance(report, DivergedReport):
                self._iter = None
                return "diverged"
            if isinstance(report, StepReport):
                self._mid_batch = report.phase is not Phase.UPDATE
                if not self._mid_batch and trainer.at_epoch_end:
                    continue  # the epoch's report belongs to this step: fetch it now
                if unit is Unit.PHASE or (unit is Unit.BATCH and not self._mid_batch):
                    return "step"
            else:  # an EpochReport ends a batch or an epoch step
                return "step"
            if self._stop_upto >= request:
                return "paused"

    def _apply_pending(self, trainer: Trainer) -> None:
        """Apply the changes meant for this generation's trainer; keep those for a newer one (posted after a
        set_trainer this thread has not handled yet), drop those for an older one."""
        if not self._pending:
            return
        with self._lock:
            changes = [change for gen, change in self._pending if gen == self._gen]
            self._pending = [(gen, change) for gen, change in self._pending if gen > self._gen]
        for change in changes:
            change(trainer)


class TrainingController(QObject):
    """GUI-thread owner of one worker thread and its trainer.

    Views call :meth:`set_trainer`, :meth:`step`, :meth:`run`, :meth:`pause` and :meth:`change`; they
    receive every report of the current trainer, in order, either one at a time (:attr:`report`) or as the
    tuples the worker delivered (:attr:`reports`, cheaper at full speed), and :attr:`runningChanged`.
    """

    report = Signal(object)  # one report
    reports = Signal(object)  # a tuple of reports, in order: the same reports, delivered together
    runningChanged = Signal(bool)
    stopped = Signal(str)  # why the last request ended: "step", "paused", "done", "diverged"

    _setTrainer = Signal(int, object)
    _advance = Signal(int, int, str)
    _resumeInBatch = Signal(int, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread = QThread()
        self._thread.setObjectName("trainingThread")
        self._worker = TrainingWorker()
        self._worker.moveToThread(self._thread)
        self._setTrainer.connect(self._worker.set_trainer)
        self._resumeInBatch.connect(self._worker.resume_in_batch)
        self._advance.connect(self._worker.advance)
        self._worker.reports.connect(self._on_reports)
        self._worker.stopped.connect(self._on_stopped)
        self._thread.start()
        self._since_ack = QElapsedTimer()
        self._since_ack.start()
        self._ack_timer = QTimer(self, singleShot=True)
        self._ack_timer.timeout.connect(self._take_next)
        self._gen = 0
        self._request = 0
        self._busy = False
        self._running = False

    @property
    def running(self) -> bool:
        """True while a Run is going (not for single steps)."""
        return self._running

    @property
    def busy(self) -> bool:
        """True while the worker is handling a request (a step or a run)."""
        return self._busy

    def set_trainer(self, trainer: Trainer) -> None:
        """Hand a fresh trainer to the worker; anything still running stops, its reports are dropped."""
        self._worker.request_stop(self._request)
        self._gen += 1
        self._busy = False
        self._set_running(False)
        self._setTrainer.emit(self._gen, trainer)

    def step(self, unit: Unit | str) -> bool:
        """Advance by one phase, batch or epoch. Ignored (False) while a step or a run is under way."""
        if self._busy:
            return False
        self._busy = True
        self._request += 1
        self._advance.emit(self._gen, self._request, str(Unit(unit)))
        return True

    def run(self) -> bool:
        if self._busy:
            return False
        self._busy = True
        self._request += 1
        self._set_running(True)
        self._advance.emit(self._gen, self._request, str(Unit.RUN))
        return True

    def pause(self) -> None:
        """Stop the run (or step) under way at its next report."""
        self._worker.request_stop(self._request)

    def set_delay(self, seconds: float) -> None:
        """Seconds to wait after each batch while running (0: as fast as possible)."""
        self._worker.set_delay(seconds)

    @contextmanager
    def holding(self):
        """Hold the worker at its next report while the GUI thread draws (use around a redraw and its paint).

        Training in pure Python competes with the GUI thread for the interpreter lock; a frame that must win
        it back at every step of its paint would take many times longer.
        """
        self._worker._gui_free.clear()
        try:
            yield
        finally:
            self._worker._gui_free.set()

    def change(self, fn: Callable[[Trainer], Any]) -> None:
        """Apply ``fn(trainer)`` in the worker thread before its next batch (e.g. a new learning rate).

        The change is for the trainer handed over last: a request of an earlier one, still finishing in the
        worker, never takes it.
        """
        self._worker.post(self._gen, fn)

    def settle(self, trainer: Trainer) -> None:
        """Apply the queued changes to ``trainer`` now, in this thread (before saving its state, say).

        Only while no step or run is under way (not :attr:`busy`): the worker is idle then, and the changes
        would otherwise wait for its next batch.
        """
        if self._busy:
            raise RuntimeError("settle() while the worker is busy")
        with self._worker._lock:
            changes, self._worker._pending = self._worker._pending, []
        for gen, change in changes:
            if gen == self._gen:  # older ones were meant for a trainer since replaced
                change(trainer)

    def set_trainer_in_batch(self, trainer: Trainer, reports: Iterator[Report]) -> None:
        """As :meth:`set_trainer`, then go on with ``reports``: ``trainer.run()`` already advanced to a phase
        inside a batch (a session saved between two phases), so that the next step shows the next phase."""
        self.set_trainer(trainer)
        self._resumeInBatch.emit(self._gen, reports)

    def discard_pending(self) -> None:
        """Forget the queued changes (they were meant for a trainer being replaced by a restored one)."""
        with self._worker._lock:
            self._worker._pending = []

    def shutdown(self, timeout_ms: int = 5000) -> None:
        """Stop training and the thread; safe to call twice."""
        if self._thread.isRunning():
            self._worker.request_stop(self._request)
            self._thread.quit()
            self._thread.wait(timeout_ms)

    @Slot()
    def _take_next(self) -> None:
        self._worker.taken()  # a thread-safe call, made from this (the GUI) thread

    @Slot(int, object)
    def _on_reports(self, generation: int, reports: tuple) -> None:
        # Take the next delivery no sooner than DELIVERY_INTERVAL after this one: between deliveries the GUI
        # thread stays idle and out of the training thread's way; stepping by hand is far slower than that.
        wait_ms = DELIVERY_INTERVAL * 1000 - self._since_ack.restart()
        if wait_ms > 0:
            self._ack_timer.start(int(wait_ms))
        else:
            self._worker.taken()
        if generation != self._gen:
            return
        self.reports.emit(reports)
        for report in reports:
            self.report.emit(report)

    @Slot(int, str)
    def _on_stopped(self, generation: int, why: str) -> None:
        if generation != self._gen:
            return
        self._busy = False
        self._set_running(False)
        self.stopped.emit(why)

    def _set_running(self, running: bool) -> None:
        if running != self._running:
            self._running = running
            self.runningChanged.emit(running)
