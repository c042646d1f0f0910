"""Live numbers: a two-column grid of name and value labels, each value with its own object name; and the
:class:`SteadyLabel` they are made of."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import QFormLayout, QLabel, QWidget


class SteadyLabel(QLabel):
    """A one-line label whose text changes at every frame while training runs (a number, a short line).

    Its size is fixed: as wide as its text and its :meth:`reserve` need, growing (in steps of two digits) when a
    text needs more room, and shrinking only on :meth:`settle` or a new font. Setting the text of
    a label whose size may change asks every layout around it, up to the window, to lay out again (and a text a
    little longer or shorter moves them, painting the whole window again), up to 20 times a second; a label of
    fixed size asks nothing of its layouts.
    """

    def __init__(self, text: str = "", parent: QWidget | None = None, reserve: str = "") -> None:
        super().__init__(text, parent)
        self._reserve = reserve
        self._settle = False

    def setText(self, text: str) -> None:  # noqa: N802 (Qt's name)
        super().setText(text)
        self._fit()

    def reserve(self, text: str) -> None:
        """Keep room for ``text`` (the longest text the label is expected to show) from now on."""
        self._reserve = text
        self._fit()

    def settle(self) -> None:
        """At the next text, take just the room it and the reserve need (another data set or model: the room the
        old texts took may be too much)."""
        self._settle = True

    def _fit(self, afresh: bool = False) -> None:
        afresh, self._settle = afresh or self._settle, False
        self.ensurePolished()  # the style sheet's font
        metrics = self.fontMetrics()
        # Measured from the font: the size hint of a label of fixed size is that size, not its text's.
        margins, margin = self.contentsMargins(), 2 * max(0, self.margin())
        width = max(metrics.horizontalAdvance(self.text()), metrics.horizontalAdvance(self._reserve)) + 2
        width += margins.left() + margins.right() + margin
        height = metrics.height() + margins.top() + margins.bottom() + margin
        fixed = self.minimumSize() == self.maximumSize()
        if afresh or not fixed or width > self.width() or height != self.height():
            step = 2 * metrics.horizontalAdvance("0")
            width = max(width, 0 if afresh or not fixed else self.width())
            self.setFixedSize(-(-width // step) * step, height)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt's name)
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange and self.minimumSize() == self.maximumSize():
            self._fit(afresh=True)  # (a style sheet's font size comes as a new font too)


#: The room a readout keeps for its number: the longest that ``format(x, ".6g")`` writes.
NUMBER_ROOM = "-0.00000e-00"


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
            value = SteadyLabel("–", reserve=NUMBER_ROOM)
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
            text = f"{value:,}"  # 94,068, as every count the app shows
        else:
            text = format(value, fmt)
        self.labels[name].setText(text)

    def reserve(self, name: str, text: str) -> None:
        """Keep room in the value ``name`` for ``text``, the longest it is expected to show (its number by
        default): it does not widen as a run goes on."""
        self.labels[name].reserve(text)

    def text(self, name: str) -> str:
        return self.labels[name].text()
