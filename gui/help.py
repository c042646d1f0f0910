"""Help ▸ User guide and Help ▸ Keyboard shortcuts: two windows beside the main window (neither blocks it).

The user guide is ``resources/guide.md``, the text of "Using the app" (the README is not in the installed
package; the guide is). The README's section of that name holds the same words: its body, from under the
``## Using the app`` heading to the next ``## `` heading outside a code block, is the guide verbatim. Whoever
edits one pastes it into the other; ``tests/test_help.py`` fails while the two differ. This keeps the README
readable on its own, where an include rule would leave a hole in it. In the app, the guide's pictures are left
out (they live beside the README, not in the package).

The shortcuts window lists what the keyboard does now: every ``QAction`` of the window that has a shortcut (the
menus, the docks, the window's own keys) and those of the tab shown, read from the actions themselves, then the
keys no menu shows (:data:`OTHER_KEYS`: see :mod:`fitscope.gui.keys`). It follows the tab shown.
"""

from __future__ import annotations

import re

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMainWindow,
    QTabWidget,
    QTextBrowser,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from fitscope import resources

GUIDE = "guide.md"
#: The keys that are not the shortcut of an action (gui/keys.py, gui/share.py): (keys, what they do).
OTHER_KEYS: tuple[tuple[str, str], ...] = (
    ("Tab / Shift+Tab", "Move the focus to the next / previous control, plot or table"),
    ("Space, Enter", "Press the focused button, tick the focused box"),
    ("Escape", "In a number field: cancel the edit, hand the keys back to the tab"),
    ("Ctrl+C", "On a focused plot: copy it to the clipboard as a picture"),
    ("F4", "Open the focused drop-down list; then type part of a name"),
    ("Arrow keys", "On a focused map: move the crosshair"),
    ("Shift+arrow keys", "On a focused map: pan"),
    ("+ / −", "On a focused map: zoom in / out about the crosshair"),
    ("Enter", "On a focused map: start there, as a click would"),
    ("Home", "On a focused map: frame the data"),
    ("Mouse wheel", "Scroll a sidebar; change a number only in the field that has the focus"),
)


def guide_text() -> str:
    """The user guide as the app shows it: ``resources/guide.md`` under a title, without its pictures."""
    lines = [line for line in resources.read_text(GUIDE).splitlines() if not re.match(r"\s*!\[", line)]
    return "# Using fitscope\n\n" + "\n".join(lines).strip() + "\n"


