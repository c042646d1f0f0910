"""Settings forms built from a declaration: each :class:`Field` names a setting and how to edit it.

A :class:`SettingsForm` makes one widget per field (a number field, a log-scale slider beside a rate, a
drop-down list, a tick box), shows the values it is given (:meth:`SettingsForm.show_values`, without any
signal firing) and reports each edit as the settings it changes (``changed(dict)``). It keeps nothing: the
view passes the edit to its model and shows the model's settings again, so the form never holds a second
copy of a setting.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from fitscope.engine.numbers import typed
from fitscope.engine.settings import (
    EPOCHS_MAX,
    LEARNING_RATE_RANGE,
    LEARNING_RATE_SLIDER,
    SEED_MAX,
    VALIDATION_SPLIT_MAX,
)

#: How each optimizer and loss is called on screen.
OPTIMIZER_NAMES = {"sgd": "SGD", "momentum": "Momentum", "rmsprop": "RMSProp", "adam": "Adam"}
LOSS_NAMES = {"mse": "MSE (mean squared error)", "mae": "MAE (mean absolute error)"}


@dataclass(frozen=True)
class Field:
    """One setting in a form.

    ``kind``: ``"rate"`` (a number over decades, with a log-scale slider if ``slider``), ``"float"``,
    ``"int"``, ``"choice"`` (``choices``: (text, value) pairs; a value may be a dict of several settings)
    or ``"check"``. ``name``: the widget's object name; ``accessible``: its name for screen readers (default:
    the label). ``key``: the setting it shows, read from the values the form is given.
    """

    key: str
    label: str
    name: str
    kind: str
    tip: str = ""
    accessible: str = ""
    lo: float = 0.0
    hi: float = 1.0
    step: float = 1.0
    decimals: int = 2
    choices: tuple[tuple[str, Any], ...] = ()
    slider: bool = False
    prefix: str = ""
    get: Callable[[Mapping[str, Any]], Any] | None = field(default=None, compare=False)

    def value_of(self, values: Mapping[str, Any]) -> Any:
        return self.get(values) if self.get is not None else values[self.key]

    def changes(self, value: Any) -> dict[str, Any]:
        """The settings an edit to ``value`` changes."""
        return dict(value) if isinstance(value, Mapping) else {self.key: value}


# --- the fields the training tabs share (each tab picks its own object names) ---
def learning_rate(name: str, slider: bool = False, tip: str = "") -> Field:
    lo, hi = LEARNING_RATE_RANGE
    return Field("learning_rate", "Learning rate", name, "rate", lo=lo, hi=hi, slider=slider,
                 tip=tip or "The step taken is the learning rate times the gradient (applies from the next batch)")


def batch_size(name: str, tip: str = "Examples per update; larger than the data means one batch per epoch") -> Field:
    return Field("batch_size", "Batch size", name, "int", lo=1, hi=1, tip=tip)


def loss(name: str) -> Field:
    return Field("loss", "Loss", name, "choice", accessible="Loss function", choices=tuple(
        (text, key) for key, text in LOSS_NAMES.items()))


def optimizer(name: str, tip: str) -> Field:
    return Field("optimizer", "Optimizer", name, "choice", tip=tip, choices=tuple(
        (text, key) for key, text in OPTIMIZER_NAMES.items()))


def epochs(name: str, tip: str = "Run stops after this many epochs", accessible: str = "Epochs to run") -> Field:
    return Field("epochs", "Epochs", name, "int", lo=1, hi=EPOCHS_MAX, tip=tip, accessible=accessible)


def seed(name: str, tip: str) -> Field:
    return Field("seed", "Seed", name, "int", lo=0, hi=SEED_MAX, tip=tip)


def validation_split(name: str) -> Field:
    return Field("validation_split", "Validation split", name, "float", lo=0.0, hi=VALIDATION_SPLIT_MAX, step=0.05,
                 decimals=2, tip="The last fraction of the training rows, kept for validation as tfjs's "
                 "validationSplit (changing it starts again)")


class RateBox(QDoubleSpinBox):
    """A number field for quantities that span decades (a learning rate from 1e-300 to 1000): it shows six
    significant digits (``0.01``, ``5e-13``), takes scientific notation, keeps a value set to it exactly, and
    its arrows step by a tenth of the value's decade."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDecimals(320)  # no rounding of the values set: the text shows them to six digits

    def textFromValue(self, value: float) -> str:  # noqa: N802 (Qt's name)
        return typed(value)

    def valueFromText(self, text: str) -> float:  # noqa: N802 (Qt's name)
        try:
            return float(text.strip().replace(self.prefix(), "", 1))
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int):
        body = text.strip().replace(self.prefix(), "", 1)
        try:
            value = float(body)
        except ValueError:
            partial = body == "" or all(c in "0123456789.eE+-" for c in body)
            return (QValidator.State.Intermediate if partial else QValidator.State.Invalid), text, pos
        ok = self.minimum() <= value <= self.maximum() and math.isfinite(value)
        return (QValidator.State.Acceptable if ok else QValidator.State.Intermediate), text, pos

    def stepBy(self, steps: int) -> None:  # noqa: N802 (Qt's name)
        value = self.value()
        for _ in range(abs(steps)):
            decade = 10 ** math.floor(math.log10(value) + 1e-9)
            down = steps < 0 and math.isclose(value, decade)
            value = value + math.copysign(decade / (100 if down else 10), steps)
            value = float(f"{value:.6g}")
        self.setValue(min(max(value, self.minimum()), self.maximum()))


