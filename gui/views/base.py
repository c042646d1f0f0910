"""What every tab of the main window shares: its training actions and its clean shutdown."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QHBoxLayout,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QToolButton,
    QWidget,
)

# key: (menu text, shortcut, object name of its button, tooltip)
COMMANDS: dict[str, tuple[str, str, str, str]] = {
    "step_phase": ("Step &phase", "P", "stepPhaseButton", "Show the next of the five phases of one training step"),
    "step_batch": ("Step &batch", "Space", "stepBatchButton", "Train on one batch: one update of the weights"),
    "step_epoch": ("Step &epoch", "E", "stepEpochButton", "Train on every batch of one pass over the data"),
    "run": ("&Run", "R", "runButton", "Train until the epoch limit; press again to pause"),
    "reset": ("Rese&t", "Ctrl+R", "resetButton", "Back to the start point, forgetting the training so far"),
    "frame": ("&Frame the path", "Ctrl+0", "frameButton", "Zoom the map to the start, the whole path and the optimum"),
    "random_init": (
        "Random &init", "I", "randomInitButton", "Draw new start weights as TensorFlow.js does, from the next seed"
    ),
}


class View(QWidget):
    """A tab: subclasses set :attr:`title`, call :meth:`add_command` and implement :meth:`shutdown`.

    ``titleChanged(str)``: the tab's title changed (:meth:`set_title`, e.g. to the name of the user's file).
    """

    title = ""
    titleChanged = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.commands: dict[str, QAction] = {}

    def add_command(self, key: str, slot: Callable[[], None], checkable: bool = False) -> QAction:
        """A QAction for one of :data:`COMMANDS`: shortcut active while this view is shown."""
        text, shortcut, _, tip = COMMANDS[key]
        action = QAction(text, self)
        action.setShortcut(QKeySequence(shortcut))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.setToolTip(f"{tip} ({QKeySequence(shortcut).toString(QKeySequence.SequenceFormat.NativeText)})")
        action.setCheckable(checkable)
        action.triggered.connect(slot)
        self.addAction(action)
        self.commands[key] = action
        return action

    def command_button(self, key: str) -> QToolButton:
        """A button that shows and triggers the command ``key``; named as the tests and screen readers know it."""
        button = QToolButton(self)
        button.setDefaultAction(self.commands[key])
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        name = COMMANDS[key][2]
        button.setObjectName(name)
        button.setAccessibleName(self.commands[key].text().replace("&", ""))
        return button

    def lay_out(self, main: QWidget, sidebar: QWidget, width: tuple[int, int] = (330, 400)) -> None:
        """The layout every tab shares: ``main`` (the plots) taking the room, ``sidebar`` on the right in a
        vertical scroll area between ``width`` pixels wide."""
        scroll = QScrollArea()
        scroll.setWidget(sidebar)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(width[0])
        scroll.setMaximumWidth(width[1])
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(main, 1)
        layout.addWidget(scroll)

    def speed_slider(self, object_name: str, steps: int) -> QSlider:
        """The Run speed slider: ``steps`` positions, from one batch a second to as fast as possible."""
        slider = QSlider(Qt.Orientation.Horizontal)
        slider.setObjectName(object_name)
        slider.setAccessibleName("Run speed")
        slider.setRange(0, steps - 1)
        slider.setPageStep(1)
        slider.setToolTip("How fast Run goes: from one batch a second to as fast as the machine can")
        return slider

    def hand_back_keys(self) -> None:
        """After Enter in any number field of this view, give the keyboard back to the view.

        Single-key shortcuts (Space, P, E, R…) type into a field that has the focus; once a value is entered
        with Enter they should drive training again.
        """
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        for box in self.findChildren(QAbstractSpinBox):
            box.lineEdit().returnPressed.connect(self.setFocus)

    def set_title(self, title: str) -> None:
        """A new title for this tab; the main window's tab and View menu follow it."""
        if title != self.title:
            self.title = title
            self.titleChanged.emit(title)

    def shutdown(self) -> None:
        """Stop any training thread; called when the window closes."""
