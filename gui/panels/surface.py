"""The loss surface: a filled contour over two parameters, labelled isolines, the optimum, the trajectory.

The grid arrives ready-made (:meth:`SurfacePanel.set_surface`); the panel only draws. Levels are spaced
evenly in log(loss), so the valley floor shows as clearly as the walls. A left click (not a drag) on the
map emits :attr:`SurfacePanel.clicked` with the parameter values under the pointer.
"""

from __future__ import annotations

import contourpy
import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, QSizeF, Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QGraphicsItem, QVBoxLayout, QWidget

from fitscope.gui.keys import MapKeys
from fitscope.gui.panels import decimate
from fitscope.gui.panels.axes import LogAxis, compact_axes, distinct_texts
from fitscope.gui.panels.curvature import CurvatureAxes
from fitscope.gui.panels.plotting import quiet_plot

N_LEVELS = 14
MAX_EPOCH_MARKS = 100
MAX_PATH_POINTS = 4000
#: A path of at most this many points is drawn point for point (a longer one, by the pixel: see drawn_path).
WHOLE_PATH_POINTS = 500
TRAJECTORY = "#ff7043"
STEP = "#00e5ff"
GRADIENT = "#ff1744"
#: The star's size in pixels; it is drawn whole, nudged inside the map when it lies on the map's edge.
STAR_PX = 20
#: Contour labels keep clear of the current point, the start, the star and this much of the path's end (pixels).
PATH_END_PX = 90


def log_levels(grid: np.ndarray, n: int = N_LEVELS) -> np.ndarray:
    """``n`` levels evenly spaced in log10 between the grid's smallest positive value and its largest."""
    finite = grid[np.isfinite(grid)]
    hi = float(finite.max()) if finite.size else 1.0
    positive = finite[finite > 0]
    lo = float(positive.min()) if positive.size else hi * 1e-6
    lo = max(lo, hi * 1e-12, np.finfo(float).tiny)
    if hi <= lo:
        hi = lo * 10
    return np.geomspace(lo, hi, n + 1)


def level_labels(levels) -> list[str]:
    """The labels of isolines at ``levels`` (increasing): three significant digits, or as many more as it takes
    for neighbours to read differently (``635.1``, ``635.2`` … in a narrow range, never ``635``, ``635``)."""
    return distinct_texts(levels, 3)


class _FitToView(QObject):
    """Keeps a :class:`pg.GraphicsLayoutWidget`'s layout exactly as large as its view.

    pyqtgraph sizes the layout only when the view is resized; a layout that was wider at that moment (its
    colour bar's labels, a title on one line) stays wider once it could shrink, and what lies beyond the view's
    right edge (the colour bar) is cut off or gone. Whenever the layout asks to be laid out again, this sets
    it to the view's size again."""

    def __init__(self, graphics: pg.GraphicsLayoutWidget) -> None:
        super().__init__(graphics)
        self.graphics = graphics
        graphics.ci.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.LayoutRequest:
            self.fit()
        return False

    def fit(self) -> None:
        rect = QRectF(self.graphics.viewport().rect())
        if self.graphics.ci.geometry() != rect:
            self.graphics.ci.setGeometry(rect)


