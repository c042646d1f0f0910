"""The multi-feature tab's loss slice over two of the model's parameters: where it lies, when it is computed, and
drawing it.

A linear model's slice is computed in the GUI thread (closed form for MSE, cheap); an MLP's in a background pool
(:class:`~fitscope.gui.views.slicer.BackgroundSlicer`, batched). While training runs it follows the history at
most every :data:`SLICE_MS` (:data:`MLP_SLICE_MS` for an MLP, :data:`MLP_FULL_SPEED_SLICE_MS` at full
speed). The window frames the trajectory and the slice's minimum, and widens when the trajectory leaves it.
The slice over a plane through every parameter is :class:`~fitscope.gui.views.landscape.LandscapeSlice`'s;
while it is shown, this one hands over to it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, QTimer, Slot

from fitscope.gui.activity import hold_until_painted
from fitscope.gui.views.slicer import BackgroundSlicer, SliceResult

if TYPE_CHECKING:
    from fitscope.gui.views.boston_view import BostonView

SLICE_MS = 250  # the loss slice follows training at most 4 times a second
MLP_SLICE_MS = 1000  # … an MLP's once a second: its job competes with training for the interpreter lock
MLP_FULL_SPEED_SLICE_MS = 2500  # … and at full speed every 2.5 s (once a second took 3–4 % of the throughput)
LINEAR_GRID = 120  # slice resolution (points per axis) of a linear model, when training stands still
LINEAR_GRID_RUNNING = 60  # … and while it runs (drawing the isolines costs more than the grid)
MLP_GRID = {1: 41, 2: 25}  # per number of hidden layers: one forward pass per grid point, off this thread
MLP_SLICE_ROWS = 1000  # an MLP's slice over more rows is computed over a fixed random sample of this many


class PairSlice(QObject):
    """The loss slice over the view's two weights (``view.model.pair``), drawn on ``view.slice``.

    Attributes
    ----------
    grid : (a, b, grid) or None
        The slice drawn last: its two axes and the loss at each of their points (None: none yet of this run).
    theta0 : ndarray or None
        The parameters that slice held fixed.
    slicer : BackgroundSlicer
        Where an MLP's slice is computed.
    """

    def __init__(self, view: BostonView) -> None:
        super().__init__(view)
        self.view = view
        self.slicer = BackgroundSlicer(self)
        self.slicer.ready.connect(self._on_ready)
        self._timer = QTimer(self, singleShot=True, interval=SLICE_MS)
        self._timer.timeout.connect(self.compute)
        self._version = -1  # the history version the slice was last computed for
        self._followed: tuple = (None, 0)  # (what it was for, settled rows): the trajectory rows found in the window
        self.grid: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self.theta0: np.ndarray | None = None

    @property
    def due(self) -> bool:
        """The history changed since the slice was last computed."""
        return self._version != self.view.model.history.version

    @property
    def current(self) -> bool:
        """The slice drawn is of the history as it stands (no newer grid is due)."""
        return not self.due and self.grid is not None

    def invalidate(self) -> None:
        """A fresh trainer: any slice being computed no longer applies, and the next is due."""
        self.slicer.invalidate()
        self._version = -1

    def forget(self) -> None:
        """Another pair of parameters (or another kind of slice): the slice drawn no longer applies either."""
        self.invalidate()
        self.grid = None

    def shutdown(self) -> None:
        self._timer.stop()
        self.slicer.shutdown()

    # ------------------------------------------------------------------ the window
    def frame(self) -> None:
        """A window that frames the trajectory (and the slice's minimum) with a margin."""
        view = self.view
        if view.landscape.active:  # the plane's own window, when it is next made
            view.landscape.reframe()
            self.request(now=True)
            return
        run = view.model
        pts = run.needed_points()
        if run.history.diverged is not None:
            pts = pts[:1]
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        centre, half = (lo + hi) / 2, (hi - lo) / 2
        floor = 1.0 if run.is_linear else 2.0
        half = np.maximum(half * 1.3, np.maximum(floor, 0.05 * np.abs(centre)))
        view.slice_panel.set_range(centre[0] - half[0], centre[0] + half[0], centre[1] - half[1], centre[1] + half[1])
        self.request(now=True)

    def follow(self) -> None:
        """Widen the window when the trajectory or the minimum leaves it (not after a divergence)."""
        view, run = self.view, self.view.model
        if run.history.diverged is not None or view.landscape.active:
            return
        x0, x1, y0, y1 = view.slice_panel.visible_range()
        h = run.history
        # The settled rows found inside this window before stay inside: only the rows since are looked at, so a
        # frame costs the same at any length of run.
        key = (h.growth, run.pair, (x0, x1, y0, y1))
        seen = self._followed[1] if self._followed[0] == key else 0
        pts = run.needed_points(seen)
        inside = (pts[:, 0] >= x0) & (pts[:, 0] <= x1) & (pts[:, 1] >= y0) & (pts[:, 1] <= y1)
        if inside.all():
            self._followed = (key, h.settled)
            return
        pts = run.needed_points()
        far = np.abs(pts - [(x0 + x1) / 2, (y0 + y1) / 2]) > 50 * np.array([x1 - x0, y1 - y0])
        if far.any():  # a run on its way out: do not chase it
            return
        lo = np.minimum(pts.min(axis=0), [x0, y0])
        hi = np.maximum(pts.max(axis=0), [x1, y1])
        pad = 0.15 * (hi - lo)
        view.slice_panel.set_range(lo[0] - pad[0], hi[0] + pad[0], lo[1] - pad[1], hi[1] + pad[1])

    # ------------------------------------------------------------------ computing and drawing
    def request(self, now: bool = False) -> None:
        """Compute the slice now (at the next turn of the event loop), or soon: at most every :data:`SLICE_MS`
        (:data:`MLP_SLICE_MS` for an MLP while training runs, :data:`MLP_FULL_SPEED_SLICE_MS` at full speed)."""
        if self.view.shut:
            return
        if now:
            self._timer.start(0)
        elif not self._timer.isActive():
            controller = self.view.controller
            if not controller.running or self.view.model.is_linear:
                self._timer.start(SLICE_MS)
            else:
                self._timer.start(MLP_FULL_SPEED_SLICE_MS if controller.full_speed else MLP_SLICE_MS)

    def compute(self) -> None:
        """Compute the slice for the window shown (a hidden tab catches up when it is shown)."""
        view = self.view
        if not view.isVisible():
            view.fell_behind()
            return
        run = view.model
        exp = run.experiment
        i, j = run.pair
        theta0 = np.array(run.slice_theta())
        self._version = run.history.version
        if view.landscape.active:
            view.landscape.compute(view.controller.running)
            return
        x0, x1, y0, y1 = view.slice_panel.visible_range()
        if run.is_linear:
            n = LINEAR_GRID_RUNNING if view.controller.running else LINEAR_GRID
            a, b = np.linspace(x0, x1, n), np.linspace(y0, y1, n)
            hold_until_painted()
            self.draw(a, b, exp.loss_slice(theta0, i, j, a, b), theta0)
        else:
            n = MLP_GRID.get(len(run.settings.hidden), 25)
            a, b = np.linspace(x0, x1, n), np.linspace(y0, y1, n)
            view.slice.status.setText("computing…")
            X, y = exp.X, exp.y
            if len(exp.y) > MLP_SLICE_ROWS:  # a forward pass per grid point: over a fixed sample of the rows
                rows = np.sort(np.random.default_rng(0).choice(len(exp.y), MLP_SLICE_ROWS, replace=False))
                X, y = X[rows], y[rows]
            self.slicer.request(exp.model, X, y, exp.loss, theta0, i, j, a, b)

    @Slot(object)
    def _on_ready(self, result: SliceResult) -> None:
        self.view.slice.status.setText("" if not self.slicer.busy else "computing…")
        hold_until_painted()
        self.draw(result.a, result.b, result.grid, result.theta0)

    def draw(self, a: np.ndarray, b: np.ndarray, grid: np.ndarray, theta0: np.ndarray) -> None:
        """The grid, its minimum and a caption that says what the other parameters are held at."""
        view, run = self.view, self.view.model
        self.grid = (a, b, grid)
        self.theta0 = theta0
        optimum, what = run.slice_optimum(theta0, a, b, grid)
        held = "as they are now" if run.history.diverged is None else "as they were kept at the divergence"
        caption = f"The other {run.n_params - 2:,} parameters held {held}; {what}"
        if not run.is_linear and len(run.experiment.y) > MLP_SLICE_ROWS:
            caption += f" (loss over a random {MLP_SLICE_ROWS:,} of the {len(run.experiment.y):,} rows)"
        view.slice.draw(a, b, grid, optimum, caption, coarse=not run.is_linear)
        view.curvature.redraw()
