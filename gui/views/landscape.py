"""Landscapes of a network on the multi-feature tab: the loss slice over a plane through all the parameters.

Besides two weights, the slice of an MLP can be taken over (Li et al., 2018):

- **the training path (PCA)**: the plane of the two principal directions of ``θ_t − θ_final`` over the path
  recorded so far (the start, every epoch's end, the weights now), through the weights now, with the path
  projected onto it; the caption gives the share of the path's variance each direction explains;
- **random directions**: two random directions through the weights now, normalized filter by filter.

:class:`LandscapeSlice` builds the plane in the GUI thread (a PCA of at most :data:`PATH_POINTS` points) and
has its grid computed by its own :class:`~gui.views.slicer.BackgroundSlicer`, batched, with a progress bar.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, Slot

from fitscope.engine.landscape import Plane, pca_plane, random_plane
from fitscope.gui.activity import hold_until_painted
from fitscope.gui.panels.edges import Mark
from fitscope.gui.views.slicer import BackgroundSlicer, PlaneResult

if TYPE_CHECKING:  # pragma: no cover
    from fitscope.gui.views.boston_view import BostonView

#: Grid points per axis of a plane's slice (a 60 × 60 slice of the 2-layer Boston MLP takes about a second),
#: and while training runs.
PLANE_GRID = 60
PLANE_GRID_RUNNING = 31
#: The PCA is taken over at most this many points of the path (evenly spread, its ends always among them).
PATH_POINTS = 400
#: A plane's window is at least this fraction as high as it is wide (and as wide as high).
ASPECT = 0.4
#: The seed of the random directions.
RANDOM_SEED = 0
#: A plane's slice is computed over at most this many rows (a fixed random sample of more).
PLANE_ROWS = 1000
NO_PATH = "The training path's PCA needs a recorded path: train first (Step epoch or Train), then it shows here."
STILL_PATH = "The training path's PCA needs a path that moves: train a little first."
LINEAR_ONLY_WEIGHTS = "The planes through every parameter are for an MLP; a linear model's slice is over two weights."


def path_rows(history) -> np.ndarray:
    """The rows of ``history.params`` a PCA is taken over: the start, every kept epoch end and the weights now
    (when fewer than three, every kept step), at most :data:`PATH_POINTS` of them."""
    last = len(history.params) - 1
    rows = np.unique(np.r_[0, history.epoch_rows(), last])
    if len(rows) < 3:
        rows = np.arange(last + 1)
    if len(rows) > PATH_POINTS:
        rows = rows[np.unique(np.linspace(0, len(rows) - 1, PATH_POINTS).round().astype(int))]
    return rows


def path_points(history) -> np.ndarray | None:
    """The points of the recorded path a PCA is taken over (:func:`path_rows`); None before the first step."""
    if len(history.params) < 2:
        return None
    return history.params[path_rows(history)]


class LandscapeSlice(QObject):
    """The plane modes of a :class:`~gui.views.boston_view.BostonView`'s loss slice.

    Attributes
    ----------
    plane : Plane or None
        The plane of the grid drawn last (None before one is drawn, or in "two weights").
    grid : (a, b, grid) or None
        That grid.
    note : str
        Why no plane is drawn (no recorded path yet, say), or empty.
    """

    def __init__(self, view: BostonView) -> None:
        super().__init__(view)
        self.view = view
        self.panel = view.slice
        self.slicer = BackgroundSlicer(self)
        self.slicer.ready.connect(self._on_ready)
        self.slicer.progressed.connect(self.panel.show_progress)
        self.plane: Plane | None = None
        self.grid: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self.note = ""
        self._framed = False  # the window was set for the plane being drawn
        self._weights_range: tuple[float, float, float, float] | None = None  # "two weights"' window, kept

    @property
    def mode(self) -> str:
        return self.panel.current_mode

    @property
    def active(self) -> bool:
        """A plane through all the parameters is chosen (not two weights)."""
        return self.mode != "weights"

    # --- choosing ---
    def choose(self, mode: str) -> bool:
        """The user chose ``mode``: the old slice is left. Returns whether the window "two weights" had before
        was restored (else the view frames the slice anew)."""
        self.slicer.invalidate()
        self.plane, self.grid, self.note = None, None, ""
        self.panel.hide_progress()
        self.panel.status.setText("")  # a slice being computed before is called off
        self.panel.surface.set_curvature_axes(None)
        if mode != "weights":
            if self._weights_range is None:
                self._weights_range = self.panel.surface.visible_range()
            self._framed = False
            self.panel.caption.setText("")
            return False
        restore, self._weights_range = self._weights_range, None
        if restore is not None:
            self.panel.surface.set_range(*restore)
        return restore is not None

    def model_changed(self) -> None:
        """A fresh run: the planes can be chosen for an MLP only; any grid computed is of the old run."""
        linear = self.view.model.is_linear
        self.panel.set_planes_available(not linear, LINEAR_ONLY_WEIGHTS)
        self._weights_range = None
        if linear and self.active:
            self.panel.set_mode("weights")
            self.choose("weights")
        self.slicer.invalidate()
        self.plane, self.grid, self._framed = None, None, False
        self.panel.hide_progress()

    def reframe(self) -> None:
        """The next plane made is shown in its own window (:meth:`window`), whatever the window now."""
        self._framed = False

    # --- computing ---
    def make_plane(self) -> Plane | None:
        """The plane of the mode chosen, from the run as it stands (None, with :attr:`note` set, if there is
        none: no path recorded yet)."""
        run = self.view.model
        h = run.history
        if self.mode == "pca":
            points = path_points(h)
            if points is None:
                self.note = NO_PATH
                return None
            try:
                return pca_plane(points)
            except ValueError:
                self.note = STILL_PATH
                return None
        return random_plane(run.experiment.model, run.slice_theta(), seed=RANDOM_SEED)

    def compute(self, running: bool) -> None:
        """Build the plane and have its grid computed over the window (framed anew for a new plane that the
        path or the weights now would leave)."""
        self.note = ""
        plane = self.make_plane()
        if plane is None:
            self.slicer.invalidate()
            self.panel.hide_progress()
            self._show_nothing()
            return
        if not self._framed or not self._inside(plane):
            self._framed = True
            self.panel.surface.set_range(*self.window(plane))
        x0, x1, y0, y1 = self.panel.surface.visible_range()
        n = PLANE_GRID_RUNNING if running else PLANE_GRID
        exp = self.view.model.experiment
        X, y = exp.X, exp.y
        if len(y) > PLANE_ROWS:
            rows = np.sort(np.random.default_rng(0).choice(len(y), PLANE_ROWS, replace=False))
            X, y = X[rows], y[rows]
        self.panel.show_progress(0, n * n)
        self.slicer.request_plane(exp.model, X, y, exp.loss, plane, np.linspace(x0, x1, n), np.linspace(y0, y1, n),
                                  tag=(self.view.model.history, self.mode))

    def _title(self) -> str:
        return f"Training loss over a plane through all {self.view.model.n_params:,} parameters"

    @staticmethod
    def window(plane: Plane) -> tuple[float, float, float, float]:
        """The plane's window (:meth:`Plane.default_window`), its narrower side widened to at least
        :data:`ASPECT` of the wider: both directions are unit vectors, and a path that is nearly straight (or
        of one step) would otherwise get a sliver of a window across it."""
        x0, x1, y0, y1 = plane.default_window()
        wide = max(x1 - x0, y1 - y0)
        if x1 - x0 < ASPECT * wide:
            c = (x0 + x1) / 2
            x0, x1 = c - ASPECT * wide / 2, c + ASPECT * wide / 2
        if y1 - y0 < ASPECT * wide:
            c = (y0 + y1) / 2
            y0, y1 = c - ASPECT * wide / 2, c + ASPECT * wide / 2
        return x0, x1, y0, y1

    def _inside(self, plane: Plane) -> bool:
        x0, x1, y0, y1 = self.panel.surface.visible_range()
        pts = plane.path if plane.path is not None else np.zeros((1, 2))
        return bool(np.all((pts[:, 0] >= x0) & (pts[:, 0] <= x1) & (pts[:, 1] >= y0) & (pts[:, 1] <= y1)))

    def _show_nothing(self) -> None:
        """No plane: the note in the caption, the map blank."""
        self.panel.surface.clear_surface()
        self.panel.set_title(self._title())
        self.panel.set_axis_labels("", "")
        self.panel.caption.setText(self.note)
        self.grid = None

    @Slot(object)
    def _on_ready(self, result: PlaneResult) -> None:
        if not self.slicer.busy:
            self.panel.hide_progress()
        if result.grid is None:
            self.view.show_message(f"The slice could not be computed: {result.error}.")
            return
        history, mode = result.tag
        if mode != self.mode or history is not self.view.model.history:
            return
        hold_until_painted()
        self.draw(result.plane, result.a, result.b, result.grid)

    def draw(self, plane: Plane, a: np.ndarray, b: np.ndarray, grid: np.ndarray) -> None:
        """The grid over ``plane``, its lowest point, the axes' names, the caption and the path."""
        run = self.view.model
        self.plane, self.grid = plane, (a, b, grid)
        optimum, what = run.slice_optimum(plane.origin, a, b, grid)
        self.panel.set_title(self._title())
        if plane.kind == "pca":
            e1, e2 = (100 * plane.explained).tolist()
            self.panel.set_axis_labels(f"PC 1 of the path ({e1:.1f} % of its variance)",
                                       f"PC 2 ({e2:.1f} %)")
        else:
            self.panel.set_axis_labels("random direction 1 (filter-normalized)", "random direction 2")
        caption = f"{plane.caption}; {what}"
        if len(run.experiment.y) > PLANE_ROWS:
            caption += f" (loss over a random {PLANE_ROWS:,} of the {len(run.experiment.y):,} rows)"
        self.panel.draw(a, b, grid, optimum, caption, coarse=True)
        self.redraw()

    def redraw(self) -> None:
        """The path on the plane drawn (projected onto a PCA plane; the weights now at the origin of a random one),
        and a mark at the plot's edge when it is out of view."""
        surface = self.panel.surface
        plane = self.plane
        if plane is None:
            self.view.slice_marks.set([])
            return
        if plane.path is not None:
            path = plane.path
            h = self.view.model.history
            rows = path_rows(h)
            ends = np.flatnonzero(np.isin(rows, h.epoch_rows())) if len(rows) == len(path) else None
            surface.set_trajectory(path[:, 0], path[:, 1], ends)
        else:
            surface.set_trajectory(np.zeros(1), np.zeros(1))
        what = "the final weights" if plane.kind == "pca" else "the weights now"
        self.view.slice_marks.set([Mark(0.0, 0.0, f"{what} (0, 0)", "#e65100")])

    def start_at(self, x: float, y: float) -> None:
        """A click on the plane at ``(x, y)``: a fresh run from ``plane.point(x, y)``."""
        if self.plane is None:
            return
        run = self.view.model
        try:
            run.restart(run.settings, self.plane.point(x, y))
        except ValueError as e:
            self.view.show_message(f"Cannot start there: {str(e).rstrip('.')}.")

    def shutdown(self) -> None:
        self.slicer.shutdown()

