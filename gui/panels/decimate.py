"""Long curves cut down to what a plot can show, so that a frame costs the same at step 100 and step 1,000,000.

- :func:`envelope` — a curve over steps (a loss chart): the lowest and the highest value in each pixel column, in
  order, so that every spike and the whole band of a noisy loss still show; at most two points per column.
- :func:`path` — a path over the plane (a trajectory on a map): consecutive points that fall in the same pixel are
  one point, and a path still longer than the most asked for keeps its start, its end, its first steps densely
  and evenly spaced points in between.

Both are vectorised NumPy (a million points in a few milliseconds) and keep NaN gaps (a curve's segments).
"""

from __future__ import annotations

import numpy as np

#: The most points a trajectory is drawn with.
MOST_PATH_POINTS = 4000


def envelope(x: np.ndarray, y: np.ndarray, columns: int) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` (x increasing) cut to the lowest and highest ``y`` of each of ``columns`` runs of points.

    Short curves (at most ``2 * columns`` points) come back as they are. Each run gives its lowest and its
    highest point in the order they come, at their own x; a run whose values are all NaN gives one NaN (a gap).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = len(y)
    columns = max(1, int(columns))
    if n <= 2 * columns:
        return x, y
    per = -(-n // columns)
    runs = -(-n // per)
    pad = runs * per - n
    yy = np.concatenate([y, np.full(pad, np.nan)]).reshape(runs, per)
    filled_lo = np.where(np.isnan(yy), np.inf, yy)
    filled_hi = np.where(np.isnan(yy), -np.inf, yy)
    lo = filled_lo.argmin(axis=1)
    hi = filled_hi.argmax(axis=1)
    first = np.minimum(lo, hi)
    second = np.maximum(lo, hi)
    base = np.arange(runs) * per
    idx = np.column_stack([base + first, base + second]).ravel()
    keep = np.ones(len(idx), dtype=bool)
    keep[1::2] = second != first  # one point where the lowest is the highest
    idx = idx[keep]
    idx = np.minimum(idx, n - 1)  # (a run of NaN only gives its first point: a NaN, a gap there)
    return x[idx], y[idx]


class GrowingEnvelope:
    """:func:`envelope` by the chart's pixel columns (``columns`` of equal width from 0 to ``x_max``) of a curve
    that grows at its end, kept from frame to frame: a frame computes the points that came since the last one
    (and those of the last column, which may still change), so it costs the same at step 100 and step 1,000,000.

    ``key``: anything that changes when the curve changed otherwise than at its end (another run, rows thinned
    or cut, another column width, another scale): the envelope is then computed afresh. None: never kept.
    ``settled``: how many of the first points stay as they are while ``key`` stays (None: all but those of the
    last column); the columns of the points after them are not kept.
    """

    def __init__(self) -> None:
        self._key: object = None
        self._done = 0  # the points in finished columns (every column before the last point's)
        self._x: list[np.ndarray] = []  # their envelope, in pieces
        self._y: list[np.ndarray] = []

    def update(self, x: np.ndarray, y: np.ndarray, columns: int, x_max: float, key: object = None,
               transform=None, settled: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The envelope of ``(x, y)`` (x increasing, from 0 to ``x_max``) over ``columns``; ``transform``, if
        given, is applied to the values first (only to those not yet kept: it must be elementwise)."""
        n = len(y)
        columns = max(1, int(columns))
        if n <= 2 * columns or not x_max > 0:
            self._key = None
            y = np.asarray(y, dtype=np.float64)
            return np.asarray(x, dtype=np.float64), (y if transform is None else transform(y))
        key = (key, columns, x_max, transform)
        if key[0] is None or key != self._key or n < self._done:
            if not self._widen(x, key):
                self._key, self._done, self._x, self._y = key, 0, [], []
        x = np.asarray(x[self._done :], dtype=np.float64)
        y = np.asarray(y[self._done :], dtype=np.float64)
        if transform is not None:
            y = transform(y)
        column = np.floor(x * (columns / x_max))
        last = int(np.searchsorted(column, column[-1]))  # where the last column's points begin
        if settled is not None:  # and no column is finished beyond the settled points
            last = int(np.searchsorted(column, column[max(0, min(last, settled - self._done))]))
        if last:  # columns now finished: kept from now on
            ex, ey = _extremes(x[:last], y[:last], column[:last])
            self._x.append(ex)
            self._y.append(ey)
            self._done += last
            if len(self._x) > 64:  # fewer, larger pieces
                self._x, self._y = [np.concatenate(self._x)], [np.concatenate(self._y)]
        lx, ly = _extremes(x[last:], y[last:], column[last:])
        return np.concatenate([*self._x, lx]), np.concatenate([*self._y, ly])


    def _widen(self, x: np.ndarray, key: tuple) -> bool:
        """The axis' end doubled (or quadrupled…), all else the same: each new column is whole old ones, so its
        lowest and highest points are among theirs. The envelope kept is merged so (no point is looked at
        again), but for the new last column, which is taken up again from its first point. False if it cannot be
        (the envelope is then made afresh)."""
        old = self._key
        if old is None or key[0] is None or (key[0], key[1], key[3]) != (old[0], old[1], old[3]) or not self._x:
            return False
        ratio = key[2] / old[2]
        if not (ratio > 1 and ratio == 2.0 ** round(np.log2(ratio))) or len(x) <= self._done:
            return False
        columns, x_max = key[1], key[2]
        ex, ey = np.concatenate(self._x), np.concatenate(self._y)
        column = np.floor(ex * (columns / x_max))
        last = np.floor(float(x[self._done]) * (columns / x_max))  # the new column of the first point not kept
        whole = column < last
        self._x, self._y = [], []
        if whole.any():
            mx, my = _extremes(ex[whole], ey[whole], column[whole])
            self._x, self._y = [mx], [my]
        # The new last column is taken up again from its first point (the x are increasing).
        scale = columns / x_max
        done = self._done
        start = int(np.searchsorted(np.asarray(x[: done + 1], dtype=np.float64), last / scale))
        while start > 0 and np.floor(float(x[start - 1]) * scale) >= last:
            start -= 1
        while start < done and np.floor(float(x[start]) * scale) < last:
            start += 1
        self._done, self._key = start, key
        return True


def _extremes(x: np.ndarray, y: np.ndarray, column: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The lowest and the highest point of each run of equal ``column`` (increasing), in the order they come;
    one point where they are the same, and one NaN (a gap) for a column of NaN only."""
    if not len(y):
        return x, y
    starts = np.r_[0, np.flatnonzero(column[1:] != column[:-1]) + 1]
    counts = np.diff(np.r_[starts, len(y)])
    nan = np.isnan(y)
    lo_y = np.where(nan, np.inf, y)
    hi_y = np.where(nan, -np.inf, y)
    lo = _first_where(lo_y == np.repeat(np.minimum.reduceat(lo_y, starts), counts), starts)
    hi = _first_where(hi_y == np.repeat(np.maximum.reduceat(hi_y, starts), counts), starts)
    first, second = np.minimum(lo, hi), np.maximum(lo, hi)
    idx = np.column_stack([first, second]).ravel()
    keep = np.ones(len(idx), dtype=bool)
    keep[1::2] = second != first
    idx = idx[keep]
    return x[idx], y[idx]


def _first_where(mask: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """For each run beginning at ``starts``, the index of its first true ``mask`` (every run has one)."""
    hits = np.flatnonzero(mask)
    return hits[np.searchsorted(hits, starts)]


class GrowingPath:
    """:func:`path` of a path that grows at its end, kept from frame to frame: the points that leave their pixel
    are found once, and a frame looks only at the points that came since the settled ones, so it costs the same
    at step 100 and step 1,000,000.

    ``key``: anything that changes when the path changed otherwise than after its settled points (another run,
    rows thinned or cut); the pixel's size is part of it (a zoom starts afresh). None: never kept.
    ``settled``: how many of the first points stay as they are while ``key`` stays (a history's
    :attr:`~fitscope.engine.history.History.settled`; None: all but the last two).
    """

    def __init__(self) -> None:
        self._key: object = None
        self._moved = np.empty(0, dtype=np.intp)  # the points that left the pixel of the one before
        self._settled = 0  # the points looked at that stay as they are

    def update(self, a: np.ndarray, b: np.ndarray, pixel: tuple[float, float], most: int = MOST_PATH_POINTS,
               key: object = None, settled: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        n = len(a)
        px, py = pixel
        if key is None or n <= 2 or not (px > 0 and py > 0 and np.isfinite(px) and np.isfinite(py)):
            self._key = None
            return path(a, b, pixel, most)
        key = (key, px, py)
        if key != self._key or n < self._settled:
            self._key, self._moved, self._settled = key, np.empty(0, dtype=np.intp), 0
        start = self._settled  # the points after those may have been replaced or moved since
        moved = self._moved[: np.searchsorted(self._moved, start)]
        with np.errstate(all="ignore"):
            ia = np.floor(np.asarray(a[max(0, start - 1) :], dtype=np.float64) / px)
            ib = np.floor(np.asarray(b[max(0, start - 1) :], dtype=np.float64) / py)
        if start == 0:
            new = np.r_[0, np.flatnonzero((ia[1:] != ia[:-1]) | (ib[1:] != ib[:-1])) + 1]
        else:
            new = np.flatnonzero((ia[1:] != ia[:-1]) | (ib[1:] != ib[:-1])) + start
        self._moved = np.concatenate([moved, new])
        self._settled = max(0, n - 2) if settled is None else min(max(0, settled), n)
        keep = self._moved if self._moved[-1] == n - 1 else np.r_[self._moved, n - 1]
        return _thin(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), keep, most)


def _thin(a: np.ndarray, b: np.ndarray, keep: np.ndarray, most: int) -> tuple[np.ndarray, np.ndarray]:
    """The points ``keep`` of the path, at most ``most`` of them: see :func:`path`."""
    if len(keep) > most:
        m = len(keep)
        early = np.geomspace(1, m, most // 2) - 1  # every one of the first ~most/4, then ever fewer
        even = np.linspace(0, m - 1, most - most // 2)
        keep = keep[np.unique(np.r_[early, even].round().astype(np.intp))]
    return a[keep], b[keep]


def path(a: np.ndarray, b: np.ndarray, pixel: tuple[float, float], most: int = MOST_PATH_POINTS
         ) -> tuple[np.ndarray, np.ndarray]:
    """The path ``(a, b)`` without the points that stay in the pixel of the one before (``pixel``: a pixel's
    size in the path's units), then, if still over ``most`` points, its start, its end and ``most`` points
    between: half of them evenly spaced, half spaced ever wider from the start (a training path makes its shape
    in its first steps, and spends the rest zigzagging near its end: evenly spaced points alone drew its bends as
    straight lines). The first and the last point are always kept."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    n = len(a)
    if n <= 2:
        return a, b
    px, py = pixel
    if px > 0 and py > 0 and np.isfinite(px) and np.isfinite(py):
        with np.errstate(all="ignore"):
            ia = np.floor(a / px)
            ib = np.floor(b / py)
        moved = np.empty(n, dtype=bool)
        moved[0] = True
        moved[1:] = (ia[1:] != ia[:-1]) | (ib[1:] != ib[:-1])
        moved[-1] = True
        keep = np.flatnonzero(moved)
    else:
        keep = np.arange(n)
    return _thin(a, b, keep, most)
