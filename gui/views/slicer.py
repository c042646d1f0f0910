"""Loss slices computed off the GUI thread: one grid at a time, in a private thread pool.

For an MLP a slice costs a forward pass per grid point (tens to hundreds of milliseconds, batched), too long
for the GUI thread. :class:`BackgroundSlicer` runs it in a :class:`~PySide6.QtCore.QThreadPool` of one thread:

- a request while a job runs replaces the waiting one (only the latest is wanted);
- every request carries the current token; :meth:`BackgroundSlicer.invalidate` (a new run, another pair of
  parameters) makes earlier jobs stop at their next grid point and their results be dropped;
- the job waits, between chunks of grid points, while the GUI thread draws (:meth:`BackgroundSlicer.holding`), so a
  frame need not win the interpreter lock back from it at every Qt call;
- results reach the GUI thread through a queued signal; :attr:`BackgroundSlicer.ready` carries only current
  ones;
- :meth:`BackgroundSlicer.shutdown` calls the job off and waits for the pool: its thread is not a QThread
  started from Python, so nothing else would.

The computation itself is the engine's :func:`~engine.landscape.iter_slice` (over the plane of two parameters:
:meth:`BackgroundSlicer.request`; or over a plane through all of them, reporting its progress:
:meth:`BackgroundSlicer.request_plane`), which reads nothing the trainer writes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, QRunnable, Signal, Slot

from fitscope.engine.landscape import Plane, iter_slice
from fitscope.gui.activity import give_way
from fitscope.gui.background import SerialPool


@dataclass(frozen=True, eq=False)
class SliceResult:
    """A loss grid ``grid[ia, ib]`` over ``a`` × ``b``, the others at ``theta0``; ``grid`` is None if the job
    was called off."""

    token: int
    theta0: np.ndarray
    a: np.ndarray
    b: np.ndarray
    grid: np.ndarray | None


@dataclass(frozen=True, eq=False)
class PlaneResult:
    """A loss grid ``grid[ia, ib]`` at ``plane.point(a[ia], b[ib])``; ``grid`` is None if the job was called off
    or failed (``error`` then says why, in one line). ``tag`` is what the request passed along."""

    token: int
    plane: Plane
    a: np.ndarray
    b: np.ndarray
    grid: np.ndarray | None
    tag: object = None
    error: str = ""


class _PlaneJob(QRunnable):
    """Computes one grid over a plane, a chunk of grid points at a time (:func:`iter_slice`), reporting progress."""

    def __init__(self, slicer: BackgroundSlicer, token: int, model, X, y, loss, plane: Plane, a, b, tag) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._slicer, self._token = slicer, token
        self._args = (model, X, y, loss, plane, np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
        self._tag = tag

    def run(self) -> None:
        model, X, y, loss, plane, a, b = self._args
        slicer, token = self._slicer, self._token
        shown, error = -1, ""
        try:
            for report in iter_slice(model, X, y, loss, plane, a, b):
                if report.values is not None:
                    slicer._finished.emit(PlaneResult(token, plane, a, b, report.values, self._tag))
                    return
                percent = 100 * report.done // report.total
                if percent != shown:  # at most a hundred reports
                    shown = percent
                    slicer._progress.emit(token, report.done, report.total)
                slicer.wait_for_gui(token)
                if slicer.cancelled(token):
                    break  # dropping the generator ends the work
        except (ValueError, MemoryError) as e:
            error = str(e).splitlines()[0] if str(e) else type(e).__name__
        slicer._finished.emit(PlaneResult(token, plane, a, b, None, self._tag, error))


class _SliceJob(QRunnable):
    """Computes one grid over two parameters, batched (:func:`iter_slice` over the plane of those two), giving up
    as soon as its token is stale or the pool shuts down."""

    def __init__(self, slicer: BackgroundSlicer, token: int, model, X, y, loss, theta0, i, j, a, b) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._slicer, self._token = slicer, token
        theta0 = np.array(theta0, dtype=np.float64)
        origin, d1, d2 = theta0.copy(), np.zeros_like(theta0), np.zeros_like(theta0)
        origin[[i, j]] = 0.0  # the point (α, β) is theta0 with θ_i = α and θ_j = β, exactly
        d1[i] = d2[j] = 1.0
        self._plane, self._theta0 = Plane(origin, d1, d2), theta0
        self._args = (model, X, y, loss, np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))

    def run(self) -> None:
        model, X, y, loss, a, b = self._args
        slicer, token = self._slicer, self._token
        grid = None
        for report in iter_slice(model, X, y, loss, self._plane, a, b):
            if report.values is not None:
                grid = report.values
                break
            slicer.wait_for_gui(token)
            if slicer.cancelled(token):
                break  # dropping the generator ends the work
        slicer._finished.emit(SliceResult(token, self._theta0, a, b, grid))


class BackgroundSlicer(SerialPool):
    """One loss grid at a time in a private thread pool; a new request while one runs replaces the waiting one.

    :attr:`ready` is emitted in the GUI thread with results whose token is still current. :meth:`shutdown`
    calls off the running job and waits for the pool (its threads are not QThreads started from Python).
    """

    ready = Signal(object)
    #: (done, total) grid points of the current plane's job (:meth:`request_plane`), in the GUI thread.
    progressed = Signal(int, int)
    _finished = Signal(object)
    _progress = Signal(int, int, int)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._finished.connect(self._on_finished)
        self._progress.connect(self._on_progress)

    def wait_for_gui(self, token: int) -> None:
        """Called from the pool's thread between two chunks of grid points: give way while the GUI thread handles
        events (no longer than the job with ``token`` is wanted)."""
        give_way(stop=lambda: self.cancelled(token))

    def invalidate(self) -> int:
        """A new token: results of earlier requests are dropped (and their jobs stop early)."""
        return self.drop()

    def request(self, model, X: np.ndarray, y: np.ndarray, loss, theta0, i: int, j: int, a, b) -> None:
        """The loss of ``model`` on ``(X, y)`` over ``θ_i = a`` × ``θ_j = b`` (the others at ``theta0``) in the
        background, for the current token; :attr:`ready` brings a :class:`SliceResult`."""
        X, y = np.array(X, dtype=np.float64), np.array(y, dtype=np.float64)  # the job's own copies
        self.submit(lambda token: _SliceJob(self, token, model, X, y, loss, theta0, i, j, a, b))

    def request_plane(self, model, X: np.ndarray, y: np.ndarray, loss, plane: Plane, a, b, tag: object = None
                      ) -> None:
        """The loss of ``model`` on ``(X, y)`` over ``plane`` at ``a`` × ``b`` in the background, for the current
        token; :attr:`progressed` says how far it is, :attr:`ready` brings a :class:`PlaneResult`."""
        X, y = np.array(X, dtype=np.float64), np.array(y, dtype=np.float64)  # the job's own copies
        self.submit(lambda token: _PlaneJob(self, token, model, X, y, loss, plane, a, b, tag))

    @Slot(int, int, int)
    def _on_progress(self, token: int, done: int, total: int) -> None:
        if token == self.token and not self.stopped:
            self.progressed.emit(done, total)

    @Slot(object)
    def _on_finished(self, result: SliceResult | PlaneResult) -> None:
        self.job_ended()
        if (result.grid is not None or getattr(result, "error", "")) and result.token == self.token:
            self.ready.emit(result)
        self.run_waiting()
