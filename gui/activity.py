"""The GUI thread first: how the threads that train and compute beside it leave it the interpreter.

Training in pure Python and NumPy holds the interpreter lock; the GUI thread needs it for every event it handles.
Two mechanisms, neither tuned to a machine:

- **When the GUI thread asks.** :func:`install` sets the interpreter's switch interval to :data:`SWITCH_INTERVAL`:
  a thread that holds the lock drops it within that time whenever another thread asks for it, and only then
  (a training thread alone is not slowed down). Every click, key and timer gets the interpreter within half a
  millisecond.
- **While the GUI thread draws.** A frame goes back and forth between Python and Qt's C++ many times; a thread
  that took the lock back at each of those moments would make the frame wait half a millisecond each time.
  :func:`hold_until_painted` marks the GUI thread busy from the start of a frame until the event loop has
  handled what the frame posted (its paint); background threads call :func:`give_way` between two units of
  work and wait, without the lock, while it is busy, for at most :data:`LONGEST_WAIT`.
"""

from __future__ import annotations

import sys
import threading

from PySide6.QtCore import QTimer

#: Seconds a thread may keep the interpreter once another asks for it (Python's default is 5 ms).
SWITCH_INTERVAL = 0.0005
#: The longest a background thread waits for the GUI thread in one go (it then does one unit of work and asks
#: again): a GUI thread that never finishes drawing slows training down, it does not stop it.
LONGEST_WAIT = 0.1

_free = threading.Event()
_free.set()


def install() -> None:
    """Let the GUI thread have the interpreter whenever it asks (see the module's docstring)."""
    if sys.getswitchinterval() > SWITCH_INTERVAL:
        sys.setswitchinterval(SWITCH_INTERVAL)


def hold_until_painted() -> None:
    """From the GUI thread, at the start of a frame (or of recording what the worker sent): background threads
    wait until the event loop has handled the events posted so far (the frame's paint among them)."""
    if _free.is_set():
        _free.clear()
        QTimer.singleShot(0, _free.set)


def gui_free() -> threading.Event:
    """Set while the GUI thread is not drawing a frame."""
    return _free


def give_way(timeout: float = LONGEST_WAIT) -> None:
    """From a background thread, between two units of work: wait (without the lock) while the GUI thread draws."""
    if not _free.is_set():
        _free.wait(timeout)
