"""Undo for the actions that throw a run away, the run before the last of them, and Restore all defaults.

Each training tab has an :class:`UndoKeeper`. An action that starts the tab's run afresh (a click on a map or a
slice, Reset, Random init, Book settings, a new data set, going back after a divergence) runs inside
:meth:`UndoKeeper.discarding` (the :func:`undoable` decorator): a run in progress is paused, the tab's part of a
session (its model's state and the view's own, :meth:`~fitscope.gui.views.saved.SessionPart.session_state`) is
taken, and if the action changed the run, a :class:`SwapCommand` holding it goes on the tab's ``QUndoStack``.
Undo swaps it back in exactly as it was (history, trainer and optimizer state, settings, the plots' ranges), and
keeps what it replaced, which Redo swaps in again.

The run that was current before the last such change (or before an undo or redo) is the tab's
:attr:`UndoKeeper.previous`, whose curves "Compare with previous run" draws
(:mod:`fitscope.gui.panels.compare`).

:class:`EditMenu` is the window's Edit menu: Undo and Redo of the tab shown (a ``QUndoGroup``: their texts name
what they undo, "Undo new start point"), and Restore all defaults….
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QKeySequence, QUndoCommand, QUndoGroup, QUndoStack
from PySide6.QtWidgets import QMainWindow, QMenu, QMessageBox

from fitscope.engine.run import HISTORY, NEW_RUN, STATUS
from fitscope.gui import prefs
from fitscope.gui.views.saved import Prepared

#: How many actions a tab can undo (a snapshot of a long MLP run holds tens of megabytes).
UNDO_LIMIT = 10

#: What the confirmation of Restore all defaults says.
RESTORE_ALL_TEXT = (
    "Every tab goes back to its data set's own settings (the book's, for its data sets) and starts afresh; "
    "the settings remembered for every data set and the tabs' speeds are forgotten.\n\n"
    "The current runs are discarded: Edit ▸ Undo brings back the run of the tab shown (each tab undoes its own)."
)


@dataclass(frozen=True)
class Curves:
    """What "Compare with previous run" draws of a run: copies of its losses and its path.

    ``batch_loss`` at ``steps``; ``epochs`` (n, 5): epoch, step, loss, val_loss, test_loss (as
    :meth:`~fitscope.gui.panels.loss_curve.LossCurvePanel.set_history` takes them); ``params`` (rows, n_params):
    the path's parameters, the start first; ``loss``: the loss function's name; ``n_params``.
    """

    batch_loss: np.ndarray
    steps: np.ndarray
    epochs: np.ndarray
    params: np.ndarray
    loss: str
    n_params: int

    @classmethod
    def of(cls, model: Any) -> Curves | None:
        """The curves of ``model``'s run."""
        h = model.history
        return cls(np.array(h.batch_loss, dtype=float), np.array(h.loss_steps), np.array(h.epochs, dtype=float),
                   np.array(h.params, dtype=float), str(model.settings.loss), int(model.n_params))


@dataclass(frozen=True)
class RaceCurves:
    """What "Compare with previous run" draws of a race: for each racer its key, the steps kept, its training
    loss there (the start first) and its path; ``loss``: the loss function's name."""

    racers: tuple[tuple[str, np.ndarray, np.ndarray, np.ndarray], ...]
    loss: str

    @classmethod
    def of(cls, race: Any) -> RaceCurves:
        racers = tuple((key, np.array(h.param_steps), np.array(race.losses(i), dtype=float), np.array(h.params))
                       for i, (key, h) in enumerate(zip(race.keys, race.histories, strict=True)))
        return cls(racers, str(race.settings.loss))


def curves_of(model: Any) -> Curves | RaceCurves | None:
    """What "Compare with previous run" draws of ``model``'s run."""
    return RaceCurves.of(model) if hasattr(model, "histories") else Curves.of(model)


@dataclass(frozen=True)
class Snapshot:
    """A tab's run as it was: its data set (kept as it is, so that nothing is read again), its session part."""

    dataset: Any
    part: dict


class SwapCommand(QUndoCommand):
    """Undo and redo alike swap the tab's run for the one this command holds, and keep the one swapped out."""

    def __init__(self, keeper: UndoKeeper, text: str, snapshot: Snapshot) -> None:
        super().__init__(text)
        self.keeper = keeper
        self.snapshot = snapshot
        self._pushed = False  # QUndoStack.push() redoes at once: the action itself did that already

    def undo(self) -> None:
        self.snapshot = self.keeper.swap(self.snapshot, f"undo {self.text()}")

    def redo(self) -> None:
        if not self._pushed:
            self._pushed = True
            return
        self.snapshot = self.keeper.swap(self.snapshot, f"redo {self.text()}")


