"""What every training tab shares: :class:`TrainingView` (a tab of any kind is a :class:`~.tab.View`).

A :class:`TrainingView` shows one model (a :class:`~fitscope.engine.run.FitRun`, or the race's
:class:`~fitscope.gui.models.race.RaceRun`): it hands the model's trainer to its
:class:`~fitscope.gui.worker.TrainingController`, records the reports the worker delivers into the model, and
redraws from the model when it tells what changed (when, is :class:`~.frames.Frames`'s to say: at most ~60 times a
second, never while the tab is hidden, in parts while running). Run, Step (phase, batch, epoch), Reset, the speed
slider, the messages, the error a worker reports, and the session part (the model's state and the view's own) are
written here once; a subclass lays out its panels and controls, implements :meth:`TrainingView.redraw`, and keeps
no copy of a setting.

The data path of one batch: trainer → report → worker (batched while the GUI thread is busy) →
:meth:`TrainingView._on_reports` → ``model.record`` → the model says ``"history"`` → a frame is scheduled →
:meth:`TrainingView.redraw` draws from the model.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any, ClassVar

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from fitscope.engine.run import HISTORY, NEW_RUN, SETTINGS, STATUS
from fitscope.gui.activity import hold_until_painted
from fitscope.gui.views.controls import DEFAULT_SPEED, OPTIMIZER_NAMES, SPEEDS, SettingsForm, speed_row
from fitscope.gui.views.frames import Frames
from fitscope.gui.views.notices import GoBackButton, MessageLabel
from fitscope.gui.views.saved import Remembered, SessionPart
from fitscope.gui.views.tab import Command, View
from fitscope.gui.views.undo import UndoKeeper, undoable
from fitscope.gui.worker import TrainingController, Unit

#: The commands of every training tab.
TRAINING_COMMANDS: dict[str, Command] = {
    "step_phase": Command("Step &phase", "P", "stepPhaseButton", "Show the next of the five phases of one training "
                          "step"),
    "step_batch": Command("Step &batch", "Space", "stepBatchButton", "Train on one batch: one update of the weights"),
    "step_epoch": Command("Step &epoch", "E", "stepEpochButton", "Train on every batch of one pass over the data"),
    "run": Command("&Run", "R", "runButton", "Train until the epoch limit; press again to pause"),
    "reset": Command("Rese&t", "Ctrl+R", "resetButton", "Back to the start point, forgetting the training so far"),
    "book_settings": Command("Boo&k settings", "Ctrl+Shift+B", "bookSettingsButton",
                             "The data set's own settings (the book's, for its data sets), and a fresh start"),
    "go_back": Command("&Go back before the divergence", "Ctrl+B", "goBackButton",
                       "After a divergence: back to the last step whose training loss was below the start's, exactly "
                       "as the run was then (lower the learning rate, then step or run on)"),
}



class TrainingView(Remembered, SessionPart, View):
    """A tab that trains its model (see the module's docstring).

    Subclasses build their widgets, then call :meth:`bind` with their first model, and implement
    :meth:`redraw`; they may override :meth:`model_bound` (a new model, perhaps of other data),
    :meth:`run_started` (a fresh trainer of the same model), :meth:`view_state`, :meth:`check_view_state` and
    :meth:`apply_view_state` (what a session keeps of the view itself).

    ``runChanged(str)``: the tab's run is another (:data:`NEW_RUN`: a fresh start, or a model bound) or its
    settings changed (:data:`SETTINGS`); for those who show the run elsewhere (the code of the run).
    """

    runChanged = Signal(str)

    COMMANDS = TRAINING_COMMANDS
    MODEL: ClassVar[type] = object  # the model class: its from_state() reads this tab's part of a session
    FRAME_MS = 16  # at most ~60 redraws a second when stepping
    RUN_FRAME_MS = 50  # and ~20 while running: more would only take time from training
    #: At full speed, the share of the time that frames (drawing them, and recording what the worker sent) may
    #: hold training up (see gui/views/frames.py).
    FRAME_SHARE = 0.25
    RUN_TEXT = "&Run"  # the Run button's text while it does not pause
    DEFAULT_SPEED = DEFAULT_SPEED  # the speed slider's first position

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model: Any = None
        self.controller = TrainingController(self)
        self.controller.reports.connect(self._on_reports)
        self.controller.stopped.connect(self._on_stopped)
        self.controller.runningChanged.connect(self._on_running_changed)
        self.frames = Frames(self)  # when the tab draws (gui/views/frames.py)
        self._shut = False
        self.undo = UndoKeeper(self)  # Edit > Undo of what threw a run away (gui/views/undo.py)
        self.message = MessageLabel()  # a passing message, or what the model's state calls for
        self.go_back_button = GoBackButton(TRAINING_COMMANDS["go_back"].tip)  # offered after a divergence
        self.go_back_button.clicked.connect(self.go_back)

    # ------------------------------------------------------------------ the model
    def bind(self, model: Any) -> None:
        """Show ``model`` (a new one, or one put back by a session): its trainer goes to the worker."""
        if self.model is not None:
            self.model.unlisten(self._on_model)
        self.model = model
        model.listen(self._on_model)
        self.controller.set_trainable(model.trainable)
        self.message.forget()
        self.model_bound()
        self.run_started()
        self.model_changed(NEW_RUN)
        self.refresh()
        self.runChanged.emit(NEW_RUN)

    def _on_model(self, what: str) -> None:
        self.model_changed(what)
        if what == NEW_RUN:
            self.controller.set_trainable(self.model.trainable)
            self.message.forget()
            self.run_started()
            self.refresh()
        elif what == SETTINGS:
            self.settings_changed()
            self.request_frame()
        elif what in (HISTORY, STATUS):
            self.request_frame()
        if what in (NEW_RUN, SETTINGS):
            self.runChanged.emit(what)

    def model_changed(self, what: str) -> None:
        """The model said what changed (before anything is drawn; also while the tab is hidden)."""

    def model_bound(self) -> None:
        """A model was bound (perhaps of other data): names, labels and controls follow it."""

    def run_started(self) -> None:
        """The model has a fresh trainer (a new start, Reset, a setting that starts afresh)."""

    def settings_changed(self) -> None:
        """The model's settings changed on the fly: controls and texts follow them."""

    def redraw(self) -> None:
        """Draw the model's state on every panel."""
        for part in self.redraw_parts():
            part()

    def redraw_parts(self) -> list:
        """:meth:`redraw` in parts (callables), for a tab whose frame would hold the GUI thread too long at once:
        while a run goes, each frame draws the next part (and comes that much sooner), so that clicks, keys and
        timers get in between. A subclass implements this or :meth:`redraw`."""
        return [self.redraw]

    def status_text(self) -> str:
        """A message the model's state calls for (a divergence, say), or ""."""
        return ""

    def refresh(self) -> None:
        """Redraw, and show the message that applies now."""
        self.redraw()
        self.message.show_state(self.status_text())
        self._offer_going_back()

    # ------------------------------------------------------------------ after a divergence
    def recovery_step(self) -> int | None:
        """Where going back after a divergence leads (0: the start; None: nowhere, or while training)."""
        back_to = getattr(self.model, "back_to", None)
        return None if back_to is None or self.controller.busy else back_to()

    def _offer_going_back(self) -> None:
        action = self.commands.get("go_back")
        if action is not None:
            step = self.recovery_step()
            action.setEnabled(step is not None)
            self.go_back_button.offer(step, getattr(self.model, "recovery_complete", True))

    @undoable("go back")
    def go_back(self) -> None:
        """Back to the last step whose training loss was below the start's, exactly as the run was then."""
        step = self.recovery_step()
        if step is None or not self.pause(wait=True):
            return
        rate = self.model.smaller_rate()
        try:
            self.model.go_back(step)
            self.controller.set_trainable(self.model.trainable)  # nothing of the diverged run in flight
        except ValueError as e:
            self.show_message(f"Cannot go back: {str(e).rstrip('.')}.")
            return
        where = f"at step {step:,}, before the divergence" if step else "at the start"
        self.show_message(f"Back {where}. Lower the learning rate (to {rate:g}, say), then step or run on.", note=True)
        self.went_back()
        self.refresh()
        with suppress(KeyError):  # a tab without one learning rate field
            self.control("learning_rate").setFocus(Qt.FocusReason.OtherFocusReason)  # what to change next

    def went_back(self) -> None:
        """The run went back before a divergence: a subclass may frame the point it is at."""

    def control(self, key: str) -> QWidget:
        """The widget that edits the setting ``key`` (a rate's log slider: ``"<key>.slider"``)."""
        for form in self.findChildren(SettingsForm):
            if key in form.widgets:
                return form.widgets[key]
        raise KeyError(key)

    def set_control(self, key: str, value: Any) -> None:
        """Set the control of ``key`` as a user would (its signal fires): a choice by its value."""
        w = self.control(key)
        if isinstance(w, QComboBox):
            index = w.findData(value)
            if index < 0:
                raise ValueError(f"{value!r} is not a choice of {key}")
            w.setCurrentIndex(index)
        elif isinstance(w, QCheckBox):
            w.setChecked(bool(value))
        else:
            w.setValue(value)

    def change(self, **changes: Any) -> None:
        """Ask the model for new settings; one that is out of range is refused with a message."""
        rate = getattr(self.model.settings, "learning_rate", None)
        try:
            if self.model.discards(**changes):  # another model, say, in the middle of a run: undoable
                with self.undo.discarding("new settings"):
                    self.model.update(**changes)
                self.show_message("The run started afresh with the new settings (Edit ▸ Undo brings the run "
                                  "before back).", note=True)
            else:
                self.model.update(**changes)
        except ValueError as e:
            self.show_message(str(e).rstrip(".") + ".")
            self.settings_changed()  # the controls show the settings in use again
            return
        new = self.model.settings
        if "optimizer" in changes and "learning_rate" not in changes and new.learning_rate != rate:
            name = OPTIMIZER_NAMES.get(new.optimizer, new.optimizer)
            self.show_message(f"{name} starts at TensorFlow.js's default learning rate for it, "
                              f"{new.learning_rate:g} (it was {rate:g}): set the rate again to keep another.",
                              note=True)

    # ------------------------------------------------------------------ commands
    def add_training_commands(self, *keys: str) -> None:
        """The commands of :data:`TRAINING_COMMANDS` this tab offers, bound to this base's methods."""
        slots = {"step_phase": lambda: self.step(Unit.PHASE), "step_batch": lambda: self.step(Unit.BATCH),
                 "step_epoch": lambda: self.step(Unit.EPOCH), "run": self.toggle_run,
                 "reset": lambda: self.undo.run("reset", self.reset),  # a tab's own reset, too
                 "book_settings": self.book_settings, "go_back": self.go_back}
        for key in keys:
            action = self.add_command(key, slots[key], checkable=key == "run")
            if key == "run":
                action.setText(self.RUN_TEXT)

    @Slot(float, float)
    @undoable("new start point")
    def start_at(self, x: float, y: float) -> None:
        """A fresh run from the point (x, y) clicked on the tab's map (one that cannot be trained from is
        refused with a message; nothing changes)."""
        try:
            self.model.start_at(x, y)
        except ValueError as e:
            self.show_message(f"Cannot start there: {str(e).rstrip('.')}.")

    def step(self, unit: Unit | str) -> None:
        """One phase, batch or epoch (not while a run goes)."""
        if self.controller.running:
            return
        if self.controller.step(unit):
            self.message.forget()  # the user goes on: what was said before no longer applies

    def toggle_run(self) -> None:
        """Run, or pause the run under way."""
        if self.controller.running:
            self.controller.pause()
            return
        if not self.may_run() or not self.controller.run():
            self.commands["run"].setChecked(False)
            return
        self.message.forget()  # the user goes on: what was said before no longer applies

    def may_run(self) -> bool:
        """Whether Run may start now (a subclass may say why not in its message)."""
        return True

    @undoable("reset")
    def reset(self) -> None:
        """Back to the start point, forgetting the training so far."""
        self.model.reset()

    @undoable("book settings")
    def book_settings(self) -> None:
        """The data set's own settings (the book's for its data sets), and a fresh start."""
        self.model.restore_defaults()

    def pause(self, wait: bool = False) -> bool:
        """Pause any training; with ``wait``, until the worker is idle (no event loop runs). True if idle."""
        if wait:
            return self.controller.pause_and_wait()
        self.controller.pause()
        return not self.controller.busy

    def explanation_box(self, title: str, text: QLabel) -> QGroupBox:
        """The sidebar's last box: the message (when there is one) above the tab's explanation ``text``."""
        box = QGroupBox(title)
        layout = QVBoxLayout(box)
        layout.addWidget(self.message)
        if "go_back" in self.commands:
            layout.addWidget(self.go_back_button)
        layout.addWidget(text, 1)
        return box

    # ------------------------------------------------------------------ speed
    def speed_row(self, object_name: str = "speed") -> QHBoxLayout:
        """The Run speed slider (:attr:`speed`) in a row with its caption and its label (:attr:`speed_label`)."""
        row, self.speed, self.speed_label = speed_row(object_name, self.DEFAULT_SPEED)
        self.speed.valueChanged.connect(lambda position: self.controller.set_delay(SPEEDS[position][1]))
        self.controller.set_delay(SPEEDS[self.speed.value()][1])
        return row

    # ------------------------------------------------------------------ messages
    def show_message(self, text: str, note: bool = False) -> None:
        """A passing message: an error (a refused setting, say), or with ``note`` a piece of news (see
        :mod:`~fitscope.gui.views.notices`)."""
        self.message.say(text, note)

    # ------------------------------------------------------------------ the worker's news
    @Slot(object)
    def _on_reports(self, reports: tuple) -> None:
        hold_until_painted()  # recording them is the GUI thread's work too: the worker waits meanwhile
        self.message.training_went_on()
        self.model.record(reports)

    @Slot(str, str)
    def _on_stopped(self, why: str, message: str) -> None:
        self.model.stopped(why)
        if why == "diverged":
            self.message.forget()  # what the divergence calls for comes first
        if why == "error":
            text = f"Training stopped by an error: {message}."
            if self.model.in_step():
                text += " The tab is ready to step or run again."
            else:  # the trainer went on past what was recorded: its state cannot be trusted
                self.model.reset()
                text += " The run started again from its start point, as it could not go on from where it was."
            self.show_message(text)
        self.frames.stop()
        self.refresh()  # the end of a step or run: its numbers at once (shown or not: once a request)
        if why != "error":
            self.run_stopped(why)

    def run_stopped(self, why: str) -> None:
        """A step or run ended (``why``: "step", "paused", "done", "diverged"), its state drawn: a subclass may
        frame what training reached."""

    @Slot(bool)
    def _on_running_changed(self, running: bool) -> None:
        run = self.commands["run"]
        run.setChecked(running)
        run.setText("Pause" if running else self.RUN_TEXT)
        name = "Pause" if running else self.RUN_TEXT.replace("&", "")
        for button in self.findChildren(QToolButton):
            if button.defaultAction() is run:
                button.setAccessibleName(name)
        self.frames.begin_afresh()
        for key in ("step_phase", "step_batch", "step_epoch"):
            if key in self.commands:
                self.commands[key].setEnabled(not running and self.model.trainable is not None)
        self.request_frame()

    # ------------------------------------------------------------------ frames
    def request_frame(self) -> None:
        """Redraw soon: at most one frame per :attr:`FRAME_MS` (:attr:`RUN_FRAME_MS` while running, in parts, and at
        full speed within :attr:`FRAME_SHARE` of the time; see :mod:`~fitscope.gui.views.frames`)."""
        self.frames.request()

    def fell_behind(self) -> None:
        """Something was not drawn because the tab is hidden: it is drawn afresh when the tab is shown."""
        self.frames.behind = True

    @property
    def shut(self) -> bool:
        """The tab was shut down (its window closed): nothing more is computed or drawn."""
        return self._shut

    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        self.frames.begin_afresh()  # (other tabs' frames, the switch's own paint are not owed)
        if self.frames.behind:
            self.frames.behind = False
            self.refresh()

    def shutdown(self) -> None:
        if self._shut:
            return
        self._shut = True
        self.frames.shut()
        self.controller.shutdown()

    # ------------------------------------------------------------------ data sets
    def set_dataset(self, dataset: Any) -> None:
        """Show ``dataset`` afresh with its own settings (the book's, for its data sets)."""
        self.show_dataset(dataset, book=True)

    @undoable("new data set")
    def show_dataset(self, dataset: Any, book: bool = False) -> None:
        """Show ``dataset`` afresh: with the settings last used for it, or its own (the book's) if ``book``
        or none were remembered. What this tab used for the data set it showed is remembered first."""
        model = self.MODEL(dataset)  # ValueError (DataError) if this tab cannot train it: nothing changed yet
        self.remember()
        recalled = not book and self.recall_for(model)
        self.bind(model)
        d = model.dataset
        note = getattr(d, "defaults_note", "")
        if recalled:
            self.show_message(self.RECALLED, note=True)
        elif note and model.settings.learning_rate == d.defaults.learning_rate:  # where a default came from
            self.show_message(note[:1].upper() + note[1:] + ".", note=True)
