"""Numbers and arrays as JSON, exactly: what a saved session is made of.

JSON has no NaN or infinity, and Python's :mod:`json` would write them as bare ``NaN``/``Infinity`` tokens
that other readers refuse. Here a float is written as itself (Python writes the shortest text that reads
back to the same float64, so it round-trips bit for bit) and a non-finite one as the string ``"nan"``,
``"inf"`` or ``"-inf"``.

Two array forms:

- :func:`floats_to_json` / :func:`floats_from_json`: a list of numbers, readable, for small arrays (a model's
  parameters, an optimizer's accumulators);
- :func:`array_to_json` / :func:`array_from_json`: ``{"dtype", "shape", "base64"}`` of the array's
  little-endian bytes, for long ones (a trajectory of thousands of steps): exact, and a third of the size.

Decoding is strict: anything malformed raises :class:`ValueError` with a one-line message. Nothing here
evaluates or unpickles anything.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_DTYPES = {"float64": np.dtype("<f8"), "int64": np.dtype("<i8")}


def float_to_json(x: float) -> float | str:
    """``x`` as a JSON value: the float itself, or ``"nan"``, ``"inf"``, ``"-inf"``."""
    x = float(x)
    if math.isfinite(x):
        return x
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def float_from_json(value: Any, what: str = "a number") -> float:
    """The float written by :func:`float_to_json` (an int is accepted too)."""
    if isinstance(value, bool):
        raise ValueError(f"{what} is not a number")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value in _NON_FINITE:
        return _NON_FINITE[value]
    raise ValueError(f"{what} is not a number")


def finite_from_json(value: Any, what: str = "a number") -> float:
    """A float that must be finite."""
    x = float_from_json(value, what)
    if not math.isfinite(x):
        raise ValueError(f"{what} is not a finite number")
    return x


def int_from_json(value: Any, what: str = "a whole number", minimum: int | None = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what} is not a whole number")
    if minimum is not None and value < minimum:
        raise ValueError(f"{what} is below {minimum}")
    return value


def floats_to_json(a: np.ndarray | Sequence[float]) -> list[float | str]:
    """A flat list of JSON values, one per element of ``a`` (in C order)."""
    flat = np.asarray(a, dtype=np.float64).ravel()
    if np.isfinite(flat).all():
        return flat.tolist()
    return [float_to_json(x) for x in flat.tolist()]


def floats_from_json(value: Any, what: str = "an array", size: int | None = None) -> np.ndarray:
    """A new float64 vector from a list written by :func:`floats_to_json`; ``size``, if given, is checked."""
    if not isinstance(value, list):
        raise ValueError(f"{what} is not a list of numbers")
    if size is not None and len(value) != size:
        raise ValueError(f"{what} has {len(value)} values, not {size}")
    return np.array([float_from_json(v, what) for v in value], dtype=np.float64)


def array_to_json(a: np.ndarray) -> dict[str, Any]:
    """``{"dtype": "float64"|"int64", "shape": [...], "base64": ...}``: the array's little-endian bytes."""
    a = np.asarray(a)
    name = "int64" if np.issubdtype(a.dtype, np.integer) else "float64"
    data = np.ascontiguousarray(a, dtype=_DTYPES[name])
    return {"dtype": name, "shape": list(data.shape), "base64": base64.b64encode(data.tobytes()).decode("ascii")}


def array_from_json(value: Any, what: str = "an array", dtype: str | None = None, ndim: int | None = None
                    ) -> np.ndarray:
    """A new (writeable) array from :func:`array_to_json`'s dict; ``dtype`` and ``ndim``, if given, are checked."""
    if not isinstance(value, dict):
        raise ValueError(f"{what} is not an encoded array")
    name = value.get("dtype")
    if name not in _DTYPES or (dtype is not None and name != dtype):
        raise ValueError(f"{what} has an unknown or wrong type")
    shape = value.get("shape")
    if not isinstance(shape, list) or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0
                                              for n in shape):
        raise ValueError(f"{what} has no valid shape")
    if ndim is not None and len(shape) != ndim:
        raise ValueError(f"{what} has {len(shape)} dimensions, not {ndim}")
    text = value.get("base64")
    if not isinstance(text, str):
        raise ValueError(f"{what} has no data")
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ValueError(f"{what} is not valid base64") from None
    dt = _DTYPES[name]
    if len(raw) != math.prod(shape) * dt.itemsize:
        raise ValueError(f"{what} holds {len(raw)} bytes, not the {math.prod(shape) * dt.itemsize} its shape needs")
    return np.frombuffer(raw, dtype=dt).astype(np.float64 if name == "float64" else np.int64).reshape(shape)
