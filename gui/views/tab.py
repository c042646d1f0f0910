"""What every tab of the main window shares: its own table of commands, and the layout helpers of its sidebar
and plots."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from PySide6.QtCore import QEvent, QObject, QSize, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from fitscope.gui.glossary import TermLabel


@dataclass(frozen=True)
class Command:
    """A command of a tab: menu text (with its & mnemonic), shortcut, object name of its button, tooltip."""

    text: str
    shortcut: str
    name: str
    tip: str


class View(QWidget):
    """A tab: subclasses set :attr:`title` and :attr:`COMMANDS` (their own table), call :meth:`add_command`
    and implement :meth:`shutdown`.

    ``titleChanged(str)``: the tab's title changed (:meth:`set_title`, e.g. to the name of the user's file).
    """

    title = ""
    COMMANDS: ClassVar[dict[str, Command]] = {}
    titleChanged = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.commands: dict[str, QAction] = {}

    def add_command(self, key: str, slot: Callable[[], None], checkable: bool = False) -> QAction:
        """A QAction for one of this tab's :attr:`COMMANDS`: its shortcut works while this tab is shown."""
        command = self.COMMANDS[key]
        action = QAction(command.text, self)
        action.setShortcut(QKeySequence(command.shortcut))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        keys = QKeySequence(command.shortcut).toString(QKeySequence.SequenceFormat.NativeText)
        action.setToolTip(f"{command.tip} ({keys})")
        action.setCheckable(checkable)
        action.triggered.connect(lambda _=False: slot())
        self.addAction(action)
        self.commands[key] = action
        return action

    def command_button(self, key: str) -> QToolButton:
        """A button that shows and triggers the command ``key``; named as the tests and screen readers know it."""
        button = QToolButton(self)
        button.setDefaultAction(self.commands[key])
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        button.setObjectName(self.COMMANDS[key].name)
        button.setAccessibleName(self.commands[key].text().replace("&", ""))
        return button

    def command_box(self, title: str, rows: list[list[str]]) -> QGroupBox:
        """A group box of command buttons, one row of the grid per list of command keys."""
        box = QGroupBox(title)
        grid = QGridLayout(box)
        grid.setSpacing(4)
        for r, keys in enumerate(rows):
            for c, key in enumerate(keys):
                grid.addWidget(self.command_button(key), r, c)
        return box

    @staticmethod
    def splitter(orientation: Qt.Orientation, widgets: list[QWidget], sizes: list[int],
                 stretch: list[int] | None = None) -> QSplitter:
        """``widgets`` side by side (or one above the other) in a splitter, at ``sizes`` pixels to start with."""
        split = QSplitter(orientation)
        for k, w in enumerate(widgets):
            split.addWidget(w)
            if stretch is not None:
                split.setStretchFactor(k, stretch[k])
        split.setSizes(sizes)
        return split

    @staticmethod
    def stack(widgets: list[tuple[QWidget, int]], name: str = "", margin: int = 0) -> tuple[QWidget, QVBoxLayout]:
        """A widget holding ``widgets`` one above the other, each with its stretch; and its layout."""
        box = QWidget()
        if name:
            box.setObjectName(name)
        column = QVBoxLayout(box)
        column.setContentsMargins(margin, margin, margin, margin)
        column.setSpacing(4)
        for w, stretch in widgets:
            column.addWidget(w, stretch)
        return box, column

    @staticmethod
    def text_label(name: str, accessible: str) -> QLabel:
        """A label of rich text that wraps, aligned to its top left: the tabs' explanations, whose terms explain
        themselves (:class:`~fitscope.gui.glossary.TermLabel`)."""
        label = TermLabel()
        label.setObjectName(name)
        label.setAccessibleName(accessible)
        label.setWordWrap(True)
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        return label

    def lay_out(self, main: QWidget, sidebar: QWidget, width: tuple[int, int] = (330, 400)) -> None:
        """The layout every tab shares: ``main`` (the plots) taking the room, ``sidebar`` on the right in a
        vertical scroll area (:class:`SidebarScroll`) about ``width`` pixels wide."""
        scroll = SidebarScroll(sidebar, width)
        scroll.setObjectName(f"{sidebar.objectName() or 'sidebar'}Scroll")
        scroll.setAccessibleName(f"{self.title} controls")
        self.sidebar_scroll = scroll
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(main, 1)
        layout.addWidget(scroll)

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
        """Stop any thread of this tab; called when the window closes."""


class SidebarScroll(QScrollArea):
    """A tab's sidebar in a scroll area that scrolls up and down and never cuts anything at the side: it is
    between ``width`` pixels wide, and always at least as wide as its contents need with the vertical scroll
    bar shown (fields whose text would not fit, wider fonts), however the contents change. The scroll bar is
    always there (without a handle when there is nothing to scroll), so that the contents keep their width when a
    text grows or shrinks past the height: the controls would widen and narrow as a run goes, and a margin kept in
    its place instead went back and forth without end where a text wraps into one more line at the narrower width."""

    def __init__(self, sidebar: QWidget, width: tuple[int, int]) -> None:
        super().__init__()
        self._width = width
        self.setWidget(sidebar)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        sidebar.installEventFilter(self)
        self._fit()

    def needed_width(self) -> int:
        """The contents' least width, plus the vertical scroll bar and the frame."""
        inner = self.widget().minimumSizeHint().width() if self.widget() is not None else 0
        return inner + self.verticalScrollBar().sizeHint().width() + 2 * self.frameWidth()

    def _fit(self) -> None:
        need = self.needed_width()
        self.setMinimumWidth(max(self._width[0], need))
        self.setMaximumWidth(max(self._width[1], need))

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        inner = self.widget().sizeHint().width() if self.widget() is not None else 0
        wanted = inner + self.verticalScrollBar().sizeHint().width() + 2 * self.frameWidth()
        return QSize(min(self.maximumWidth(), max(self.minimumWidth(), wanted)), super().sizeHint().height())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self._fit()  # the contents changed (a longer text, another racer's fields)
        return False
