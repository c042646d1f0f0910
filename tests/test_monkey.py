"""A seeded monkey on the whole window: thousands of random user actions, no error, every invariant kept.

The actions (see :class:`gui_stress.Monkey`): clicks on the loss surfaces and slices (inside and outside the
plots), wheel zooms and drags, every step command by QAction and by keyboard shortcut, Run and Pause,
learning rates from 1e-6 to 1000, every batch size, epochs, seeds, losses, optimizers, models, normalization,
validation splits, slice parameters, racers and their rates, the backpropagation steps, tab switches, Reset,
Random init, the built-in data sets, bad files through File > Open CSV and drag-and-drop, good files opened
with random columns, sessions saved, opened and damaged, and exports. Message boxes and file dialogs are
answered at once; an exception in any slot, or a Qt critical message, fails the test.

Every 40 actions and at the end, with every run paused and every worker idle: each view's trajectory has
steps + 1 rows, all finite, none drawn or shown as nan/inf; the engine's parameters and step count equal the
history's; the readouts show them; the trainer trains with the settings the controls show (queued changes
included); the backpropagation tab follows the loss-surface tab's example; the only QThreads running are the
window's own. At the end the window closes fast and leaves no thread behind.

A failure names the seed and the action; rerun it with ``FITSCOPE_MONKEY_SEED=<seed>``.
"""

from __future__ import annotations

import os
import time

import pytest
from gui_stress import (
    ErrorTrap,
    Monkey,
    MonkeyFailure,
    coarse_grids,
    no_modal_dialogs,
    own_threads,
    pump,
    running_qthreads,
    track_qthreads,
)
from PySide6.QtCore import QTimer, qCritical

from fitscope.gui.app import MainWindow

SEED = int(os.environ.get("FITSCOPE_MONKEY_SEED", "20251106"))
ACTIONS = int(os.environ.get("FITSCOPE_MONKEY_ACTIONS", "2000"))
CHECK_EVERY = 40


@pytest.fixture
def window(qtbot):
    track_qthreads()
    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(1000, 650)  # smaller frames paint faster; every panel is still laid out
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow, timeout=5000)  # for the keyboard shortcuts
    yield w
    w.shutdown()


def test_the_monkey_breaks_nothing(qtbot, window, tmp_path):
    started = time.perf_counter()
    with ErrorTrap() as trap, coarse_grids(), no_modal_dialogs():
        monkey = Monkey(window, SEED, tmp_path / "files", trap)
        try:
            monkey.run(ACTIONS, check_every=CHECK_EVERY)
        except MonkeyFailure as failure:
            pytest.fail(f"{failure}\n\nreproduce with: FITSCOPE_MONKEY_SEED={SEED} FITSCOPE_MONKEY_ACTIONS={ACTIONS} "
                        "pytest tests/test_monkey.py", pytrace=False)
        elapsed = time.perf_counter() - started

        # Close: quick, and no thread is left running, not even the slice pool's.
        threads = own_threads(window)
        closing = time.perf_counter()
        window.close()
        took = time.perf_counter() - closing
        pump()
        assert not [t for t in threads if t.isRunning()], f"a thread outlived the window (seed {SEED})"
        assert not running_qthreads(), f"a QThread is still running after close (seed {SEED})"
        assert monkey.boston.slicer.active_jobs == 0, "a loss-slice job outlived the window"
        assert took < 1.0, f"closing took {took:.2f} s"
        trap.check(f"seed {SEED}: ")

    # Every kind of action was tried (in a run of the CI's length), most of them many times.
    missing = [name for name, _, _ in monkey.actions if monkey.counts.get(name, 0) == 0]
    assert ACTIONS < 2000 or not missing, f"actions never tried: {missing}"
    print(f"\nmonkey seed {SEED}: {monkey.done} actions in {elapsed:.1f} s ({monkey.done / elapsed:.0f}/s), "
          f"{monkey.done // CHECK_EVERY + 1} invariant checks, close {took * 1000:.0f} ms")


# --------------------------------------------------------------------------- the harness itself
def test_the_trap_catches_an_exception_in_a_slot(qtbot):
    def broken() -> None:
        raise ValueError("a slot that fails")

    with ErrorTrap() as trap:
        QTimer.singleShot(0, broken)
        qtbot.waitUntil(lambda: bool(trap.errors), timeout=2000)
    assert "a slot that fails" in trap.errors[0]
    with pytest.raises(MonkeyFailure, match="a slot that fails"):
        trap.check()


def test_the_trap_catches_qt_critical_messages():
    with ErrorTrap() as trap:
        qCritical("something critical")
    assert trap.errors == ["Qt critical: something critical"]
