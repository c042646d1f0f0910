"""Long curves are cut to what a plot can show, without losing a spike, a gap, a start or an end."""

from __future__ import annotations

import numpy as np
import pytest

from fitscope.gui.panels.decimate import GrowingEnvelope, GrowingPath, envelope, path


def test_a_short_curve_is_kept_as_it_is():
    x, y = np.arange(10.0), np.arange(10.0) ** 2
    ex, ey = envelope(x, y, 100)
    assert np.array_equal(ex, x) and np.array_equal(ey, y)


def test_the_envelope_keeps_every_columns_extremes_in_order():
    rng = np.random.default_rng(0)
    n, columns = 100_000, 500
    x = np.arange(1.0, n + 1)
    y = np.exp(-x / 20_000) + 0.1 * rng.random(n)
    y[12_345] = 50.0  # one spike
    ex, ey = envelope(x, y, columns)
    assert len(ey) <= 2 * columns
    assert ey.max() == 50.0 and ey.min() == y.min()
    assert np.all(np.diff(ex) > 0)  # in order along x
    per = -(-n // columns)
    for k in (0, 17, 250, columns - 1):  # each column's lowest and highest are there
        run = y[k * per : (k + 1) * per]
        kept = ey[(ex > k * per) & (ex <= (k + 1) * per)]
        assert run.min() in kept and run.max() in kept
    assert ex[0] >= x[0] and ex[-1] <= x[-1]


def test_the_envelope_keeps_gaps():
    n = 10_000
    x = np.arange(n, dtype=float)
    y = np.ones(n)
    y[4000:6000] = np.nan  # the loss changed: a gap between two segments
    ex, ey = envelope(x, y, 100)
    assert np.isnan(ey).any()
    assert np.all(np.isfinite(ey[ex < 3900])) and np.all(np.isfinite(ey[ex > 6100]))


def test_a_path_drops_points_within_one_pixel_and_keeps_its_ends():
    t = np.linspace(0, 1, 50_000)
    a = np.concatenate([t, np.full(50_000, 1.0)])  # a walk, then sitting still
    b = np.concatenate([t ** 2, np.full(50_000, 1.0)])
    pa, pb = path(a, b, (0.01, 0.01))
    assert len(pa) < 300
    assert (pa[0], pb[0]) == (a[0], b[0]) and (pa[-1], pb[-1]) == (a[-1], b[-1])
    # Every point dropped is within a pixel of a point kept.
    kept = np.column_stack([pa, pb])
    for i in range(0, len(a), 997):
        assert np.min(np.max(np.abs(kept - [a[i], b[i]]), axis=1)) <= 0.0100001 * 2


def test_a_path_beyond_the_most_keeps_at_most_that_many_points_and_its_ends():
    rng = np.random.default_rng(1)
    a, b = rng.random(100_000), rng.random(100_000)  # every step a new pixel
    pa, pb = path(a, b, (1e-6, 1e-6), most=1000)
    assert 800 <= len(pa) <= 1000
    assert (pa[0], pa[-1]) == (a[0], a[-1])
    assert np.array_equal(pa[:40], a[:40])  # its first steps, every one


@pytest.mark.parametrize("tail", [1_000, 100_000, 1_000_000])
def test_a_long_zigzag_at_the_end_does_not_straighten_the_bend_at_the_start(tail):
    # 40 steps east, 40 north (the bend at step 40), then back and forth between two pixels near the end, as
    # SGD on MAE does: however long the zigzag, the bend is drawn.
    east = np.c_[np.linspace(0, 1, 41), np.zeros(41)]
    north = np.c_[np.ones(40), np.linspace(0.025, 1, 40)]
    zigzag = np.c_[1 + 0.011 * (np.arange(tail) % 2), np.ones(tail)]
    p = np.vstack([east, north, zigzag])
    pa, pb = path(p[:, 0], p[:, 1], (0.01, 0.01), most=4000)
    assert len(pa) <= 4000
    assert np.any((pa == 1.0) & (pb == 0.0))  # the corner
    assert np.any((pa == 1.0) & (pb == 0.5))  # and the way north


# --------------------------------------------------------------------------- kept from frame to frame
def _column_extremes(x, y, columns, x_max):
    """By hand: per pixel column, the values of its lowest and highest point (NaN for a column of NaN)."""
    column = np.floor(x * (columns / x_max))
    out = {}
    for c in np.unique(column):
        v = y[column == c]
        out[c] = (np.nan, np.nan) if np.isnan(v).all() else (np.nanmin(v), np.nanmax(v))
    return out


@pytest.mark.parametrize("seed", range(6))
def test_a_growing_envelope_equals_the_envelope_of_the_whole_curve_at_every_frame(seed):
    rng = np.random.default_rng(seed)
    n = 60_000
    x = np.cumsum(rng.integers(1, 4, size=n)).astype(float)  # steps, some thinned out
    y = rng.normal(size=n).cumsum()
    y[rng.random(n) < 0.01] = np.nan
    y[5000:5400] = np.nan  # a whole gap
    kept, fresh = GrowingEnvelope(), GrowingEnvelope()
    end, columns = 0, 300
    while end < n:
        end = min(n, end + int(rng.integers(1, 5000)))
        x_max = 10.0 * 2 ** np.ceil(np.log2(x[end - 1] / 10))  # the axis' end, as the chart rounds it
        ex, ey = kept.update(x[:end], y[:end], columns, x_max, key="run")
        fx, fy = fresh.update(x[:end], y[:end], columns, x_max, key=None)  # computed afresh
        np.testing.assert_array_equal(ex, fx)
        np.testing.assert_array_equal(ey, fy)
        if end > 2 * columns:
            assert len(ex) <= 2 * columns + 2
            hand = _column_extremes(x[:end], y[:end], columns, x_max)
            got = _column_extremes(ex, ey, columns, x_max)
            assert got.keys() == hand.keys()
            for c, (lo, hi) in hand.items():
                np.testing.assert_array_equal(got[c], (lo, hi))
        assert np.floor(ex[-1] * columns / x_max) == np.floor(x[end - 1] * columns / x_max)  # to the last column


def test_a_growing_envelope_starts_afresh_when_its_key_changes():
    x = np.arange(1.0, 10_001.0)
    kept = GrowingEnvelope()
    kept.update(x, np.sin(x), 100, 10_000.0, key=1)
    other = np.cos(x)
    _, y = kept.update(x, other, 100, 10_000.0, key=2)  # another run of the same length
    assert set(y) <= set(other)


@pytest.mark.parametrize("seed", range(4))
def test_a_growing_path_equals_the_path_drawn_afresh_at_every_frame(seed):
    rng = np.random.default_rng(seed)
    n = 40_000
    a = np.cumsum(rng.normal(size=n)) * 1e-3
    b = np.cumsum(rng.normal(size=n)) * 1e-3
    a[rng.random(n) < 0.001] = np.nan  # points far out or lost: drawn as they come
    kept, end = GrowingPath(), 0
    while end < n:
        end = min(n, end + int(rng.integers(1, 3000)))
        shown_a, shown_b = a[:end].copy(), b[:end].copy()
        if end > 5 and rng.random() < 0.3:  # the latest point replaced (a thinned history's latest row)
            shown_a[-1] += 0.5
        ga, gb = kept.update(shown_a, shown_b, (2e-3, 2e-3), most=1000, key="run")
        fa, fb = path(shown_a, shown_b, (2e-3, 2e-3), most=1000)
        np.testing.assert_array_equal(ga, fa)
        np.testing.assert_array_equal(gb, fb)
    _, fresh = kept.update(a, b, (1e-3, 1e-3), most=1000, key="run")  # another pixel size: afresh
    assert np.array_equal(fresh, path(a, b, (1e-3, 1e-3), most=1000)[1], equal_nan=True)