class SurfacePanel(QWidget):
    """A pyqtgraph plot of a loss grid over parameters ``a`` (x axis) and ``b`` (y axis).

    Signals
    -------
    clicked(float, float)
        A left click on the map, in parameter coordinates.
    rangeChanged(tuple)
        The visible range changed by zoom or pan: ``(a_lo, a_hi, b_lo, b_hi)``.
    """

    clicked = Signal(float, float)
    rangeChanged = Signal(tuple)

    def __init__(self, x_label: str = "kernel", y_label: str = "bias", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lossSurface")
        self.setAccessibleName("Loss surface")
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("w")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics)
        self._fit = _FitToView(self.graphics)

        self.plot = self.graphics.addPlot(row=0, col=0, enableMenu=False, axisItems=compact_axes())
        self.plot.setLabel("bottom", x_label)
        self.plot.setLabel("left", y_label)
        self.plot.setTitle("Training loss over (kernel, bias) — click to start there", size="10pt")
        quiet_plot(self.plot)
        self.view_box = self.plot.getViewBox()

        self.cmap = pg.colormap.get("viridis")
        self.image = pg.ImageItem(axisOrder="col-major")
        self.image.setZValue(-10)
        # Static while training runs: scaled to the view once, then blitted on every frame.
        self.image.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.plot.addItem(self.image)
        self.colorbar = pg.ColorBarItem(colorMap=self.cmap, interactive=False, width=14, label="loss (log scale)")
        bar_axis = LogAxis("right")  # round labels that never crowd, 0.05 … 500, 1e3 …
        self.colorbar.setAxisItems({"right": bar_axis})
        bar_axis.setZValue(0.5)
        bar_axis.unlinkFromView()
        bar_axis.setStyle(showValues=True)
        bar_axis.enableAutoSIPrefix(False)
        self.colorbar.axis = bar_axis
        self.colorbar.setImageItem(self.image)
        self.graphics.addItem(self.colorbar, row=0, col=1)
        self.colorbar.axis.setLogMode(False, True)
        self.colorbar.axis.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)

        self.isolines = pg.PlotCurveItem(pen=pg.mkPen((255, 255, 255, 110), width=1), connect="finite")
        # Static while training runs: paint once into a pixmap, then blit it on every frame.
        self.isolines.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.plot.addItem(self.isolines)
        self._labels: list[pg.TextItem] = []  # the contour labels shown
        # Per label, (its text, how many isolines before it read the same): its item and its size.
        self._label_items: dict[tuple[str, int], tuple[pg.TextItem, QSizeF]] = {}
        self._spots: list[tuple[tuple[str, int], list[tuple[float, float]]]] = []  # (label, places on its line)
        self._label_keepout: tuple[float, float] | None = None  # the grid's minimum (where a slice's star is)
        self._paths: dict[object, decimate.GrowingPath] = {}  # what drawn_path kept of each path
        self._label_rects = np.empty((0, 4))  # the labels shown: x0, y0, x1, y1 in the scene
        self._clear_of: list[pg.ScatterPlotItem] = []  # more points the labels keep clear of (a race's racers)

        self.optimum = pg.ScatterPlotItem(
            symbol="star", size=STAR_PX, brush=pg.mkBrush("w"), pen=pg.mkPen("k", width=1.2), name="optimum"
        )
        self._optimum_at: tuple[float, float] | None = None
        self.optimum.setZValue(11)  # above the path, which often runs over it
        self.plot.addItem(self.optimum)

        self.path = pg.PlotCurveItem(pen=pg.mkPen(TRAJECTORY, width=2))
        self.path.setZValue(6)
        self.plot.addItem(self.path)
        self.epoch_marks = pg.ScatterPlotItem(size=5, brush=pg.mkBrush("w"), pen=pg.mkPen(TRAJECTORY))
        self.epoch_marks.setZValue(7)
        self.plot.addItem(self.epoch_marks)
        self.start = pg.ScatterPlotItem(size=12, brush=pg.mkBrush(None), pen=pg.mkPen("w", width=2))
        self.start.setZValue(8)
        self.plot.addItem(self.start)
        self.current = pg.ScatterPlotItem(size=13, brush=pg.mkBrush(TRAJECTORY), pen=pg.mkPen("k", width=1.5))
        self.current.setZValue(9)
        self.plot.addItem(self.current)

        self.step_line = pg.PlotCurveItem(pen=pg.mkPen(STEP, width=3))
        self.step_line.setZValue(8)
        self.plot.addItem(self.step_line)
        self.gradient_line = pg.PlotCurveItem(pen=pg.mkPen(GRADIENT, width=2.5))
        self.gradient_line.setZValue(8)
        self.plot.addItem(self.gradient_line)
        self.gradient_head = pg.ArrowItem(angle=0, headLen=14, tipAngle=35, brush=GRADIENT, pen=None)
        self.gradient_head.setZValue(8)
        self.gradient_head.hide()
        self.plot.addItem(self.gradient_head)

        self.curvature_axes = CurvatureAxes(self.plot)  # hidden until a tab gives it axes to draw

        self._grid: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._emit_ranges = True
        self.plot.scene().sigMouseClicked.connect(self._on_mouse_clicked)
        self.view_box.sigRangeChangedManually.connect(self._on_range_changed)
        self.view_box.sigResized.connect(self._on_view_changed)  # labels and the star keep their size in pixels
        self.view_box.sigRangeChanged.connect(self._on_view_changed)
        self.keys = MapKeys(self)  # arrows, +/−, Enter and Home on the focused map (gui/keys.py)

    def _on_view_changed(self, *_) -> None:
        self._place_optimum()
        self._place_labels()

    # --- drawing ---
    def set_surface(self, a: np.ndarray, b: np.ndarray, grid: np.ndarray) -> None:
        """Draw ``grid[ia, ib]``: the loss at ``(a[ia], b[ib])``, on an evenly spaced grid."""
        self._grid = (a, b, grid)
        levels = log_levels(grid)
        logs = np.log10(levels)
        with np.errstate(all="ignore"):
            lg = np.log10(np.clip(grid, levels[0], levels[-1]))
        band = np.clip(np.searchsorted(logs, lg, side="right") - 1, 0, len(logs) - 2)
        banded = (logs[band] + logs[band + 1]) / 2  # one colour per band: a filled contour
        banded[~np.isfinite(grid)] = logs[-1]
        da, db = a[1] - a[0], b[1] - b[0]
        self.image.setImage(banded, levels=(logs[0], logs[-1]))
        self.image.setRect(a[0] - da / 2, b[0] - db / 2, da * len(a), db * len(b))
        self.colorbar.setLevels((logs[0], logs[-1]))
        self.colorbar.show()
        self._draw_isolines(a, b, np.where(np.isfinite(lg), lg, logs[-1]), logs[1:-1])

    def clear_surface(self) -> None:
        """No map: the image, the isolines and their labels, the star, the path and the step go."""
        self._grid = None
        self.image.clear()
        self.isolines.setData([], [])
        self._spots, self._label_keepout = [], None
        self._optimum_at = None
        self.optimum.setData([], [])
        for item in (self.path, self.step_line, self.gradient_line):
            item.setData([], [])
        for item in (self.epoch_marks, self.start, self.current):
            item.setData([], [])
        self.gradient_head.hide()
        self.colorbar.hide()
        self._place_labels()

    def _draw_isolines(self, a, b, lg, logs) -> None:
        """Isolines at the band edges, each labelled where its label fits (:meth:`_place_labels`)."""
        da, db = a[1] - a[0], b[1] - b[0]
        ia, ib = np.unravel_index(np.argmin(lg), lg.shape)
        a_min, b_min = a[ia], b[ib]
        xs, ys, spots = [], [], []
        contours = contourpy.contour_generator(z=lg)  # compiled marching squares: ~0.1 ms a level, not ~20 ms
        for level in logs:
            lines = []
            for pts in contours.lines(level):  # (column, row) = (index into b, index into a)
                if len(pts) < 2:
                    continue
                x = a[0] + pts[:, 1] * da
                y = b[0] + pts[:, 0] * db
                xs += [*x, np.nan]
                ys += [*y, np.nan]
                lines.append((x, y))
            if lines:
                spots.append((level, _label_places(lines, a_min, b_min, (a[0], a[-1], b[0], b[-1]))))
        texts = level_labels([10**level for level in logs])
        text_of = dict(zip(logs, texts, strict=True))
        keyed, seen = [], {}  # texts repeat where levels differ by less than a float can write: one item each
        for level, places in spots:
            text = text_of[level]
            keyed.append(((text, seen.get(text, 0)), places))
            seen[text] = seen.get(text, 0) + 1
        spots = keyed
        self._make_labels([key for key, _ in spots])
        self.isolines.setData(np.asarray(xs, dtype=float), np.asarray(ys, dtype=float))
        # Paint the new isolines afresh: Qt keeps the cached picture of the part of a large item that was exposed,
        # and after a zoom it would show pieces of the old picture, blocky and with seams.
        self.isolines.setCacheMode(QGraphicsItem.CacheMode.NoCache)
        self.isolines.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self._spots = spots
        self._label_keepout = (float(a_min), float(b_min))
        self._place_labels()

    def _make_labels(self, keys: list[tuple[str, int]]) -> None:
        """An item for each of the contour labels ``keys`` (text, how many before it read the same), with its
        size in pixels: those of labels no longer drawn take the new texts (a text is set only when it changes),
        and more are made as needed."""
        items = self._label_items
        wanted = set(keys)
        spare = [key for key in items if key not in wanted]
        for label in keys:
            if label in items:
                continue
            if spare:
                text = items.pop(spare.pop())[0]
            else:
                text = pg.TextItem("", color=(255, 255, 255, 235), anchor=(0.5, 0.5), fill=pg.mkBrush(0, 0, 0, 60))
                font = QFont()
                font.setPointSize(7)
                text.setFont(font)
                text.textItem.document().setDocumentMargin(1)
                text.setZValue(2)
                text.hide()
                self.plot.addItem(text)
            text.setText(label[0])
            items[label] = (text, text.textItem.boundingRect().size())

    def _keepouts(self) -> np.ndarray:
        """Where no contour label may lie, in the scene: around the star, the start, the current point, the
        last :data:`PATH_END_PX` pixels of the path, the step and the gradient arrow. Rows of x0, y0, x1, y1."""
        rects = []

        def around(item: pg.GraphicsObject, x, y, half: float) -> None:
            x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
            ok = np.isfinite(x) & np.isfinite(y)
            if not ok.any():
                return
            t = item.sceneTransform()
            with np.errstate(all="ignore"):  # a diverged point far out: inf in the scene, never over a label
                sx = t.m11() * x[ok] + t.m21() * y[ok] + t.dx()
                sy = t.m12() * x[ok] + t.m22() * y[ok] + t.dy()
            rects.append(np.column_stack([sx - half, sy - half, sx + half, sy + half]))

        if self._optimum_at is not None:
            around(self.optimum, [self._optimum_at[0]], [self._optimum_at[1]], STAR_PX / 2 + 2)
        elif self._label_keepout is not None:
            around(self.optimum, [self._label_keepout[0]], [self._label_keepout[1]], STAR_PX / 2 + 2)
        for item in (self.start, self.current, *self._clear_of):
            x, y = item.getData()
            if len(x) and item.isVisible():
                around(item, x, y, item.opts["size"] / 2 + 3)
        diagonal = float(np.hypot(self.view_box.width(), self.view_box.height()))
        axes = [(line, diagonal) for line in self.curvature_axes.lines if line.isVisible()]
        for line, length in ((self.path, PATH_END_PX), (self.step_line, diagonal), (self.gradient_line, diagonal),
                             *axes):
            x, y = line.getData()
            if x is not None and len(x) > 1:
                tail = _path_end(line.sceneTransform(), np.asarray(x[-400:], dtype=float),
                                 np.asarray(y[-400:], dtype=float), length)
                rects.append(np.column_stack([tail[:, 0] - 3, tail[:, 1] - 3, tail[:, 0] + 3, tail[:, 1] + 3]))
        return np.concatenate(rects) if rects else np.empty((0, 4))

    def _labels_hit(self) -> bool:
        """Whether a label shown now lies over what labels keep clear of (:meth:`_keepouts`)."""
        if not len(self._label_rects):
            return False
        keep = self._keepouts()
        if not len(keep):
            return False
        lab = self._label_rects[:, None, :]
        with np.errstate(all="ignore"):
            return bool(np.any((lab[..., 0] - 3 < keep[None, :, 2]) & (keep[None, :, 0] < lab[..., 2] + 3)
                               & (lab[..., 1] - 2 < keep[None, :, 3]) & (keep[None, :, 1] < lab[..., 3] + 2)))

    def _place_labels(self, *_) -> None:
        """Label each isoline at the first of its places where the label lies wholly inside the map and clear of
        the labels placed before it, of the star, the start, the current point and the path's end; an isoline
        with no such place goes unlabelled. Labels keep their size in pixels, so this runs again when the map is
        resized or zoomed (and when the point or the path comes over a label)."""
        area = self.view_box.sceneBoundingRect().adjusted(2, 2, -2, -2)
        keep = self._keepouts()
        taken = np.empty((len(keep) + len(self._spots), 4))  # the keep-outs, then the labels placed: x0, y0, x1, y1
        taken[: len(keep)] = keep
        n_taken = len(keep)
        shown: list[pg.TextItem] = []
        rects: list[tuple[float, float, float, float]] = []
        left = dict(enumerate(self._spots)) if area.width() > 0 and area.height() > 0 else {}
        for rank in range(max((len(places) for _, places in left.values()), default=0)):
            # One pass per rank of place: first every isoline where it crosses the ray to the right of the
            # minimum (the labels line up), then to the left, then the others.
            for k, (label, places) in list(left.items()):
                if rank >= len(places):
                    continue
                text, size = self._label_items[label]
                centre = self.view_box.mapViewToScene(QPointF(*places[rank]))
                rect = QRectF(centre.x() - size.width() / 2, centre.y() - size.height() / 2, size.width(),
                              size.height())
                if area.contains(rect) and not _overlaps(rect.adjusted(-3, -2, 3, 2), taken[:n_taken]):
                    taken[n_taken] = rect.left(), rect.top(), rect.right(), rect.bottom()
                    n_taken += 1
                    rects.append((rect.left(), rect.top(), rect.right(), rect.bottom()))
                    text.setPos(*places[rank])
                    text.show()
                    shown.append(text)
                    del left[k]
        for text, _ in self._label_items.values():
            if text not in shown:
                text.hide()
        self._labels = shown
        self._label_rects = np.array(rects, dtype=float).reshape(-1, 4)

    def set_curvature_axes(self, segments: np.ndarray | None) -> None:
        """Draw the curvature axes ``[k, end, (a, b)]`` (:class:`~gui.panels.curvature.CurvatureAxes`), or hide
        them (None); the contour labels move off them."""
        self.curvature_axes.set_segments(segments)
        self.make_way()

    def keep_labels_clear_of(self, items: list[pg.ScatterPlotItem]) -> None:
        """Points of other ``items`` (a race's racers) the contour labels keep clear of, as of the current point;
        call :meth:`make_way` after drawing them."""
        self._clear_of = list(items)
        self._place_labels()

    def make_way(self) -> None:
        """The labels that a point or a line now lies over move to another of their places."""
        if self._labels_hit():
            self._place_labels()

    def contour_labels(self) -> list[pg.TextItem]:
        """The contour labels shown now (for tests)."""
        return list(self._labels)

    def set_optimum(self, a: float, b: float) -> None:
        """The star at ``(a, b)``; on the map's edge, it is drawn nudged inside, whole (its data stays exact)."""
        self._optimum_at = (float(a), float(b))
        self.optimum.setData([a], [b])
        self._place_optimum()
        self.make_way()

    def _place_optimum(self) -> None:
        """Nudge the star inside the map when it lies on an edge (within half its size of it), so that the map
        does not cut it in half; a star farther out is left where it is (out of view)."""
        at = self._optimum_at
        dx = dy = 0.0
        if at is not None and not any(self.view_box.autoRangeEnabled()):  # (a range that follows the star: as is)
            (x0, x1), (y0, y1) = self.view_box.viewRange()
            px, py = (abs(float(v)) for v in self.view_box.viewPixelSize())
            hx, hy = (STAR_PX / 2 + 2) * px, (STAR_PX / 2 + 2) * py
            if x1 - x0 > 2 * hx and y1 - y0 > 2 * hy and x0 - hx <= at[0] <= x1 + hx and y0 - hy <= at[1] <= y1 + hy:
                dx = min(max(at[0], x0 + hx), x1 - hx) - at[0]
                dy = min(max(at[1], y0 + hy), y1 - hy) - at[1]
        if (self.optimum.pos().x(), self.optimum.pos().y()) != (dx, dy):
            self.optimum.setPos(dx, dy)

    def set_trajectory(self, a: np.ndarray, b: np.ndarray, epoch_ends: np.ndarray | None = None,
                       growth: object = None, settled: int | None = None) -> None:
        """The path from the start ``(a[0], b[0])`` to the current point ``(a[-1], b[-1])``.

        ``epoch_ends`` (step numbers) get a marker each; of many, every k-th, at most :data:`MAX_EPOCH_MARKS`.
        ``growth``, ``settled``: see :meth:`drawn_path`.
        """
        self.path.setData(*self.drawn_path(a, b, growth, settled=settled))
        self.start.setData(a[:1], b[:1])
        self.current.setData(a[-1:], b[-1:])
        if epoch_ends is not None and len(epoch_ends):
            stride = -(-len(epoch_ends) // MAX_EPOCH_MARKS)  # beyond that they only clutter (and cost)
            ends = epoch_ends[stride - 1 :: stride]
            self.epoch_marks.setData(a[ends], b[ends])
        else:
            self.epoch_marks.setData([], [])
        self.make_way()  # the point (or the path) may have come over a label

    def set_step(self, before: np.ndarray | None, after: np.ndarray | None, gradient: np.ndarray | None) -> None:
        """The step actually taken (``before`` → ``after``) and the negative gradient at ``before``.

        The gradient arrow is drawn at a fixed fraction of the view, so that it shows a direction even when
        the gradient is tiny or huge; the step is drawn to scale.
        """
        if before is not None and after is not None:
            self.step_line.setData([before[0], after[0]], [before[1], after[1]])
        else:
            self.step_line.setData([], [])
        if before is None or gradient is None or not np.any(gradient):
            self.gradient_line.setData([], [])
            self.gradient_head.hide()
        else:
            self._draw_gradient(before, gradient)
        self.make_way()  # the step or the arrow may have come over a label

    def _draw_gradient(self, before: np.ndarray, gradient: np.ndarray) -> None:
        (x0, x1), (y0, y1) = self.view_box.viewRange()
        # Direction in screen proportions, so the arrow looks as long whatever the axes' scales.
        d = -np.array([gradient[0] / (x1 - x0), gradient[1] / (y1 - y0)])
        d = d / np.hypot(*d) * 0.12
        end = np.array([before[0] + d[0] * (x1 - x0), before[1] + d[1] * (y1 - y0)])
        self.gradient_line.setData([before[0], end[0]], [before[1], end[1]])
        p0 = self.view_box.mapViewToScene(QPointF(before[0], before[1]))
        p1 = self.view_box.mapViewToScene(QPointF(end[0], end[1]))
        angle = np.degrees(np.arctan2(p1.y() - p0.y(), p1.x() - p0.x()))
        self.gradient_head.setStyle(angle=180 + angle)
        self.gradient_head.setPos(end[0], end[1])
        self.gradient_head.show()

    def set_range(self, a_lo: float, a_hi: float, b_lo: float, b_hi: float) -> None:
        self.view_box.setRange(xRange=(a_lo, a_hi), yRange=(b_lo, b_hi), padding=0)

    def visible_range(self) -> tuple[float, float, float, float]:
        (x0, x1), (y0, y1) = self.view_box.viewRange()
        return x0, x1, y0, y1

    # --- input ---
    def _on_mouse_clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or event.double():
            return
        pos = event.scenePos()
        if not self.view_box.sceneBoundingRect().contains(pos):
            return
        p = self.view_box.mapSceneToView(pos)
        event.accept()
        self.clicked.emit(float(p.x()), float(p.y()))

    def _on_range_changed(self, *_) -> None:
        self.rangeChanged.emit(self.visible_range())

    def scene_pos_of(self, a: float, b: float) -> QPointF:
        """Where the parameter point ``(a, b)`` is, in the plot's scene (for tests and tours)."""
        return self.view_box.mapViewToScene(QPointF(a, b))

    def widget_pos_of(self, a: float, b: float):
        """Where ``(a, b)`` is, in pixels of the graphics widget's viewport."""
        return self.graphics.mapFromScene(self.scene_pos_of(a, b))

    def pixel_size(self) -> tuple[float, float]:
        """The size of one screen pixel in parameter units (x, y)."""
        px = self.view_box.viewPixelSize()
        return float(px[0]), float(px[1])

    def drawn_path(self, a: np.ndarray, b: np.ndarray, growth: object = None, slot: object = "path",
                   settled: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The path ``(a, b)`` as this map draws it: whole while it has at most :data:`WHOLE_PATH_POINTS`
        points; longer, without the points that stay in the screen pixel of the one before, and then at most
        :data:`MAX_PATH_POINTS` (:func:`~fitscope.gui.panels.decimate.path`): its start and end always exact. A
        path that has settled costs a frame little to draw, however long it is.

        ``growth``, ``settled``: the history's :attr:`~fitscope.engine.history.History.growth` and
        :attr:`~fitscope.engine.history.History.settled` (the path's settled rows are then looked at once:
        :class:`~fitscope.gui.panels.decimate.GrowingPath`, one per ``slot``)."""
        if len(a) <= WHOLE_PATH_POINTS:
            return a, b
        kept = self._paths.setdefault(slot, decimate.GrowingPath())
        return kept.update(a, b, self.pixel_size(), MAX_PATH_POINTS, growth, settled)


def _overlaps(rect: QRectF, rects: np.ndarray) -> bool:
    """Whether ``rect`` overlaps (with some area, as :meth:`QRectF.intersects` says) any of ``rects`` (rows of
    x0, y0, x1, y1)."""
    with np.errstate(invalid="ignore"):  # (a keep-out of a point far out: inf, never over a label)
        return bool(np.any((rects[:, 0] < rect.right()) & (rect.left() < rects[:, 2])
                           & (rects[:, 1] < rect.bottom()) & (rect.top() < rects[:, 3])))


def _label_places(lines, a_min: float, b_min: float, bounds: tuple[float, float, float, float], along: int = 9
                  ) -> list[tuple[float, float]]:
    """Places for an isoline's label, best first: where it crosses the rays from the grid's minimum to the
    right and to the left (so that labels line up); then points along it, from the middle of each piece
    outwards (a label that has no room on a ray, at the map's edge, say, still finds a place). Never where the
    line only runs along the grid's edge."""
    a0, a1, b0, b1 = bounds
    x = np.concatenate([p[0] for p in lines])
    y = np.concatenate([p[1] for p in lines])
    tol_a, tol_b = 1e-6 * (a1 - a0), 1e-6 * (b1 - b0)
    inner = (x > a0 + tol_a) & (x < a1 - tol_a) & (y > b0 + tol_b) & (y < b1 - tol_b)
    places = []
    for side in (x - a_min, a_min - x):
        ahead = np.flatnonzero((side > 0) & inner)
        if ahead.size:
            j = ahead[np.argmin(np.abs(y[ahead] - b_min))]
            if abs(y[j] - b_min) < 0.05 * (b1 - b0):  # on the ray, not where the line merely comes nearest to it
                places.append((float(x[j]), float(y[j])))
    for px, py in lines:  # then (or only, when it crosses neither ray) points along it
        n = len(px)
        order = sorted(np.linspace(0, n - 1, along + 2)[1:-1].astype(int), key=lambda j: abs(j - (n - 1) / 2))
        for j in order:
            if a0 + tol_a < px[j] < a1 - tol_a and b0 + tol_b < py[j] < b1 - tol_b:
                places.append((float(px[j]), float(py[j])))
    return places


def _path_end(transform, x: np.ndarray, y: np.ndarray, length: float) -> np.ndarray:
    """Points along the last ``length`` pixels of the path ``(x, y)`` (view units; ``transform`` maps them to
    the scene), at most 6 pixels apart, in the scene: rows of x, y."""
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if not len(x):
        return np.empty((0, 2))
    with np.errstate(all="ignore"):  # a diverged run's points far out (inf in the scene) lie over no label
        sx = transform.m11() * x + transform.m21() * y + transform.dx()
        sy = transform.m12() * x + transform.m22() * y + transform.dy()
        pts = np.column_stack([sx, sy])[::-1]  # from the end
        pts = pts[: int(np.argmin(np.isfinite(pts).all(axis=1)))] if not np.isfinite(pts).all() else pts
        if not len(pts):
            return np.empty((0, 2))
        seg = np.hypot(*np.diff(pts, axis=0).T)
        walked = np.r_[0.0, np.cumsum(seg)]
        n = int(np.searchsorted(walked, length, side="right"))  # the points within `length` of the end
        out = [pts[:n]]
        for k in range(min(n, len(seg))):  # and between them, every 6 pixels (up to `length` in all)
            steps = int(min(seg[k], length - walked[k]) // 6)
            if steps:
                f = np.arange(1, steps + 1)[:, None] * 6 / seg[k]
                out.append(pts[k] + f * (pts[k + 1] - pts[k]))
    return np.concatenate(out)
