"""The lesson player: applies a step's setup to the main window's tabs through their public API, performs *Show
me* actions one after another, and tells when the step's check is met.

Setup and actions go through the views as a student's presses would (``show_dataset``, ``change``, ``start_at``,
``step``, ``toggle_run``…); training runs in each view's worker thread, and the player waits for the view's
``controller.stopped`` before the next action. Applying a step starts its tab afresh from the book's settings
of its data set, so applying it again gives the same state: that is how *Back* restores a step exactly.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot
from PySide6.QtWidgets import QMainWindow

from fitscope.engine.data import load_builtin
from fitscope.engine.lessons import Action, Lesson, Step, TabState, run_changes
from fitscope.gui.views.base import TrainingView

CHECK_MS = 100  # a check is evaluated at most ten times a second while training reports arrive


class LessonPlayer(QObject):
    """Plays a :class:`~fitscope.engine.lessons.Lesson` on ``window`` (a :class:`~fitscope.gui.app.MainWindow`).

    Signals: ``stepShown(int)`` a step was applied; ``busyChanged(bool)`` a setup or *Show me* started or ended;
    ``checkMet(int)`` the step's check holds now (once per step shown).
    """

    stepShown = Signal(int)
    busyChanged = Signal(bool)
    checkMet = Signal(int)

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.lesson: Lesson | None = None
        self.index = -1
        self.met = False
        self._queue: deque[Action] = deque()
        self._waiting: TrainingView | None = None
        self._busy = False
        self._models: dict[TrainingView, Any] = {}
        self._check_timer = QTimer(self, singleShot=True, interval=CHECK_MS)
        self._check_timer.timeout.connect(self.evaluate)
        self._views: dict[str, Any] | None = None  # (see views)

    @property
    def views(self) -> dict[str, Any]:
        """The tabs a lesson acts on, by name: built and listened to when a lesson first needs them (the window
        builds its tabs as they are needed)."""
        if self._views is None:
            window = self.window
            self._views = {"surface": window.surface_view, "boston": window.boston_view,
                           "backprop": window.backprop_view, "race": window.race_view}
            for view in self._views.values():
                if isinstance(view, TrainingView):
                    view.controller.stopped.connect(self._on_stopped)
                    view.runChanged.connect(self._on_run_changed)
                else:
                    for action in view.commands.values():
                        action.triggered.connect(self._schedule_check)
            self._follow_models()
        return self._views

    # ------------------------------------------------------------------ state
    @property
    def step(self) -> Step | None:
        return None if self.lesson is None or self.index < 0 else self.lesson.steps[self.index]

    @property
    def busy(self) -> bool:
        """A setup or *Show me* is under way."""
        return self._busy

    def state(self) -> TabState:
        """What the step's check looks at: the step's tab, its run, the backward pass."""
        tab = self.step.tab if self.step else "surface"
        bp = self.views["backprop"]
        shown = next((k for k, v in self.views.items() if v is self.window.tabs.currentWidget()), tab)
        run = getattr(self.views[tab], "model", None) if tab in ("surface", "boston") else None
        return TabState(shown, run, bp.example is not None and bp.position >= bp.n_steps)

    # ------------------------------------------------------------------ steps
    def play(self, lesson: Lesson, index: int = 0) -> None:
        """Take up ``lesson`` at step ``index``."""
        self.lesson = lesson
        self.show_step(index)

    def show_step(self, index: int) -> None:
        """Apply step ``index``'s setup (whatever was under way stops first)."""
        if self.lesson is None:
            return
        self.cancel()
        self.index = max(0, min(index, len(self.lesson.steps) - 1))
        self.met = False
        step = self.lesson.steps[self.index]
        view = self.views[step.tab]
        if isinstance(view, TrainingView) and step.tab in ("surface", "boston"):
            self._set_up_training(view, step)
        elif step.tab == "backprop":
            if step.example == "book":
                view.book_example()
            self.window.tabs.setCurrentWidget(view)
        else:
            view.reset()
            self.window.tabs.setCurrentWidget(view)
        self._follow_models()
        self.stepShown.emit(self.index)
        self._start(step.setup_actions())

    def _set_up_training(self, view: TrainingView, step: Step) -> None:
        self.window.show_dataset(load_builtin(step.dataset), book=True)  # a fresh run with the book's settings
        self.window.tabs.setCurrentWidget(view)
        changes = run_changes(step.settings)
        if changes:
            view.change(**changes)
        if step.start is not None:
            view.start_at(*step.start)

    def show_me(self) -> None:
        """Perform the step's *Show me* actions."""
        if self.step is not None and not self.busy:
            self._start(self.step.show)

    def cancel(self) -> None:
        """Stop what a setup or *Show me* was doing (training under way pauses)."""
        self._queue.clear()
        waiting, self._waiting = self._waiting, None
        if waiting is not None:
            waiting.pause(wait=True)
        self._set_busy(False)

    # ------------------------------------------------------------------ actions, one after another
    def _start(self, actions: tuple[Action, ...]) -> None:
        if not actions:
            self._schedule_check()
            return
        self._queue.extend(actions)
        self._set_busy(True)
        QTimer.singleShot(0, self._next)

    def _set_busy(self, busy: bool) -> None:
        if busy != self._busy:
            self._busy = busy
            self.busyChanged.emit(busy)

    @Slot()
    def _next(self) -> None:
        while self._queue and self._waiting is None:
            action = self._queue.popleft()
            if self._perform(action):
                return  # a training request: the view's controller says when it ends
        if self._busy and not self._queue and self._waiting is None:
            self._set_busy(False)
            self._schedule_check()

    def _perform(self, action: Action) -> bool:
        """Do ``action`` on the step's tab; True if it started training (wait for it to stop)."""
        view = self.views[self.step.tab]
        kind = action.kind
        if kind in ("phase", "batch", "epoch", "run"):
            if kind == "run":
                view.toggle_run()
            else:
                view.step(kind)
            if view.controller.busy:
                self._waiting = view
                return True
            return False
        if kind == "start":
            view.start_at(*action.args)
        elif kind == "set":
            key, value = action.args
            view.change(**run_changes({key: value}))
        elif kind == "go_back":
            view.go_back()
        elif kind == "forward":
            view.forward_pass()
        elif kind == "backward":
            view.backward_step()
        elif kind == "update":
            view.apply_update()
        elif kind == "book_example":
            view.book_example()
        self._follow_models()
        return False

    @Slot(str, str)
    def _on_stopped(self, why: str, message: str) -> None:
        view = self.sender().parent()
        if self._waiting is not None and view is self._waiting:
            self._waiting = None
            if why in ("diverged", "error"):
                self._queue = deque(a for a in self._queue if a.kind not in ("phase", "batch", "epoch", "run"))
            QTimer.singleShot(0, self._next)
        self._schedule_check()

    # ------------------------------------------------------------------ checks
    @Slot(str)
    def _on_run_changed(self, what: str) -> None:
        self._follow_models()
        self._schedule_check()

    def _follow_models(self) -> None:
        """Listen to the model each training tab shows now (a data set or a session binds a new one)."""
        for view in self.views.values():
            if isinstance(view, TrainingView) and self._models.get(view) is not view.model:
                old = self._models.get(view)
                if old is not None:
                    old.unlisten(self._on_model)
                view.model.listen(self._on_model)
                self._models[view] = view.model

    def _on_model(self, what: str) -> None:
        self._schedule_check()

    @Slot()
    def _schedule_check(self) -> None:
        if self.step is not None and self.step.check is not None and not self.met and not self._check_timer.isActive():
            self._check_timer.start()

    @Slot()
    def evaluate(self) -> bool:
        """Whether the step's check holds now (said once with ``checkMet``; it stays met for this step)."""
        step = self.step
        if step is None or step.check is None:
            return False
        if not self.met and step.check.met(self.state()):
            self.met = True
            self.checkMet.emit(self.index)
        return self.met

    def shutdown(self) -> None:
        self._check_timer.stop()
        self._queue.clear()
        self._waiting = None
        self._busy = False
        for model in self._models.values():
            model.unlisten(self._on_model)
        self._models.clear()
