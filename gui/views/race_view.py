"""The optimizer race: SGD, momentum, RMSProp and Adam from one start, on one loss surface, on the same batches.

The tab shows a :class:`~fitscope.gui.models.race.RaceRun`: its racers' paths on the map, their losses on
one chart, and a table of where each stands against the finish line. The racers' fields are built from the
model's declaration of each optimizer's options (:data:`~fitscope.gui.models.race.OPTIONS`).

The finish line is a distance: a racer is inside when ‖(kernel, bias) − optimum‖ ≤ the tolerance, with the
optimum computed exactly (least squares for MSE; the best line through two points for MAE). A racer *settles*
at the first step after which every later step of the race is inside; the winner is decided when the race
has ended, by the settled step (then by the final distance). While it goes on, the table says since when
each racer has been inside.

When a race has ended with racers that did not settle, :class:`RateAdvisor` races each of them again at other
learning rates (the engine's :class:`~fitscope.engine.race.RateScan`, off the GUI thread), and the text says
which rates settle in the race's steps.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, QTimer, Signal, Slot
from PySide6.QtGui import QColor, QFont, QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDoubleSpinBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from fitscope import resources
from fitscope.engine.curvature import curvature_of
from fitscope.engine.data import Dataset
from fitscope.engine.race import LABELS, SCAN_RATES, RacerSpec, RateScan, Trial
from fitscope.engine.settings import DEFAULT_LEARNING_RATE, settings_values
from fitscope.gui import access
from fitscope.gui.activity import give_way, install
from fitscope.gui.models.race import OPTIONS, RACERS, RATE_RANGE, TOLERANCE_RANGE, RaceRun
from fitscope.gui.panels.plotting import OutsideLegend, fit_title
from fitscope.gui.panels.race_losses import RaceLossPanel
from fitscope.gui.panels.surface import SurfacePanel
from fitscope.gui.views import controls
from fitscope.gui.views.base import TRAINING_COMMANDS, TrainingView
from fitscope.gui.views.tab import Command

GRID = 200
MAX_DRAWN = 4000  # points of a trajectory drawn on the map (longer ones are thinned, the last point kept)
COLOURS = {"sgd": "#e53935", "momentum": "#ff9800", "rmsprop": "#29b6f6", "adam": "#9c27b0"}
COLUMNS = ["Optimizer", "Settled", "First touch", "Distance to\noptimum", "Training\nloss", "Status"]
SCAN_MAX_STEPS = 2000  # other rates are tried for races up to this many steps (about a second in the background)
INSIDE, OUTSIDE = "#2e7d32", "#a34700"  # the settled cell of a racer inside, and of one that ended outside

FIELDS = (
    controls.loss("raceLoss"),
    controls.batch_size("raceBatchSize", "Examples per step; every racer gets the same batches"),
    controls.epochs("raceEpochs"),
    controls.seed("raceSeed", "Seeds the shuffling: one seed, so every racer sees the same batches"),
    controls.Field("tolerance", "Tolerance", "raceTolerance", "rate", lo=TOLERANCE_RANGE[0], hi=TOLERANCE_RANGE[1],
                   accessible="Finish line: distance to the optimum",
                   tip="A racer is inside the finish line when its distance to the optimum in (kernel, bias), "
                   "√((k − k*)² + (b − b*)²), is at most this; it settles when it stays inside to the end"),
)


def _swatch(colour: str) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(QColor(colour))
    return QIcon(pixmap)


def _thinned(path: np.ndarray) -> np.ndarray:
    """At most about :data:`MAX_DRAWN` rows of ``path``, evenly spaced, always with its first and last."""
    if len(path) <= MAX_DRAWN:
        return path
    stride = -(-len(path) // MAX_DRAWN)
    return np.vstack([path[::stride], path[-1:]])


def _num(x: float) -> str:
    """Three significant digits."""
    return f"{x:.3g}"


def _names(names: list[str]) -> str:
    """"A", "A and B", "A, B and C"."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _rate_list(rates: list[float]) -> str:
    """Rates of :data:`~fitscope.engine.race.SCAN_RATES` in words: three or more in a row as "0.05 to 1"."""
    index = [SCAN_RATES.index(r) for r in rates]
    runs: list[list[float]] = []
    for k, rate in zip(index, rates, strict=True):
        if runs and SCAN_RATES.index(runs[-1][-1]) == k - 1:
            runs[-1].append(rate)
        else:
            runs.append([rate])
    words: list[str] = []
    for r in runs:
        words += [f"{r[0]:g} to {r[-1]:g}"] if len(r) >= 3 else [f"{x:g}" for x in r]
    return _names(words)


