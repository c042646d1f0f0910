"""Training in a worker thread: a :class:`TrainingWorker` (a QObject living in a QThread) drives anything
:class:`~fitscope.engine.trainer.Trainable` (a trainer, a race) and sends its reports to the GUI thread; a
:class:`TrainingController` in the GUI thread owns the thread and is the only way views talk to the worker.

Delivery: each report is signalled as soon as it is made, unless the GUI thread has not yet taken the
previous delivery (it is drawing, say); then the reports made meanwhile go out together with the next
one. Stepping by hand, that is one signal per phase or batch; at full speed it bounds the GUI's event
queue to one delivery, so clicks, keys and timers are never stuck behind thousands of queued signals.

Threading rules (see DESIGN.md):

- Reports cross threads through ``Signal(object)``; the engine's reports are frozen and their arrays are
  read-only copies, so sharing them is safe.
- The worker's loop checks a stop flag once per batch. Settings never travel through the worker: the run
  asks its trainer for them with ``configure()``, which is thread-safe, and the trainer takes them on before
  its next batch.
- Every report is tagged with the generation of the trainable that made it. Handing over another one (a
  click on the surface, Reset) starts a new generation, and reports still in flight from the old one are
  dropped.
- Whatever raises in the worker thread ends that request with ``stopped("error", one line)``; the
  traceback goes to the log, and the next request starts afresh.
- Shutdown: stop flag → ``quit()`` → ``wait()``, on window close and at ``aboutToQuit``.
"""

from __future__ import annotations

import logging
import threading
import time
from enum import StrEnum

from PySide6.QtCore import QCoreApplication, QObject, QThread, QTimer, Signal, Slot

from fitscope.engine.trainer import Trainable
from fitscope.gui.activity import beat_while_running, give_way, gui_free, install

log = logging.getLogger(__name__)


class Unit(StrEnum):
    """How far one request advances training."""

    PHASE = "phase"
    BATCH = "batch"
    EPOCH = "epoch"
    RUN = "run"


#: Seconds between two deliveries of reports to the GUI thread, at the least (~20 a second at full speed).
DELIVERY_INTERVAL = 0.05

#: While running, the worker delivers its reports and checks for a stop every SLICE seconds.
SLICE = 0.004


def one_line(error: BaseException) -> str:
    """An exception as one line for the user: what it is and what it says, cut to a reasonable length."""
    text = " ".join(str(error).split()) or type(error).__name__
    if len(text) > 200:
        text = text[:199] + "…"
    return f"{type(error).__name__}: {text}" if not isinstance(error, ValueError) else text


