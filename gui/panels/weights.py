"""The model's weights: for a linear model one row per feature, sorted by |weight|, with a signed bar;
for an MLP one row per parameter array with its statistics, and how strongly each feature feeds the
first hidden layer.

The panel draws what it is given (plain arrays from the view) and keeps no model of its own.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics, QPainter, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QStackedWidget,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from fitscope.engine.numbers import compact, prose
from fitscope.gui.panels.readouts import SteadyLabel

POSITIVE = QColor("#1e88e5")  # raises the prediction
NEGATIVE = QColor("#e53935")  # lowers it
MAGNITUDE = QColor("#7e57c2")  # unsigned sizes (MLP input weights)
BAR_ROLE = Qt.ItemDataRole.UserRole + 1  # the bar's value, as a fraction of the column's largest magnitude

Index = QModelIndex | QPersistentModelIndex


def fmt(v: float) -> str:
    """A weight for people: at most about six characters, an exponent only below 1e-3 or from 1e5 on, and as
    many digits from one frame to the next (``2.050``, not ``2.05`` then ``2.052``)."""
    if not math.isfinite(v):
        return "–"
    a = abs(v)
    if v != 0 and (a < 1e-3 or a >= 1e5):
        return compact(v)
    if a >= 100:
        return f"{v:.0f}"
    return f"{v:#.4g}" if a >= 1 else f"{v:.3f}"


class FeatureWeights(QAbstractTableModel):
    """One row per feature: name, description, value, bar; rows sorted by |value|, largest first.

    ``signed``: the bar grows right for a positive value and left for a negative one; otherwise it grows
    right from the cell's left edge.
    """

    HEADERS = ("feature", "description", "weight", "effect")

    def __init__(self, signed: bool = True, value_header: str = "weight", bar_header: str = "effect") -> None:
        super().__init__()
        self.signed = signed
        self.headers = ("feature", "description", value_header, bar_header)
        self.names: list[str] = []
        self.descriptions: list[str] = []
        self.values = np.zeros(0)
        self.order = np.zeros(0, dtype=int)
        self._scale = 1.0
        self.bold = QFont()
        self.bold.setBold(True)

    def set_features(self, names: Sequence[str], descriptions: Sequence[str]) -> None:
        self.beginResetModel()
        self.names, self.descriptions = list(names), list(descriptions)
        self.values = np.zeros(len(names))
        self.order = np.arange(len(names))
        self.endResetModel()

    def set_values(self, values: np.ndarray) -> None:
        """New values (one per feature, in feature order): re-sort by magnitude, refresh every cell."""
        values = np.asarray(values, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            magnitude = np.where(np.isfinite(values), np.abs(values), -1.0)
        order = np.argsort(-magnitude, kind="stable")
        finite = magnitude[magnitude > 0]
        self._scale = float(finite.max()) if finite.size else 1.0
        self.values = values
        if not np.array_equal(order, self.order):
            self.layoutAboutToBeChanged.emit()
            self.order = order
            self.layoutChanged.emit()
        if len(values):
            self.dataChanged.emit(self.index(0, 0), self.index(len(values) - 1, 3))

    def sorted_names(self) -> list[str]:
        """Feature names in the order the table shows them."""
        return [self.names[i] for i in self.order]

    # --- QAbstractTableModel ---
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008 (Qt's name and signature)
        return 0 if parent.isValid() else len(self.names)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else 4

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.headers[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        f = int(self.order[index.row()])
        col = index.column()
        value = float(self.values[f])
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return self.names[f]
            if col == 1:
                return self.descriptions[f]
            if col == 2:
                return fmt(value)
            return None
        if role == BAR_ROLE and col == 3:
            return value / self._scale if math.isfinite(value) else 0.0
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{self.names[f]}: {self.descriptions[f]}\n{self.headers[2]} {prose(value, 6)}"
        if role == Qt.ItemDataRole.TextAlignmentRole and col == 2:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.FontRole and col == 0:
            return self.bold
        return None


class BarDelegate(QStyledItemDelegate):
    """Paints the value under :data:`BAR_ROLE` (in [−1, 1]) as a horizontal bar."""

    def __init__(self, signed: bool, parent=None) -> None:
        super().__init__(parent)
        self.signed = signed

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        style = option.widget.style() if option.widget is not None else None
        if style is not None:  # the row's background and selection, as any cell
            style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter, option.widget)
        value = index.data(BAR_ROLE)
        if value is None:
            return
        r = QRectF(option.rect).adjusted(6, 5, -6, -5)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        if self.signed:
            mid = r.center().x()
            half = r.width() / 2
            width = abs(value) * half
            bar = QRectF(mid, r.top(), width, r.height()) if value >= 0 else QRectF(mid - width, r.top(), width,
                                                                                    r.height())
            painter.fillRect(bar, QBrush(POSITIVE if value >= 0 else NEGATIVE))
            painter.setPen(QPen(QColor("#9e9e9e"), 1))
            painter.drawLine(int(mid), int(r.top()) - 2, int(mid), int(r.bottom()) + 2)
        else:
            painter.fillRect(QRectF(r.left(), r.top(), max(0.0, value) * r.width(), r.height()), QBrush(MAGNITUDE))
        painter.restore()


def _table_view(model: FeatureWeights, name: str, accessible: str) -> QTableView:
    view = QTableView()
    view.setObjectName(name)
    view.setAccessibleName(accessible)
    view.setModel(model)
    view.setItemDelegateForColumn(3, BarDelegate(model.signed, view))
    view.verticalHeader().hide()
    view.verticalHeader().setDefaultSectionSize(22)
    view.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    view.setAlternatingRowColors(True)
    view.setWordWrap(False)
    view.setTextElideMode(Qt.TextElideMode.ElideRight)
    header = view.horizontalHeader()
    # Fixed widths: ResizeToContents would ask the model for every row's size hint at each update.
    header.setSectionResizeMode(0, QHeaderView.ResizeMode.Fixed)
    header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
    header.setSectionResizeMode(2, QHeaderView.ResizeMode.Fixed)
    header.setSectionResizeMode(3, QHeaderView.ResizeMode.Fixed)
    header.resizeSection(2, 70)
    header.resizeSection(3, 150)
    header.setHighlightSections(False)
    return view


STATS_HEADERS = ("parameters", "shape", "mean", "std", "min", "max", "mean |w|")


class WeightsPanel(QWidget):
    """Weights of the current model: :meth:`set_linear` or :meth:`set_mlp` chooses the page."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("weightsPanel")
        self.setAccessibleName("Weights")
        self.title = QLabel()
        self.title.setObjectName("weightsTitle")
        self.title.setWordWrap(True)
        self.pages = QStackedWidget()

        # Linear: the features' weights.
        self._target, self._unit = "price", "$1000s"  # what the model predicts (set_target)
        self.linear = FeatureWeights(signed=True, value_header="weight", bar_header="lowers ◂ price ▸ raises")
        self.table = _table_view(self.linear, "weightsTable", "Weights of the features")
        self.bias_value = SteadyLabel()  # changes at every frame: of a size of its own (see SteadyLabel)
        self.bias_value.setObjectName("biasValue")
        self.bias_value.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.bias_label = QLabel()  # what the bias means
        self.bias_label.setObjectName("biasLabel")
        self.bias_label.setWordWrap(True)  # a long line would widen the window (larger text)
        bias_row = QHBoxLayout()
        bias_row.setSpacing(0)
        bias_row.addWidget(self.bias_value, 0, Qt.AlignmentFlag.AlignTop)
        bias_row.addWidget(self.bias_label, 1)
        linear_page = QWidget()
        column = QVBoxLayout(linear_page)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(3)
        column.addWidget(self.table, 1)
        column.addLayout(bias_row)
        self.pages.addWidget(linear_page)

        # MLP: per-array statistics, and the features' pull on the first hidden layer.
        self.stats = QTableWidget(0, len(STATS_HEADERS))
        self.stats.setObjectName("layerStats")
        self.stats.setAccessibleName("Weight statistics per layer")
        self.stats.setHorizontalHeaderLabels(STATS_HEADERS)
        self.stats.verticalHeader().hide()
        self.stats.verticalHeader().setDefaultSectionSize(22)
        self.stats.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.stats.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.stats.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.stats.setAlternatingRowColors(True)
        header = self.stats.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setHighlightSections(False)
        self.inputs = FeatureWeights(signed=False, value_header="mean |w|", bar_header="pull on hidden layer 1")
        self.input_table = _table_view(self.inputs, "inputWeightsTable", "Mean absolute weight from each feature")
        self.input_caption = QLabel("How strongly each feature feeds the first hidden layer (mean |w| over its units):")
        self.input_caption.setWordWrap(True)
        mlp_page = QWidget()
        column = QVBoxLayout(mlp_page)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(3)
        column.addWidget(self.stats)
        column.addWidget(self.input_caption)
        column.addWidget(self.input_table, 1)
        self.pages.addWidget(mlp_page)

        self._normalized = True
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(4)
        layout.addWidget(self.title)
        layout.addWidget(self.pages, 1)

    def set_features(self, names: Sequence[str], descriptions: Sequence[str]) -> None:
        self.linear.set_features(names, descriptions)
        self.inputs.set_features(names, descriptions)
        for view in (self.table, self.input_table):
            bold = QFont(view.font())
            bold.setBold(True)
            metrics = QFontMetrics(bold)
            view.model().bold = bold
            width = max(metrics.horizontalAdvance(n) for n in (*names, "feature"))
            view.horizontalHeader().resizeSection(0, width + 16)
            described = any(descriptions)  # the user's own columns come without descriptions
            view.setColumnHidden(1, not described)
            # The bars take the room the descriptions leave (a fixed width would leave half the table empty).
            view.horizontalHeader().setSectionResizeMode(
                3, QHeaderView.ResizeMode.Fixed if described else QHeaderView.ResizeMode.Stretch)
            if described:
                view.horizontalHeader().resizeSection(3, 150)

    def set_target(self, name: str, unit: str = "") -> None:
        """What the model predicts, for the titles and the effect column ("price", "$1000s" by default)."""
        self._target, self._unit = name, unit
        self.linear.headers = (*self.linear.headers[:3], f"lowers ◂ {name} ▸ raises")
        self.linear.headerDataChanged.emit(Qt.Orientation.Horizontal, 3, 3)

    def show_linear(self, normalized: bool) -> None:
        """Switch to the table of the features' weights (of z-scored features if ``normalized``)."""
        self.pages.setCurrentIndex(0)
        self.bias_value.settle()  # another model: the room its bias took may be too much
        self._normalized = normalized
        per = "one standard deviation" if normalized else "one unit"
        unit = f" ({self._unit})" if self._unit else ""
        order = "largest first" if normalized else "by size (in each feature's own units: not comparable)"
        what = html.escape(self._target + unit)  # a column's name, shown as written
        self.title.setText(f"<b>Weights</b>, {order}: the change in predicted {what} for {per} more of the feature, "
                           "the others held fixed")

    def show_mlp(self, arrays: Sequence[tuple[str, tuple[int, ...]]]) -> None:
        """Switch to the MLP page with one row per parameter array: ``(name, shape)`` pairs."""
        self.pages.setCurrentIndex(1)
        self.title.setText("<b>Weights</b> — statistics of each layer's parameters, live")
        self.stats.setRowCount(len(arrays))
        for row, (name, shape) in enumerate(arrays):
            self.stats.setItem(row, 0, QTableWidgetItem(name))
            self.stats.setItem(row, 1, QTableWidgetItem(" × ".join(map(str, shape))))
            for col in range(2, len(STATS_HEADERS)):
                item = QTableWidgetItem("–")
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.stats.setItem(row, col, item)
        height = self.stats.horizontalHeader().height() + 22 * len(arrays) + 4
        self.stats.setFixedHeight(height)

    def set_linear(self, kernel: np.ndarray, bias: float) -> None:
        """Weights of the features (shape (n_features,)) and the bias."""
        self.linear.set_values(kernel)
        where = "at its training mean" if self._normalized else "0"
        self.bias_value.setText(f"bias {fmt(bias)}:\u00a0")
        self.bias_label.setText(f"the predicted {html.escape(self._target)} when every feature is {where}")

    def set_mlp(self, arrays: Sequence[np.ndarray]) -> None:
        """The live parameter arrays, in the order given to :meth:`show_mlp` (the first a kernel)."""
        for row, a in enumerate(arrays):
            with np.errstate(all="ignore"):
                values = (a.mean(), a.std(), a.min(), a.max(), np.abs(a).mean())
            for col, v in enumerate(values, start=2):
                self.stats.item(row, col).setText(fmt(float(v)))
        if arrays:
            with np.errstate(all="ignore"):
                self.inputs.set_values(np.abs(arrays[0]).mean(axis=1))
