"""The start point of the optimizer race as two typed fields, kernel and bias (:class:`StartFields`).

A map's click sets a start too; these fields are for those who type it. They differ from
:class:`~fitscope.gui.keys.PointFields` (a loss slice's point as two spin boxes, applied as each value changes):
a start is applied once, whole, on Enter, exactly as typed (no rounding to a spin box's decimals, any magnitude,
a "−" sign or a decimal comma taken too), and Escape or leaving both fields puts back the start shown.
"""

from __future__ import annotations

import math
import re

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QWidget


def parse_number(text: str, what: str) -> float:
    """The finite number typed as ``text`` (a "−" sign and a decimal comma are taken too); :class:`ValueError`
    with a one-line message naming ``what`` otherwise."""
    typed = text.strip()
    if not typed:
        raise ValueError(f"Type a number for the start's {what}")
    if "_" in typed or re.fullmatch(r"[-−+]?\d{1,3}(,\d{3})+", typed):
        raise ValueError(f"The start's {what}: type {typed[:20]!r} without separators (a comma is a decimal mark)")
    try:
        value = float(typed.replace("−", "-").replace(",", "."))
    except ValueError:
        raise ValueError(f"The start's {what} must be a number: {typed[:20]!r} is not one") from None
    if not math.isfinite(value):
        raise ValueError(f"The start's {what} must be a finite number, not {typed[:20]!r}")
    return value


class _StartField(QLineEdit):
    """A field of :class:`StartFields`: says when Escape is pressed in it and when it loses the focus."""

    escaped = Signal()
    left = Signal()

    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if event.key() == Qt.Key.Key_Escape:
            self.escaped.emit()
            return
        super().keyPressEvent(event)

    def focusOutEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().focusOutEvent(event)
        self.left.emit()


class StartFields(QWidget):
    """The start point as two fields, kernel and bias, for those who type it: Enter in either sets the start
    to both (exactly as a click on the map there); Escape, or leaving both fields, puts back the start shown.

    ``entered(float, float)``: a start was typed; ``refused(str)``: what was typed is not a start (one line);
    ``finished``: Enter applied or Escape was pressed (the keys go back to the tab).
    """

    entered = Signal(float, float)
    refused = Signal(str)
    finished = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("raceStart")
        self.setAccessibleName("Start point")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(4)
        self.kernel = self._field("raceStartKernel", "kernel")
        self.bias = self._field("raceStartBias", "bias")
        for name, field in (("k", self.kernel), ("b", self.bias)):
            label = QLabel(name)
            label.setBuddy(field)
            row.addWidget(label)
            row.addWidget(field, 1)
        self._shown = ("", "")
        self._point = (math.nan, math.nan)

    def _field(self, name: str, what: str) -> _StartField:
        field = _StartField()
        field.setObjectName(name)
        field.setAccessibleName(f"Start {what}")
        field.setAccessibleDescription(f"The {what} every racer starts from; type a number and press Enter")
        field.setToolTip(f"The start's {what}: type a number and press Enter to start every racer there "
                         "(or click the map)")
        field.setMinimumWidth(60)
        field.returnPressed.connect(self.apply)
        field.escaped.connect(self._escape)
        field.left.connect(lambda: QTimer.singleShot(0, self._revert_unless_editing))
        return field

    def show_point(self, kernel: float, bias: float) -> None:
        """Show the start (kernel, bias); a field being typed in is left alone."""
        self._point = (kernel, bias)
        self._shown = (f"{kernel:.6g}", f"{bias:.6g}")
        for field, text in zip((self.kernel, self.bias), self._shown, strict=True):
            if not (field.hasFocus() and field.isModified()) and field.text() != text:
                field.setText(text)
                field.setCursorPosition(0)

    def apply(self) -> None:
        """Enter: the start typed, if it is one, else a message; unchanged fields change nothing."""
        if not (self.kernel.isModified() or self.bias.isModified()):
            self.finished.emit()
            return
        try:  # a field left as shown keeps the start's own value, not the digits shown
            point = tuple(parse_number(field.text(), what) if field.isModified() else exact
                          for field, what, exact in zip((self.kernel, self.bias), ("kernel", "bias"), self._point,
                                                        strict=True))
        except ValueError as e:
            self.refused.emit(f"{e}.")
            return
        for field in (self.kernel, self.bias):
            field.setModified(False)
        self.entered.emit(*point)
        self.finished.emit()

    def revert(self) -> None:
        """Show the start again, as it is (what was typed is dropped)."""
        for field, text in zip((self.kernel, self.bias), self._shown, strict=True):
            field.setText(text)
            field.setModified(False)

    def _escape(self) -> None:
        self.revert()
        self.finished.emit()

    def _revert_unless_editing(self) -> None:
        if not (self.kernel.hasFocus() or self.bias.hasFocus()):
            self.revert()
