"""How the project writes a number: on a plot, in a sentence, in a formula.

The rule of every number drawn on a plot: plain decimals from 0.01 to 999 (``0.05``, ``0.2``, ``1``, ``20``,
``500``) and ``1e3``-style beyond (``1e3``, ``2.5e4``, ``1e-3``), never ``10²`` nor ``9·10¹``. The ticks of a
linear axis count steps, prices, areas: they are written as people write such numbers, the same way along the
axis (:func:`linear_texts`: ``1,500``; ``50k``, ``1.2M``). A number in a sentence (:func:`prose`) is grouped
by thousands up to a million (``56,000``) and written with a short exponent beyond (``7.83e9``, ``2e-5``),
never Python's ``5.6e+04``.
"""

from __future__ import annotations

import math
import re

#: Plain decimals for magnitudes in [PLAIN_LO, PLAIN_HI); ``1e3``-style outside.
PLAIN_LO, PLAIN_HI = 0.01, 1000.0


def _scaled(a: float, k: int) -> float:
    """``a / 10**k`` without 10**k underflowing to 0 for the smallest numbers (subnormals: k down to −324)."""
    return a / 10.0**k if k > -300 else (a * 1e300) / 10.0 ** (k + 300)


def _strip(text: str) -> str:
    return text.rstrip("0").rstrip(".") if "." in text else text


def number_text(v: float, last: int) -> str:
    """``v`` written down to the digit of 10**``last`` (plain or ``1e3``-style, as the module's rule says)."""
    if not math.isfinite(v):
        return str(v)
    if v == 0:
        return "0"
    sign = "-" if v < 0 else ""
    a = abs(v)
    k = math.floor(math.log10(a))
    digits = max(0, k - last)  # after the mantissa's point
    m = round(_scaled(a, k), digits)
    if m >= 10:  # rounding carried into the next decade
        k += 1
        digits = max(0, k - last)
        m = round(_scaled(a, k), digits)
    if PLAIN_LO <= m * 10.0**k < PLAIN_HI:
        return sign + _strip(f"{a:.{max(0, -last)}f}")
    return f"{sign}{_strip(f'{m:.{digits}f}')}e{k}"


def compact(v: float, digits: int = 3) -> str:
    """``v`` to ``digits`` significant digits: ``0.931``, ``31.8``, ``123``, ``1.37e3``, ``4.23e12``, ``2e-3``."""
    if not math.isfinite(v) or v == 0:
        return number_text(v, 0)
    k = math.floor(math.log10(abs(v)))
    if round(_scaled(abs(v), k), digits - 1) >= 10:
        k += 1
    return number_text(v, k - digits + 1)


def prose(v: float, digits: int = 3) -> str:
    """``v`` in a sentence, to ``digits`` significant digits: ``0.0718``, ``22.5``, ``56,000``, ``1,234.5``,
    ``7.83e9``, ``2e-5``; ``∞``, ``-∞``, ``–`` (NaN)."""
    try:
        v = float(v) or 0.0  # no "-0"
    except OverflowError:  # an integer beyond any float
        v = math.inf if v > 0 else -math.inf
    if math.isnan(v):
        return "–"
    if math.isinf(v):
        return "∞" if v > 0 else "-∞"
    text = f"{v:.{digits}g}"
    if "e" in text:
        if not 3 <= int(text.partition("e")[2]) < 6:
            return short_exponent(text)
        text = f"{float(text):.0f}"  # 5.6e+04: a whole number, grouped below
    whole, point, fraction = text.partition(".")
    return f"{int(whole):,}{point}{fraction}" if len(whole.lstrip("-")) > 3 else text


def typed(v: float, digits: int = 6) -> str:
    """``v`` as a person types it in a field: ``digits`` significant digits, a short exponent (``5.09e-8``), no
    thousands separator (``float`` reads it back)."""
    return short_exponent(f"{float(v):.{digits}g}")


def short_exponent(text: str) -> str:
    """A number written by Python with its exponent as a person writes it: ``5.6e+04`` → ``5.6e4``,
    ``1e-07`` → ``1e-7``; a number without one as it is."""
    mantissa, e, exponent = text.partition("e")
    return f"{mantissa}e{int(exponent)}" if e else text


def coordinate(v: float) -> str:
    """A point's coordinate in a sentence: :func:`prose`, and 0 for what is zero but for rounding (under 1e-12)."""
    return "0" if abs(v) < 1e-12 else prose(v)


def number(v: float) -> str:
    """A number as a person writes it in a formula: 6 significant digits, a true minus sign, no "-0"."""
    v = float(v)
    if math.isnan(v):
        return "NaN"
    return pretty(f"{0.0 if v == 0 else v:.6g}")


def pretty(text: str) -> str:
    """Typographic minus signs in front of numbers (``-5`` → ``−5``; ``1e-07`` is left alone)."""
    return re.sub(r"(?<![\w.)])-(?=[\d.])", "−", text)


#: Suffixes of the ticks of a linear axis reaching 10,000 or more: thousands, millions, billions, trillions.
SUFFIXES = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def _fewest_decimals(values: list[float], suffix: str = "") -> list[str]:
    """``values`` (round ticks) with as few decimals as write them whole (``1``, ``1.5``, ``2``), each with
    ``suffix``."""
    for decimals in range(7):
        if all(abs(round(v, decimals) - v) <= 1e-9 * max(1.0, abs(v)) for v in values):
            break
    texts = [_strip(f"{v:,.{decimals}f}") for v in values]
    return ["0" if t in ("0", "-0") else t + suffix for t in texts]


def linear_texts(values: list[float]) -> list[str] | None:
    """The labels of a linear axis's ticks ``values``, all the same way: with a thousands separator up to 9,999
    (``1,500``), with a suffix from 10,000 (``50k``, ``1.2M``, ``3G``), ``1e3``-style beyond a thousand
    trillions or under 0.001; ``None`` where plain decimals do (every tick under 1,000)."""
    finite = [abs(v) for v in values if math.isfinite(v)]
    if not finite:
        return None
    top = max(finite)
    if top >= 1e15 or 0 < top < 1e-3:
        return [compact(v, 3) for v in values]
    if top >= 1e4:
        scale, suffix = next((s, x) for s, x in SUFFIXES if top >= s)
        return _fewest_decimals([v / scale for v in values], suffix)
    if top >= 1e3:
        return _fewest_decimals(values)
    return None
