"""Work in the background, one job at a time, where only the latest request is wanted.

:class:`SerialPool` is what the background workers of the tabs and docks share (the loss slices'
:class:`~fitscope.gui.views.slicer.BackgroundSlicer`, the race's
:class:`~fitscope.gui.views.race_advisor.RateAdvisor`, the code panel's
:class:`~fitscope.gui.views.code_writer.CodeWriter`): a private thread pool of one thread, a token that a new
request (or a cancel) moves on, and a stop for the window's closing.

A job is a :class:`~PySide6.QtCore.QRunnable` that carries the token it was started with. Between its units of
work it calls :func:`~fitscope.gui.activity.give_way` and asks :meth:`SerialPool.cancelled` whether it is still
wanted, and it hands its result back through a signal of its pool's, which reaches the GUI thread (DESIGN.md's
threading rules). :meth:`SerialPool.submit` keeps at most one job waiting while another runs, the latest.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool

from fitscope.gui.activity import install

#: Makes a job for the token it is given.
JobMaker = Callable[[int], QRunnable]


class SerialPool(QObject):
    """A private pool of one thread.

    :meth:`start` queues a job; :meth:`submit` runs one now, or keeps it waiting (replacing any that waited)
    until :meth:`job_ended` and :meth:`run_waiting` say the one under way has ended. :meth:`drop` makes every
    job started so far unwanted; :meth:`shutdown` stops them all and waits (safe to call more than once).
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        install()  # garbage is collected in the GUI thread only, never in the pool's
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._pool.setExpiryTimeout(2000)
        self._stop = threading.Event()
        self.token = 0
        self._busy = False
        self._waiting: JobMaker | None = None

    @property
    def active_jobs(self) -> int:
        """Jobs running in the pool's thread now (0 once :meth:`shutdown` has returned)."""
        return self._pool.activeThreadCount()

    @property
    def busy(self) -> bool:
        """A job of :meth:`submit` is under way."""
        return self._busy

    @property
    def stopped(self) -> bool:
        """:meth:`shutdown` was called: no job starts any more."""
        return self._stop.is_set()

    def cancelled(self, token: int) -> bool:
        """Called from the pool's thread: is the job started with ``token`` no longer wanted?"""
        return self._stop.is_set() or token != self.token

    def drop(self) -> int:
        """A new token: every job started so far is unwanted (one under way finishes unseen), and none waits."""
        self.token += 1
        self._waiting = None
        return self.token

    def start(self, job: QRunnable) -> None:
        """Queue ``job`` behind the one under way, if any."""
        self._pool.start(job)

    def submit(self, make: JobMaker) -> None:
        """Run the job ``make(token)`` makes now, or, while one is under way, once it has ended (a job submitted
        meanwhile replaces it)."""
        if self._stop.is_set():
            return
        if self._busy:
            self._waiting = make
            return
        self._busy = True
        self._pool.start(make(self.token))

    def job_ended(self) -> None:
        """In the GUI thread, when the job of :meth:`submit` under way has ended (before its result is handed
        on: a request made by whoever takes it runs at once)."""
        self._busy = False

    def run_waiting(self) -> None:
        """After :meth:`job_ended` and the result handed on: the job waiting, if any, runs."""
        if self._waiting is not None and not self._stop.is_set():
            make, self._waiting = self._waiting, None
            self.submit(make)

    def shutdown(self, timeout_ms: int = 5000) -> None:
        """Stop: no job starts any more, the one under way is told so, and the pool's thread is waited for."""
        self._stop.set()
        self._waiting = None
        self._pool.clear()
        self._pool.waitForDone(timeout_ms)