def parse_number(text: str, what: str) -> float:
    """The finite number typed as ``text`` (a "−" sign and a decimal comma are taken too); :class:`ValueError`
    with a one-line message naming ``what`` otherwise."""
    typed = text.strip()
    if not typed:
        raise ValueError(f"Type a number for the start's {what}")
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
                give_way()
                if advisor.cancelled(self._token):
                    break
            else:
                trials = scan.trials
        except Exception:  # a scan that fails gives no advice; it must not leave the text waiting for it
            trials = None
        advisor._finished.emit((self._token, trials))


class RateAdvisor(QObject):
    """Tries other learning rates for racers that did not settle, one scan at a time, in a private thread pool
    (as :class:`~fitscope.gui.views.slicer.BackgroundSlicer` computes slices).

    :meth:`request` starts a scan for a key (what the race was); a new request or :meth:`cancel` makes the
    one under way stop at its next batch and its result be dropped. :attr:`ready` carries ``(key, trials)``
    in the GUI thread; :meth:`shutdown` calls the scan off and waits for the pool.
    """

    ready = Signal(object)  # (key, trials), trials None if the scan failed
    _finished = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        install()  # garbage is collected in the GUI thread only, never in the pool's
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._pool.setExpiryTimeout(2000)
        self._stop = threading.Event()
        self.token = 0
        self.key: object = None  # what the scan under way (or done last) is for
        self._finished.connect(self._on_finished)

    @property
    def active_jobs(self) -> int:
        return self._pool.activeThreadCount()

    def cancelled(self, token: int) -> bool:
        """From the pool's thread: stop this scan?"""
        return self._stop.is_set() or token != self.token

    def cancel(self) -> None:
        self.token += 1
        self.key = None

    def request(self, key: object, build: Callable[[], RateScan]) -> None:
        """Run the scan ``build()`` makes, for ``key``, in the background."""
        if self._stop.is_set():
            return
        self.token += 1
        self.key = key
        self._pool.start(_ScanJob(self, self.token, build))

    @Slot(object)
    def _on_finished(self, result: tuple[int, list[Trial] | None]) -> None:
        token, trials = result
        if token == self.token:  # None: the scan failed, there is no advice to give
            self.ready.emit((self.key, trials))

    def shutdown(self, timeout_ms: int = 5000) -> None:
        self._stop.set()
        self._pool.clear()
        self._pool.waitForDone(timeout_ms)


