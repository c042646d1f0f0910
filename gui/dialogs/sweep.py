"""The learning-rate sweep of a training tab: its setup trained from its start once per rate, off the GUI thread.

Training ▸ Learning-rate sweep… (:class:`SweepMenu`) opens a :class:`SweepDialog` for the tab shown. It is a
non-modal dialog, one per tab and kept while the window lives, rather than a dock: the sweep is a question asked
now and then, and its plot needs room that the tabs' plots cannot spare; as a window of its own it stands beside
the tab it came from, the user tries a rate there (a click on a point sets it) and comes back to the results.

The flow:

1. Start reads the tab's setup (:class:`~fitscope.gui.models.sweep.SweepSetup`: its data set, settings and start
   point, copied) and the range of rates the user set (:func:`~fitscope.gui.models.sweep.read_range`: a bad
   range is one line in the dialog, and Start stays disabled);
2. a :class:`SweepWorker`, in a QThread started for this sweep, builds the experiment and the engine's
   :class:`~fitscope.engine.sweep.Sweep` and runs it: it reports the plan
   (:class:`~fitscope.gui.models.sweep.SweepPlan`: the rates, the stability limit, the loss at the start), each
   rate's :class:`~fitscope.engine.sweep.RateResult` as its run ends, and the progress; between epochs it gives
   the GUI thread its way (:mod:`fitscope.gui.activity`);
3. the dialog draws what has come, at most ~30 times a second
   (:class:`~fitscope.gui.panels.sweep_plot.SweepPlot`); Cancel, or closing the
   dialog or the window, asks the sweep to stop after the batch under way, keeps the results so far, and
   waits for the thread to end.

What a sweep is, without widgets, is :mod:`fitscope.gui.models.sweep`; this module holds its thread, its dialog
and its menu. Threading rules (DESIGN.md): the worker's signals reach only ``@Slot`` methods of the dialog; what
they carry is frozen (the results are frozen dataclasses of floats, the plan's rates a read-only copy).
"""

from __future__ import annotations

import html
import os
import time

import numpy as np
from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from fitscope.engine.data import BUILTIN
from fitscope.engine.experiment import Experiment
from fitscope.engine.export import write_csv
from fitscope.engine.numbers import compact
from fitscope.engine.run import FitRun
from fitscope.engine.settings import EPOCHS_MAX
from fitscope.engine.sweep import NUM_RATES, SWEEP_HEADER, RateResult, Sweep
from fitscope.gui.activity import beat_while_running, give_way, hold_until_painted, install
from fitscope.gui.export import CSV_FILTER, ask_save_path, written
from fitscope.gui.models.sweep import SweepJob, SweepPlan, SweepSetup, best, caption, default_range, read_range
from fitscope.gui.panels.sweep_plot import SweepPlot
from fitscope.gui.views.base import TrainingView
from fitscope.gui.views.notices import MessageLabel

#: How many rates the dialog offers to start with.
DEFAULT_NUM = 30
#: Seconds between two progress reports of the worker (the bar moves ~25 times a second at most).
PROGRESS_SECONDS = 0.04
#: Milliseconds between two frames of the plot while results come in.
FRAME_MS = 33
#: Milliseconds between two looks at the tab's setup while the dialog is shown (its rate, its data, its start).
FOLLOW_MS = 300

SWEEP_TIP = ("Train this tab's setup from its start with many learning rates, and see which converge and which "
             "diverge (Ctrl+L)")
RACE_TIP = ("The race trains four optimizers at once, each with its own rate: sweep one optimizer's rates on the "
            "Loss surface tab (the same data, loss and start)")


