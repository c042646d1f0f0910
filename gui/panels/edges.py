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
        self._clear_of: list[pg.ScatterPlotItem] = []
        self._where: dict[int, int] = {}  # which of its places each label took last (see _place)
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

    def keep_clear_of(self, items: list[pg.ScatterPlotItem]) -> None:
        """Place the labels where they cover the fewest of these items' points (the data a label would hide)."""
        self._clear_of = list(items)
        self._place()

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
        points = self._points_px(x0, y0, width, height, w_px, h_px) if self._marks else np.empty((0, 2))
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
            # The label lies along the edge the arrow points through, beside the arrow, where it hides no other
            # label and the fewest points (:meth:`keep_clear_of`); where it was, unless that hides more than one
            # point more (a label that hops from side to side as its number changes is hard to read).
            ux, uy = math.cos(angle), math.sin(angle)
            tip_px = ((tip[0] - x0) / width * w_px, (tip[1] - y0) / height * h_px)  # from the bottom left, y up
            text.setText(mark.label, color=mark.color)
            bounds = text.textItem.boundingRect()
            tw, th = bounds.width(), bounds.height()
            along_x = abs(uy) >= abs(ux)  # through the top or bottom edge: the label runs along it
            places = self._places(along_x, tip_px, ux, uy, tw, th, w_px, h_px, rows=len(taken) + 3)
            costs = [_cost(c, tw, th, taken, points, k) for k, c in enumerate(places)]
            best = min(range(len(places)), key=costs.__getitem__)
            before = self._where.get(i, -1)
            if 0 <= before < len(places) and costs[before] <= (costs[best][0], costs[best][1] + 1):
                best = before
            self._where[i] = best
            cx, cy = places[best]
            taken.append((cx, cy, tw, th))
            text.setPos(QPointF(x0 + width * cx / w_px, y0 + height * cy / h_px))
            text.show()

    @staticmethod
    def _places(along_x: bool, tip_px: tuple[float, float], ux: float, uy: float, tw: float, th: float,
                w_px: float, h_px: float, rows: int) -> list[tuple[float, float]]:
        """Where a label may go, in pixels from the bottom left, best first: along the edge the arrow points
        through, beside the arrow towards the middle of that edge (it covers the least there), then on its other
        side; each in rows further in from the edge."""
        places = []
        if along_x:
            toward = -1 if tip_px[0] > w_px / 2 else 1
            edge_y = h_px - th / 2 - 2 if uy > 0 else th / 2 + 2
            inward = -(th + 4) if uy > 0 else th + 4
            for row in range(rows):
                for side in (toward, -toward):
                    places.append((tip_px[0] + side * (SIDE_PX + tw / 2), edge_y + row * inward))
        else:
            toward = -1 if tip_px[1] > h_px / 2 else 1
            edge_x = w_px - tw / 2 - 2 if ux > 0 else tw / 2 + 2
            for row in range(rows):
                for side in (toward, -toward):
                    places.append((edge_x, tip_px[1] + side * (SIDE_PX + th / 2 + row * (th + 4))))
        return [(min(max(cx, tw / 2 + 2), w_px - tw / 2 - 2), min(max(cy, th / 2 + 2), h_px - th / 2 - 2))
                for cx, cy in places]

    def _points_px(self, x0: float, y0: float, width: float, height: float, w_px: float,
                   h_px: float) -> np.ndarray:
        """The points of the items to keep clear of, in pixels from the bottom left (n, 2)."""
        if not (width > 0 and height > 0):
            return np.empty((0, 2))
        parts = []
        for item in self._clear_of:
            if item.isVisible():
                x, y = item.getData()
                if x is not None and len(x):
                    parts.append(np.column_stack([(np.asarray(x, float) - x0) / width * w_px,
                                                  (np.asarray(y, float) - y0) / height * h_px]))
        return np.concatenate(parts) if parts else np.empty((0, 2))


def _cost(place: tuple[float, float], tw: float, th: float, taken: list[tuple[float, ...]],
          points: np.ndarray, rank: int) -> tuple[bool, int]:
    """What a label at ``place`` (the ``rank``-th of its places, best first) would cost: hiding another label
    (never, if it can be helped), then hiding points and lying away from its arrow: each row further in from
    the edge weighs as two hidden points, the arrow's other side as one (a label stays by its arrow unless that
    hides more than a point or two)."""
    cx, cy = place
    over = any(abs(px - cx) < (pw + tw) / 2 + 2 and abs(py - cy) < (ph + th) / 2 + 2 for px, py, pw, ph in taken)
    hidden = int(np.count_nonzero((np.abs(points[:, 0] - cx) < tw / 2 + 3) & (np.abs(points[:, 1] - cy) < th / 2 + 3)))
    return over, hidden + 2 * (rank // 2) + rank % 2
