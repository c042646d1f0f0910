"""Training in a worker thread: a :class:`TrainingWorker` (a QObject living in a QThread) drives a
:class:`~engine.trainer.Trainer` and emits one signal per report; a :class:`TrainingController` in the
GUI thread owns the thread and is the only way views talk to the worker.

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
from collections.abc import Callable, Iterator
from enum import StrEnum
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from engine.trainer import DivergedReport, Phase, Report, StepReport, Trainer


class Unit(StrEnum):
    """How far one request advances training."""

    PHASE = "phase"
    BATCH = "batch"
    EPOCH = "epoch"
    RUN = "run"


class TrainingWorker(QObject):
    """Runs in the worker thread. Only :class:`TrainingController` talks to it."""

    report = Signal(int, object)  # generation, report
    stopped = Signal(int, str)  # generation, why: "step" | "paused" | "done" | "diverged"

    def __init__(self) -> None:
        super().__init__()
        self._stop_upto = 0  # requests numbered up to this one are to stop (an int write is atomic)
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._pending: list[Callable[[Trainer], None]] = []
        self._trainer: Trainer | None = None
        self._gen = 0
        self._iter: Iterator[Report] | None = None
        self._mid_batch = False
        self.delay = 0.0  # seconds to wait after each batch while running

    # --- called from the GUI thread (thread-safe) ---
    def request_stop(self, upto: int) -> None:
        """Stop every request numbered ``upto`` or less, at its next report."""
        self._stop_upto = upto
        self._wake.set()

    def post(self, change: Callable[[Trainer], None]) -> None:
        """Queue ``change(trainer)`` to run in the worker thread before the next batch."""
        with self._lock:
            self._pending.append(change)

    def set_delay(self, seconds: float) -> None:
        self.delay = max(0.0, float(seconds))
        self._wake.set()

    # --- slots: run in the worker thread ---
    @Slot(int, object)
    def set_trainer(self, generation: int, trainer: Trainer) -> None:
        self._trainer, self._gen, self._iter, self._mid_batch = trainer, generation, None, False

    @Slot(int, int, str)
    def advance(self, generation: int, request: int, unit: str) -> None:
        if generation != self._gen or self._trainer is None:
            return
        self._trainer.clear_divergence()  # going on after a divergence retries the failed batch
        why = self._advance(self._trainer, request, Unit(unit))
        self.stopped.emit(generation, why)

    def _advance(self, trainer: Trainer, request: int, unit: Unit) -> str:
        manual = unit is not Unit.RUN
        while True:
            self._apply_pending(trainer)
            if self._iter is None:
                if trainer.finished and manual and trainer.diverged is None:
                    trainer.epochs = trainer.epoch + 1  # a step by hand may go past the epoch limit
                if trainer.finished:
                    return "diverged" if trainer.diverged is not None else "done"
                self._iter = trainer.run()
            trainer.phases = unit is Unit.PHASE  # read by the trainer when it starts a batch
            report = next(self._iter, None)
            if report is None:
                self._iter = None
                continue
            self.report.emit(self._gen, report)
            if isinstance(report, DivergedReport):
                self._iter = None
                return "diverged"
            if isinstance(report, StepReport):
                self._mid_batch = report.phase is not Phase.UPDATE
                if not self._mid_batch and trainer.at_epoch_end:
                    continue  # the epoch's report belongs to this step: fetch it now
                if unit is Unit.PHASE or (unit is Unit.BATCH and not self._mid_batch):
                    return "step"
            elif unit is not Unit.RUN:  # an EpochReport ends a batch or an epoch step
                return "step"
            if self._stop_upto >= request:
                return "paused"
            if unit is Unit.RUN and self.delay > 0 and isinstance(report, StepReport):
                self._wake.clear()
                self._wake.wait(self.delay)
                if self._stop_upto >= request:
                    return "paused"

    def _apply_pending(self, trainer: Trainer) -> None:
        if not self._pending:
            return
        with self._lock:
            changes, self._pending = self._pending, []
        for change in changes:
            change(trainer)


class TrainingController(QObject):
    """GUI-thread owner of one worker thread and its trainer.

    Views call :meth:`set_trainer`, :meth:`step`, :meth:`run`, :meth:`pause` and :meth:`change`; they
    receive :attr:`report` (one per report of the current trainer) and :attr:`runningChanged`.
    """

    report = Signal(object)
    runningChanged = Signal(bool)
    stopped = Signal(str)  # why the last request ended: "step", "paused", "done", "diverged"

    _setTrainer = Signal(int, object)
    _advance = Signal(int, int, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread = QThread()
        self._thread.setObjectName("trainingThread")
        self._worker = TrainingWorker()
        self._worker.moveToThread(self._thread)
        self._setTrainer.connect(self._worker.set_trainer)
        self._advance.connect(self._worker.advance)
        self._worker.report.connect(self._on_report)
        self._worker.stopped.connect(self._on_stopped)
        self._thread.start()
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

    def change(self, fn: Callable[[Trainer], Any]) -> None:
        """Apply ``fn(trainer)`` in the worker thread before its next batch (e.g. a new learning rate)."""
        self._worker.post(fn)

    def shutdown(self, timeout_ms: int = 5000) -> None:
        """Stop training and the thread; safe to call twice."""
        if self._thread.isRunning():
            self._worker.request_stop(self._request)
            self._thread.quit()
            self._thread.wait(timeout_ms)

    @Slot(int, object)
    def _on_report(self, generation: int, report: object) -> None:
        if generation == self._gen:
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
