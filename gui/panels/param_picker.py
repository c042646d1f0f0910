"""The chooser of a parameter for an axis of the loss slice: :class:`ParamCombo`, a combo box whose popup, for a
network's thousands of parameters, is a :class:`ParamPicker`: a search field over a tree of the network's arrays
("hidden 1 kernel (12 × 50)", …), each parameter under its array with its position ("[3, 7]") and what it
connects ("unit 4 → unit 8"). A linear model's dozen parameters keep the plain list.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QEvent, QModelIndex, QObject, QPoint, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QComboBox, QFrame, QLabel, QLineEdit, QTreeView, QVBoxLayout, QWidget

#: The roles of a parameter's row in the picker: its flat index, and the text a search looks in.
INDEX_ROLE = Qt.ItemDataRole.UserRole
SEARCH_ROLE = Qt.ItemDataRole.UserRole + 1


def array_positions(groups: Sequence[tuple[str, tuple[int, ...]]]) -> list[tuple[str, str]]:
    """For each flat parameter of arrays ``groups`` (name, shape; in order, each flattened row by row): the name
    of its array and its position in it, ``("hidden 2 kernel", "[3, 7]")``."""
    out = []
    for name, shape in groups:
        for position in np.ndindex(*shape):
            out.append((name, "[" + ", ".join(str(k) for k in position) + "]"))
    return out


class ParamFilter(QSortFilterProxyModel):
    """Keeps the parameters whose search text holds the query as it is typed (any case); if none does, those
    that hold each of its words. A group stays while one of its parameters does."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setRecursiveFilteringEnabled(True)
        self._query = ""
        self._words: list[str] = []
        self._phrase = False  # some parameter holds the whole query: only those are kept

    def set_query(self, text: str) -> None:
        new = hasattr(self, "endFilterChange")  # Qt ≥ 6.10; invalidateFilter() before (deprecated since)
        if new:
            self.beginFilterChange()
        self._query = " ".join(text.lower().split())
        self._words = self._query.split()
        self._phrase = bool(self._query) and any(self._query in t for t in self._texts())
        if new:
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self.invalidateFilter()

    def _texts(self) -> list[str]:
        model = self.sourceModel()
        out = []
        for g in range(model.rowCount()):
            group = model.index(g, 0)
            out.extend(str(model.index(r, 0, group).data(SEARCH_ROLE)).lower() for r in range(model.rowCount(group)))
        return out

    def filterAcceptsRow(self, row: int, parent: QModelIndex) -> bool:  # noqa: N802 (Qt's name)
        if not self._words:
            return True
        index = self.sourceModel().index(row, 0, parent)
        if self.sourceModel().hasChildren(index):
            return False  # a group shows while one of its parameters matches
        text = str(index.data(SEARCH_ROLE)).lower()
        return self._query in text if self._phrase else all(w in text for w in self._words)