class RaceView(TrainingView):
    title = "Optimizer race"
    MODEL = RaceRun
    COMMANDS = {**TRAINING_COMMANDS,
                "reset": Command("Rese&t", "Ctrl+R", "resetButton", "Start the race again from the start point"),
                "book_settings": Command("&Default settings", "Ctrl+Shift+B", "defaultSettingsButton",
                                         "TensorFlow.js's defaults for every racer, the first course, a fresh race")}

    RECALLED = ("These are your racers and course from last time (Training ▸ Default settings brings back "
                "TensorFlow.js's defaults).")

    def __init__(self, parent: QWidget | None = None, dataset: Dataset | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("raceView")
        self._surface_timer = QTimer(self, singleShot=True, interval=120)
        self._surface_timer.timeout.connect(self.recompute_surface)
        self._surface_stale = True
        self._surface_loss: str | None = None
        self._items: list[dict[str, pg.GraphicsObject]] = []
        self._keys_drawn: list[str] | None = None
        self.advisor = RateAdvisor(self)
        self.advisor.ready.connect(self._on_advice)
        self._advice: tuple[object, list[Trial] | None] | None = None  # the last rates tried: (for what, trials)
        self.add_training_commands("step_batch", "step_epoch", "run", "reset", "book_settings")
        self._build_ui()
        model = RaceRun(dataset)
        self.surface.set_range(*model.home_window())
        self.bind(model)

    # ------------------------------------------------------------------ UI
    def _build_ui(self) -> None:
        self.surface = SurfacePanel("kernel", "bias")
        self.surface.setObjectName("raceSurface")
        self.surface.setAccessibleName("Loss surface with each racer's trajectory")
        access.describe(self.surface, self.map_description)
        fit_title(self.surface.plot, "Training loss — click to start everyone there")
        for item in (self.surface.path, self.surface.current, self.surface.epoch_marks, self.surface.step_line,
                     self.surface.gradient_line, self.surface.gradient_head):
            item.hide()
        self.surface.clicked.connect(self.start_at)
        self.surface.rangeChanged.connect(lambda _: self._surface_timer.start())
        self.legend = OutsideLegend(self.surface.plot, text_size="9pt")  # under the map: it hides no path
        self.finish = pg.PlotCurveItem(pen=pg.mkPen("w", width=1.5, style=Qt.PenStyle.DashLine))
        self.finish.setZValue(5)
        self.surface.plot.addItem(self.finish)

        self.losses = RaceLossPanel()
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("raceTable")
        self.table.setAccessibleName("Race results")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # a tab stop: the arrow keys read its cells
        self.table.setTabKeyNavigation(False)  # Tab goes on to the next control
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setWordWrap(False)
        self.table.setMinimumHeight(120)
        self.table.setToolTip("Settled: the step from which the racer stays within the tolerance of the optimum "
                              "to the end of the race (while it runs: since when it has been inside). First touch: "
                              "its first step within the tolerance (0: it started there)")

        top = self.splitter(Qt.Orientation.Horizontal, [self.surface, self.losses], [600, 400], stretch=[3, 2])
        plots = self.splitter(Qt.Orientation.Vertical, [top, self.table], [660, 170], stretch=[1, 0])

        side, column = self.stack([], "raceSidebar", margin=6)
        column.addWidget(self._build_race_box())
        column.addWidget(self._build_racers_box())
        self.form = controls.SettingsForm("The course", FIELDS)
        self.form.changed.connect(self._on_course_changed)
        hint = QLabel("A racer is inside when its distance to the optimum, ‖(kernel, bias) − (k*, b*)‖, is at "
                      "most the tolerance (the dashed circle on the map), and settles when it stays inside to "
                      "the end.")
        hint.setWordWrap(True)
        hint.setStyleSheet("color: #666;")
        self.start_fields = StartFields()
        self.start_fields.entered.connect(self.start_typed)
        self.start_fields.refused.connect(self.show_message)
        self.start_fields.finished.connect(self.setFocus)
        self.form.layout().addRow(hint)
        self.form.layout().addRow("Start", self.start_fields)
        column.addWidget(self.form)
        self.text = self.text_label("raceText", "What is happening")
        column.addWidget(self.explanation_box("What is happening", self.text), 1)
        self.lay_out(plots, side, width=(340, 410))
        self.map_panel, self.loss_chart = self.surface, self.losses

    def _build_race_box(self) -> QGroupBox:
        box = self.command_box("Race", [["step_batch", "step_epoch"], ["run", "reset"]])
        box.layout().addLayout(self.speed_row("raceSpeed"), 2, 0, 1, 2)
        return box

    def _build_racers_box(self) -> QGroupBox:
        """One row per optimizer: a tick box, its learning rate and its options, from the model's declaration."""
        box = QGroupBox("Racers")
        box.setToolTip("Each optimizer starts with TensorFlow.js's defaults; change them to race variants")
        grid = QGridLayout(box)
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(4)
        self.enabled: dict[str, QCheckBox] = {}
        self.rates: dict[str, QDoubleSpinBox] = {}
        self.options: dict[str, dict[str, QDoubleSpinBox]] = {}
        for row, key in enumerate(RACERS):
            check = QCheckBox(LABELS[key])
            check.setObjectName(f"{key}Racer")
            check.setAccessibleName(f"Race {LABELS[key]}")
            check.setIcon(_swatch(COLOURS[key]))
            check.toggled.connect(lambda on, key=key: self._set_racer(key, enabled=on))
            self.enabled[key] = check
            grid.addWidget(check, row, 0)
            rate = self._number(f"{key}LearningRate", f"{LABELS[key]} learning rate", "lr ", None, *RATE_RANGE,
                                f"{LABELS[key]}'s learning rate (TensorFlow.js default "
                                f"{DEFAULT_LEARNING_RATE[key]:g})")
            rate.valueChanged.connect(lambda v, key=key: self._set_racer(key, learning_rate=v))
            self.rates[key] = rate
            grid.addWidget(rate, row, 1)
            self.options[key] = {}
            for col, o in enumerate(OPTIONS[key], start=2):
                spin = self._number(f"{key}_{o.keyword}", f"{LABELS[key]} {o.keyword}", f"{o.symbol} ", o.decimals,
                                    o.lo, o.hi, f"{o.tip} (TensorFlow.js default {o.default:g}; scroll or type to "
                                    "change)")
                spin.setSingleStep(o.step)
                spin.setButtonSymbols(QDoubleSpinBox.ButtonSymbols.NoButtons)
                spin.valueChanged.connect(lambda v, key=key, kw=o.keyword: self._set_racer(key, **{kw: v}))
                self.options[key][o.keyword] = spin
                grid.addWidget(spin, row, col)
        grid.setColumnStretch(1, 1)
        return box

    @staticmethod
    def _number(name: str, accessible: str, prefix: str, decimals: int | None, lo: float, hi: float, tip: str
                ) -> QDoubleSpinBox:
        """A number field; with ``decimals`` None, a rate (six significant digits, over decades)."""
        spin = controls.RateBox() if decimals is None else QDoubleSpinBox()
        spin.setObjectName(name)
        spin.setAccessibleName(accessible)
        spin.setPrefix(prefix)
        if decimals is not None:
            spin.setDecimals(decimals)
        spin.setRange(lo, hi)
        spin.setKeyboardTracking(False)
        spin.setToolTip(tip)
        return spin

    # ------------------------------------------------------------------ the model
    @property
    def run(self) -> RaceRun:
        return self.model

    @Slot(float, float)
    def start_typed(self, kernel: float, bias: float) -> None:
        """A start typed in the fields: as a click on the map there; the map takes it in if it lay outside."""
        before = self.model.start
        self.start_at(kernel, bias)
        if self.model.start != before:
            self._frame_start()

    def _frame_start(self) -> None:
        """Widen the map to show the start, if it is off the map."""
        k, b = self.model.start
        k_lo, k_hi, b_lo, b_hi = self.surface.visible_range()
        if k_lo <= k <= k_hi and b_lo <= b <= b_hi:
            return
        h_lo, h_hi, v_lo, v_hi = self.model.home_window()
        k_lo, k_hi, b_lo, b_hi = min(h_lo, k), max(h_hi, k), min(v_lo, b), max(v_hi, b)
        pad_k, pad_b = 0.08 * (k_hi - k_lo), 0.08 * (b_hi - b_lo)
        self.surface.set_range(k_lo - pad_k, k_hi + pad_k, b_lo - pad_b, b_hi + pad_b)
        self.recompute_surface()

    def _set_racer(self, key: str, **changes) -> None:
        try:
            self.model.set_racer(key, **changes)
        except ValueError as e:
            self.show_message(str(e).rstrip(".") + ".")
            self.settings_changed()

    @Slot(dict)
    def _on_course_changed(self, changes: dict) -> None:
        if "tolerance" in changes:
            self.model.set_tolerance(changes["tolerance"])
        else:
            self.change(**changes)

    def reset(self) -> None:
        self.model.restart()

    def settings_changed(self) -> None:
        run = self.model
        self.form.set_range("batch_size", 1, max(1, len(run.dataset.y_train)))
        self.form.show_values({**settings_values(run.settings), "tolerance": run.tolerance})
        for key, racer in run.racers.items():
            for w, value in ((self.enabled[key], racer.enabled), (self.rates[key], racer.learning_rate),
                             *((self.options[key][kw], v) for kw, v in racer.options.items())):
                blocked = w.blockSignals(True)
                if isinstance(w, QCheckBox):
                    w.setChecked(value)
                elif not (w.hasFocus() and w.lineEdit().isModified()):
                    w.setValue(value)
                w.blockSignals(blocked)
        self.start_fields.show_point(*run.start)
        self.surface.set_optimum(float(run.optimum[0]), float(run.optimum[1]))
        self.losses.set_optimum(run.optimum_loss)
        self.losses.plot.setLabel("left", run.loss.name.upper())
        if self._surface_loss != run.loss.name:
            self.recompute_surface()

    def run_started(self) -> None:
        run = self.model
        self.advisor.cancel()  # a scan for the race before is of no use now
        self.settings_changed()
        if run.keys != self._keys_drawn:
            self._build_racer_items()
        for key in ("step_batch", "step_epoch", "run"):
            self.commands[key].setEnabled(run.race is not None)

    # ------------------------------------------------------------------ drawing
    def recompute_surface(self) -> None:
        if not self.isVisible():  # the map costs ~0.1 s: draw it when the tab is first shown, not at start-up
            self._surface_stale = True
            return
        self._surface_stale = False
        k_lo, k_hi, b_lo, b_hi = self.surface.visible_range()
        a = np.linspace(k_lo, k_hi, GRID)
        b = np.linspace(b_lo, b_hi, GRID)
        self._surface_loss = self.model.loss.name
        self.surface.set_surface(a, b, self.model.surface(a, b))

    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        if self._surface_stale:
            self.recompute_surface()

    def _build_racer_items(self) -> None:
        plot = self.surface.plot
        for items in self._items:
            for item in items.values():
                plot.removeItem(item)
        self.legend.clear()
        self._items = []
        keys = self.model.keys
        self._keys_drawn = list(keys)
        for key in keys:
            colour = COLOURS[key]
            casing = pg.PlotCurveItem(pen=pg.mkPen((255, 255, 255, 170), width=5))
            line = pg.PlotCurveItem(pen=pg.mkPen(colour, width=2.5))
            dot = pg.ScatterPlotItem(size=12, brush=pg.mkBrush(colour), pen=pg.mkPen("k", width=1.2))
            cross = pg.ScatterPlotItem(symbol="x", size=18, brush=pg.mkBrush(colour), pen=pg.mkPen("w", width=1))
            for z, item in enumerate((casing, line, dot, cross)):
                item.setZValue(6 + z)
                plot.addItem(item)
            self._items.append({"casing": casing, "line": line, "dot": dot, "cross": cross})
            self.legend.addItem(line, LABELS[key])
        self.surface.keep_labels_clear_of([it["dot"] for it in self._items])  # contour labels make way for them
        self.legend.addItem(self.surface.optimum, "optimum")
        self.losses.set_racers([(key, LABELS[key], COLOURS[key]) for key in keys])

    def drawn(self, key: str) -> dict[str, pg.GraphicsObject]:
        """What is drawn of racer ``key`` on the map: its ``line``, its ``dot`` (now) and its ✕ (``cross``)."""
        return dict(self._items[self.model.keys.index(key)])

    def marker(self, key: str) -> np.ndarray:
        """Where racer ``key``'s ✕ (the last finite point of a racer that diverged) is drawn: (k, 2), k ≤ 1."""
        x, y = self._items[self.model.keys.index(key)]["cross"].getData()
        return np.column_stack([x, y])

    def redraw(self) -> None:
        """Draw every racer's history: trajectories, loss curves, the table, the text."""
        run = self.model
        self.surface.start.setData([run.start[0]], [run.start[1]])
        t = np.linspace(0, 2 * np.pi, 120)
        tol = run.tolerance
        self.finish.setData(run.optimum[0] + tol * np.cos(t), run.optimum[1] + tol * np.sin(t))
        for i, (key, history, items) in enumerate(zip(run.keys, run.histories, self._items, strict=True)):
            params = history.params
            drawn = _thinned(params)
            items["casing"].setData(drawn[:, 0], drawn[:, 1])
            items["line"].setData(drawn[:, 0], drawn[:, 1])
            items["dot"].setData(params[-1:, 0], params[-1:, 1])
            if history.diverged is not None:
                items["cross"].setData(params[-1:, 0], params[-1:, 1])
            else:
                items["cross"].setData([], [])
            self.losses.set_losses(key, run.losses(i), history.param_steps)
        self._fill_table()
        self.surface.make_way()
        self._fill_text()
        self.start_fields.show_point(*run.start)
        self.surface.setAccessibleDescription(self.map_description())

    # ------------------------------------------------------------------ the table
    def _fill_table(self) -> None:
        run = self.model
        self.table.setRowCount(len(run.keys))
        standing = run.standing()
        winners = [] if standing is None else standing.winners
        said = []
        for row, key in enumerate(run.keys):
            cells = self._cells(row, winners)
            for col, text in enumerate(cells):
                item = self.table.item(row, col)
                if item is None:
                    item = QTableWidgetItem()
                    self.table.setItem(row, col, item)
                item.setText(text)
                if col > 0:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
            self.table.item(row, 0).setIcon(_swatch(COLOURS[key]))
            bad = run.histories[row].diverged is not None
            font = QFont(self.table.font())
            font.setBold(row in winners)
            for col in range(len(COLUMNS)):
                item = self.table.item(row, col)
                item.setBackground(QColor("#fdecea") if bad else QColor("#ffffff"))
                item.setForeground(QColor("#8a1c12") if bad else QColor("#111111"))
                item.setFont(font)
            if run.inside_since(row) is not None:
                self.table.item(row, 1).setForeground(QColor(INSIDE))
            elif run.done and not bad:
                self.table.item(row, 1).setForeground(QColor(OUTSIDE))
            said.append(f"{LABELS[key]}: {cells[1]}, first touch {cells[2]}, {cells[3]} from the optimum, "
                        f"training loss {cells[4]}, {cells[5]}")
        self.table.setAccessibleDescription("; ".join(said) if said else "No racers")

    def _cells(self, i: int, winners: list[int]) -> list[str]:
        """Racer ``i``'s row of the table (``winners``: the race's winner, or those of a dead heat, once it has
        ended)."""
        run = self.model
        key, history = run.keys[i], run.histories[i]
        since, first = run.inside_since(i), run.first_touch(i)
        if history.diverged is not None:
            settled = "did not settle"
            status = f"diverged at step {history.diverged.step}"
        else:
            if run.done:
                settled = "outside: did not settle" if since is None else f"settled at step {since}"
            else:
                settled = "outside" if since is None else f"inside since step {since}"
            if self.controller.running:
                status = "racing"
            elif history.steps == 0:
                status = "at the start"
            elif i in winners:
                status = "winner" if len(winners) == 1 else "winner (dead heat)"
            elif run.done:
                status = "done: epoch limit"
            else:
                status = "paused"
        touch = f"step {first}" if first is not None else ("never" if run.done else "not yet")
        return [f"{LABELS[key]}  (lr {run.racers[key].learning_rate:g})  ", settled, touch,
                _num(run.distance(i)), f"{float(run.losses(i)[-1]):.5g}", status]

    # ------------------------------------------------------------------ the text
    def _fill_text(self) -> None:
        run = self.model
        texts = resources.sections("race.md")
        if not run.keys:
            self.text.setText(texts["empty"])
            return
        tol = f"{run.tolerance:g}"
        if run.steps == 0:
            body = texts["idle"].format(**self._rule_values())
        elif run.done:
            body = texts["done"].format(epochs=run.epochs_done, step=run.steps, winner=self._outcome(texts))
        else:
            body = texts["running"].format(step=run.steps, epoch=run.epochs_done, epochs=run.settings.epochs,
                                           tolerance=tol,
                                           surface=self._surface_text(texts))
        gone = [LABELS[k] for k, h in zip(run.keys, run.histories, strict=True) if h.diverged is not None]
        if gone:
            body += "<br><br>" + texts["diverged"].format(names=_names(gone))
        self.text.setText(body)

    def _rule_values(self) -> dict[str, str]:
        """The optimizers' own numbers for the texts that write out their rules."""
        options = {key: self.model.racers[key].options for key in RACERS}
        m = options["momentum"]["momentum"]
        steps = math.log(0.5) / math.log(m) if m > 0 else 0.0
        half = f"every {steps:.2g} steps" if steps >= 1.05 else "within a step"
        return {"m": f"{m:g}", "m_half": half, "m_gain": f"{1 / (1 - m):.3g}", "rho": f"{options['rmsprop']['rho']:g}",
                "beta1": f"{options['adam']['beta1']:g}", "beta2": f"{options['adam']['beta2']:g}"}

    def _surface_text(self, texts: dict[str, str]) -> str:
        """What the surface does to SGD, from its curvature (MSE) or its shape (MAE)."""
        run = self.model
        loss_name = controls.LOSS_NAMES[run.loss.name].split(" (")[0]
        if run.loss.name != "mse":
            return texts["surface_mae"].format(loss_name=loss_name)
        if "sgd" not in run.keys:
            return ""
        c = curvature_of(run.experiment)
        rate = run.racers["sgd"].learning_rate
        sharp = rate * c.lam_max
        key = "surface_sharp" if sharp < 1 else "surface_zigzag" if sharp < 2 else "surface_diverging"
        kappa = f"{c.condition:,.0f}" if c.condition >= 10 else f"{c.condition:.2g}"
        text = texts[key].format(loss_name=loss_name, kappa=kappa, sgd_rate=f"{rate:g}", sharp=f"{sharp:.2f}",
                                 crawl=f"{100 * rate * c.lam_min:.2g}", limit=_num(c.stability_limit))
        rows = len(run.experiment.y)
        if run.settings.batch_size < rows:
            text += " " + texts["surface_batches"].format(batch=run.settings.batch_size, rows=rows)
        return text

    def _outcome(self, texts: dict[str, str]) -> str:
        """Who won and why, who ended outside, and what other rates would do for those that did not settle."""
        run = self.model
        standing = run.standing()
        n = len(run.keys)
        dist = [run.distance(i) for i in range(n)]
        parts = []
        if standing is None or standing.winner is None:
            parts.append(texts["nobody"].format(tolerance=f"{run.tolerance:g}"))
        elif len(standing.winners) > 1:
            w = standing.winner
            parts.append(texts["dead_heat"].format(names=_names([LABELS[run.keys[i]] for i in standing.winners]),
                                                   tolerance=f"{run.tolerance:g}", settled=run.settled(w),
                                                   final=_num(dist[w])))
        else:
            w = standing.winner
            name, settled, first = LABELS[run.keys[w]], run.settled(w), run.first_touch(w)
            parts.append(texts["winner" if first == settled else "winner_touched"].format(
                name=name, tolerance=f"{run.tolerance:g}", settled=settled, first=first, final=_num(dist[w])))
            if standing.tie:
                others = [i for i in standing.order[1:] if run.settled(i) == settled]
                parts.append(texts["tie"].format(names=_names([LABELS[run.keys[i]] for i in others]), name=name,
                                                 settled=settled, final=_num(dist[w]),
                                                 other_final=_num(dist[others[0]])))
        start = float(np.hypot(*(np.array(run.start) - run.optimum)))
        slow: list[int] = []
        for i, key in enumerate(run.keys):
            if run.settled(i) is not None or run.histories[i].diverged is not None:
                continue
            rate = run.racers[key].learning_rate
            if run.first_touch(i) is not None:
                parts.append(texts["outside"].format(name=LABELS[key], first=run.first_touch(i), final=_num(dist[i])))
            if key == "rmsprop" and dist[i] <= 2 * rate:
                if run.first_touch(i) is None:
                    parts.append(texts["ends"].format(name=LABELS[key], final=_num(dist[i])))
                parts.append(texts["hover"].format(name=LABELS[key], rate=f"{rate:g}"))
            elif key in ("rmsprop", "adam") and 0 < start - dist[i] < start / 2:
                slow.append(i)
        if slow:
            rates = sorted({f"{run.racers[run.keys[i]].learning_rate:g}" for i in slow})
            names, moved = _names([LABELS[run.keys[i]] for i in slow]), _names([_num(start - dist[i]) for i in slow])
            parts.append(texts["slow"].format(names=names, rate=_names(rates), moved=moved, distance=_num(start)))
        text = " ".join(parts)
        advice = self._advice_text(texts)
        if advice:
            text += "<br><br>" + advice
        return text + "<br><br>" + texts["try"]

    # ------------------------------------------------------------------ other rates
    def _unsettled(self) -> list[RacerSpec]:
        """The racers of an ended race that did not settle, with their options (the rate left to the scan)."""
        run = self.model
        return [RacerSpec(key, None, dict(run.racers[key].options)) for i, key in enumerate(run.keys)
                if run.settled(i) is None]

    def _scan_key(self, specs: list[RacerSpec]) -> tuple:
        """What a scan of other rates is for: the course, the racers, the finish line, the steps raced."""
        run = self.model
        return (json.dumps(run.preferences(), sort_keys=True), run.epochs_done, tuple(s.optimizer for s in specs))

    def _advice_text(self, texts: dict[str, str]) -> str:
        """Which other rates settle, for the racers that did not (asked for in the background, said once known)."""
        run = self.model
        specs = self._unsettled()
        if not specs:
            return ""
        if run.steps > SCAN_MAX_STEPS:
            return texts["scan_long"]
        key = self._scan_key(specs)
        if self._advice is None or self._advice[0] != key:
            if self.advisor.key != key:
                dataset, settings = run.dataset, replace(run.settings, epochs=run.epochs_done)
                target, tolerance = run.optimum.copy(), run.tolerance
                self.advisor.request(key, lambda: RateScan(dataset, settings, specs, target, tolerance))
            return texts["scan_running"].format(names=_names([LABELS[s.optimizer] for s in specs]))
        trials = self._advice[1]
        if trials is None:
            return ""
        said, never, closest = [texts["scan_intro"].format(steps=run.steps)], [], []
        for spec in specs:
            mine = [t for t in trials if t.optimizer == spec.optimizer]
            name = LABELS[spec.optimizer]
            settles = [t for t in mine if t.settled is not None]
            if settles:
                best = min(settles, key=lambda t: (t.settled, t.final))
                said.append(texts["scan_settles"].format(name=name, rates=_rate_list([t.rate for t in settles]),
                                                         best_rate=f"{best.rate:g}", best_step=best.settled))
                continue
            never.append(name)
            near = min(mine, key=lambda t: t.final)
            closest.append(f"{name} at {near.rate:g}, {_num(near.final)} away" if math.isfinite(near.final)
                           else f"{name} diverges at every rate")
        if never:
            said.append(texts["scan_never"].format(names=_names(never), lo=f"{SCAN_RATES[0]:g}",
                                                   hi=f"{SCAN_RATES[-1]:g}", closest="; ".join(closest)))
        return " ".join(said)

    @Slot(object)
    def _on_advice(self, result: tuple[object, list[Trial] | None]) -> None:
        self._advice = result
        self.request_frame()

    def shutdown(self) -> None:
        self.advisor.shutdown()
        super().shutdown()

    # ------------------------------------------------------------------ descriptions
    def map_description(self) -> str:
        """What the map shows now, in words (its accessible description)."""
        run = self.model
        k, b = run.optimum
        parts = [f"Loss surface, {run.loss.name.upper()}, the optimum (star) at kernel {k:.3g}, bias {b:.3g}, "
                 f"in a finish circle of radius {run.tolerance:g}"]
        if not run.keys:
            parts.append("no racers")
        else:
            when = "at the start" if run.steps == 0 else f"after {run.steps} steps"
            parts.append(f"racers {when}: " + ", ".join(
                f"{LABELS[key]} at kernel {h.current[0]:.3g}, bias {h.current[1]:.3g}, {_num(run.distance(i))} from "
                "the optimum" for i, (key, h) in enumerate(zip(run.keys, run.histories, strict=True))))
        return "; ".join(parts)

    def trajectory(self, key: str) -> np.ndarray:
        """The parameters of racer ``key`` after each step, row 0 the start (n_steps + 1, 2)."""
        return self.model.histories[self.model.keys.index(key)].params

    def range_restored(self) -> None:
        self.recompute_surface()
