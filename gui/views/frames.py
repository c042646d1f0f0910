"""When a training tab draws: :class:`Frames`, the frame pacing of every :class:`~.base.TrainingView`.

- **Coalesced.** A model that says it changed asks for a frame; the frame comes at most every ``FRAME_MS``
  (``RUN_FRAME_MS`` while a run goes) and draws whatever the model holds by then.
- **Hidden tabs draw nothing.** A frame of a hidden tab only notes that the tab is behind; it is drawn afresh
  when shown.
- **In parts while running.** A tab whose frame would hold the GUI thread long draws it in parts
  (``view.redraw_parts()``), one part an event, :data:`PART_GAP_MS` apart: other events get in between, and
  the parts show nearly the same moment of the run.
- **A share of the time at full speed.** Training and the GUI thread share one interpreter; while the GUI
  thread draws a frame or records what the worker sent, training waits (:mod:`fitscope.gui.activity`). At full
  speed a frame begins no sooner than keeps that waiting to ``view.FRAME_SHARE`` of the time since the last
  frame began (what the GUI thread held meanwhile, :func:`~fitscope.gui.activity.held_seconds`): a frame that
  cost more, on a slower or busier machine, comes that much later, and training keeps the rest. A frame waits
  at most :data:`LONGEST_FRAME_WAIT`, and what was held before a run started or the tab was shown is not owed.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer

from fitscope.gui.activity import held_seconds, hold_until_painted

if TYPE_CHECKING:
    from fitscope.gui.views.base import TrainingView

#: While a run goes, the next part of a frame comes this many milliseconds after the last was drawn (a timer
#: fires after the paint that drawing posted, and after the events that came meanwhile).
PART_GAP_MS = 8
#: The longest a frame waits to keep to its share of the time: a frame that held training up for very long
#: (or time held by other tabs) must not stop the drawing for seconds.
LONGEST_FRAME_WAIT = 0.5


class Frames(QObject):
    """The frames of ``view`` (see the module's docstring)."""

    def __init__(self, view: TrainingView) -> None:
        super().__init__(view)
        self.view = view
        self._timer = QTimer(self, singleShot=True)
        self._timer.timeout.connect(self._on_timer)
        self.behind = False  # a frame was skipped while the tab was hidden
        self._part = -1  # the part of redraw_parts() drawn last while running
        self._last = (0.0, 0.0)  # when the last frame began, and held_seconds() then
        self._first_try: float | None = None  # when the frame waiting for its share was first due
        self._shut = False

    def request(self) -> None:
        """Draw soon: at most one frame per ``FRAME_MS`` (``RUN_FRAME_MS`` while running)."""
        if not self._timer.isActive() and not self._shut:
            view = self.view
            self._timer.start(view.RUN_FRAME_MS if view.controller.running else view.FRAME_MS)

    def stop(self) -> None:
        """No frame pending (the whole state is being drawn at once)."""
        self._timer.stop()

    def begin_afresh(self) -> None:
        """A run starts or stops, or the tab is shown: frames start from their first part, and what was held
        before now is not owed by the next frame."""
        self._part = -1
        self._last = (time.perf_counter(), held_seconds())
        self._first_try = None

    def shut(self) -> None:
        """Nothing more is drawn (the window closes)."""
        self._shut = True
        self._timer.stop()

    def _due_in(self) -> float:
        """At full speed, the seconds until a frame keeps to ``FRAME_SHARE`` (the time held since the last frame
        began, against the time since); else 0."""
        view = self.view
        if not view.controller.full_speed:
            return 0.0
        began, held = self._last
        return (held_seconds() - held) / view.FRAME_SHARE - (time.perf_counter() - began)

    def _on_timer(self) -> None:
        view = self.view
        if not view.isVisible():
            self.behind = True
            return
        parts = view.redraw_parts() if view.controller.running else []
        if self._part in (-1, len(parts) - 1):  # a frame begins
            now = time.perf_counter()
            if self._first_try is None:
                self._first_try = now
            later = min(self._due_in(), self._first_try + LONGEST_FRAME_WAIT - now)
            if later > 0.001:
                self._timer.start(round(later * 1000))
                return
            self._first_try = None
            self._last = (now, held_seconds())
        hold_until_painted()  # background threads wait until it is painted
        if len(parts) < 2:
            self._part = -1
            view.refresh()
            return
        self._part = (self._part + 1) % len(parts)
        parts[self._part]()
        if self._part < len(parts) - 1:
            self._timer.start(PART_GAP_MS)  # the next part, once this one is painted
        else:
            view.message.show_state(view.status_text())
