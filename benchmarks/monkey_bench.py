"""The whole app under random abuse: a long seeded monkey, and closing the window mid-run again and again.

(a) Monkey: 20,000 random user actions on the main window (the same actions and invariant checks as
    ``tests/test_monkey.py``, which does 2,000 in CI), on coarse loss surfaces. Reported: actions per second
    and failures; the row's target is a budget per action (100 ms), and a failure counts as missed.
(b) Close mid-run: 100 rounds of opening a window, starting runs in random tabs and closing it 0–300 ms
    later (``tests/test_shutdown.py`` does 20). Reported: the slowest close; target at most 0.3 s. A thread
    left running or a Qt warning counts as missed.

Settings are kept in a temporary folder, so the user's saved window layout and last settings are left alone.
Override the seeds and sizes with FITSCOPE_MONKEY_SEED, FITSCOPE_MONKEY_BENCH_ACTIONS, FITSCOPE_CLOSE_ROUNDS.
"""

from __future__ import annotations

import contextlib
import os
import random
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

from . import Result

ACTIONS = int(os.environ.get("FITSCOPE_MONKEY_BENCH_ACTIONS", "20000"))
CLOSE_ROUNDS = int(os.environ.get("FITSCOPE_CLOSE_ROUNDS", "100"))
SEED = int(os.environ.get("FITSCOPE_MONKEY_SEED", "20251106"))
PER_ACTION = 0.1  # seconds: the budget of one action with its share of checks
CLOSE_LIMIT = 0.3


def _stress():
    """``tests/gui_stress.py`` (test helpers, not part of the installed app)."""
    tests = str(Path(__file__).resolve().parent.parent / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    import gui_stress

    return gui_stress


@contextlib.contextmanager
def _private_settings():
    """QSettings in a temporary folder for the duration (test mode for QStandardPaths too)."""
    from PySide6.QtCore import QSettings, QStandardPaths

    with tempfile.TemporaryDirectory() as folder:
        QStandardPaths.setTestModeEnabled(True)
        QSettings.setDefaultFormat(QSettings.Format.IniFormat)
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, folder)
        try:
            yield Path(folder)
        finally:
            QStandardPaths.setTestModeEnabled(False)
            QSettings.setDefaultFormat(QSettings.Format.NativeFormat)
            QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                              QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericConfigLocation))


def monkey(stress, folder: Path) -> Result:
    from fitscope.gui.app import MainWindow

    failure = ""
    window = MainWindow()
    window.resize(1000, 650)
    window.show()
    window.activateWindow()
    started = time.perf_counter()
    with stress.ErrorTrap() as trap, stress.coarse_grids(), stress.no_modal_dialogs():
        runner = stress.Monkey(window, SEED, folder / "files", trap)
        try:
            runner.run(ACTIONS, check_every=100)
        except stress.MonkeyFailure as e:
            failure = str(e)
        elapsed = time.perf_counter() - started
        window.close()
        stress.pump()
        if not failure and [t for t in stress.own_threads(window) if t.isRunning()]:
            failure = "a thread outlived the window"
    window.deleteLater()
    stress.pump()
    done = max(runner.done, 1)
    if failure:
        print(failure, file=sys.stderr)
        note = f"1 failure at action #{runner.done} (seed {SEED}): {failure.splitlines()[0][:120]}"
        return Result(f"monkey: {ACTIONS:,} random actions", float("inf"), target=PER_ACTION, note=note)
    return Result(f"monkey: {ACTIONS:,} random actions", elapsed / done, target=PER_ACTION,
                  note=f"{done / elapsed:.0f} actions/s, {done:,} actions in {elapsed:.0f} s, "
                       f"{done // 100 + 1} invariant checks, 0 failures (seed {SEED})")


def close_mid_run(stress) -> Result:
    from fitscope.gui.app import MainWindow

    rng = random.Random(SEED)
    times, failure = [], ""
    with stress.ErrorTrap() as trap, stress.coarse_grids():
        for round_ in range(CLOSE_ROUNDS):
            try:
                times.append(stress.close_mid_run(MainWindow, rng, trap))
            except stress.MonkeyFailure as e:
                failure = f"round {round_}: {e}"
                break
    name = f"close the window mid-run, {CLOSE_ROUNDS} times: slowest close"
    if failure:
        print(failure, file=sys.stderr)
        return Result(name, float("inf"), target=CLOSE_LIMIT, note=f"FAILED (seed {SEED}) {failure[:120]}")
    return Result(name, max(times), target=CLOSE_LIMIT,
                  note=f"median {statistics.median(times) * 1000:.0f} ms; no thread left, no Qt warning")


def run() -> list[Result]:
    from fitscope.gui.app import create_app

    stress = _stress()
    stress.track_qthreads()
    create_app()
    with _private_settings() as folder, warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # as the tests run: a NumPy overflow in a slot is a bug
        return [monkey(stress, folder), close_mid_run(stress)]
