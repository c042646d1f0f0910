"""Loss against training step: every batch (thin), and per epoch the training, validation and test loss.

Epoch losses are drawn at the step where their epoch ended, so both share one x axis. An optional
horizontal line marks a baseline (e.g. always predicting the training mean).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QVBoxLayout, QWidget

from fitscope.engine.numbers import prose
from fitscope.gui.panels.axes import compact_axes
from fitscope.gui.panels.decimate import GrowingEnvelope
from fitscope.gui.panels.plotting import OutsideLegend, frame_y, quiet_plot, show_lone_points

BATCH = (120, 144, 156, 150)
TRAIN = "#1e88e5"
VAL = "#fb8c00"
TEST = "#43a047"
BASELINE = "#9e9e9e"


class LossCurvePanel(QWidget):
    def __init__(self, title: str = "Loss", parent: QWidget | None = None, object_name: str = "lossCurve") -> None:
        super().__init__(parent)
        self.setObjectName(object_name)
        self.setAccessibleName("Loss curve")
        self.widget = pg.PlotWidget(background="w", enableMenu=False, axisItems=compact_axes())
        self.plot = self.widget.getPlotItem()
        self.plot.setTitle(title, size="10pt")
        self.plot.setLabel("bottom", "step")
        self.plot.setLabel("left", "loss")
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        quiet_plot(self.plot)
        self.legend = OutsideLegend(self.plot)  # under the chart: it never hides a curve
        self.batch = self.plot.plot(pen=pg.mkPen(BATCH, width=1), name="batch loss")
        self.batch.setClipToView(True)
        self.train = self.plot.plot(pen=pg.mkPen(TRAIN, width=2.5), name="training loss (epoch)")
        self.val = self.plot.plot(pen=pg.mkPen(VAL, width=2.5), name="validation loss")
        # Solid: a dash pattern along thousands of short segments costs a frame tens of milliseconds to stroke,
        # and reads as a blur anyway.
        self.test = self.plot.plot(pen=pg.mkPen(TEST, width=1.6), name="test loss")
        for curve in (self.train, self.val, self.test):
            curve.setClipToView(True)
        self.baseline = pg.InfiniteLine(
            angle=0, movable=False, pen=pg.mkPen(BASELINE, width=1.5, style=pg.QtCore.Qt.PenStyle.DotLine),
            label="baseline", labelOpts={"position": 0.9, "color": "#666", "anchors": [(1, 1), (1, 1)]},
        )
        self.baseline.hide()
        self.plot.addItem(self.baseline)
        self._baseline_texts: tuple[str, ...] = ()  # the baseline's label, long to short (see _fit_baseline)
        self.plot.getViewBox().sigResized.connect(self._fit_baseline)
        self.change = pg.InfiniteLine(  # where the loss function was changed during the run
            angle=90, movable=False, pen=pg.mkPen("#8e24aa", width=1.5, style=pg.QtCore.Qt.PenStyle.DashLine),
            # The label to the right of the line: a change near the first steps leaves no room on its left.
            label="", labelOpts={"position": 0.95, "color": "#6a1b9a", "anchors": [(0, 0), (0, 0)]},
        )
        self.change.hide()
        self.plot.addItem(self.change)

        self.log_scale = QCheckBox("Log scale")
        self.log_scale.setObjectName("logScale")
        self.log_scale.toggled.connect(self._set_log)
        self.bar = bar = QHBoxLayout()  # under the chart: its check boxes
        bar.addStretch(1)
        bar.addWidget(self.log_scale)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.widget)
        layout.addLayout(bar)
        self._baseline: float | None = None
        self._x_max = 0.0
        self._x_shown = 0.0  # where the step axis ends (x_max while the run grows, else its last step)
        self._growing = False
        self._last_step = 0
        self._extent = 0  # the steps another curve drawn here needs (a previous run's)
        self._drawn: list[np.ndarray] = []  # the losses drawn (for framing the loss axis)
        self._envelopes = [GrowingEnvelope() for _ in range(4)]  # batch, training, validation, test
        frame_y(self.plot, [], False)  # no run yet: no labels

    def show_curves(self, validation: bool, test: bool) -> None:
        """Keep in the legend only the curves this data can have."""
        for curve, shown in ((self.val, validation), (self.test, test)):
            curve.setVisible(shown)
            if shown != (curve.name() in self.legend.names()):
                if shown:
                    self.legend.addItem(curve, curve.name())
                else:
                    self.legend.removeItem(curve)

    def _set_log(self, on: bool) -> None:
        self.plot.setLogMode(y=on)
        if self._baseline is not None:
            self.baseline.setPos(self._log(self._baseline))
        self._frame()

    def _frame(self) -> None:
        """The loss axis framed on what is drawn (:func:`gui.panels.plotting.frame_y`)."""
        shown = [] if self._baseline is None else [self._baseline]
        frame_y(self.plot, [*self._drawn, shown], self.log_scale.isChecked())

    def _log(self, v: float) -> float:
        return float(np.log10(v)) if self.log_scale.isChecked() and v > 0 else v

    def set_baseline(self, value: float | None, label: str = "baseline") -> None:
        self._baseline = value
        if value is None:
            self.baseline.hide()
            return
        self.baseline.setPos(self._log(value))
        self.baseline.show()  # before the text: a hidden label ignores a new format
        self._baseline_texts = (f"{label} {prose(value, 4)}", f"baseline {prose(value, 4)}")
        self._fit_baseline()
        self._frame()

    def _fit_baseline(self) -> None:
        """The baseline's label in full where the chart has room for it, else short (it ends at nine tenths of the
        chart's width: a longer one would be cut at the left, at a larger text size or in a narrow chart)."""
        label = self.baseline.label
        room = 0.9 * self.plot.getViewBox().width() - 4
        for text in self._baseline_texts:
            label.setFormat(text)
            if label.boundingRect().width() <= room:
                break

    def set_history(self, batch_loss: np.ndarray, epochs: np.ndarray, since: int = 0, before: str = "",
                    steps: np.ndarray | None = None, growth: object = None, growing: bool = False) -> None:
        """``batch_loss`` at ``steps`` (default: 1, 2, …; a long run's history keeps some steps only) and
        ``epochs`` (n, 5): epoch, step, loss, val_loss, test_loss.

        ``since``: the losses of the steps up to this one were of another loss function (``before`` names it):
        they are left out, so that one axis shows one loss, and a marked line says where the new one starts.
        Long curves are drawn as their envelope over the chart's pixel columns (every spike still shows).
        ``growth``: the history's :attr:`~fitscope.engine.history.History.loss_growth`; while it stays the same,
        what was computed for the rows drawn before is kept, and a frame costs the same at any length of run.
        ``growing``: the run goes on; the step axis then ends at the next 10·2ᵏ steps, so that it does not shift
        at every frame (otherwise at the last step drawn).
        """
        steps = np.arange(1, len(batch_loss) + 1) if steps is None else np.asarray(steps)
        last = int(steps[-1]) if len(steps) else 0
        if last < self._last_step:  # the history restarted (or went back): the loss axis follows it afresh
            self.plot.enableAutoRange(axis="y")
        self._last_step, self._growing = last, growing
        self._frame_steps(max(last, self._extent))
        columns, x_max = self._columns(), self._x_max
        key = None if growth is None else (growth, since)
        keep = slice(int(np.searchsorted(steps, since, side="right")), None)  # the steps after `since`
        positive = _positive if self.log_scale.isChecked() else None
        x, shown = self._envelopes[0].update(steps[keep], batch_loss[keep], columns, x_max, key, positive)
        show_lone_points(self.batch, shown)  # after one step: a dot, not an empty chart
        self.batch.setData(x, shown)
        if since > 0:
            self.change.setPos(since + 0.5)
            self.change.label.setFormat(f"◂ {before} until here")
            self.change.show()
        else:
            self.change.hide()
        epochs = epochs[int(np.searchsorted(epochs[:, 1], since, side="right")):]  # (ends in order of step)
        at = epochs[:, 1]
        self._drawn = [shown]
        for curve, column, kept in zip((self.train, self.val, self.test), (2, 3, 4), self._envelopes[1:],
                                       strict=True):
            x, values = kept.update(at, epochs[:, column], columns, x_max, key)
            show_lone_points(curve, values)
            if np.isnan(values).all():
                curve.setData([], [])
            else:
                curve.setData(x, values, connect="finite")
                if curve.isVisible():
                    self._drawn.append(values)
        self._frame()

    def set_step_extent(self, steps: int) -> None:
        """Keep ``steps`` steps in view too (0: only the run's): a previous run drawn under this one."""
        self._extent = steps
        self._frame_steps(max(self._last_step, steps))

    def _columns(self) -> int:
        """How many columns a curve is cut down to: one per two pixels of the chart's width."""
        return max(100, int(self.plot.getViewBox().width()) // 2)  # two pixels each: the lowest and the highest

    def _frame_steps(self, n: int) -> None:
        """The curves are cut by columns of steps up to 10·2ᵏ steps, which doubles when the run reaches it: each
        pixel column is then two whole columns of before, and the curves' envelopes are merged, not cut afresh
        from every step (:class:`~fitscope.gui.panels.decimate.GrowingEnvelope`). While the run grows the step
        axis ends there too, so that it does not shift at every frame; otherwise at the last step."""
        if self._x_max < n or n < self._x_max / 10:
            x_max = 10.0
            while x_max < n:
                x_max *= 2
            self._x_max = x_max
        shown = self._x_max if self._growing else max(10.0, float(n))
        if shown != self._x_shown:
            self._x_shown = shown
            self.plot.setXRange(0, shown, padding=0.02)

    def clear(self) -> None:
        """No run yet: no curves, and the loss axis framed afresh for the next one: no labels until the first
        points are drawn (nor the last run's range), then framed on them."""
        self.plot.enableAutoRange(axis="y")
        self.set_history(np.empty(0), np.empty((0, 5)))


def _positive(v: np.ndarray) -> np.ndarray:
    """Zero losses cannot be drawn on a log axis: show them as NaN gaps."""
    return np.where(v > 0, v, np.nan)