#: Run speeds: (label, seconds to wait after each batch).
SPEEDS = [
    ("1 batch/s", 1.0), ("2 batches/s", 0.5), ("5 batches/s", 0.2), ("10 batches/s", 0.1),
    ("30 batches/s", 1 / 30), ("100 batches/s", 0.01), ("as fast as possible", 0.0),
]
DEFAULT_SPEED = len(SPEEDS) - 2


class _SpeedLabel(QLabel):
    """The name of the speed chosen, as wide as the widest name in the font it has now (its width was set for the
    font it had when made: at a larger text size, "as fast as possible" widened the sidebar)."""

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        hint = super().sizeHint()
        margins = self.contentsMargins()
        widest = max(self.fontMetrics().horizontalAdvance(name) for name, _ in SPEEDS)
        return QSize(max(hint.width(), widest + margins.left() + margins.right() + 2), hint.height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        return self.sizeHint()


def speed_row(object_name: str, position: int = DEFAULT_SPEED) -> tuple[QHBoxLayout, QSlider, QLabel]:
    """The Run speed slider (:data:`SPEEDS`, from one batch a second to as fast as possible) in a row with its
    caption and a label that names the speed; the layout, the slider and the label."""
    slider = QSlider(Qt.Orientation.Horizontal)
    slider.setObjectName(object_name)
    slider.setAccessibleName("Run speed")
    slider.setRange(0, len(SPEEDS) - 1)
    slider.setPageStep(1)
    slider.setToolTip("How fast Run goes: from one batch a second to as fast as the machine can")
    label = _SpeedLabel()

    def show(p: int) -> None:
        label.setText(SPEEDS[p][0])
        slider.setAccessibleDescription(SPEEDS[p][0])

    slider.valueChanged.connect(show)
    slider.setValue(position)
    show(position)
    row = QHBoxLayout()
    row.addWidget(QLabel("Speed"))
    row.addWidget(slider, 1)
    row.addWidget(label)
    return row, slider, label


class LogSlider(QSlider):
    """A horizontal slider over a log scale: ``steps_per_decade`` positions per factor of 10."""

    def __init__(self, lo: float, hi: float, steps_per_decade: int = 20) -> None:
        super().__init__(Qt.Orientation.Horizontal)
        self._lo, self._k = math.log10(lo), steps_per_decade
        self._min, self._max = lo, hi
        self.setRange(0, round((math.log10(hi) - self._lo) * steps_per_decade))

    def value_of(self, position: int) -> float:
        return 10 ** (self._lo + position / self._k)

    def position_of(self, value: float) -> int:
        return round((math.log10(min(max(value, self._min), self._max)) - self._lo) * self._k)


class SettingsForm(QGroupBox):
    """A group box of fields. ``changed(dict)``: the user edited a field; the dict holds the settings it
    changes. :attr:`widgets` maps each field's key to its widget (a rate's slider: ``"<key>.slider"``)."""

    changed = Signal(dict)

    def __init__(self, title: str, fields: list[Field] | tuple[Field, ...], parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        self.fields = {f.key: f for f in fields}
        self.widgets: dict[str, QWidget] = {}
        self._form = QFormLayout(self)
        self._form.setVerticalSpacing(4)
        for f in fields:
            self._add(f)

    def _add(self, f: Field) -> None:
        if f.kind == "check":
            w: QWidget = QCheckBox(f.label)
            w.toggled.connect(lambda on, f=f: self._edited(f, bool(on)))
            self._form.addRow(w)
        elif f.kind == "choice":
            w = QComboBox()
            for i, (text, value) in enumerate(f.choices):
                w.addItem(text, i if isinstance(value, Mapping) else value)  # findData(value) finds a choice
            w.currentIndexChanged.connect(lambda i, f=f: i >= 0 and self._edited(f, f.choices[i][1]))
        elif f.kind == "int":
            w = QSpinBox()
            w.setRange(int(f.lo), int(f.hi))
            w.setKeyboardTracking(False)
            w.valueChanged.connect(lambda v, f=f: self._edited(f, int(v)))
        elif f.kind == "rate":
            w = RateBox()
            w.setRange(f.lo, f.hi)
            w.setKeyboardTracking(False)
            w.valueChanged.connect(lambda v, f=f: self._edited(f, float(v)))
        else:  # "float"
            w = QDoubleSpinBox()
            w.setDecimals(f.decimals)
            w.setRange(f.lo, f.hi)
            w.setKeyboardTracking(False)
            w.setSingleStep(f.step)
            w.valueChanged.connect(lambda v, f=f: self._edited(f, round(float(v), f.decimals)))
        if f.prefix and isinstance(w, QDoubleSpinBox | QSpinBox):
            w.setPrefix(f.prefix)
        w.setObjectName(f.name)
        w.setAccessibleName(f.accessible or f.label)
        if f.tip:
            w.setToolTip(f.tip)
        self.widgets[f.key] = w
        if f.kind == "check":
            return
        if f.kind == "rate" and f.slider:
            lo, hi = LEARNING_RATE_SLIDER
            slider = LogSlider(lo, hi)
            slider.setObjectName(f"{f.name}Slider")
            slider.setAccessibleName(f"{f.accessible or f.label} (log scale)")
            slider.setToolTip(f"{f.label} on a log scale, from {lo:g} to {hi:g}")
            slider.valueChanged.connect(lambda p, f=f, s=slider: self._edited(f, _round_rate(s.value_of(p))))
            self.widgets[f"{f.key}.slider"] = slider
            column = QVBoxLayout()
            column.setSpacing(1)
            column.addWidget(w)
            column.addWidget(slider)
            self._form.addRow(f.label, column)
        else:
            self._form.addRow(f.label, w)

    def _edited(self, f: Field, value: Any) -> None:
        self.changed.emit(f.changes(value))

    def widget(self, key: str) -> QWidget:
        return self.widgets[key]

    def set_range(self, key: str, lo: float, hi: float) -> None:
        """A field's range (e.g. a batch size up to the data's rows); no signal."""
        w = self.widgets[key]
        blocked = w.blockSignals(True)
        w.setRange(lo, hi)
        w.blockSignals(blocked)

    def show_values(self, values: Mapping[str, Any]) -> None:
        """Show these settings (a mapping of each field's key, or what its ``get`` reads); no signal fires,
        and a field being typed in is left alone."""
        for key, f in self.fields.items():
            value = f.value_of(values)
            w = self.widgets[key]
            if w.hasFocus() and isinstance(w, QDoubleSpinBox | QSpinBox) and w.lineEdit().isModified():
                continue
            blocked = w.blockSignals(True)
            try:
                if f.kind == "check":
                    w.setChecked(bool(value))
                elif f.kind == "choice":
                    index = next((i for i, (_, v) in enumerate(f.choices) if v == value), -1)
                    if index >= 0:
                        w.setCurrentIndex(index)
                elif w.value() != value:
                    w.setValue(value)
            finally:
                w.blockSignals(blocked)
            slider = self.widgets.get(f"{key}.slider")
            if slider is not None:
                blocked = slider.blockSignals(True)
                slider.setValue(slider.position_of(value))
                slider.blockSignals(blocked)


def _round_rate(rate: float) -> float:
    """A rate from the slider, to three significant digits (what a person would type)."""
    return float(f"{rate:.3g}")
