"""Predicted against actual target on the test set, with the line y = x where every point would lie if the
model were perfect. Both axes share one fixed range (the targets' own), so the picture does not jump as
training goes; a point above the line is a price predicted too high.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QVBoxLayout, QWidget

from fitscope.engine.numbers import prose
from fitscope.gui.panels.axes import compact_axes
from fitscope.gui.panels.plotting import quiet_plot

POINTS = "#1e88e5"
IDENTITY = "#616161"
TITLE_CHARS = 54  # a longer title is set on two lines


class PredActualPanel(QWidget):
    def __init__(self, unit: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("predActualPanel")
        self.widget = pg.PlotWidget(background="w", enableMenu=False, axisItems=compact_axes())
        self.widget.setObjectName("predActualPlot")
        self.widget.setAccessibleName("Predicted against actual price on the test set")
        self.plot = self.widget.getPlotItem()
        suffix = f" ({unit})" if unit else ""
        self.plot.setLabel("bottom", f"actual{suffix}")
        self.plot.setLabel("left", f"predicted{suffix}")
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        quiet_plot(self.plot)
        self.identity = self.plot.plot(pen=pg.mkPen(IDENTITY, width=1.5, style=pg.QtCore.Qt.PenStyle.DashLine))
        self.points = pg.ScatterPlotItem(size=6, brush=pg.mkBrush(30, 136, 229, 150), pen=pg.mkPen(None))
        self.plot.addItem(self.points)
        self.note = pg.TextItem(color="#8a1c12", anchor=(0, 0), fill=pg.mkBrush(255, 255, 255, 190))
        self.note.setZValue(10)
        self.plot.addItem(self.note)
        self.plot.getViewBox().sigResized.connect(self._wrap_note)  # never wider than the chart
        self._limits = (0.0, 1.0)
        self.set_title(None)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.widget)

    def set_limits(self, lo: float, hi: float) -> None:
        """Show ``[lo, hi]`` on both axes, and the y = x line across it."""
        self._limits = (lo, hi)
        self.identity.setData([lo, hi], [lo, hi])
        self.note.setPos(lo + 0.02 * (hi - lo), hi - 0.02 * (hi - lo))
        self.plot.setXRange(lo, hi, padding=0)
        self.plot.setYRange(lo, hi, padding=0)

    def set_points(self, actual: np.ndarray, predicted: np.ndarray) -> None:
        """One point per test row; rows whose prediction overflowed are left out, and those off the chart
        are counted in a note."""
        keep = np.isfinite(predicted)
        self.points.setData(actual[keep], predicted[keep])
        lo, hi = self._limits
        with np.errstate(invalid="ignore"):
            below, above = predicted < lo, predicted > hi
        parts = []
        if below.any():
            parts.append(f"{int(below.sum())} below it (down to {prose(predicted[below].min())})")
        if above.any():
            parts.append(f"{int(above.sum())} above it (up to {prose(predicted[above].max())})")
        lost = int((~keep).sum())
        if lost:
            parts.append(f"{lost} not finite")
        self.note.setText(f"Off this chart: {', '.join(parts)}" if parts else "")
        self.note.setVisible(bool(parts))
        self._wrap_note()

    def _wrap_note(self, *_) -> None:
        """The note wraps to the chart's width (less a margin each side), so that none of it is cut off."""
        room = self.plot.getViewBox().width() * 0.96 - 4
        text = self.note.textItem
        text.setTextWidth(-1)
        if room > 40 and text.boundingRect().width() > room:
            text.setTextWidth(room)
        self.note.updateTextPos()

    def set_title(self, when: str, loss: float | None = None, loss_name: str = "MSE",
                  rows: str = "Test set", note: str = "") -> None:
        """``when``: which step the predictions are of ("after epoch 3"); ``rows``: which rows the points are
        (the user's data has no test set); ``note``: a second, smaller line (e.g. that only a sample of the
        rows is drawn)."""
        value = "" if loss is None or not np.isfinite(loss) else f" — {loss_name} {prose(loss, 4)}"
        title = f"{rows}: predicted vs actual, {when}{value}"
        if len(title) > TITLE_CHARS:  # one line would be wider than the chart (at the usual window size)
            title = f"{rows}: predicted vs actual<br>{when}{value}"
        note = f"<br><span style='font-size: 8pt'>{note}</span>" if note else ""
        self.plot.setTitle(title + note, size="10pt")

    def data(self) -> tuple[np.ndarray, np.ndarray]:
        """The points drawn: (actual, predicted)."""
        x, y = self.points.getData()
        return np.asarray(x), np.asarray(y)
