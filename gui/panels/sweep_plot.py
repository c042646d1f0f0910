"""The plot of a learning-rate sweep: final loss against learning rate, both on log axes
(:class:`SweepPlot`, in :class:`~fitscope.gui.dialogs.sweep.SweepDialog`)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget

from fitscope.engine.numbers import compact
from fitscope.engine.sweep import RateResult
from fitscope.gui.models.sweep import SweepPlan
from fitscope.gui.panels.axes import LogAxis
from fitscope.gui.panels.plotting import OutsideLegend, quiet_plot

#: A click chooses the nearest point within this many pixels.
CLICK_PIXELS = 14

TRAIN = "#1e88e5"
VAL = "#fb8c00"
DIVERGED = "#d32f2f"
LIMIT = "#6a1b9a"
START = "#757575"
TAB_RATE = "#2e7d32"
CHOSEN = "#212121"


class SweepPlot(QWidget):
    """Final loss against learning rate, both on log axes: the training loss (and validation loss) of each run
    that did not diverge, a cross at the top edge for each that did, the stability limit and the loss at the start
    as labelled lines, the tab's own rate as a dashed line, and the point chosen last ringed.

    ``clicked(float)``: the rate of the point nearest a click (within :data:`CLICK_PIXELS`).
    """

    clicked = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sweepPlot")
        self.setAccessibleName("Final loss against learning rate")
        self.widget = pg.PlotWidget(background="w", enableMenu=False,
                                    axisItems={"left": LogAxis("left"), "bottom": LogAxis("bottom")})
        self.plot = self.widget.getPlotItem()
        quiet_plot(self.plot)
        self.plot.setLogMode(x=True, y=True)
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        self.plot.setLabel("bottom", "learning rate")
        self.plot.setLabel("left", "final loss")
        self.plot.setMouseEnabled(x=False, y=False)  # the frame is the sweep's: crosses stay at the top edge
        self.view_box = self.plot.getViewBox()
        self.legend = OutsideLegend(self.plot)
        self.train = self.plot.plot(pen=pg.mkPen(TRAIN, width=1.5), symbol="o", symbolSize=7,
                                    symbolBrush=TRAIN, symbolPen=pg.mkPen("w", width=0.8), name="final training loss")
        self.val = self.plot.plot(pen=pg.mkPen(VAL, width=1.5), symbol="s", symbolSize=6, symbolBrush=VAL,
                                  symbolPen=pg.mkPen("w", width=0.8), name="validation loss")
        self.diverged = self.plot.plot(pen=None, symbol="x", symbolSize=11, symbolBrush=DIVERGED,
                                       symbolPen=pg.mkPen(DIVERGED, width=1.2), name="diverged")
        self.chosen = self.plot.plot(pen=None, symbol="o", symbolSize=15, symbolBrush=None,
                                     symbolPen=pg.mkPen(CHOSEN, width=2))
        for item in (self.train, self.val, self.diverged):  # the legend draws the symbols before any data
            scatter, opts = item.scatter, item.opts
            scatter.setSymbol(opts["symbol"])
            scatter.setSize(opts["symbolSize"])
            scatter.setPen(pg.mkPen(opts["symbolPen"]))
            scatter.setBrush(pg.mkBrush(opts["symbolBrush"]))
        self.limit = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(LIMIT, width=1.5),
                                     label="", labelOpts={"position": 0.45, "color": LIMIT,
                                                          "anchors": [(-0.05, 0.5), (-0.05, 0.5)]})
        self.start_line = pg.InfiniteLine(angle=0, movable=False,
                                          pen=pg.mkPen(START, width=1.2, style=Qt.PenStyle.DotLine),
                                          label="", labelOpts={"position": 0.03, "color": "#555",
                                                               "anchors": [(0, 1), (0, 1)]})
        tab_pen = pg.mkPen(TAB_RATE, width=1.2, style=Qt.PenStyle.DashLine)
        self.tab_rate = pg.InfiniteLine(angle=90, movable=False, pen=tab_pen)
        for line in (self.limit, self.start_line, self.tab_rate):
            line.hide()
            self.plot.addItem(line)
        self.legend.removeItem(self.val)
        self.tab_rate_key = pg.PlotDataItem(pen=tab_pen)  # the line's entry in the legend (it draws nothing)
        self.legend.addItem(self.tab_rate_key, "the tab's learning rate")
        self.plot.scene().sigMouseClicked.connect(self._on_mouse_clicked)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.widget)
        self._points: list[tuple[float, float]] = []  # (rate, loss as drawn) of every point a click may choose
        self._plan_drawn: SweepPlan | None | bool = False  # the plan whose lines are drawn (False: none yet)
        self._y_range: tuple[float, float] | None = None
        self._span = (-4.0, 0.0)
        self.set_span(1e-4, 1.0)

    # --- what is drawn ---
    def set_span(self, lo: float, hi: float) -> None:
        """The rates' axis from ``lo`` to ``hi`` (a little margin on both sides)."""
        a, b = math.log10(lo), math.log10(hi)
        pad = 0.03 * max(b - a, 1e-6)
        self._span = (a - pad, b + pad)
        self.view_box.setXRange(*self._span, padding=0)

    def show_results(self, plan: SweepPlan | None, results: Sequence[RateResult]) -> None:
        """Draw ``results`` (ascending by rate) of ``plan``; nothing but the frame without a plan. Only what
        changed is drawn again (the lines of a plan, the loss axis's range): a frame costs little while the
        sweep goes on."""
        if plan is not self._plan_drawn:
            self._plan_drawn = plan
            self._show_plan(plan)
        ok = [r for r in results if not r.diverged and r.final_loss > 0 and math.isfinite(r.final_loss)]
        train = [(r.learning_rate, r.final_loss) for r in ok]
        val = [(r.learning_rate, r.val_loss) for r in ok
               if r.val_loss is not None and math.isfinite(r.val_loss) and r.val_loss > 0]
        shown = [y for _, y in train + val]
        if plan is not None and plan.start_loss > 0 and math.isfinite(plan.start_loss):
            shown.append(plan.start_loss)
        lo, hi = (math.log10(min(shown)), math.log10(max(shown))) if shown else (-1.0, 1.0)
        span = max(hi - lo, 1.0)
        top = hi + 0.12 * span  # the diverged runs' crosses, along the top edge
        y_range = (lo - 0.08 * span, hi + 0.18 * span)
        if y_range != self._y_range:
            self._y_range = y_range
            self.view_box.setYRange(*y_range, padding=0)
        self.plot.getAxis("left").set_blank(not shown)
        crosses = [(r.learning_rate, 10.0**top) for r in results if r.diverged]
        self._set(self.train, train)
        self._set(self.val, val)
        self._set(self.diverged, crosses)
        self._points = train + val + crosses

    def _show_plan(self, plan: SweepPlan | None) -> None:
        """What a plan decides: the loss's name, the validation curve, the limit and the loss at the start."""
        self.plot.setLabel("left", "final loss" if plan is None else f"final loss ({plan.loss.upper()})")
        validation = plan is not None and plan.validation
        if validation != ("validation loss" in self.legend.names()):
            if validation:
                for item in (self.diverged, self.tab_rate_key):
                    self.legend.removeItem(item)
                self.legend.addItem(self.val, "validation loss")
                self.legend.addItem(self.diverged, "diverged")
                self.legend.addItem(self.tab_rate_key, "the tab's learning rate")
            else:
                self.legend.removeItem(self.val)
        self.val.setVisible(validation)
        if plan is not None and plan.limit is not None:
            self.limit.setPos(math.log10(plan.limit))
            style = Qt.PenStyle.SolidLine if plan.limit_exact else Qt.PenStyle.DashDotLine  # a reference only
            self.limit.setPen(pg.mkPen(LIMIT, width=1.5, style=style))
            self.limit.show()  # before the text: a hidden label ignores a new format
            self.limit.label.setFormat(f"{plan.limit_name} = {compact(plan.limit)}")
        else:
            self.limit.hide()
        if plan is not None and plan.start_loss > 0 and math.isfinite(plan.start_loss):
            self.start_line.setPos(math.log10(plan.start_loss))
            self.start_line.show()
            self.start_line.label.setFormat(f"loss at the start {compact(plan.start_loss)}")
        else:
            self.start_line.hide()

    def show_tab_rate(self, rate: float | None) -> None:
        """The rate the tab trains with now, as a dashed line (None: no line)."""
        if rate is None or not rate > 0:
            self.tab_rate.hide()
            return
        self.tab_rate.setPos(math.log10(rate))
        self.tab_rate.show()

    def show_chosen(self, rate: float | None) -> None:
        """Ring the point drawn at ``rate`` (its training loss, or its cross); None: no ring."""
        at = [(x, y) for x, y in self._points if rate is not None and x == rate]
        self._set(self.chosen, at[:1])

    @staticmethod
    def _set(item: pg.PlotDataItem, points: Sequence[tuple[float, float]]) -> None:
        if points:
            x, y = zip(*points, strict=True)
            item.setData(np.array(x, dtype=float), np.array(y, dtype=float))
        else:
            item.setData([], [])

    # --- what is drawn, read back (tests, and the CSV's check) ---
    def training_points(self) -> tuple[np.ndarray, np.ndarray]:
        """The (rate, final training loss) points drawn, in data units."""
        return self._data(self.train)

    def validation_points(self) -> tuple[np.ndarray, np.ndarray]:
        return self._data(self.val)

    def diverged_points(self) -> tuple[np.ndarray, np.ndarray]:
        """The crosses: (rate, the loss at the top edge they are drawn at)."""
        return self._data(self.diverged)

    def limit_drawn(self) -> float | None:
        """The rate the stability limit's line is drawn at (None if it is not)."""
        return 10.0 ** float(self.limit.value()) if self.limit.isVisible() else None

    def y_range(self) -> tuple[float, float]:
        """The loss axis's range, in data units."""
        lo, hi = self.view_box.viewRange()[1]
        return 10.0**lo, 10.0**hi

    @staticmethod
    def _data(item: pg.PlotDataItem) -> tuple[np.ndarray, np.ndarray]:
        x, y = item.getOriginalDataset()
        return (np.array([]), np.array([])) if x is None else (np.asarray(x, float), np.asarray(y, float))

    def widget_pos_of(self, rate: float, loss: float):
        """Where the point (``rate``, ``loss``) is drawn, in pixels of the plot widget's viewport."""
        scene = self.view_box.mapViewToScene(QPointF(math.log10(rate), math.log10(loss)))
        return self.widget.mapFromScene(scene)

    # --- clicks ---
    def _on_mouse_clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or not self._points:
            return
        pos = event.scenePos()
        if not self.view_box.sceneBoundingRect().adjusted(-20, -20, 20, 20).contains(pos):
            return
        nearest, distance = None, float(CLICK_PIXELS)
        for rate, loss in self._points:
            p = self.view_box.mapViewToScene(QPointF(math.log10(rate), math.log10(loss)))
            d = math.hypot(p.x() - pos.x(), p.y() - pos.y())
            if d <= distance:
                nearest, distance = rate, d
        if nearest is not None:
            event.accept()
            self.clicked.emit(nearest)
