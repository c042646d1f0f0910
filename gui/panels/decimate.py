"""Long curves cut down to what a plot can show, so that a frame costs the same at step 100 and step 1,000,000.

- :func:`envelope` — a curve over steps (a loss chart): the lowest and the highest value in each pixel column, in
  order, so that every spike and the whole band of a noisy loss still show; at most two points per column.
- :func:`path` — a path over the plane (a trajectory on a map): consecutive points that fall in the same pixel are
  one point, and a path still longer than the most asked for keeps its start, its end and evenly spaced points in
  between.

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


def path(a: np.ndarray, b: np.ndarray, pixel: tuple[float, float], most: int = MOST_PATH_POINTS
         ) -> tuple[np.ndarray, np.ndarray]:
    """The path ``(a, b)`` without the points that stay in the pixel of the one before (``pixel``: a pixel's
    size in the path's units), then, if still over ``most`` points, its start, its end and evenly spaced points
    between. The first and the last point are always kept."""
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
    if len(keep) > most:
        keep = keep[np.unique(np.linspace(0, len(keep) - 1, most).round().astype(np.intp))]
    return a[keep], b[keep]