# --------------------------------------------------------------------------- the worker (its own thread)
class SweepWorker(QObject):
    """Runs one :class:`SweepJob` in the thread it was moved to (started by its thread's ``started``)."""

    planned = Signal(object, object)  # job, SweepPlan
    result = Signal(object, object)  # job, RateResult
    progressed = Signal(object, int, int)  # job, epochs done, epochs in all
    ended = Signal(object, str, str)  # job, "done" / "cancelled" / "error", one-line message

    def __init__(self, job: SweepJob) -> None:
        super().__init__()
        self.job = job

    @Slot()
    def run(self) -> None:
        job = self.job
        try:
            setup = job.setup
            sweep = Sweep(Experiment(setup.dataset, setup.settings), job.rates, epochs=job.epochs, start=setup.start)
        except MemoryError:
            self.ended.emit(job, "error", "the sweep does not fit in memory")
            return
        except Exception as e:  # noqa: BLE001 (whatever it is, the user gets one line, never a traceback)
            self.ended.emit(job, "error", " ".join(str(e).split()) or type(e).__name__)
            return
        job.attach(sweep)
        self.planned.emit(job, SweepPlan.of(sweep))
        last = [0.0]

        def progress(done: int, total: int) -> None:
            if job.cancelled:
                return
            now = time.perf_counter()
            if now - last[0] >= PROGRESS_SECONDS or done == total:
                last[0] = now
                self.progressed.emit(job, done, total)
            give_way(stop=lambda: job.cancelled)  # between two epochs: the GUI thread first

        try:
            for result in sweep.run(progress):
                self.result.emit(job, result)
        except MemoryError:
            self.ended.emit(job, "error", "the sweep ran out of memory")
            return
        except Exception as e:  # noqa: BLE001
            self.ended.emit(job, "error", " ".join(str(e).split()) or type(e).__name__)
            return
        self.ended.emit(job, "done" if sweep.done else "cancelled", "")



