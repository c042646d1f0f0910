"""Garbage is collected in the GUI thread only: a Qt object freed in a background thread crashes the process."""

from __future__ import annotations

import gc
import threading

from fitscope.gui import activity


class _Cycle:
    """Garbage only the cyclic collector can free; records the thread that freed it."""

    freed_in: list[str] = []

    def __init__(self) -> None:
        self.me = self

    def __del__(self) -> None:
        _Cycle.freed_in.append(threading.current_thread().name)


def test_cycles_made_anywhere_are_collected_in_the_gui_thread(qtbot):
    activity.install()
    assert not gc.isenabled()
    _Cycle.freed_in.clear()

    def churn() -> None:
        _Cycle()  # garbage as soon as the call returns
        for _ in range(50_000):  # more cyclic garbage than any collection threshold
            cycle: list = []
            cycle.append(cycle)

    worker = threading.Thread(target=churn, name="churn")
    worker.start()
    worker.join()
    assert _Cycle.freed_in == []  # the background thread's allocations collected nothing

    qtbot.waitUntil(lambda: bool(_Cycle.freed_in), timeout=5000)
    assert _Cycle.freed_in == [threading.main_thread().name]



def test_what_the_app_is_made_of_is_set_aside_once_and_new_garbage_is_still_collected(qtbot):
    # A full collection looked at every widget and plot of the app (30–60 ms in the GUI thread while training
    # ran): at its first turn the collector freezes what exists, once; cycles made later are collected as before.
    activity.install()
    qtbot.waitUntil(lambda: gc.get_freeze_count() > 0, timeout=5000)
    frozen = gc.get_freeze_count()
    _Cycle.freed_in.clear()
    _Cycle()
    for _ in range(50_000):
        cycle: list = []
        cycle.append(cycle)
    qtbot.waitUntil(lambda: bool(_Cycle.freed_in), timeout=5000)
    assert _Cycle.freed_in == [threading.main_thread().name]
    assert gc.get_freeze_count() == frozen


def _tracked(thing) -> bool:
    """Whether a full collection looks at ``thing`` (frozen objects are in no generation)."""
    return any(o is thing for o in gc.get_objects())


def test_set_aside_freezes_what_exists_at_the_collectors_next_turn(qtbot):
    # The app's window builds its tabs after it shows, and asks for them to be set aside once they are built.
    activity.install()
    qtbot.waitUntil(lambda: gc.get_freeze_count() > 0, timeout=5000)
    kept = [[] for _ in range(100)]  # made after the first freeze, alive as long as the app
    assert _tracked(kept)
    activity.set_aside()
    qtbot.waitUntil(lambda: not _tracked(kept), timeout=5000)
    _Cycle.freed_in.clear()
    _Cycle()  # garbage made afterwards is still collected (once there is more than a threshold of it)
    for _ in range(50_000):
        cycle: list = []
        cycle.append(cycle)
    qtbot.waitUntil(lambda: bool(_Cycle.freed_in), timeout=5000)


def test_the_apps_window_sets_its_tabs_aside_once_all_are_built(qtbot):
    from fitscope.gui.app import app_window

    activity.install()
    window = app_window()
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.allBuilt, timeout=20_000):
        window.show()
    race = window.race_view  # built last
    qtbot.waitUntil(lambda: not _tracked(race), timeout=5000)

