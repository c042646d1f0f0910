"""Run every benchmark module and print one table: name, measured, target, ratio, verdict.

Always exits 0: a missed target or a module that cannot run is reported in the table, not raised.
"""

from __future__ import annotations

import importlib
import platform
import sys
import traceback

import numpy as np

from . import Result

#: Modules with a ``run() -> list[Result]``, in the order their rows are printed.
MODULES = ("benchmarks.engine_bench", "benchmarks.gui_bench", "benchmarks.latency_bench", "benchmarks.boston_bench",
           "benchmarks.data_bench", "benchmarks.monkey_bench", "benchmarks.sweep_bench",
           "benchmarks.landscape_bench", "benchmarks.animation_bench")


def _value(x: float, unit: str) -> str:
    if unit == "x":
        return f"{x:.2f}x"
    if x >= 1:
        return f"{x:.3g} s"
    if x >= 1e-3:
        return f"{x * 1e3:.3g} ms"
    return f"{x * 1e6:.3g} us"


def _row(r: Result) -> tuple[str, ...]:
    if r.target is None:
        return (r.name, _value(r.measured, r.unit), "", "", "info", r.note)
    ratio = f"{r.measured / r.target:.2g}"
    return (r.name, _value(r.measured, r.unit), f"<= {_value(r.target, r.unit)}", ratio,
            "met" if r.met else "MISSED", r.note)


def _print_table(rows: list[tuple[str, ...]]) -> None:
    header = ("benchmark", "measured", "target", "of target", "verdict", "note")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        cells = [row[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(row[1:4], widths[1:4], strict=True)),
                 row[4].ljust(widths[4]), row[5]]
        print("  ".join(cells).rstrip())


def main() -> int:
    print(f"fitscope benchmarks: Python {platform.python_version()}, NumPy {np.__version__}, "
          f"{platform.machine()}; best of several repeats each")
    rows: list[tuple[str, ...]] = []
    for name in MODULES:
        print(f"running {name} …", file=sys.stderr, flush=True)
        try:
            results = importlib.import_module(name).run()
        except Exception as e:  # a broken benchmark is reported, and the others still run
            traceback.print_exc()
            rows.append((name, "", "", "", "FAILED", f"{type(e).__name__}: {e}"))
            continue
        rows.extend(_row(r) for r in results)
    _print_table(rows)
    missed = sum(row[4] in ("MISSED", "FAILED") for row in rows)
    print(f"{missed} of {len(rows)} missed or failed (benchmarks report; they never fail the build)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
