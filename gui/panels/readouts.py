"""Live numbers: a two-column grid of name and value labels, each value with its own object name."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QLabel, QWidget


class ReadoutsPanel(QWidget):
    """``fields``: (object name, label) pairs. Values are set by name with :meth:`set`."""

    def __init__(self, fields: list[tuple[str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("readouts")
        form = QFormLayout(self)
        form.setContentsMargins(4, 4, 4, 4)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.setHorizontalSpacing(12)
        form.setVerticalSpacing(3)
        self.labels: dict[str, QLabel] = {}
        for name, text in fields:
            value = QLabel("–")
            value.setObjectName(name)
            value.setAccessibleName(text)
            value.setProperty("class", "readoutValue")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            caption = QLabel(text)
            caption.setProperty("class", "readoutName")
            form.addRow(caption, value)
            self.labels[name] = value
        self.form = form

    def add_row(self, caption: str, widget: QWidget) -> None:
        """Put an editable widget among the readouts (e.g. kernel and bias, which can be typed in)."""
        label = QLabel(caption)
        label.setProperty("class", "readoutName")
        self.form.addRow(label, widget)

    def set(self, name: str, value: float | int | str | None, fmt: str = ".6g") -> None:
        if value is None:
            text = "–"
        elif isinstance(value, str):
            text = value
        elif isinstance(value, int):
            text = str(value)
        else:
            text = format(value, fmt)
        self.labels[name].setText(text)

    def text(self, name: str) -> str:
        return self.labels[name].text()
