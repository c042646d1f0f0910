"""Numbers that stay readable: a log axis whose labels never crowd, written the one compact way of
:mod:`fitscope.engine.numbers` (:func:`compact`, :func:`number_text`, imported here for the plots).

:class:`LogAxis` is a pyqtgraph axis that, in log mode, labels round values (1-2-5 per decade, every k-th
decade over many, evenly spaced ones within less than a decade) chosen so that no two labels come closer
than about twice their size at the axis's length in pixels. :func:`log_ticks` makes that choice. In linear
mode it keeps pyqtgraph's ticks and writes them all one way (``1,500``; ``50k``, ``1.2M``: pyqtgraph's own
wrote ``500000`` beside ``1e+06``); :func:`compact_axes` gives a plot its two.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pyqtgraph as pg
from PySide6.QtGui import QFontMetricsF

from fitscope.engine.numbers import compact, linear_texts, number_text

#: Labels are at least this many times their own size apart, centre to centre, along the axis: a label's height
#: of blank between two, never a column of 0.1/0.09/0.08 nor thirty labels in steps of 0.02.
ROOM = 2.0
#: Minor (unlabelled) grid lines at most this close, in pixels.
MINOR_PX = 4.0
_EPS = 1e-9


def distinct_texts(values, digits: int = 3) -> list[str]:
    """``values`` (in order) written with :func:`compact` to ``digits`` significant digits, or as many more as
    it takes for no label to read the same as its neighbour's (``635.2``, ``635.4`` rather than ``635``, ``635``)."""
    values = [float(v) for v in values]
    texts = [compact(v, digits) for v in values]
    for more in range(digits + 1, 16):
        if all(a != b for a, b in zip(texts, texts[1:], strict=False)):
            break
        texts = [compact(v, more) for v in values]
    return texts


def _spaced(positions: list[float], sizes: list[float], room: float) -> bool:
    """Whether consecutive labels of ``sizes`` at ``positions`` (pixels, increasing) are far enough apart."""
    return all(b - a >= room * (sa + sb) / 2 for a, b, sa, sb in
               zip(positions, positions[1:], sizes, sizes[1:], strict=False))


