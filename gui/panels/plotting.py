"""What every plot of the app shares: a quiet plot, a legend outside the plot area, and curves that show a
lone point."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QPointF, QSizeF, Qt
from PySide6.QtGui import QFont, QFontMetricsF
from PySide6.QtWidgets import QGraphicsItem, QGraphicsWidget, QSizePolicy
from shiboken6 import isValid

from fitscope.gui import text_size
from fitscope.gui.export import install_plot_menu

LEGEND_TEXT = "#424242"


def quiet_plot(plot: pg.PlotItem) -> pg.PlotItem:
    """A plot without pyqtgraph's context menu, "A" button and SI prefixes, whose axes paint from a cache.
    (Make the plot with ``enableMenu=False``: its view box then makes no menu either, a tenth of a launch.)

    Its right-click menu is the app's own instead: Export as PNG… / SVG… (:mod:`gui.export`).

    An axis (with the grid it draws) spans the whole plot, so without the cache it would be repainted, text
    and all, whenever any curve in the plot changes: most of the cost of a frame while training runs.
    """
    plot.setMenuEnabled(False)
    plot.hideButtons()
    for name in ("left", "bottom", "right", "top"):
        axis = plot.getAxis(name)
        axis.enableAutoSIPrefix(False)
        axis.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
    install_plot_menu(plot)
    return plot


class Swatch(pg.ItemSample):
    """A legend's sample of a curve or of points, drawn the same whether the item is shown or hidden (never
    pyqtgraph's "hidden" eye), and not a switch: a click on it changes nothing. A curve's line only, without the
    dot it has while it holds a single point (:func:`show_lone_points`): the legend does not change as it grows."""

    def paint(self, p, *args) -> None:
        opts = self.item.opts
        p.setRenderHint(p.RenderHint.Antialiasing)
        if not isinstance(self.item, pg.ScatterPlotItem):
            p.setPen(pg.mkPen(opts["pen"]))
            p.drawLine(QPointF(0, 11), QPointF(20, 11))
        symbol = opts.get("symbol")
        if symbol is not None and not getattr(self.item, "lone_point", False):
            if isinstance(self.item, pg.PlotDataItem):
                opts = self.item.scatter.opts
            p.translate(10, 11)
            pg.graphicsItems.ScatterPlotItem.drawSymbol(p, symbol, min(opts["size"], 16), pg.mkPen(opts["pen"]),
                                                        pg.mkBrush(opts["brush"]))

    def mouseClickEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        event.ignore()


class OutsideLegend(pg.LegendItem):
    """A legend in a row of its own under the plot's x axis, so that it never hides a curve: its entries
    side by side, in as many columns as the plot's width holds (then on more rows), centred.

    The row is an empty widget in the plot's layout (:attr:`row`), as tall as the legend; the legend lies on
    it without being in any layout itself."""

    def __init__(self, plot: pg.PlotItem, text_size: str = "8pt", row: int = 4) -> None:
        super().__init__(offset=None, horSpacing=6, verSpacing=-4, frame=False, labelTextSize=text_size,
                         labelTextColor=LEGEND_TEXT, sampleType=Swatch)
        self.plot = plot
        self.layout.setContentsMargins(0, 0, 0, 0)
        self.row = QGraphicsWidget()
        self.row.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.row.setMaximumHeight(0)
        plot.layout.addItem(self.row, row, 1)
        self.setParentItem(self.row)
        plot.legend = self  # curves made with plot(name=…) are listed here
        plot.getViewBox().sigResized.connect(self.fit_columns)
        self.row.geometryChanged.connect(self._place)

    def addItem(self, item, name) -> None:  # noqa: N802 (pyqtgraph's name)
        super().addItem(item, name)
        self.fit_columns()

    def removeItem(self, item) -> None:  # noqa: N802 (pyqtgraph's name)
        super().removeItem(item)
        self.fit_columns()

    def clear(self) -> None:
        super().clear()
        self.fit_columns()

    def names(self) -> list[str]:
        """The entries' texts, in order."""
        return [label.text for _, label in self.items]

    def fit_columns(self, *_) -> None:
        """As many entries on a row as the plot's width holds."""
        room = self.plot.getViewBox().width() or self.plot.width()
        spacing = self.layout.horizontalSpacing() + 3
        widths = [sample.boundingRect().width() + label.item.boundingRect().width() + 2 * spacing
                  for sample, label in self.items]
        columns = next((c for c in range(len(widths), 0, -1)
                        if sum(max(widths[i::c]) for i in range(c)) <= room), 1)
        if columns != self.columnCount:
            self.setColumnCount(columns)
        self.updateSize()

    def updateSize(self) -> None:  # noqa: N802 (pyqtgraph's name)
        """The legend as large as its entries; its row as tall as the legend."""
        self.layout.activate()
        size = self.layout.effectiveSizeHint(Qt.SizeHint.PreferredSize) if self.items else QSizeF(0, 0)
        self.resize(size)
        height = size.height() + 2 if self.items else 0
        if self.row.maximumHeight() != height:
            self.row.setMinimumHeight(height)
            self.row.setMaximumHeight(height)
        self._place()

    def _place(self) -> None:
        if not (isValid(self) and isValid(self.row)):  # the window is being torn down
            return
        self.setPos(max(0.0, (self.row.size().width() - self.boundingRect().width()) / 2), 1)