class TrainingWorker(QObject):
    """Runs in the worker thread. Only :class:`TrainingController` talks to it."""

    reports = Signal(int, object)  # generation, a tuple of reports in order
    stopped = Signal(int, str, str)  # generation, why ("step" | "paused" | "done" | "diverged" | "error"), message

    def __init__(self) -> None:
        super().__init__()
        self._stop_upto = 0  # requests numbered up to this one are to stop (an int write is atomic)
        self._wake = threading.Event()
        self._trainable: Trainable | None = None
        self._gen = 0
        self.delay = 0.0  # seconds to wait after each batch while running
        self._outbox: list = []
        self._taken = threading.Event()  # the GUI thread has taken the last delivery
        self._taken.set()
        self.ended = 0  # the number of the last request handled (requests are handled in order)
        self.ended_changed = threading.Condition()

    # --- called from the GUI thread (thread-safe) ---
    def request_stop(self, upto: int) -> None:
        """Stop every request numbered ``upto`` or less, at its next report."""
        self._stop_upto = upto
        self._wake.set()

    def set_delay(self, seconds: float) -> None:
        self.delay = max(0.0, float(seconds))
        self._wake.set()

    def taken(self) -> None:
        """The GUI thread has handled the last delivery: the next report may go out at once."""
        self._taken.set()

    # --- delivery: every report, in order, with at most one delivery waiting in the GUI's queue ---
    def _deliver(self, report) -> None:
        """Send ``report`` now if the GUI has taken the last delivery, else keep it for the next one."""
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
    def set_trainable(self, generation: int, trainable: Trainable | None) -> None:
        self._trainable, self._gen = trainable, generation
        self._outbox = []

    @Slot(int, int, str)
    def advance(self, generation: int, request: int, unit: str) -> None:
        try:
            if generation != self._gen or self._trainable is None:
                return
            trainable = self._trainable
            why, message = "error", ""
            try:
                trainable.clear_divergence()  # going on after a divergence retries the failed batch
                unit = Unit(unit)
                why = self._run(trainable, request) if unit is Unit.RUN else self._advance(trainable, request, unit)
            except Exception as e:  # noqa: BLE001 (any failure ends this request; the tab stays usable)
                log.exception("training stopped by an error")
                why, message = "error", one_line(e)
            self._flush()
            self.stopped.emit(generation, why, message)
        finally:
            with self.ended_changed:
                self.ended = max(self.ended, request)
                self.ended_changed.notify_all()

    def _run(self, trainable: Trainable, request: int) -> str:
        """Train until the epoch limit, divergence or a stop request.

        After every report: give way while the GUI thread draws (see :mod:`fitscope.gui.activity`). Every
        :data:`SLICE` seconds: deliver what the GUI thread is ready to take and check for a stop. With a delay
        chosen, one batch per delay.
        """
        trainable.phases = False
        free = gui_free()
        while True:
            if trainable.finished:
                return "diverged" if trainable.diverged is not None else "done"
            outbox, slow = self._outbox, self.delay > 0
            deadline = time.perf_counter() + SLICE
            for report in trainable.run():  # dropped after this slice: the next run() goes on from there
                outbox.append(report)
                if report.kind == "diverged" or trainable.diverged is not None:
                    return "diverged"
                if slow and (report.kind == "epoch" or (report.kind == "batch" and not trainable.at_epoch_end)):
                    break  # one batch per delay (a batch that ends an epoch: once its epoch's report is out)
                if not free.is_set() or time.perf_counter() > deadline:
                    break
            if self._taken.is_set():
                self._flush()
            if self._stop_upto >= request:
                return "paused"
            give_way(stop=lambda: self._stop_upto >= request)
            if slow:
                self._flush()
                self._wake.clear()
                self._wake.wait(self.delay)
            if self._stop_upto >= request:
                return "paused"

    def _advance(self, trainable: Trainable, request: int, unit: Unit) -> str:
        """One phase, batch or epoch, each report delivered as soon as the GUI thread can take it."""
        trainable.phases = unit is Unit.PHASE  # read by the trainer when it starts a batch
        while True:
            if trainable.finished:
                trainable.allow_another_epoch()  # a step by hand may go past the epoch limit
                if trainable.finished:
                    return "diverged" if trainable.diverged is not None else "done"
            made = False
            for report in trainable.run():
                made = True
                self._deliver(report)
                if report.kind == "diverged" or trainable.diverged is not None:
                    return "diverged"
                if report.kind == "phase":
                    if unit is Unit.PHASE:
                        return "step"
                elif report.kind == "batch":
                    if trainable.at_epoch_end:
                        continue  # the epoch's report belongs to this step: fetch it now
                    if unit is not Unit.EPOCH:
                        return "step"
                else:  # an epoch's report ends a batch or an epoch step
                    return "step"
                if self._stop_upto >= request:
                    return "paused"
            if not made:
                return "done"


