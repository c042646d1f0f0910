"""Other learning rates for the racers of an ended race that did not settle, tried off the GUI thread.

:class:`RateAdvisor` runs the engine's :class:`~fitscope.engine.race.RateScan` for the race tab in a
:class:`~fitscope.gui.background.SerialPool`; what the trials say in words is
:mod:`fitscope.gui.models.race_advice`.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QRunnable, Signal, Slot

from fitscope.engine.race import RateScan, Trial
from fitscope.gui.activity import give_way
from fitscope.gui.background import SerialPool


class _ScanJob(QRunnable):
    """Runs one :class:`~fitscope.engine.race.RateScan`, built in the pool's thread, a batch at a time."""

    def __init__(self, advisor: RateAdvisor, token: int, build: Callable[[], RateScan]) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._advisor, self._token, self._build = advisor, token, build

    def run(self) -> None:
        advisor, trials = self._advisor, None
        try:
            scan = self._build()
            for _ in scan.run():
                give_way(stop=lambda: advisor.cancelled(self._token))
                if advisor.cancelled(self._token):
                    break
            else:
                trials = scan.trials
        except Exception:  # a scan that fails gives no advice; it must not leave the text waiting for it
            trials = None
        advisor._finished.emit((self._token, trials))


class RateAdvisor(SerialPool):
    """Tries other learning rates for racers that did not settle, one scan at a time (as
    :class:`~fitscope.gui.views.slicer.BackgroundSlicer` computes slices).

    :meth:`request` starts a scan for a key (what the race was); a new request or :meth:`cancel` makes the
    one under way stop at its next batch and its result be dropped. :attr:`ready` carries ``(key, trials)``
    in the GUI thread; :meth:`shutdown` calls the scan off and waits for the pool.
    """

    ready = Signal(object)  # (key, trials), trials None if the scan failed
    _finished = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.key: object = None  # what the scan under way (or done last) is for
        self._finished.connect(self._on_finished)

    def cancel(self) -> None:
        self.drop()
        self.key = None

    def request(self, key: object, build: Callable[[], RateScan]) -> None:
        """Run the scan ``build()`` makes, for ``key``, in the background."""
        if self.stopped:
            return
        token = self.drop()
        self.key = key
        self.start(_ScanJob(self, token, build))

    @Slot(object)
    def _on_finished(self, result: tuple[int, list[Trial] | None]) -> None:
        token, trials = result
        if token == self.token:  # None: the scan failed, there is no advice to give
            self.ready.emit((self.key, trials))
