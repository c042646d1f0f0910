"""The racers' loss curves: the training loss on all rows after each step, one colour per racer.

A dashed line marks the optimum's loss, the floor every curve tends to. The y axis is logarithmic by
default (the curves fall over orders of magnitude); losses of 0 cannot be drawn on it and show as gaps.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QVBoxLayout, QWidget

from fitscope.engine.numbers import prose
from fitscope.gui import access
from fitscope.gui.panels.axes import compact_axes
from fitscope.gui.panels.decimate import GrowingEnvelope
from fitscope.gui.panels.plotting import OutsideLegend, frame_y, quiet_plot, show_lone_points

OPTIMUM = "#616161"


class RaceLossPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("raceLossCurve")
        self.setAccessibleName("Loss curve of each racer")
        access.describe(self, self.description)
        self.widget = pg.PlotWidget(background="w", enableMenu=False, axisItems=compact_axes())
        self.plot = self.widget.getPlotItem()
        self.plot.setTitle("Training loss after each step", size="10pt")
        self.plot.setLabel("bottom", "step")
        self.plot.setLabel("left", "loss")
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        self.plot.getViewBox().setLimits(xMin=0)  # no negative steps, even before the first
        quiet_plot(self.plot)
        self.legend = OutsideLegend(self.plot)  # under the chart: no corner is free of every racer's curve
        # The label goes under the line: no curve ever comes below the optimum.
        self.optimum = pg.InfiniteLine(
            angle=0, movable=False, pen=pg.mkPen(OPTIMUM, width=1.3, style=Qt.PenStyle.DashLine),
            label="optimum", labelOpts={"position": 0.97, "color": OPTIMUM, "anchors": [(1, 0), (1, 0)]},
        )
        self.optimum.hide()
        self.plot.addItem(self.optimum)
        self.curves: dict[str, pg.PlotDataItem] = {}
        self._data: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # steps and losses of each racer
        self._shown: dict[str, np.ndarray] = {}  # the losses drawn of each (cut down to the pixel columns)
        self._envelopes: dict[str, GrowingEnvelope] = {}  # kept from frame to frame, per racer
        self._growth: dict[str, tuple] = {}  # the growth and settled rows of each racer's history (see set_losses)
        self._optimum: float | None = None
        self._labels: dict[str, str] = {}

        self.log_scale = QCheckBox("Log scale")
        self.log_scale.setObjectName("raceLogScale")
        self.log_scale.setAccessibleName("Log scale")
        self.log_scale.setChecked(True)
        self.plot.setLogMode(y=True)
        self.log_scale.toggled.connect(self._set_log)
        self.bar = bar = QHBoxLayout()  # under the chart: its check boxes
        bar.addStretch(1)
        bar.addWidget(self.log_scale)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.widget)
        layout.addLayout(bar)

    def set_racers(self, racers: list[tuple[str, str, str]]) -> None:
        """One curve per ``(key, label, colour)``, in that order; the old curves go."""
        for curve in self.curves.values():
            self.legend.removeItem(curve)
            self.plot.removeItem(curve)
        self.curves, self._data, self._shown, self._envelopes, self._growth = {}, {}, {}, {}, {}
        self.plot.enableAutoRange(axis="y")  # a new race: the loss axis follows it afresh
        for key, label, colour in racers:
            curve = self.plot.plot(pen=pg.mkPen(colour, width=1.8), name=label)
            curve.setClipToView(True)
            self.curves[key] = curve
            self._data[key] = (np.empty(0), np.empty(0))
            self._labels[key] = label

    def set_losses(self, key: str, losses: np.ndarray, steps: np.ndarray | None = None, growth: object = None,
                   settled: int | None = None) -> None:
        """The training loss of racer ``key`` at ``steps`` (default: 0 — the start —, 1, 2, …; a long run's
        history keeps some steps only). ``growth``, ``settled``: the racer's history's
        :attr:`~fitscope.engine.history.History.growth` and :attr:`~fitscope.engine.history.History.settled`
        (what was drawn of its settled rows is then kept while it only grows)."""
        steps = np.arange(len(losses)) if steps is None else np.asarray(steps)
        before = self._data.get(key, (np.empty(0), np.empty(0)))[0]
        if len(steps) and len(before) and steps[-1] < before[-1]:
            self.plot.enableAutoRange(axis="y")  # the race restarted (or went back): framed afresh
        self._data[key] = (steps, losses)
        self._growth[key] = (growth, settled)
        self._draw(key)
        self._frame()

    def description(self) -> str:
        """What the chart shows now, in words: each racer's latest loss, and the optimum's."""
        scale = "log scale" if self.log_scale.isChecked() else "linear scale"
        latest = [f"{self._labels.get(key, key)} {prose(losses[-1])} at step {int(steps[-1]):,}"
                  for key, (steps, losses) in self._data.items() if len(losses)]
        parts = [f"Training loss of each racer after each step, {scale}", *latest]
        if self._optimum is not None:
            parts.append(f"optimum {prose(self._optimum, 4)}")
        return "; ".join(parts)

    def set_optimum(self, value: float | None) -> None:
        self._optimum = value
        if value is None:
            self.optimum.hide()
        else:
            self.optimum.label.setFormat(f"optimum {prose(value, 4)}")
            self._place_optimum()
            self.optimum.show()
        self._frame()

    def _frame(self) -> None:
        """The loss axis framed on what is drawn (:func:`gui.panels.plotting.frame_y`)."""
        drawn = list(self._shown.values())
        if self._optimum is not None:
            drawn.append(np.array([self._optimum]))
        frame_y(self.plot, drawn, self.log_scale.isChecked())

    def _draw(self, key: str) -> None:
        """Racer ``key``'s curve, cut to its lowest and highest loss in each column of steps: one pixel wide
        while the run's steps fill the axis (the columns end at the next 10·2ᵏ steps, so that they stay put as
        the run grows, and what was cut before is kept)."""
        steps, losses = self._data[key]
        last = float(steps[-1]) if len(steps) else 0.0
        x_max = 10.0 * 2.0 ** max(0.0, np.ceil(np.log2(max(last, 1.0) / 10.0)))
        positive = _positive if self.log_scale.isChecked() else None
        growth, settled = self._growth.get(key, (None, None))
        steps, shown = self._envelopes.setdefault(key, GrowingEnvelope()).update(
            steps, losses, max(200, int(self.plot.getViewBox().width())), x_max, growth, positive, settled)
        show_lone_points(self.curves[key], shown)  # at the start: a dot each
        self._shown[key] = shown
        self.curves[key].setData(steps, shown, connect="finite")

    def _place_optimum(self) -> None:
        v = self._optimum
        if v is not None:
            log = self.log_scale.isChecked() and v > 0
            self.optimum.setPos(float(np.log10(v)) if log else v)

    def _set_log(self, on: bool) -> None:
        self.plot.setLogMode(y=on)
        for key in self.curves:
            self._draw(key)
        self._place_optimum()
        self._frame()


def _positive(v: np.ndarray) -> np.ndarray:
    """Zero losses cannot be drawn on a log axis: show them as NaN gaps."""
    return np.where(v > 0, v, np.nan)