class GuideWindow(QDialog):
    """Help ▸ User guide: the guide in a browser window that stays open beside the main window."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("guideWindow")
        self.setWindowTitle("fitscope — User guide")
        self.setModal(False)
        self.browser = QTextBrowser(objectName="guideText")
        self.browser.setOpenExternalLinks(True)
        self.browser.document().setDocumentMargin(14)
        self.browser.setMarkdown(guide_text())
        self.browser.setAccessibleName("User guide")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser, 1)
        layout.addWidget(buttons)
        self.resize(820, 760)


class ShortcutsWindow(QDialog):
    """Help ▸ Keyboard shortcuts: the keys of the window and of the tab shown (see the module's docstring)."""

    def __init__(self, window: QMainWindow, tabs: QTabWidget) -> None:
        super().__init__(window)
        self.setObjectName("shortcutsWindow")
        self.setWindowTitle("fitscope — Keyboard shortcuts")
        self.setModal(False)
        self.main_window, self.tabs = window, tabs
        note = QLabel("What the keyboard does now. A tab's own keys work while that tab is shown; the one-key "
                      "ones whenever the focus is not on a control that uses that key.", wordWrap=True)
        self.tree = QTreeWidget(objectName="shortcutsList")
        self.tree.setColumnCount(2)
        self.tree.setHeaderLabels(["Keys", "What they do"])
        self.tree.setRootIsDecorated(False)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QTreeWidget.SelectionMode.NoSelection)
        self.tree.setAccessibleName("Keyboard shortcuts")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addWidget(self.tree, 1)
        layout.addWidget(buttons)
        tabs.currentChanged.connect(self.refresh)
        self.refresh()
        self.resize(700, 760)

    def sections(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """What the window lists: (section title, [(keys, what they do)]) for the tab shown, the window and the
        other keys."""
        page = self.tabs.currentWidget()
        tab: dict[tuple[str, str], None] = {}
        window: dict[tuple[str, str], None] = {}
        for action in self._actions():
            keys = action_keys(action)
            if not keys:
                continue
            owner = self._tab_of(action)
            if owner is not None and owner is not page:
                continue
            (tab if owner is not None else window)[(keys, action_text(action))] = None
        title = self.tabs.tabText(self.tabs.currentIndex()).replace("&", "")
        return [(f"This tab: {title}", list(tab)), ("The window", list(window)),
                ("Other keys", list(OTHER_KEYS))]

    def _actions(self) -> list[QAction]:
        """Every action of the window: those of the menus first, in the menus' order, then the others."""
        ordered: dict[QAction, None] = {}
        _ = self.main_window.views  # every tab built, so that its commands are among these

        def walk(actions) -> None:
            for action in actions:
                if action.menu() is not None:
                    walk(action.menu().actions())
                else:
                    ordered[action] = None

        walk(self.main_window.menuBar().actions())
        for action in self.main_window.findChildren(QAction):
            ordered[action] = None
        return list(ordered)

    def _tab_of(self, action: QAction) -> QWidget | None:
        """The tab page ``action`` belongs to, or None for the window's own."""
        obj = action.parent()
        while obj is not None:
            if isinstance(obj, QWidget) and self.tabs.indexOf(obj) >= 0:
                return obj
            obj = obj.parent()
        return None

    @Slot()
    def refresh(self) -> None:
        """List the keys of the tab shown now."""
        self.tree.clear()
        for title, rows in self.sections():
            head = QTreeWidgetItem([title, ""])
            font = head.font(0)
            font.setBold(True)
            head.setFont(0, font)
            head.setFirstColumnSpanned(True)
            head.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.tree.addTopLevelItem(head)
            for keys, text in rows:
                self.tree.addTopLevelItem(QTreeWidgetItem([keys, text]))
        self.tree.resizeColumnToContents(0)
        self.tree.setColumnWidth(0, self.tree.columnWidth(0) + 24)

    def rows(self) -> list[tuple[str, str]]:
        """Every line of the list as shown: (keys, what they do); a section's title has empty keys' text."""
        return [(self.tree.topLevelItem(i).text(0), self.tree.topLevelItem(i).text(1))
                for i in range(self.tree.topLevelItemCount())]


def action_keys(action: QAction) -> str:
    """An action's shortcuts as the user reads them ("Ctrl+R", "Ctrl++, Ctrl+="); "" for none."""
    return ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts() if not k.isEmpty())


def action_text(action: QAction) -> str:
    """An action's text without its mnemonic's ``&`` (a literal ``&&`` stays one ``&``)."""
    return action.text().replace("&&", "\0").replace("&", "").replace("\0", "&")


def _show(window: QMainWindow, kind: type[QDialog], name: str, make) -> QDialog:
    dialog = window.findChild(kind, name)
    if dialog is None:
        dialog = make()
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()
    return dialog


def show_guide(window: QMainWindow) -> GuideWindow:
    """Open (or raise) the window's user guide."""
    return _show(window, GuideWindow, "guideWindow", lambda: GuideWindow(window))


def show_shortcuts(window: QMainWindow, tabs: QTabWidget) -> ShortcutsWindow:
    """Open (or raise) the window's list of keyboard shortcuts, refreshed for the tab shown."""
    dialog = _show(window, ShortcutsWindow, "shortcutsWindow", lambda: ShortcutsWindow(window, tabs))
    dialog.refresh()
    return dialog


def add_to_menu(menu, window: QMainWindow, tabs: QTabWidget) -> tuple[QAction, QAction]:
    """Help ▸ User guide and Help ▸ Keyboard shortcuts."""
    guide = QAction("&User guide", window)
    guide.setObjectName("userGuideAction")
    guide.setStatusTip("How to use every tab, the keys, sessions, exports and lessons")
    guide.triggered.connect(lambda: show_guide(window))
    shortcuts = QAction("&Keyboard shortcuts", window)
    shortcuts.setObjectName("shortcutsAction")
    shortcuts.setShortcut(QKeySequence("Ctrl+/"))
    shortcuts.setStatusTip("Every key of this tab and of the window")
    shortcuts.triggered.connect(lambda: show_shortcuts(window, tabs))
    menu.addActions([guide, shortcuts])
    return guide, shortcuts