class UndoKeeper(QObject):
    """The undo stack of one training tab, and its previous run (see the module's docstring).

    ``previousChanged()``: :attr:`previous` is another run's curves.
    """

    previousChanged = Signal()

    def __init__(self, view: Any) -> None:
        super().__init__(view)
        self.view = view
        self.stack = QUndoStack(self)
        self.stack.setUndoLimit(UNDO_LIMIT)
        self.previous: Curves | RaceCurves | None = None
        self._depth = 0  # inside an action already kept (an action may call another)

    def snapshot(self) -> Snapshot:
        """The tab's run now (take it while training is paused)."""
        return Snapshot(self.view.model.dataset, self.view.session_state())

    @contextmanager
    def discarding(self, text: str) -> Iterator[None]:
        """Run an action that may throw the tab's run away; if it does, it can be undone ("Undo ``text``")."""
        view = self.view
        if self._depth or view.model is None or not view.pause(wait=True):
            yield
            return
        before, curves = self.snapshot(), curves_of(view.model)
        model, changed = view.model, []

        def listener(what: str) -> None:
            if what in (NEW_RUN, HISTORY, STATUS):
                changed.append(what)

        model.listen(listener)
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            model.unlisten(listener)
        if changed or view.model is not model:
            self.stack.push(SwapCommand(self, text, before))
            self._set_previous(curves)

    def run(self, text: str, action: Callable[[], Any]) -> None:
        """Run ``action``, undoable as "Undo ``text``" if it throws the run away."""
        with self.discarding(text):
            action()

    def swap(self, snapshot: Snapshot, what: str) -> Snapshot:
        """Put ``snapshot``'s run back; returns the run it replaced (itself if it cannot be put back)."""
        view = self.view
        if not view.pause(wait=True):
            view.show_message(f"Cannot {what} while training cannot be paused.")
            return snapshot
        current, curves = self.snapshot(), curves_of(view.model)
        try:
            model = view.MODEL.from_state(snapshot.part["model"], snapshot.dataset)
            state = view.check_view_state(snapshot.part["view"], model)
        except ValueError as e:
            view.show_message(f"Cannot {what}: {str(e).rstrip('.')}.")
            return snapshot
        view.apply(Prepared(model, state))
        self._set_previous(curves)
        window = view.window()
        if hasattr(window, "update_title"):  # the window's title names the data shown
            window.update_title()
        return current

    def _set_previous(self, curves: Curves | RaceCurves | None) -> None:
        self.previous = curves
        self.previousChanged.emit()


def undoable(text: str) -> Callable:
    """A method of a training tab that may throw its run away, made undoable ("Undo ``text``")."""

    def decorate(method: Callable) -> Callable:
        @functools.wraps(method)
        def wrapper(self, *args: Any, **kwargs: Any) -> Any:
            with self.undo.discarding(text):
                return method(self, *args, **kwargs)

        return wrapper

    return decorate


def restore_all_defaults(views: list[Any]) -> None:
    """Every training tab in ``views`` back to its data set's own settings with a fresh start and its first
    speed, each undoable in its tab; everything remembered between launches is forgotten."""
    prefs.forget()
    for view in views:
        with view.undo.discarding("restore all defaults"):
            view.model.restore_defaults()
        view.speed.setValue(view.DEFAULT_SPEED)
        view.show_message("Back to the data set's own settings (Edit ▸ Undo brings the run before back).", note=True)


class EditMenu(QObject):
    """The window's Edit menu: Undo / Redo of the tab shown, and Restore all defaults…."""

    def __init__(self, window: QMainWindow, before: QAction | None = None) -> None:
        super().__init__(window)
        self.window = window
        self.group = QUndoGroup(self)  # each tab's stack joins as it is built (adopt)
        self.menu = QMenu("&Edit", window)
        if before is None:
            window.menuBar().addMenu(self.menu)
        else:
            window.menuBar().insertMenu(before, self.menu)
        self.menu.setObjectName("editMenu")
        self.undo_action = self.group.createUndoAction(window)
        self.undo_action.setObjectName("undoAction")
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.redo_action = self.group.createRedoAction(window)
        self.redo_action.setObjectName("redoAction")
        self.redo_action.setShortcut(QKeySequence("Ctrl+Shift+Z"))
        for action in (self.undo_action, self.redo_action):
            window.addAction(action)  # its shortcut works while the menu is closed
            self.menu.addAction(action)
        self.menu.addSeparator()
        self.restore_action = QAction("Restore all &defaults…", window)
        self.restore_action.setObjectName("restoreAllDefaultsAction")
        self.restore_action.setStatusTip("Every tab back to its data set's own settings; remembered settings "
                                         "forgotten")
        self.restore_action.triggered.connect(self.ask_restore_all)
        self.menu.addAction(self.restore_action)
        window.tabs.currentChanged.connect(self._follow)
        self._follow(window.tabs.currentIndex())

    def adopt(self, view: Any) -> None:
        """A tab just built: its Undo stack joins the group (the active one, if it is the tab shown)."""
        if hasattr(view, "undo"):
            self.group.addStack(view.undo.stack)
            self._follow(self.window.tabs.currentIndex())

    def training_views(self) -> list[Any]:
        return [view for view in self.window.views if hasattr(view, "undo")]

    def _follow(self, index: int) -> None:
        """Undo and Redo act on the tab shown (nothing in a tab without a run of its own)."""
        view = self.window.tabs.widget(index)
        self.group.setActiveStack(view.undo.stack if hasattr(view, "undo") else None)

    def ask_restore_all(self) -> bool:
        """Ask, then restore every tab's defaults; True if done."""
        box = QMessageBox(QMessageBox.Icon.Question, "Restore all defaults",
                          "Restore the defaults of every tab?", parent=self.window)
        box.setObjectName("restoreAllDialog")
        box.setInformativeText(RESTORE_ALL_TEXT)
        box.setStandardButtons(QMessageBox.StandardButton.RestoreDefaults | QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        if box.exec() != QMessageBox.StandardButton.RestoreDefaults:
            return False
        restore_all_defaults(self.training_views())
        self.window.update_title()
        return True
