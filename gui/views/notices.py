"""What a training tab says above its explanation: a :class:`MessageLabel` and, after a divergence, a
:class:`GoBackButton`.

A message is either what the model's state calls for (a divergence, say: the tab's ``status_text``) or a passing
one the tab said (an error such as a refused setting, or a note such as where a default came from). A passing
message stays until training starts afresh, the user steps or runs, or a run that was going on when it was said
has gone on for :data:`MESSAGE_SECONDS`.
"""

from __future__ import annotations

import time

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QPushButton, QSizePolicy

from fitscope.gui.views.tab import View

#: A message stays at least this long once training goes on (a note said as Run was pressed must be readable).
MESSAGE_SECONDS = 8.0


class MessageLabel(QLabel):
    """The tab's message; :attr:`passing` is the passing message ("" for none)."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("message")
        self.setAccessibleName("Message")
        self.setWordWrap(True)
        self.hide()
        self.passing = ""
        self._said_at = 0.0

    def say(self, text: str, note: bool = False) -> None:
        """A passing message: an error, or with ``note`` a piece of news (styled as such)."""
        self.passing, self._said_at = text, time.monotonic()
        self.setText(text)
        self._set_kind("note" if note else "error")
        self.show()

    def forget(self) -> None:
        """The passing message no longer applies (it goes at the next :meth:`show_state`)."""
        self.passing = ""

    def training_went_on(self) -> None:
        """Reports came in: a passing message goes once it has been there long enough to be read."""
        if self.passing and time.monotonic() - self._said_at > MESSAGE_SECONDS:
            self.passing = ""

    def show_state(self, status: str) -> None:
        """Show the passing message, else ``status`` (what the model's state calls for), else nothing."""
        text = self.passing or status
        if text != self.text() or self.isHidden() == bool(text):
            if not self.passing:
                self._set_kind("error")
            self.setText(text)
            self.setVisible(bool(text))

    def _set_kind(self, kind: str) -> None:
        if self.property("kind") != kind:
            self.setProperty("kind", kind)
            self.style().unpolish(self)
            self.style().polish(self)


class GoBackButton(QPushButton):
    """Offered after a divergence: back to a step (:meth:`offer`), hidden otherwise."""

    def __init__(self, tip: str) -> None:
        super().__init__()
        self.setObjectName("goBackButton")
        self.setToolTip(tip)
        # As wide as the sidebar is, never wider: showing it must not widen the sidebar.
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.hide()

    def offer(self, step: int | None, complete: bool = True) -> None:
        """Offer going back to ``step`` (0: the start; ``complete``: every step the run could go back to was
        looked at), or nothing (None)."""
        if step is None:
            if self.hasFocus():  # (clicked): the tab takes the keyboard, or the next field down would, and the
                tab = self.parentWidget()  # sidebar would scroll to it under the mouse
                while tab is not None and not isinstance(tab, View):
                    tab = tab.parentWidget()
                if tab is not None:
                    tab.setFocus(Qt.FocusReason.OtherFocusReason)
            self.hide()
            return
        if step:
            text = f"Go back to step {step:,}"
            tip = (f"Step {step:,} was the last whose training loss was below the start's: back there, exactly as "
                   "the run was then")
        else:
            text = "Go back to the start"
            tip = ("No later step had a lower training loss than the start's" if complete else
                   "No step the run can go back to exactly had a lower training loss than the start's")
        tip += " (lower the learning rate there, then step or run on)"
        if self.text() != text:
            self.setText(text)
            self.setAccessibleName(text)
            self.setToolTip(tip)
        self.show()