def show_lone_points(curve: pg.PlotDataItem, y: np.ndarray, size: float = 7) -> None:
    """A line through a single finite point draws nothing: give ``curve`` a dot while ``y`` has only one."""
    lone = int(np.isfinite(np.asarray(y, dtype=float)).sum()) == 1
    curve.lone_point = lone  # (not drawn in the legend's sample: see Swatch)
    if lone != (curve.opts.get("symbol") is not None):
        pen = pg.mkPen(curve.opts["pen"])
        curve.setSymbol("o" if lone else None)
        if lone:
            curve.setSymbolSize(size)
            curve.setSymbolBrush(pg.mkBrush(pen.color()))
            curve.setSymbolPen(pg.mkPen(pen.color()))


def frame_y(plot: pg.PlotItem, values, log: bool) -> None:
    """Frame ``plot``'s y axis afresh on ``values`` (what it draws, in data units: arrays and numbers), where
    pyqtgraph's auto range does not while the axis follows its data (a range the user zoomed to stays).

    pyqtgraph keeps the range it had when nothing is drawn (an empty chart would show the last run's range and
    labels) and keeps its span around a single value (one point: the last run's four decades around it). Here
    an axis with nothing to show has no labels (:meth:`LogAxis.set_blank`), one value gets a decade around it
    on a log axis (0 to twice it on a linear one), and more are left to pyqtgraph, which frames them.
    """
    view_box = plot.getViewBox()
    axis = plot.getAxis("left")
    lo, hi = np.inf, -np.inf
    for v in values:
        v = np.asarray(v, dtype=float).ravel()
        v = v[np.isfinite(v) & (v > 0)] if log else v[np.isfinite(v)]
        if v.size:
            lo, hi = min(lo, float(v.min())), max(hi, float(v.max()))
    if hasattr(axis, "set_blank"):
        axis.set_blank(lo > hi)
    if lo > hi or not view_box.autoRangeEnabled()[1]:  # nothing drawn, or a range the user chose
        return
    if log:
        lo, hi = math.log10(lo), math.log10(hi)
    if hi - lo <= 1e-12 * max(1.0, abs(hi)):  # one value: a span of its own (the auto range keeps it, centred)
        half = 0.5 if log else (abs(hi) or 1.0)
        if view_box.viewRange()[1] != [hi - half, hi + half]:
            view_box.setYRange(hi - half, hi + half, padding=0)
            view_box.enableAutoRange(axis="y")


#: Pixels of room beyond its need a title on two lines waits for before it goes back to one.
TITLE_SLACK = 40


class _TitleFitter(QObject):
    """Refits a plot's title whenever the widget showing the plot is resized or its layout changes (see
    :func:`fit_title`)."""

    def __init__(self, plot: pg.PlotItem, title: str, size: float) -> None:
        self.view = plot.scene().views()[0]
        super().__init__(self.view)
        self.plot, self.title, self.size = plot, title, size
        font = QFont()
        font.setPointSizeF(size)
        self.need = QFontMetricsF(font).horizontalAdvance(title) + 16
        self.split = False  # on two lines
        self.view.installEventFilter(self)
        self.top = self._top()
        self.top.installEventFilter(self)  # the layout changed (an axis grew, say): the room for the title too
        self.fit()

    def _top(self) -> QGraphicsWidget:
        top = self.plot
        while isinstance(top.parentItem(), QGraphicsWidget):
            top = top.parentItem()
        return top

    def room(self) -> float:
        """The title's width in its view, whatever its text asks for: the view's width less what lies beside
        the title (the plot's left axis, a colour bar, margins)."""
        return self.view.viewport().width() - (self.top.size().width() - self.plot.titleLabel.size().width())

    def fit(self) -> None:
        room = self.room()
        first, _, rest = self.title.partition(" — ")
        need = self.need * text_size.factor()
        if self.split:  # back on one line only with room to spare: an axis or a colour bar whose labels grow and
            need += TITLE_SLACK  # shrink by a few pixels while training runs made the title flip at each frame
        self.split = bool(rest) and room < need
        text = f"{first}<br><span style='font-size: {self.size - 2:g}pt'>{rest}</span>" if self.split else self.title
        if self.plot.titleLabel.text != text:
            self.plot.setTitle(text, size=f"{self.size:g}pt")

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() in (QEvent.Type.Resize, QEvent.Type.LayoutRequest) and isValid(self.plot):
            self.fit()  # (a view being torn down may be resized after its plot is gone)
        return False

    def remove(self) -> None:
        self.view.removeEventFilter(self)
        if isValid(self.top):
            self.top.removeEventFilter(self)
        self.deleteLater()


def _no_minimum_width(label: pg.LabelItem) -> None:
    """A title that never widens its plot: pyqtgraph makes a label at least as wide as its text (on every new
    text and resize), which in a narrow view pushes what lies beside the plot (a colour bar) out of it. A title
    a little wider than its column overhangs it instead, centred over the plot."""
    if getattr(label, "_fitscope_no_minimum", False):
        return
    update_min = label.updateMin

    def updated() -> None:
        update_min()
        label.setMinimumWidth(0)

    label.updateMin = updated
    label._fitscope_no_minimum = True
    label.setMinimumWidth(0)


def fit_title(plot: pg.PlotItem, title: str, size: float = 10) -> None:
    """Title ``plot`` with ``title``, on one line while the plot is wide enough for it, else broken after its
    first part (before " — ") with the rest in a smaller second line: never cut at the plot's edge, and never
    making the plot wider than the room it has in its view, so that nothing beside it (a colour bar) is pushed
    out of the view. Refitted when the view is resized or the layout changes."""
    previous = getattr(plot, "_fitscope_title", None)
    if previous is not None:
        previous.remove()
    _no_minimum_width(plot.titleLabel)
    plot._fitscope_title = _TitleFitter(plot, title, size)
