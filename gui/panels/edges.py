"""Marks at a plot's edge for what is outside its view: an arrow pointing where it went, and its value.

A student who starts far from the optimum sees predictions of 13.6 s on a chart of 0–0.85 s, or a point that
left the map: an :class:`EdgeMarkers` puts, for every such point, an arrow at the edge of the view in the
point's direction with a short label ("prediction 13.6 ↑"), and hides it once the point is in view again. The
marks follow zooms, pans and resizes by themselves.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF

#: How far inside the view's edge an arrow's tip sits, in pixels.
INSET_PX = 6
#: How far beside an arrow's tip its label starts, in pixels.
SIDE_PX = 12


class Mark(NamedTuple):
    """A point to keep in sight: its coordinates (in the plot's units; ±inf for "beyond any range"), its label
    and its colour."""

    x: float
    y: float
    label: str
    color: str = "#212121"


class EdgeMarkers:
    """The edge marks of ``plot`` (a ``pg.PlotItem``); :meth:`set` the points to keep in sight."""

    def __init__(self, plot: pg.PlotItem, z: float = 40) -> None:
        self.plot = plot
        self.view_box = plot.getViewBox()
        self._marks: list[Mark] = []
        self._items: list[tuple[pg.ArrowItem, pg.TextItem]] = []
        self._z = z
        self.view_box.sigRangeChanged.connect(self._place)
        self.view_box.sigResized.connect(self._place)

    # --- what is marked ---
    def set(self, marks: list[Mark] | tuple[Mark, ...]) -> None:
        marks = [m for m in marks if not (math.isnan(m.x) or math.isnan(m.y))]
        if marks == self._marks:
            return
        self._marks = marks
        self._place()

    def clear(self) -> None:
        self.set([])

    @property
    def shown(self) -> list[tuple[Mark, tuple[float, float]]]:
        """The marks drawn now (those outside the view) and where their arrows' tips are (plot units)."""
        out = []
        for mark, (arrow, _) in zip(self._marks, self._items, strict=False):
            if arrow.isVisible():
                out.append((mark, (arrow.pos().x(), arrow.pos().y())))
        return out

    def labels(self) -> list[str]:
        """The labels drawn now."""
        return [mark.label for mark, _ in self.shown]

    def text_items(self) -> list[pg.TextItem]:
        """The label items drawn now (for tests: where they are)."""
        return [text for (arrow, text) in self._items[: len(self._marks)] if arrow.isVisible()]

    # --- drawing ---
    def _item(self, i: int) -> tuple[pg.ArrowItem, pg.TextItem]:
        while len(self._items) <= i:
            arrow = pg.ArrowItem(angle=0, headLen=13, tipAngle=40, tailLen=10, tailWidth=3, pen=pg.mkPen("w", width=1))
            text = pg.TextItem(anchor=(0.5, 0.5), fill=pg.mkBrush(255, 255, 255, 225), border=pg.mkPen("#9e9e9e"))
            for item in (arrow, text):
                item.setZValue(self._z)
                self.plot.addItem(item, ignoreBounds=True)
            self._items.append((arrow, text))
        return self._items[i]

    def _place(self, *_) -> None:
        (x0, x1), (y0, y1) = self.view_box.viewRange()
        width, height = x1 - x0, y1 - y0
        rect = self.view_box.boundingRect()
        w_px, h_px = max(rect.width(), 1.0), max(rect.height(), 1.0)
        taken: list[tuple[float, ...]] = []  # labels placed so far: centre and size in pixels (to stack close ones)
        for i in range(max(len(self._items), len(self._marks))):
            if i >= len(self._marks):
                for item in self._item(i):
                    item.hide()
                continue
            mark = self._marks[i]
            arrow, text = self._item(i)
            inside = x0 <= mark.x <= x1 and y0 <= mark.y <= y1
            if inside or not (width > 0 and height > 0):
                arrow.hide()
                text.hide()
                continue
            # The arrow's tip: the point brought inside the view (an inset from the edge); it points on to the
            # point itself.
            ix, iy = INSET_PX * width / w_px, INSET_PX * height / h_px
            tip = (min(max(mark.x, x0 + ix), x1 - ix), min(max(mark.y, y0 + iy), y1 - iy))
            with np.errstate(all="ignore"):
                dx = (mark.x - tip[0]) / width * w_px  # pixels, y up (may be ±inf)
                dy = (mark.y - tip[1]) / height * h_px
            angle = math.atan2(dy, dx)
            arrow.setStyle(angle=180 - math.degrees(angle), brush=pg.mkBrush(mark.color))
            arrow.setPos(*tip)
            arrow.show()
            # The label lies along the edge the arrow points through, beside the arrow (towards the middle of
            # that edge), so that it covers as little of the plot as it can; beside labels already placed.
            ux, uy = math.cos(angle), math.sin(angle)
            tip_px = ((tip[0] - x0) / width * w_px, (tip[1] - y0) / height * h_px)  # from the bottom left, y up
            text.setText(mark.label, color=mark.color)
            bounds = text.textItem.boundingRect()
            tw, th = bounds.width(), bounds.height()
            along_x = abs(uy) >= abs(ux)  # through the top or bottom edge: the label runs along it
            if along_x:
                side = -1 if tip_px[0] > w_px / 2 else 1
                cx = tip_px[0] + side * (SIDE_PX + tw / 2)
                cy = h_px - th / 2 - 2 if uy > 0 else th / 2 + 2
            else:
                side = -1 if tip_px[1] > h_px / 2 else 1
                cx = w_px - tw / 2 - 2 if ux > 0 else tw / 2 + 2
                cy = tip_px[1] + side * (SIDE_PX + th / 2)
            cx = min(max(cx, tw / 2 + 2), w_px - tw / 2 - 2)
            cy = min(max(cy, th / 2 + 2), h_px - th / 2 - 2)
            for _ in range(len(taken)):
                if not any(abs(px - cx) < (pw + tw) / 2 + 2 and abs(py - cy) < (ph + th) / 2 + 2
                           for px, py, pw, ph in taken):
                    break
                if along_x:
                    cy += -(th + 4) if cy > h_px / 2 else th + 4  # the next row in from the edge
                else:
                    cy += side * (th + 4)
            taken.append((cx, cy, tw, th))
            text.setPos(QPointF(x0 + width * cx / w_px, y0 + height * cy / h_px))
            text.show()