# --------------------------------------------------------------------------- the dialog
class SweepDialog(QDialog):
    """The sweep of one training tab (see the module's docstring).

    ``sweepEnded(str)``: a sweep ended ("done", "cancelled" or "error"), its results drawn.
    """

    sweepEnded = Signal(str)

    def __init__(self, view: TrainingView) -> None:
        super().__init__(view.window())  # the window's, not the tab's: its plot is not one of the tab's plots
        self.view = view
        self.setObjectName("sweepDialog")
        self.setModal(False)
        self.plan: SweepPlan | None = None
        self.results: list[RateResult] = []
        self.setup: SweepSetup | None = None  # the setup of the results shown
        self.ended_why = ""  # how the last sweep ended ("" while one runs, or before any)
        self._job: SweepJob | None = None
        self._thread: QThread | None = None
        self._worker: SweepWorker | None = None
        self._beating = False
        self._edited = False  # the user typed a range: it no longer follows the tab's setup
        self._followed: tuple | None = None
        self._chosen: float | None = None
        self._closed_while_running = False
        self._frame = QTimer(self, singleShot=True, interval=FRAME_MS)
        self._frame.timeout.connect(self.redraw)
        self._follow = QTimer(self, interval=FOLLOW_MS)
        self._follow.timeout.connect(self.follow_tab)
        self._build_ui()
        self.follow_tab()
        self.check_range()
        self.redraw()
        self.resize(820, 660)

    # ------------------------------------------------------------------ UI
    def _build_ui(self) -> None:
        self.setup_label = QLabel()
        self.setup_label.setObjectName("sweepSetup")
        self.setup_label.setAccessibleName("What is swept")
        self.setup_label.setWordWrap(True)

        self.lr_min = self._rate_field("sweepMin", "Smallest learning rate")
        self.lr_max = self._rate_field("sweepMax", "Largest learning rate")
        self.num = QSpinBox()
        self.num.setObjectName("sweepNum")
        self.num.setAccessibleName("Number of learning rates")
        self.num.setToolTip(f"How many learning rates, log-spaced over the range ({NUM_RATES[0]} to {NUM_RATES[1]})")
        self.num.setRange(1, 999)  # a number outside 20–60 gets its message, rather than being changed silently
        self.num.setValue(DEFAULT_NUM)
        self.epochs = QSpinBox()
        self.epochs.setObjectName("sweepEpochs")
        self.epochs.setAccessibleName("Epochs per rate")
        self.epochs.setToolTip("Every rate trains for this many epochs (from the tab's start)")
        self.epochs.setRange(1, EPOCHS_MAX)
        self.epochs.setGroupSeparatorShown(True)
        for box in (self.num, self.epochs):
            box.valueChanged.connect(self._on_edited)
        self.start_button = QPushButton("&Start")
        self.start_button.setObjectName("sweepStart")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("&Cancel")
        self.cancel_button.setObjectName("sweepCancel")
        self.cancel_button.setToolTip("Stop after the batch under way; the rates done so far stay")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.setEnabled(False)

        row = QHBoxLayout()
        row.setSpacing(6)
        for widget in (QLabel("Learning rates from"), self.lr_min, QLabel("to"), self.lr_max, QLabel("·"),
                       self.num, QLabel("rates ·"), self.epochs, QLabel("epochs each")):
            row.addWidget(widget)
        row.addStretch(1)
        row.addWidget(self.start_button)
        row.addWidget(self.cancel_button)

        self.message = MessageLabel()  # styled as the tabs' messages
        self.message.setAccessibleName("Sweep message")
        self.progress = QProgressBar()
        self.progress.setObjectName("sweepProgress")
        self.progress.setAccessibleName("Sweep progress")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.progress.setFormat("No sweep yet")

        self.plot = SweepPlot()
        self.plot.clicked.connect(self.train_with)
        self.caption = QLabel()
        self.caption.setObjectName("sweepCaption")
        self.caption.setAccessibleName("What the plot shows")
        self.caption.setWordWrap(True)
        self.chosen_label = QLabel("Click a point to set the tab's learning rate to it.")
        self.chosen_label.setObjectName("sweepChosen")
        self.chosen_label.setAccessibleName("Rate chosen")
        self.chosen_label.setWordWrap(True)
        self.chosen_label.setStyleSheet("color: #555;")

        self.best_button = QPushButton("Train with the &best rate")
        self.best_button.setObjectName("sweepBest")
        self.best_button.setToolTip("Set the tab's learning rate to the one with the lowest final training loss")
        self.best_button.clicked.connect(self.train_with_best)
        self.export_button = QPushButton("&Export CSV…")
        self.export_button.setObjectName("sweepExport")
        self.export_button.setToolTip("Save learning_rate,final_loss,val_loss,diverged, one row per rate (as "
                                      "fitscope sweep --csv)")
        self.export_button.clicked.connect(self.ask_and_export)
        close = QPushButton("Close")
        close.setObjectName("sweepClose")
        close.setAutoDefault(False)
        close.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.best_button)
        buttons.addWidget(self.export_button)
        buttons.addStretch(1)
        buttons.addWidget(close)

        layout = QVBoxLayout(self)
        layout.setSpacing(6)
        layout.addWidget(self.setup_label)
        layout.addLayout(row)
        layout.addWidget(self.message)
        layout.addWidget(self.progress)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.caption)
        layout.addWidget(self.chosen_label)
        layout.addLayout(buttons)

    def _rate_field(self, name: str, accessible: str) -> QLineEdit:
        field = QLineEdit()
        field.setObjectName(name)
        field.setAccessibleName(accessible)
        field.setToolTip("A positive number: 0.001, 1e-3, …")
        field.setMaximumWidth(90)
        field.textEdited.connect(self._on_edited)
        field.textChanged.connect(self.check_range)
        return field

    # ------------------------------------------------------------------ the tab
    @property
    def run(self) -> FitRun:
        return self.view.model

    def follow_tab(self) -> None:
        """Follow the tab: what Start would sweep, its rate, and (until the user types one) a range for it."""
        run = self.run
        key = (id(run), run.settings, id(run.history))  # a new history: a new start
        if key == self._followed:
            return
        self._followed = key
        self.setWindowTitle(f"Learning-rate sweep — {self.view.title}")
        setup = SweepSetup.of(self.run)
        text = f"<b>{html.escape(self.view.title)}</b> tab — {html.escape(setup.describe())}"
        if self.results and not setup.same_as(self.setup):
            text += ("<br><i>The plot shows a sweep of the tab's setup before it changed: Start sweeps the setup "
                     "above.</i>")
        self.setup_label.setText(text)
        self.plot.show_tab_rate(run.settings.learning_rate)
        if not self._edited:
            lo, hi = default_range(run)
            for field, value in ((self.lr_min, lo), (self.lr_max, hi)):
                field.setText(f"{value:g}")
            epochs = self.epochs.blockSignals(True)
            self.epochs.setValue(max(1, run.settings.epochs))
            self.epochs.blockSignals(epochs)
            if self.plan is None:
                self.plot.set_span(lo, hi)

    def _on_edited(self, *_) -> None:
        self._edited = True
        self.check_range()

    # ------------------------------------------------------------------ input
    def rates(self) -> np.ndarray:
        """The rates the fields ask for (:class:`ValueError`: one line)."""
        return read_range(self.lr_min.text(), self.lr_max.text(), self.num.value(), self.epochs.value())

    def check_range(self) -> bool:
        """Say what is wrong with the range, if anything; Start is enabled only for a good one (and no sweep
        running). True if it is good."""
        try:
            self.rates()
        except ValueError as e:
            text = str(e).rstrip(".")
            self.message.say(text[:1].upper() + text[1:] + ".")
            self.start_button.setEnabled(False)
            return False
        if self.message.property("kind") == "error":
            self.message.forget()
            self.message.show_state("")
        self.start_button.setEnabled(not self.running)
        return True

    # ------------------------------------------------------------------ running
    @property
    def running(self) -> bool:
        """A sweep is under way (its thread runs)."""
        return self._thread is not None

    def start(self) -> None:
        """Sweep the tab's setup now over the range in the fields (nothing happens while one runs, or for a bad
        range: its message is shown)."""
        if self.running or not self.check_range():
            return
        rates = self.rates()
        self._job = job = SweepJob(SweepSetup.of(self.run), rates, self.epochs.value())
        self._closed_while_running = False
        self.message.forget()
        self.message.show_state("")
        install()  # the GUI thread gets the interpreter whenever it asks; garbage is collected here only
        self._thread = QThread()
        self._thread.setObjectName("sweepThread")
        self._worker = SweepWorker(job)
        self._worker.moveToThread(self._thread)
        self._worker.planned.connect(self._on_planned)
        self._worker.result.connect(self._on_result)
        self._worker.progressed.connect(self._on_progress)
        self._worker.ended.connect(self._on_ended)
        self._thread.started.connect(self._worker.run)
        self.progress.setRange(0, len(rates) * job.epochs)
        self.progress.setValue(0)
        self.progress.setFormat(f"Starting {len(rates)} rates…")
        self._set_running(True)
        self._thread.start()
        self.redraw()

    def cancel(self) -> None:
        """Stop the sweep after the batch under way; the rates done so far stay."""
        if self._job is not None:
            self._job.cancel()
        self.cancel_button.setEnabled(False)

    def stop(self) -> None:
        """Cancel and wait for the thread to end (bounded: one batch, and at most a short wait for the GUI
        thread that :func:`~fitscope.gui.activity.give_way` would have made)."""
        if self._job is not None:
            self._job.cancel()
        self._finish_thread()

    def _finish_thread(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.quit()
            thread.wait()
            self._worker = None
        if self._beating:
            self._beating = False
            beat_while_running(False)
        self._set_running(False)

    def _set_running(self, running: bool) -> None:
        if running and not self._beating:
            self._beating = True
            beat_while_running(True)  # a heartbeat: the worker waits while the GUI thread falls behind
        self.cancel_button.setEnabled(running)
        for widget in (self.lr_min, self.lr_max, self.num, self.epochs):
            widget.setEnabled(not running)
        self.check_range()

    @Slot(object, object)
    def _on_planned(self, job: SweepJob, plan: SweepPlan) -> None:
        """The sweep is built: the results shown so far (of an earlier sweep) give way to its own."""
        if job is not self._job:
            return
        self.plan, self.setup, self.results, self._chosen, self.ended_why = plan, job.setup, [], None, ""
        self.plot.set_span(plan.rates[0], plan.rates[-1])
        self.chosen_label.setText("Click a point to set the tab's learning rate to it.")
        self._followed = None  # the setup line no longer says the plot is of an earlier setup
        self.follow_tab()
        self.request_frame()

    @Slot(object, object)
    def _on_result(self, job: SweepJob, result: RateResult) -> None:
        if job is self._job:
            self.results.append(result)
            self.request_frame()

    @Slot(object, int, int)
    def _on_progress(self, job: SweepJob, done: int, total: int) -> None:
        if job is self._job and self.running:
            self.progress.setValue(done)
            self.progress.setFormat(f"{len(self.results)} of {len(job.rates)} rates")

    @Slot(object, str, str)
    def _on_ended(self, job: SweepJob, why: str, message: str) -> None:
        if job is not self._job:
            return
        self._finish_thread()
        planned = self.setup is job.setup  # the results shown are this sweep's (else still the last one's)
        if planned:
            self.ended_why = why
        n, done = len(job.rates), len(self.results) if planned else 0
        self.progress.setValue(done * job.epochs if why != "done" else self.progress.maximum())
        when = "when the dialog was closed, " if self._closed_while_running else ""
        if why == "done":
            self.progress.setFormat(f"{n} of {n} rates")
        elif why == "cancelled" and planned and not done:
            self.progress.setFormat(f"Stopped before the first of {n} rates")
            self.message.say(f"Stopped {when}before the first rate. Start sweeps again.", note=True)
        elif why == "cancelled" and planned:
            self.progress.setFormat(f"Stopped after {done} of {n} rates")
            self.message.say(f"Stopped {when}after {done} of {n} rates: their results stay. Start sweeps again.",
                             note=True)
        elif why == "cancelled":
            self.progress.setFormat("Stopped before the first rate")
            shown = ": the plot still shows the last sweep" if self.results else ""
            self.message.say(f"Stopped {when}before the first rate{shown}. Start sweeps again.", note=True)
        else:
            self.progress.setFormat("Failed")
            text = message.rstrip(".")
            self.message.say(f"The sweep could not run: {text}.")
        self.redraw()
        self.sweepEnded.emit(why)

    # ------------------------------------------------------------------ drawing
    def request_frame(self) -> None:
        if not self._frame.isActive():
            self._frame.start()

    def redraw(self) -> None:
        """Draw the results so far, the caption and the buttons' state."""
        self._frame.stop()
        hold_until_painted()  # the worker waits while this is drawn
        self.plot.show_results(self.plan, self.results)
        self.plot.show_chosen(self._chosen)
        finished = self.ended_why == "done"
        self.caption.setText(caption(self.plan, self.results, finished))
        self.export_button.setEnabled(bool(self.results))
        self.best_button.setEnabled(best(self.results) is not None)

    # ------------------------------------------------------------------ choosing a rate
    def train_with(self, rate: float) -> None:
        """Set the tab's learning rate to ``rate`` (as the tab's own field would: a refused rate is said in the
        tab), and ring its point."""
        self._chosen = rate
        self.view.change(learning_rate=float(rate))
        applied = self.run.settings.learning_rate == float(rate)
        result = next((r for r in self.results if r.learning_rate == rate), None)
        what = ""
        if result is not None:
            what = " (it diverged in the sweep)" if result.diverged else \
                f" (final loss {compact(result.final_loss)} in the sweep)"
        if applied:
            self.chosen_label.setText(f"The {self.view.title} tab now trains with learning rate {compact(rate, 4)}"
                                      f"{what}, from its next batch.")
        else:
            self.chosen_label.setText(f"The {self.view.title} tab did not take learning rate {compact(rate, 4)}: "
                                      "its message says why.")
        self.plot.show_tab_rate(self.run.settings.learning_rate)
        self.plot.show_chosen(rate)

    def train_with_best(self) -> None:
        """Set the tab's learning rate to the one with the lowest final training loss."""
        low = best(self.results)
        if low is not None:
            self.train_with(low.learning_rate)

    # ------------------------------------------------------------------ the CSV
    def csv_rows(self) -> list[list[str]]:
        """The rows of ``learning_rate,final_loss,val_loss,diverged`` for the results so far (ascending)."""
        return [r.csv_row() for r in self.results]

    def export_csv(self, path: str | os.PathLike[str]) -> None:
        """Write the results as ``fitscope sweep --csv`` does (:class:`ExportError`: one line)."""
        setup = self.setup
        inputs = [] if setup is None or setup.dataset.source in BUILTIN else [setup.dataset.source]
        write_csv(path, SWEEP_HEADER, self.csv_rows(), inputs=inputs)

    def ask_and_export(self) -> str | None:
        """A Save dialog, then the CSV; the path written, or None."""
        if not self.results:
            return None
        stem = f"{(self.setup.dataset.name if self.setup else 'fitscope').rsplit('.', 1)[0]}-sweep"
        path = ask_save_path(self, "Export the sweep as CSV", f"{stem}.csv", CSV_FILTER, ".csv")
        return path if path is not None and written(self, lambda: self.export_csv(path)) else None

    # ------------------------------------------------------------------ showing and closing
    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        self.follow_tab()
        self._follow.start()

    def hideEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().hideEvent(event)
        if not event.spontaneous():
            self._follow.stop()

    def done(self, result: int) -> None:
        """Closing (Close, Escape, the window's button) stops a sweep under way; its results stay."""
        if self.running:
            self._closed_while_running = True  # the end, when it arrives, says so
            self.stop()
        super().done(result)

    def shutdown(self) -> None:
        """Stop any sweep and its thread (the window closes)."""
        self._follow.stop()
        self._frame.stop()
        self.stop()


# --------------------------------------------------------------------------- the menu
class SweepMenu(QObject):
    """Training ▸ Learning-rate sweep… for the tab shown: one :class:`SweepDialog` per training tab that trains
    one model, made when first asked for; disabled, with a tooltip saying why, on the optimizer race."""

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self.action = QAction("Learning-rate s&weep…", window)
        self.action.setObjectName("sweepAction")
        self.action.setShortcut(QKeySequence("Ctrl+L"))
        self.action.setToolTip(f"<p>{html.escape(SWEEP_TIP)}</p>")
        self.action.setStatusTip(SWEEP_TIP)
        self.action.triggered.connect(self.open)
        self.view: QWidget | None = None
        self.dialogs: dict[int, SweepDialog] = {}

    def add_to(self, menu: QMenu, view: QWidget) -> None:
        """Add the action to ``menu`` (the Training menu, just filled for ``view``) if ``view`` is a training
        tab; enabled for a tab that trains one model."""
        self.view = view
        if not isinstance(view, TrainingView):
            return
        menu.setToolTipsVisible(True)
        menu.addSeparator()
        menu.addAction(self.action)
        ok = isinstance(view.model, FitRun)
        self.action.setEnabled(ok)
        tip = SWEEP_TIP if ok else RACE_TIP
        self.action.setToolTip(f"<p>{html.escape(tip)}</p>")  # rich text: wrapped to a readable width
        self.action.setStatusTip(tip)

    def dialog_for(self, view: TrainingView) -> SweepDialog:
        """The sweep dialog of ``view`` (made on first use)."""
        dialog = self.dialogs.get(id(view))
        if dialog is None:
            dialog = self.dialogs[id(view)] = SweepDialog(view)
        return dialog

    def open(self) -> SweepDialog | None:
        """Show (and raise) the sweep dialog of the tab shown; None where there is none."""
        view = self.view
        if not isinstance(view, TrainingView) or not isinstance(view.model, FitRun):
            return None
        dialog = self.dialog_for(view)
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()
        return dialog

    def shutdown(self) -> None:
        """Stop every dialog's sweep (safe to call more than once)."""
        for dialog in self.dialogs.values():
            if isValid(dialog):  # (the window may have been torn down already)
                dialog.shutdown()
