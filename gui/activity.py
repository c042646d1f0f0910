"""The GUI thread first: how the threads that train and compute beside it leave it the interpreter.

Training in pure Python and NumPy holds the interpreter lock; the GUI thread needs it for every event it handles.
Three mechanisms, none tuned to a machine:

- **When the GUI thread asks.** :func:`install` sets the interpreter's switch interval to :data:`SWITCH_INTERVAL`:
  a thread that holds the lock drops it within that time whenever another thread asks for it, and only then
  (a training thread alone is not slowed down). Every click, key and timer gets the interpreter within half a
  millisecond.
- **While the GUI thread draws.** A frame goes back and forth between Python and Qt's C++ many times; a thread
  that took the lock back at each of those moments would make the frame wait half a millisecond each time.
  :func:`hold_until_painted` marks the GUI thread busy from the start of a frame until the event loop has
  handled what the frame posted (its paint); background threads call :func:`give_way` between two units of
  work and wait, without the lock, while it is busy, for at most :data:`LONGEST_WAIT`.
- **When the GUI thread falls behind.** On a loaded machine the thread that asks for the lock must also wait for
  the system to run it, and a training thread takes the lock back first, again and again. While training runs, a
  heartbeat timer in the GUI thread beats every :data:`BEAT_MS`; :func:`give_way` also waits, when the last
  beat is more than :data:`LATE` seconds old, until the GUI thread has beaten again: the worker stops exactly
  when, and for as long as, the GUI thread cannot keep up.

Python's cyclic garbage collector runs in whichever thread happens to allocate when a threshold is crossed. If
that is a background thread and the garbage holds a Qt object (a plot item, a dialog), its C++ destructor runs
outside the GUI thread and the process crashes. :func:`install` therefore also turns automatic collection off
and collects, by the interpreter's own thresholds, from a timer in the GUI thread (pyqtgraph's
``GarbageCollector`` is the model). At its first turn (the window is up by then) it collects once and
*freezes* what is left (``gc.freeze``): the app's widgets, plots and modules live as long as it does, and a
full collection, which looked at all of them (30 ms on a quiet machine, over 50 ms on a busy one, in the GUI
thread while training ran), now looks only at what came since. The app's window builds its tabs after it
shows, so it asks, once they are all built, for one more freeze (:func:`set_aside`); a process that makes many
windows (the tests) does not ask, or each window would be set aside for good.
"""

from __future__ import annotations

import gc
import sys
import threading
import time
from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, QThread, QTimer

#: Seconds a thread may keep the interpreter once another asks for it (Python's default is 5 ms).
SWITCH_INTERVAL = 0.0005
#: The longest a background thread waits for the GUI thread in one go (it then does one unit of work and asks
#: again): a GUI thread that never finishes drawing slows training down, it does not stop it.
LONGEST_WAIT = 0.1

#: The heartbeat's period while training runs, and how late a beat may be before background threads wait.
BEAT_MS = 5
LATE = 0.012

_free = threading.Event()
_free.set()
_held = [0.0, 0.0]  # seconds the GUI thread held background threads in all; when the hold under way began
_beat = threading.Event()
_last_beat = [time.perf_counter()]
_beating = [0]  # how many runs want the heartbeat


