"""The data and the current fitted line, with this step's batch and its residuals.

For a one-feature linear model: a scatter of the training points (test points on a toggle), the line
``y = kernel · x + bias``, the batch points ringed, and a residual segment from each batch point to the line.

A large data set is drawn as a fixed random sample of at most :data:`MAX_POINTS` training points (the title
says so), so that a frame costs the same for a million rows as for twenty; the batch is ringed whether or not
its points are in the sample.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QVBoxLayout, QWidget

from fitscope.engine.numbers import prose
from fitscope.gui.panels.axes import compact_axes
from fitscope.gui.panels.edges import EdgeMarkers, Mark
from fitscope.gui.panels.plotting import OutsideLegend, quiet_plot
from fitscope.gui.panels.surface import TRAJECTORY

TRAIN = "#1e88e5"
TEST = "#8e8e8e"
RESIDUAL = "#e53935"
#: The most training points drawn; more are shown as a fixed random sample of this many.
MAX_POINTS = 3000
TITLE = "Data and the current line"


class DataPanel(QWidget):
    """Signals: ``pointClicked(int)`` — the index of the training point clicked (for the backprop view)."""

    pointClicked = Signal(int)

    def __init__(self, x_label: str, y_label: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dataPlot")
        self.setAccessibleName("Data and fitted line")
        self.widget = pg.PlotWidget(background="w", enableMenu=False, axisItems=compact_axes())
        self.plot = self.widget.getPlotItem()
        self.plot.setLabel("bottom", x_label)
        self.plot.setLabel("left", y_label)
        self.plot.setTitle(TITLE, size="10pt")
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        quiet_plot(self.plot)
        OutsideLegend(self.plot)  # under the chart: it never hides a point or a residual

        self.test_points = pg.ScatterPlotItem(
            size=7, symbol="s", brush=pg.mkBrush(None), pen=pg.mkPen(TEST, width=1.2), name="test data"
        )
        self.residuals = pg.PlotCurveItem(pen=pg.mkPen(RESIDUAL, width=1.5), connect="pairs")
        self.train_points = pg.ScatterPlotItem(
            size=8, brush=pg.mkBrush(TRAIN), pen=pg.mkPen("w", width=0.5), name="training data"
        )
        self.batch_points = pg.ScatterPlotItem(
            size=15, brush=pg.mkBrush(None), pen=pg.mkPen(TRAJECTORY, width=2.2), name="this batch"
        )
        self.line = pg.PlotCurveItem(pen=pg.mkPen("k", width=2), name="fitted line")
        for item in (self.test_points, self.residuals, self.line, self.train_points, self.batch_points):
            self.plot.addItem(item)
        self.train_points.sigClicked.connect(self._on_points_clicked)
        self.marks = EdgeMarkers(self.plot)  # predictions and a line that leave the chart
        self.marks.keep_clear_of([self.train_points, self.test_points])

        self.show_test = QCheckBox("Show test data")
        self.show_test.setObjectName("showTestData")
        self.show_test.toggled.connect(self._show_test)
        self.test_points.setVisible(False)
        bar = QHBoxLayout()
        bar.addStretch(1)
        bar.addWidget(self.show_test)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.widget)
        layout.addLayout(bar)
        self._x = np.empty(0)
        self._y = np.empty(0)
        self._middle = 0.0  # the median size: where the fitted line is marked (computed once per data set)
        self.shown = np.empty(0, dtype=np.intp)

    def set_data(self, x: np.ndarray, y: np.ndarray, x_test: np.ndarray | None, y_test: np.ndarray | None,
                 title: str = TITLE) -> None:
        """The training points (and test points, for the toggle); ``title`` gets a note when only a sample of
        the training points is drawn."""
        self._x, self._y = np.asarray(x, float), np.asarray(y, float)
        n = len(self._x)
        self._middle = float(np.median(self._x)) if n else 0.0
        if n > MAX_POINTS:  # a second, smaller line: a long title would widen the plot beyond its panel
            shown = np.sort(np.random.default_rng(0).choice(n, MAX_POINTS, replace=False))
            title = f"{title}<br><span style='font-size: 8pt'>showing {MAX_POINTS:,} of {n:,} points</span>"
            self.train_points.setSize(4)  # many small points: the cloud's density shows
            self.train_points.setBrush(pg.mkBrush(30, 136, 229, 110))
            self.train_points.setPen(pg.mkPen(None))
        else:
            shown = np.arange(n)
            self.train_points.setSize(8)
            self.train_points.setBrush(pg.mkBrush(TRAIN))
            self.train_points.setPen(pg.mkPen("w", width=0.5))
        self.shown = shown  # the rows drawn (clicks report these row numbers)
        self.plot.setTitle(title, size="10pt")
        self.train_points.setData(self._x[shown], self._y[shown], data=shown)
        has_test = x_test is not None
        self.show_test.setEnabled(has_test)
        self._list_test_points()
        self.test_points.setData([] if not has_test else x_test, [] if not has_test else y_test)
        xs = self._x if not has_test else np.concatenate([self._x, x_test])
        ys = self._y if not has_test else np.concatenate([self._y, y_test])
        lo, hi = float(xs.min()), float(xs.max())
        pad = 0.05 * (hi - lo or 1.0)
        self._line_x = np.array([lo - pad, hi + pad])
        # Frame the data, not the line: a line far off shows as leaving the frame.
        y_lo, y_hi = float(ys.min()), float(ys.max())
        y_pad = 0.15 * (y_hi - y_lo or 1.0)
        self.plot.setRange(xRange=(lo - pad, hi + pad), yRange=(y_lo - y_pad, y_hi + y_pad), padding=0)

    def _show_test(self, on: bool) -> None:
        self.test_points.setVisible(on)
        self._list_test_points()

    def _list_test_points(self) -> None:
        """The legend lists the test points while they are drawn (a hidden item would show as a closed eye)."""
        legend = self.plot.legend
        listed = any(sample.item is self.test_points for sample, _ in legend.items)
        wanted = self.show_test.isEnabled() and self.show_test.isChecked()
        if wanted and not listed:
            legend.addItem(self.test_points, "test data")
        elif listed and not wanted:
            legend.removeItem(self.test_points)

    def set_fit(self, kernel: float, bias: float, batch: np.ndarray | None, residuals: bool) -> None:
        """The line for (kernel, bias); ring the ``batch`` rows; draw their residuals if asked."""
        with np.errstate(all="ignore"):
            self.line.setData(self._line_x, kernel * self._line_x + bias)
        if batch is None or len(batch) == 0:
            self.batch_points.setData([], [])
            self.residuals.setData([], [])
            self.marks.set(self._line_marks(kernel, bias))
            return
        bx, by = self._x[batch], self._y[batch]
        self.batch_points.setData(bx, by)
        if residuals:
            with np.errstate(all="ignore"):
                predictions = kernel * bx + bias
            pairs_x = np.repeat(bx, 2)
            pairs_y = np.column_stack([by, predictions]).ravel()
            self.residuals.setData(pairs_x, pairs_y)
            self.marks.set(self._prediction_marks(bx, predictions))
        else:
            self.residuals.setData([], [])
            self.marks.set(self._line_marks(kernel, bias))

    def _prediction_marks(self, bx: np.ndarray, predictions: np.ndarray) -> list[Mark]:
        """The highest and the lowest prediction of the batch: marked at the edge when off the chart."""
        if len(predictions) == 1:
            return [Mark(float(bx[0]), float(predictions[0]), f"prediction {prose(predictions[0])}", RESIDUAL)]
        hi, lo = int(np.argmax(predictions)), int(np.argmin(predictions))
        if prose(predictions[hi]) == prose(predictions[lo]):  # they read alike: one mark says it
            return [Mark(float(bx[hi]), float(predictions[hi]), f"predictions {prose(predictions[hi])}", RESIDUAL)]
        return [Mark(float(bx[hi]), float(predictions[hi]), f"highest prediction {prose(predictions[hi])}", RESIDUAL),
                Mark(float(bx[lo]), float(predictions[lo]), f"lowest prediction {prose(predictions[lo])}", RESIDUAL)]

    def _line_marks(self, kernel: float, bias: float) -> list[Mark]:
        """The line where the data is, marked at the edge when it runs past the chart there."""
        if not len(self._x):
            return []
        mid = self._middle
        with np.errstate(all="ignore"):
            y = kernel * mid + bias
        return [Mark(mid, float(y), f"fitted line {prose(y)}", "#212121")]

    def _on_points_clicked(self, _item, points, *_) -> None:
        if len(points):
            self.pointClicked.emit(int(points[0].data()))