class ParamPicker(QFrame):
    """A popup to pick one of a network's parameters: a search field over a tree of its arrays ("hidden 1
    kernel (12 × 50)", …), each parameter under its array with its position and what it connects.

    Type part of a name ("2 kernel [3, 7]", "lstat", "output") to filter; Down goes into the tree, Enter picks
    (from the search field: the parameter selected, else the first found), Escape closes. ``chosen(int)``: the
    flat index picked.
    """

    chosen = Signal(int)

    def __init__(self, model: QStandardItemModel, current: int, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Popup)
        self.setObjectName("paramPicker")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.search = QLineEdit()
        self.search.setObjectName("paramSearch")
        self.search.setAccessibleName("Search the parameters")
        self.search.setPlaceholderText("Search, e.g. hidden 2 kernel [3, 7], lstat, output")
        self.search.setClearButtonEnabled(True)
        self.filter = ParamFilter(self)
        self.filter.setSourceModel(model)
        self.tree = QTreeView()
        self.tree.setObjectName("paramTree")
        self.tree.setAccessibleName("Parameters by layer")
        self.tree.setHeaderHidden(True)
        self.tree.setUniformRowHeights(True)  # thousands of rows
        self.tree.setModel(self.filter)
        self.tree.setEditTriggers(QTreeView.EditTrigger.NoEditTriggers)
        self.found = QLabel()
        self.found.setObjectName("paramFound")
        self.found.setProperty("class", "readoutName")
        column = QVBoxLayout(self)
        column.setContentsMargins(4, 4, 4, 4)
        column.setSpacing(4)
        column.addWidget(self.search)
        column.addWidget(self.tree, 1)
        column.addWidget(self.found)
        self.search.textChanged.connect(self._on_search)
        self.search.installEventFilter(self)
        self.tree.installEventFilter(self)
        self.tree.activated.connect(self._pick)
        self.tree.doubleClicked.connect(self._pick)
        self._show_current(current)
        self._count()

    def _leaves(self, parent: QModelIndex | None = None) -> list[QModelIndex]:
        """The parameters the filter keeps, in order."""
        parent = QModelIndex() if parent is None else parent
        out = []
        for r in range(self.filter.rowCount(parent)):
            index = self.filter.index(r, 0, parent)
            out.extend(self._leaves(index) if self.filter.hasChildren(index) else [index])
        return out

    def _show_current(self, flat: int) -> None:
        source = self.filter.sourceModel()
        for g in range(source.rowCount()):
            group = source.index(g, 0)
            for r in range(source.rowCount(group)):
                leaf = source.index(r, 0, group)
                if leaf.data(INDEX_ROLE) == flat:
                    index = self.filter.mapFromSource(leaf)
                    self.tree.expand(index.parent())
                    self.tree.setCurrentIndex(index)
                    self.tree.scrollTo(index, QTreeView.ScrollHint.PositionAtCenter)
                    return

    def _on_search(self, text: str) -> None:
        self.filter.set_query(text)
        if text.strip():
            self.tree.expandAll()
            leaves = self._leaves()
            if leaves:
                self.tree.setCurrentIndex(leaves[0])
                self.tree.scrollTo(leaves[0])
        else:
            self.tree.collapseAll()
        self._count()

    def _count(self) -> None:
        n = len(self._leaves()) if self.search.text().strip() else None
        self.found.setText("Type to search; Enter picks, Esc closes" if n is None else
                           "Nothing found" if n == 0 else f"{n:,} found — Enter picks the one selected")

    def _pick(self, index: QModelIndex) -> None:
        flat = index.data(INDEX_ROLE) if index.isValid() else None
        if flat is None:
            return
        self.close()
        self.chosen.emit(int(flat))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.KeyPress:
            key = event.key()
            if key == Qt.Key.Key_Escape:
                self.close()
                return True
            if watched is self.search and key in (Qt.Key.Key_Down, Qt.Key.Key_PageDown):
                self.tree.setFocus()
                return True
            if watched is self.search and key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                current = self.tree.currentIndex()
                leaves = self._leaves()
                if current.isValid() and current.data(INDEX_ROLE) is not None:
                    self._pick(current)
                elif leaves:
                    self._pick(leaves[0])
                return True
            if watched is self.tree and key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self._pick(self.tree.currentIndex())
                return True
            if watched is self.tree and event.text() and event.text().isprintable() and not event.modifiers() & (
                    Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier):
                self.search.setFocus()  # typing in the tree goes on in the search field
                self.search.insert(event.text())
                return True
        return super().eventFilter(watched, event)

    def open_below(self, widget: QWidget) -> None:
        """Show under ``widget`` (inside the screen), the search field focused."""
        self.resize(max(widget.width(), 420), 380)
        at = widget.mapToGlobal(QPoint(0, widget.height()))
        screen = widget.screen().availableGeometry()
        x = min(max(at.x(), screen.left()), screen.right() - self.width())
        above = widget.mapToGlobal(QPoint(0, 0)).y() - self.height()
        y = at.y() if at.y() + self.height() <= screen.bottom() else above
        self.move(x, max(y, screen.top()))
        self.show()
        self.search.setFocus()


class ParamCombo(QComboBox):
    """A parameter chooser: a plain combo box for a few parameters (a linear model's), and for a network's
    thousands a :class:`ParamPicker` as its popup: grouped by layer, searchable (:meth:`set_groups`)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tree_model: QStandardItemModel | None = None
        self.picker: ParamPicker | None = None

    def set_groups(self, groups: Sequence[tuple[str, tuple[int, ...]]] | None) -> None:
        """The arrays the parameters come from (name and shape, in order), or None: a flat list."""
        if not groups:
            self.tree_model = None
            return
        positions = array_positions(groups)
        if len(positions) != self.count():
            raise ValueError("the arrays do not hold the parameters listed")
        model = QStandardItemModel(self)
        parents: dict[str, QStandardItem] = {}
        for name, shape in groups:
            group = QStandardItem(f"{name}  ({' × '.join(str(n) for n in shape)})")
            group.setSelectable(False)
            group.setData(name, SEARCH_ROLE)
            model.appendRow(group)
            parents[name] = group
        for k, (name, position) in enumerate(positions):
            label = self.itemText(k)
            what = label.split(": ", 1)[-1]
            item = QStandardItem(f"{position}  {what}")
            item.setData(k, INDEX_ROLE)
            item.setData(f"{name} {position} {label}", SEARCH_ROLE)
            parents[name].appendRow(item)
            self.setItemData(k, f"{name} {position}", Qt.ItemDataRole.ToolTipRole)
        self.tree_model = model

    def showPopup(self) -> None:  # noqa: N802 (Qt's name)
        if self.tree_model is None:
            super().showPopup()
            return
        self.picker = ParamPicker(self.tree_model, self.currentIndex(), self)
        self.picker.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.picker.chosen.connect(self.setCurrentIndex)
        self.picker.destroyed.connect(self._picker_gone)
        self.picker.open_below(self)

    def _picker_gone(self) -> None:
        self.picker = None

    def hidePopup(self) -> None:  # noqa: N802 (Qt's name)
        if self.picker is not None:
            self.picker.close()
        super().hidePopup()