class _Heartbeat(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.timer = QTimer(self, interval=BEAT_MS)
        self.timer.timeout.connect(self.beat)

    def beat(self) -> None:
        _last_beat[0] = time.perf_counter()
        _beat.set()


_heart: list[_Heartbeat] = []


class _Collector(QObject):
    """Collects cyclic garbage in the GUI thread, generation by generation as the thresholds say."""

    INTERVAL_MS = 100

    def __init__(self) -> None:
        super().__init__()
        self.thresholds = gc.get_threshold()
        self.timer = QTimer(self, interval=self.INTERVAL_MS)
        self.timer.timeout.connect(self.collect)
        self.timer.start()

    def collect(self) -> None:
        # (gc.get_freeze_count() would say whether it was done: it counts the frozen objects one by one, a
        # hundred thousand of them, 6 % of the GUI thread's time at every turn)
        if _aside[0]:  # the first turn, or asked: what the app is made of is set aside (see the module's docstring)
            _aside[0] = False
            gc.collect()
            gc.freeze()
            return
        young, middle, old = gc.get_count()
        if young > self.thresholds[0]:
            gc.collect(0)
            if middle > self.thresholds[1]:
                gc.collect(1)
                if old > self.thresholds[2]:
                    gc.collect(2)


_collector: list[_Collector] = []
_aside = [True]  # the collector's next turn sets aside what exists: its first, and the next after set_aside()


def set_aside() -> None:
    """What exists now lives as long as the process (the app's own window, every tab built): the collector's
    next turn collects the garbage and freezes the rest, so that a full collection no longer looks at it. Called
    once by the app; what is frozen is never collected, so a window closed later would stay in memory."""
    _aside[0] = True


def beat_while_running(running: bool) -> None:
    """From the GUI thread: a run started (True) or ended (False); the heartbeat beats while any run goes."""
    if not _heart:
        _heart.append(_Heartbeat())
    _beating[0] = max(0, _beating[0] + (1 if running else -1))
    timer = _heart[0].timer
    if _beating[0] and not timer.isActive():
        _heart[0].beat()
        timer.start()
    elif not _beating[0]:
        timer.stop()


def install() -> None:
    """From the GUI thread, before it starts a background thread: let the GUI thread have the interpreter whenever
    it asks, and collect garbage in the GUI thread only (see the module's docstring)."""
    if sys.getswitchinterval() > SWITCH_INTERVAL:
        sys.setswitchinterval(SWITCH_INTERVAL)
    app = QCoreApplication.instance()
    if _collector or app is None or QThread.currentThread() is not app.thread():
        return
    _collector.append(_Collector())
    gc.disable()


def hold_until_painted() -> None:
    """From the GUI thread, at the start of a frame (or of recording what the worker sent): background threads
    wait until the event loop has handled the frame's paint.

    Widgets ask to be painted with a posted event of low priority, which Qt handles after every event of
    normal priority: the release is posted once the frame is drawn (a zero timer), with the same low priority,
    so that it comes after the paint (without it, the paint's many returns to Python each waited for the lock).
    """
    if _free.is_set():
        _held[1] = time.perf_counter()
        _free.clear()
        QTimer.singleShot(0, _release_after_paint)


def held_seconds() -> float:
    """From the GUI thread: the seconds it has held background threads (:func:`hold_until_painted`) since the
    process began, the hold under way included. Two readings tell the share of the time between them that
    drawing took from training."""
    return _held[0] + (0.0 if _free.is_set() else time.perf_counter() - _held[1])


class _Releaser(QObject):
    """Receives the release posted after a frame's paint."""

    TYPE = QEvent.Type(QEvent.registerEventType())

    def event(self, event: QEvent) -> bool:
        if event.type() == self.TYPE:
            if not _free.is_set():
                _held[0] += time.perf_counter() - _held[1]
                _free.set()
            return True
        return super().event(event)


_releaser: list[_Releaser] = []


def _release_after_paint() -> None:
    if not _releaser:
        _releaser.append(_Releaser())
    QCoreApplication.postEvent(_releaser[0], QEvent(_Releaser.TYPE), Qt.EventPriority.LowEventPriority.value)


def gui_free() -> threading.Event:
    """Set while the GUI thread is not drawing a frame."""
    return _free


def give_way(timeout: float = LONGEST_WAIT, stop: Callable[[], bool] | None = None) -> None:
    """From a background thread, between two units of work: wait (without the lock) while the GUI thread draws,
    or while it is behind its heartbeat (see the module's docstring). ``stop``, if given, is asked every
    :data:`STOP_CHECK` seconds meanwhile: the wait ends as soon as it says the work is called off (a window
    being closed does not draw, and must not wait for it)."""
    deadline = time.perf_counter() + timeout
    if not _free.is_set():
        _wait(_free, deadline, stop)
    if _beating[0] and time.perf_counter() - _last_beat[0] > LATE:
        _beat.clear()
        _wait(_beat, deadline + timeout, stop)


#: How often a waiting background thread asks whether its work was called off.
STOP_CHECK = 0.005


def _wait(event: threading.Event, deadline: float, stop: Callable[[], bool] | None) -> None:
    if stop is None:
        event.wait(max(0.0, deadline - time.perf_counter()))
        return
    while not event.wait(min(STOP_CHECK, max(0.0, deadline - time.perf_counter()))):
        if stop() or time.perf_counter() >= deadline:
            return