def _log_candidates(lo: float, hi: float):
    """Sets of round values in [10**lo, 10**hi], densest first: (log10 value, last digit) pairs each."""
    decades = hi - lo
    e0, e1 = math.floor(lo), math.ceil(hi)
    for mantissas in ((1, 2, 3, 5), (1, 2, 5), (1, 3), (1,)):
        if (len(mantissas) > 3 and decades > 2) or (len(mantissas) > 1 and decades > 12):
            continue  # over decades, 1-2-5 at most
        yield [(e + math.log10(m), e) for e in range(e0, e1 + 1) for m in mantissas
               if lo - _EPS <= e + math.log10(m) <= hi + _EPS]
    stride = 2
    while stride <= max(2.0, decades):
        yield [(float(e), e) for e in range(e0, e1 + 1) if e % stride == 0 and lo - _EPS <= e <= hi + _EPS]
        stride = {2: 3, 3: 5}.get(stride, stride * 2 if str(stride)[0] in "15" else stride * 5 // 2)


def _linear_candidates(lo: float, hi: float, most: int = 60):
    """Evenly spaced round values in [10**lo, 10**hi] (for a range of a decade or two), densest first."""
    if hi - lo > 2 or lo < -300 or hi > 300:
        return
    a, b = 10.0**lo, 10.0**hi
    top = math.floor(math.log10(b))
    for last in range(math.floor(math.log10(b - a)) - 1, top + 1):
        for m in (1, 2, 5):
            step = m * 10.0**last
            first, n = math.ceil(a / step - _EPS), math.floor(b / step + _EPS)
            if n - first + 1 > most or n < first:
                continue
            values = [k * step for k in range(max(first, 1), n + 1)]
            yield [(math.log10(v), last) for v in values if v > 0]


def log_ticks(lo: float, hi: float, length: float, extent: Callable[[str], float], room: float = ROOM
              ) -> tuple[list[tuple[float, str]], list[float]]:
    """Labelled and unlabelled ticks of a log axis from 10**``lo`` to 10**``hi``, ``length`` pixels long.

    ``extent(label)``: the pixels a label takes along the axis (its height on a vertical axis). Returns
    ``(major, minor)``: ``major`` the (log10 value, label) pairs, no two closer than ``room`` times their
    size; ``minor`` the log10 values of the grid lines in between (1…9 per decade, where there is room).
    Over several decades the labels are 1-2-5 per decade or every k-th decade; within one, evenly spaced
    round values (0.08, 0.09, 0.1, 0.11…).
    """
    lo, hi = min(lo, hi), max(lo, hi)
    if not (math.isfinite(lo) and math.isfinite(hi)) or length <= 0:
        return [], []
    if hi - lo < 1e-12:
        return [(lo, compact(10.0**lo))], []
    scale = length / (hi - lo)
    sizes: dict[str, float] = {}

    def size(label: str) -> float:
        if label not in sizes:
            sizes[label] = extent(label)
        return sizes[label]

    def drawable(ticks: list[tuple[float, int]]) -> list[tuple[float, int]]:
        """The ticks whose label lies within the axis (pyqtgraph drops one that sticks out at an end)."""
        out = []
        for v, last in ticks:
            half = 0.4 * size(number_text(10.0**v, last))  # pyqtgraph measures a label at 0.8 of its height
            if half <= (v - lo) * scale <= length - half:
                out.append((v, last))
        return out

    def fits(ticks: list[tuple[float, int]]) -> bool:
        labels = [number_text(10.0**v, last) for v, last in ticks]
        if len(set(labels)) < len(labels):
            return False
        return _spaced([(v - lo) * scale for v, _ in ticks], [size(s) for s in labels], room)

    # The densest set of a log axis's natural labels that fits (1-2-5 per decade, or every k-th decade) …
    best = next((t for t in map(drawable, _log_candidates(lo, hi)) if t and fits(t)), [])
    if len(best) < 3:  # … or, over a decade or less, evenly spaced round values if they say more
        linear = next((t for t in map(drawable, _linear_candidates(lo, hi)) if t and fits(t)), [])
        if len(linear) > len(best):
            best = linear
    if not best:  # not even one round value in range: the middle, to two digits
        best = [((lo + hi) / 2, math.floor((lo + hi) / 2) - 1)]
    major = [(v, number_text(10.0**v, last)) for v, last in best]
    minor: list[float] = []
    if (hi - lo) <= 6 and math.log10(10 / 9) * scale >= MINOR_PX:
        taken = [v for v, _ in major]
        minor = [e + math.log10(m) for e in range(math.floor(lo), math.ceil(hi) + 1) for m in range(1, 10)
                 if lo <= e + math.log10(m) <= hi and all(abs(e + math.log10(m) - t) > 1e-6 for t in taken)]
    elif hi - lo > 6:
        step = max(1, math.ceil((hi - lo) / max(1.0, length / 12)))
        taken = {round(v, 6) for v, _ in major}
        minor = [float(e) for e in range(math.floor(lo), math.ceil(hi) + 1)
                 if e % step == 0 and lo <= e <= hi and round(float(e), 6) not in taken]
    return major, minor


class LogAxis(pg.AxisItem):
    """A pyqtgraph axis that, in log mode, labels round values that never crowd (:func:`log_ticks`), written
    plainly or ``1e3``-style; in linear mode it has pyqtgraph's own ticks, written as people write counts and
    prices (:func:`~fitscope.engine.numbers.linear_texts`)."""

    def __init__(self, orientation: str, **kwargs) -> None:
        super().__init__(orientation, **kwargs)
        self._labels: dict[float, str] = {}
        self._blank = False

    def set_blank(self, blank: bool) -> None:
        """No ticks, labels nor grid lines (a chart with nothing drawn on it has no scale to show)."""
        if blank != self._blank:
            self._blank = blank
            self.picture = None
            self.update()

    def _extent(self, label: str) -> float:
        metrics = QFontMetricsF(self.style["tickFont"] or self.font())
        if self.orientation in ("left", "right"):
            return metrics.height()
        return metrics.horizontalAdvance(label) + metrics.averageCharWidth()

    def resizeEvent(self, ev=None) -> None:  # noqa: N802 (Qt's name)
        # pyqtgraph drops a label that sticks out of the axis and widens the axis for it afterwards, forgetting
        # its picture but not asking for a repaint: a cached axis would keep showing the picture without it.
        super().resizeEvent(ev)
        self.update()

    def tickValues(self, minVal, maxVal, size):  # noqa: N802, N803 (pyqtgraph's names)
        if self._blank:
            self._labels = {}
            return []
        if not self.logMode:
            return super().tickValues(minVal, maxVal, size)
        lo, hi = sorted((minVal, maxVal))
        nudge = 1e-7 * (hi - lo)  # a tick exactly at an end would be dropped by a rounding error

        def inside(v: float) -> float:
            return min(max(v, lo + nudge), hi - nudge)

        major, minor = log_ticks(lo, hi, size, self._extent)
        major = [(inside(v), text) for v, text in major]
        self._labels = dict(major)
        levels = [(None, [v for v, _ in major])]
        if minor:
            levels.append((None, minor))
        return levels

    def tickStrings(self, values, scale, spacing):  # noqa: N802 (pyqtgraph's name)
        if not self.logMode:
            texts = linear_texts([v * scale for v in values])  # 1,500; 50k; 1.2M (see engine/numbers.py)
            return super().tickStrings(values, scale, spacing) if texts is None else texts
        return [self._labels.get(v) for v in values]  # None: a grid line without a label

    def labels(self) -> dict[float, str]:
        """The labels of the last ticks chosen (log10 value → text); for tests."""
        return dict(self._labels)


def compact_axes() -> dict[str, LogAxis]:
    """The left and bottom axes of a new plot (``axisItems=``; an axis given there is shown): numbers written
    the one compact way."""
    return {side: LogAxis(side) for side in ("left", "bottom")}