class TrainingController(QObject):
    """GUI-thread owner of one worker thread and the trainable it drives.

    Views call :meth:`set_trainable`, :meth:`step`, :meth:`run` and :meth:`pause`; they receive every report
    of the current trainable, in order, as the tuples the worker delivered (:attr:`reports`), why each
    request ended (:attr:`stopped`: why, and a one-line message for an error), and :attr:`runningChanged`.
    """

    reports = Signal(object)  # a tuple of reports, in order
    runningChanged = Signal(bool)
    stopped = Signal(str, str)  # why the last request ended ("step", "paused", "done", "diverged", "error"), message

    _setTrainable = Signal(int, object)
    _advance = Signal(int, int, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        install()  # the worker leaves the GUI thread the interpreter whenever it asks
        self._thread = QThread()
        self._thread.setObjectName("trainingThread")
        self._worker = TrainingWorker()
        self._worker.moveToThread(self._thread)
        self._setTrainable.connect(self._worker.set_trainable)
        self._advance.connect(self._worker.advance)
        self._worker.reports.connect(self._on_reports)
        self._worker.stopped.connect(self._on_stopped)
        self._thread.start()
        self._ack_timer = QTimer(self, singleShot=True)
        self._ack_timer.timeout.connect(self._take_next)
        self._gen = 0
        self._request = 0
        self._busy = False
        self._running = False
        self.trainable: Trainable | None = None

    @property
    def running(self) -> bool:
        """True while a Run is going (not for single steps)."""
        return self._running

    @property
    def busy(self) -> bool:
        """True while the worker is handling a request (a step or a run)."""
        return self._busy

    @property
    def thread(self) -> QThread:
        """The worker's thread (it runs from the controller's creation until :meth:`shutdown`)."""
        return self._thread

    @property
    def thread_running(self) -> bool:
        """True until :meth:`shutdown` has stopped the worker thread."""
        return self._thread.isRunning()

    def set_trainable(self, trainable: Trainable | None) -> None:
        """Hand a trainable to the worker; anything still running stops, its reports are dropped."""
        self._worker.request_stop(self._request)
        self._gen += 1
        self._busy = False
        self._set_running(False)
        self.trainable = trainable
        self._setTrainable.emit(self._gen, trainable)

    def _post(self, unit: Unit) -> bool:
        if self._busy or self.trainable is None:
            return False
        self._busy = True
        self._request += 1
        self._advance.emit(self._gen, self._request, str(unit))
        return True

    def step(self, unit: Unit | str) -> bool:
        """Advance by one phase, batch or epoch. Ignored (False) while a step or a run is under way."""
        return self._post(Unit(unit))

    def run(self) -> bool:
        """Train until the epoch limit (False if a request is under way or there is nothing to train)."""
        if not self._post(Unit.RUN):
            return False
        self._set_running(True)
        return True

    def pause(self) -> None:
        """Stop the run (or step) under way at its next report."""
        self._worker.request_stop(self._request)

    def pause_and_wait(self, timeout_ms: int = 5000) -> bool:
        """Stop whatever is under way and wait for it, without running an event loop (no input is handled
        meanwhile); its last reports are delivered before this returns. True if the worker is idle."""
        if self._busy:
            worker, request = self._worker, self._request
            worker.request_stop(request)
            with worker.ended_changed:
                worker.ended_changed.wait_for(lambda: worker.ended >= request, timeout_ms / 1000)
            QCoreApplication.sendPostedEvents(self)  # the reports and the stop notice it sent meanwhile
        return not self._busy

    def set_delay(self, seconds: float) -> None:
        """Seconds to wait after each batch while running (0: as fast as possible)."""
        self._worker.set_delay(seconds)

    @property
    def full_speed(self) -> bool:
        """True while a Run goes as fast as possible (no wait after each batch)."""
        return self._running and self._worker.delay == 0

    def shutdown(self, timeout_ms: int = 5000) -> None:
        """Stop training and the thread; safe to call twice."""
        self._set_running(False)
        if self._thread.isRunning():
            self._worker.request_stop(self._request)
            self._thread.quit()
            self._thread.wait(timeout_ms)

    @Slot()
    def _take_next(self) -> None:
        self._worker.taken()  # a thread-safe call, made from this (the GUI) thread

    @Slot(int, object)
    def _on_reports(self, generation: int, reports: tuple) -> None:
        # Take the next delivery no sooner than DELIVERY_INTERVAL after this one (a step's last reports come at
        # once all the same): between deliveries the GUI thread stays idle and out of the training thread's way.
        self._ack_timer.start(int(DELIVERY_INTERVAL * 1000))
        if generation == self._gen:
            self.reports.emit(reports)

    @Slot(int, str, str)
    def _on_stopped(self, generation: int, why: str, message: str) -> None:
        if generation != self._gen:
            return
        self._busy = False
        self._set_running(False)
        self.stopped.emit(why, message)

    def _set_running(self, running: bool) -> None:
        if running != self._running:
            self._running = running
            beat_while_running(running)
            self.runningChanged.emit(running)
