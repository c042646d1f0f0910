"""Compare with previous run: the previous run's loss curves, and its path on the map, drawn faded under the
current ones, with a legend entry "previous run".

The previous run is the one that was current before the last action that threw a run away (or before an undo),
as the tab's :class:`~fitscope.gui.views.undo.UndoKeeper` keeps it. Off to start with: a check box beside the loss
chart's Log scale turns it on. :class:`PreviousRunOverlay` draws a run of one model (the loss-surface and Boston
tabs), :class:`PreviousRaceOverlay` a race (each racer in its colour, faded).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QCheckBox, QWidget

from fitscope.gui.panels.decimate import envelope
from fitscope.gui.panels.surface import SurfacePanel

NAME = "previous run"
BATCH = (120, 144, 156, 60)  # the batch losses' grey, fainter
LOSS = (94, 53, 177, 130)  # the previous epochs' loss: a faded violet, dashed
PATH = (255, 255, 255, 150)  # on the map: a faded white, dashed
FADE = 110  # a racer's colour, faded: its alpha
TIP = ("Draw the run before the last new start, reset, data set or undo, faded under this one: its losses on the "
       "chart and its path on the map")

#: Where the previous run's path lies on the tab's map: (x, y) of each point, or None if it has none there.
PathOf = Callable[[object], tuple[np.ndarray, np.ndarray] | None]


def positive(v: np.ndarray) -> np.ndarray:
    """Losses a log axis can draw (zero: a gap); the same numbers otherwise."""
    return np.where(v > 0, v, np.nan)


class FadedOverlay(QObject):
    """What both overlays share: the check box (beside the chart's Log scale), the legend entry, and redrawing
    only when the previous run, the box or what the drawing depends on changed.

    Parameters
    ----------
    keeper : UndoKeeper
        The tab's keeper: its ``previous`` and ``previousChanged``.
    chart : QWidget
        The loss chart: a panel with ``plot``, ``legend`` (an :class:`~.plotting.OutsideLegend`) and ``bar``.
    surface : SurfacePanel, optional
        The map the path is drawn on.
    key : callable
        What the drawing depends on besides the previous run (the plane shown, the loss function now).
    """

    def __init__(self, keeper, chart: QWidget, surface: SurfacePanel | None,
                 key: Callable[[], Hashable] = lambda: None) -> None:
        super().__init__(chart)
        self.keeper, self.chart, self.surface, self.key = keeper, chart, surface, key
        self.check = QCheckBox("Compare with previous run")
        self.check.setObjectName("compareRun")
        self.check.setAccessibleName("Compare with previous run")
        self.check.setToolTip(TIP)
        chart.bar.insertWidget(0, self.check)
        self.sample = pg.PlotDataItem(pen=pg.mkPen(LOSS, width=2.5, style=Qt.PenStyle.DashLine))  # the legend's
        self.shown = False  # whether a previous run is drawn now
        self._drawn: tuple | None = None
        self.check.toggled.connect(lambda _on: self.update())
        keeper.previousChanged.connect(self.update)

    def update(self) -> None:
        """Draw (or hide) the previous run as the check box says; cheap when nothing changed (call it per frame)."""
        previous = self.keeper.previous
        key = (id(previous), self.check.isChecked(), self.key())
        if key == self._drawn:
            return
        self._drawn = key
        why_not = None if previous is None else self.refused(previous)
        on = self.check.isChecked() and previous is not None and why_not is None
        self.check.setToolTip(why_not if self.check.isChecked() and why_not else TIP)
        self.draw(previous if on else None)
        self.shown = on
        legend = self.chart.legend
        if on and NAME not in legend.names():
            legend.addItem(self.sample, NAME)
        elif not on and NAME in legend.names():
            legend.removeItem(self.sample)

    def refused(self, previous) -> str | None:
        """Why ``previous`` cannot be drawn on the chart as it is now (None: it can)."""
        loss = getattr(previous, "loss", None)
        now = self.loss_now()
        if loss is not None and now is not None and loss != now:
            return f"The previous run trained on {loss.upper()}: it is not drawn on this chart of {now.upper()}"
        return None

    def loss_now(self) -> str | None:
        """The loss function the chart shows now (None: any)."""
        return None

    def draw(self, previous) -> None:
        """Draw ``previous`` (None: hide everything)."""
        raise NotImplementedError

    def columns(self) -> int:
        return max(100, int(self.chart.plot.getViewBox().width()) // 2)


class PreviousRunOverlay(FadedOverlay):
    """A previous run of one model: its batch losses (faint grey) and epoch losses (faded violet, dashed) under
    the chart's, and its path (faded white, dashed, labelled at its start) under the map's.

    ``path_of`` gives the path's (x, y) on the map (None where it has none: another plane); ``path_key`` what it
    depends on; ``loss_of`` the loss function the chart shows now.
    """

    def __init__(self, keeper, chart, surface: SurfacePanel | None = None, path_of: PathOf | None = None,
                 path_key: Callable[[], Hashable] = lambda: None, loss_of: Callable[[], str] | None = None) -> None:
        super().__init__(keeper, chart, surface, lambda: (path_key(), self.loss_now()))
        self.path_of, self.loss_of = path_of, loss_of
        self.batch = pg.PlotDataItem(pen=pg.mkPen(BATCH, width=1))
        self.loss = pg.PlotDataItem(pen=self.sample.opts["pen"])
        for z, item in enumerate((self.batch, self.loss)):
            item.setZValue(-2 + z)  # under the current run's curves
            item.setClipToView(True)
            item.hide()
            chart.plot.addItem(item)
        self.path = pg.PlotCurveItem(pen=pg.mkPen(PATH, width=1.5, style=Qt.PenStyle.DashLine))
        self.start = pg.ScatterPlotItem(size=9, brush=pg.mkBrush(None), pen=pg.mkPen(PATH, width=1.5))
        self.label = pg.TextItem(NAME, color=PATH, anchor=(0, 1))
        for item in self.map_items():
            item.setZValue(5)  # under the current path (6)
            item.hide()
            surface.plot.addItem(item)

    def map_items(self) -> list:
        return [] if self.surface is None else [self.path, self.start, self.label]

    def loss_now(self) -> str | None:
        return self.loss_of() if self.loss_of is not None else None

    def draw(self, previous) -> None:
        for item in (self.batch, self.loss):
            item.setVisible(previous is not None)
        if previous is None:
            self.chart.set_step_extent(0)
        else:
            columns = self.columns()
            self.batch.setData(*envelope(previous.steps, positive(previous.batch_loss), columns))
            epochs = previous.epochs
            self.loss.setData(*envelope(epochs[:, 1], positive(epochs[:, 2]), columns), connect="finite")
            self.chart.set_step_extent(int(previous.steps[-1]) if len(previous.steps) else 0)
        xy = None if previous is None or self.path_of is None else self.path_of(previous)
        for item in self.map_items():
            item.setVisible(xy is not None)
        if xy is not None and self.surface is not None:
            a, b = self.surface.drawn_path(*xy, slot="previous")
            self.path.setData(a, b)
            self.start.setData(a[:1], b[:1])
            self.label.setPos(float(a[0]), float(b[0]))  # by its start: its end is often at the optimum's star


class PreviousRaceOverlay(FadedOverlay):
    """A previous race: each racer's loss curve and path in its colour, faded and dashed, under the current ones.

    ``colours``: each racer's colour by key; ``loss_of``: the loss function the chart shows now.
    """

    def __init__(self, keeper, chart, surface: SurfacePanel, colours: dict[str, str],
                 loss_of: Callable[[], str] | None = None) -> None:
        super().__init__(keeper, chart, surface, lambda: self.loss_now())
        self.colours, self.loss_of = colours, loss_of
        self.sample.setPen(pg.mkPen((97, 97, 97, 150), width=1.5, style=Qt.PenStyle.DashLine))  # any racer's
        self.curves: list[pg.PlotDataItem] = []
        self.paths: list[pg.PlotCurveItem] = []

    def loss_now(self) -> str | None:
        return self.loss_of() if self.loss_of is not None else None

    def draw(self, previous) -> None:
        for item in self.curves:
            self.chart.plot.removeItem(item)
        for item in self.paths:
            self.surface.plot.removeItem(item)
        self.curves, self.paths = [], []
        if previous is None:
            return
        for key, steps, losses, params in previous.racers:
            colour = pg.mkColor(self.colours.get(key, "#9e9e9e"))
            colour.setAlpha(FADE)
            pen = pg.mkPen(colour, width=1.5, style=Qt.PenStyle.DashLine)
            curve = pg.PlotDataItem(*envelope(steps, positive(losses), self.columns()), pen=pen)
            curve.setZValue(-1)
            self.chart.plot.addItem(curve)
            curve.setClipToView(True)
            path = pg.PlotCurveItem(*self.surface.drawn_path(params[:, 0], params[:, 1], slot="previous"), pen=pen)
            path.setZValue(5)  # under the racers' paths
            self.surface.plot.addItem(path)
            self.curves.append(curve)
            self.paths.append(path)
