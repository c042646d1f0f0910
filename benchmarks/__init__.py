"""fitscope's benchmarks: ``python -m benchmarks`` (or ``make bench``) measures and prints a table.

Each benchmark module exposes ``run() -> list[Result]`` and is listed in :data:`benchmarks.__main__.MODULES`.
Targets are ratios to a reference measured in the same run, or times on this machine's size of computer;
a missed target is reported, never raised: benchmarks do not fail the build.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Result:
    """One line of the table.

    ``measured`` and ``target`` are seconds when ``unit`` is ``"s"``, a ratio when it is ``"x"``.
    A ``target`` of ``None`` marks a figure that is reported for information only.
    """

    name: str
    measured: float
    unit: str = "s"
    target: float | None = None
    note: str = ""

    @property
    def met(self) -> bool | None:
        """Whether the measurement is within its target (``None`` without a target)."""
        return None if self.target is None else self.measured <= self.target


def best_of(fn: Callable[[], object], repeat: int = 5, number: int = 1) -> float:
    """The fastest of ``repeat`` timings of ``number`` calls of ``fn``, in seconds per call."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - start) / number)
    return best
