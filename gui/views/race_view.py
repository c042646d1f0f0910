"""The optimizer race: SGD, momentum, RMSProp and Adam from one start, on one loss surface, on the same batches.

The view builds an :class:`~engine.race.Race` (one trainer per ticked optimizer, all from the same start
point and seed) and hands it to a :class:`~gui.worker.TrainingController`, which drives it as it drives a
single trainer: Step batch, Step epoch and Run move every racer together. Each racer's reports go to its own
:class:`~gui.history.History`; the map, the loss curves and the table are drawn from those, at most ~60
times a second. Changing a racer, the loss, the batch size or the seed starts the race again from the start
point; clicking the map moves the start point.

The finish line is a distance: a racer has arrived when ‖(kernel, bias) − optimum‖ ≤ the tolerance, with
the optimum computed exactly (least squares for MSE; the best line through two points for MAE).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEventLoop, Qt, QTimer, Slot
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from fitscope import resources
from fitscope.engine.data import Dataset, load_builtin
from fitscope.engine.experiment import Experiment
from fitscope.engine.losses import get_loss
from fitscope.engine.race import LABELS, Race, RaceEpochReport, RacerSpec, RaceStepReport, optimum, steps_to_within
from fitscope.engine.race import training_losses as losses_of
from fitscope.engine.serial import finite_from_json, float_to_json
from fitscope.engine.settings import DEFAULT_LEARNING_RATE
from fitscope.engine.surface import default_window
from fitscope.gui import session
from fitscope.gui.history import History
from fitscope.gui.panels.race_losses import RaceLossPanel
from fitscope.gui.panels.surface import SurfacePanel
from fitscope.gui.views.base import View
from fitscope.gui.views.surface_view import LOSS_NAMES, SPEEDS
from fitscope.gui.worker import TrainingController, Unit

GRID = 200
START = (1.3, -0.6)  # far enough from the optimum that the racers' paths part ways
FRAME_MS = 16  # at most ~60 redraws a second when stepping
RUN_FRAME_MS = 40  # and ~25 while running: more would only take time from training
MAX_DRAWN = 4000  # points of a trajectory drawn on the map (longer ones are thinned, the last point kept)
RACERS = ("sgd", "momentum", "rmsprop", "adam")
COLOURS = {"sgd": "#e53935", "momentum": "#ff9800", "rmsprop": "#29b6f6", "adam": "#9c27b0"}
#: Each optimizer's other hyperparameters: (keyword, shown as, tfjs default, minimum, maximum, step, decimals, tip).
OPTIONS: dict[str, list[tuple[str, str, float, float, float, float, int, str]]] = {
    "sgd": [],
    "momentum": [("momentum", "m", 0.9, 0.0, 0.999, 0.05, 3, "Momentum: how much of the last step is kept")],
    "rmsprop": [
        ("rho", "ρ", 0.9, 0.0, 0.9999, 0.01, 4, "Decay of the running mean of squared gradients"),
        ("momentum", "μ", 0.0, 0.0, 0.999, 0.05, 3, "Momentum of RMSProp (tfjs default 0)"),
    ],
    "adam": [
        ("beta1", "β₁", 0.9, 0.0, 0.9999, 0.01, 4, "Decay of the running mean of gradients"),
        ("beta2", "β₂", 0.999, 0.0, 0.99999, 0.001, 5, "Decay of the running mean of squared gradients"),
    ],
}
COLUMNS = ["Optimizer", "First step\nwithin tolerance", "Distance to\noptimum now", "Training\nloss now", "Status"]


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


class _Grow:
    """A float64 vector that grows by doubling (appending is O(1) amortised)."""

    def __init__(self) -> None:
        self._data = np.empty(256)
        self.n = 0

    def extend(self, values: np.ndarray) -> None:
        need = self.n + len(values)
        if need > len(self._data):
            self._data = np.concatenate([self._data, np.empty(max(need, 2 * len(self._data)) - len(self._data))])
        self._data[self.n : need] = values
        self.n = need

    @property
    def view(self) -> np.ndarray:
        return self._data[: self.n]


class RaceView(View):
    title = "Optimizer race"

    def __init__(self, parent: QWidget | None = None, dataset: Dataset | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("raceView")
        self.dataset = dataset or load_builtin("download-time")
        self.controller = TrainingController(self)
        self.controller.reports.connect(self._on_reports)
        self.controller.stopped.connect(self._on_stopped)
        self.controller.runningChanged.connect(self._on_running_changed)
        self._frame = QTimer(self, singleShot=True, interval=FRAME_MS)
        self._frame.timeout.connect(self._on_frame)
        self._surface_timer = QTimer(self, singleShot=True, interval=120)
        self._surface_timer.timeout.connect(self._recompute_surface)
        self._done = False
        self._surface_stale = True
        self.race: Race | None = None
        self.keys: list[str] = []
        self.histories: list[History] = []
        self.start = START

        self._build_commands()
        self._build_ui()
        self._set_loss_context(reframe=True)
        self.restart()

    # ------------------------------------------------------------------ UI
    def _build_commands(self) -> None:
        self.add_command("step_batch", lambda: self.step(Unit.BATCH))
        self.add_command("step_epoch", lambda: self.step(Unit.EPOCH))
        self.add_command("run", self.toggle_run, checkable=True)
        self.add_command("reset", self.restart)
        self.commands["reset"].setToolTip("Start the race again from the start point (Ctrl+R)")

    def _build_ui(self) -> None:
        self.surface = SurfacePanel("kernel", "bias")
        self.surface.setObjectName("raceSurface")
        self.surface.setAccessibleName("Loss surface with each racer's trajectory")
        self.surface.plot.setTitle("Training loss — click to start everyone there", size="10pt")
        for item in (self.surface.path, self.surface.current, self.surface.epoch_marks, self.surface.step_line,
                     self.surface.gradient_line, self.surface.gradient_head):
            item.hide()
        self.surface.clicked.connect(self.start_at)
        self.surface.rangeChanged.connect(lambda _: self._surface_timer.start())
        self.legend = self.surface.plot.addLegend(offset=(8, 8), labelTextSize="9pt", labelTextColor="#212121")
        self.legend.setBrush(pg.mkBrush(255, 255, 255, 215))
        self.finish = pg.PlotCurveItem(pen=pg.mkPen("w", width=1.5, style=Qt.PenStyle.DashLine))
        self.finish.setZValue(5)
        self.surface.plot.addItem(self.finish)
        self._items: list[dict[str, pg.GraphicsObject]] = []

        self.losses = RaceLossPanel()
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("raceTable")
        self.table.setAccessibleName("Race results")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setWordWrap(False)
        self.table.setMinimumHeight(120)
        self.table.setToolTip("First step within tolerance: the first step after which the racer's distance to "
                              "the optimum was at most the tolerance (0: it started there)")

        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.surface)
        top.addWidget(self.losses)
        top.setStretchFactor(0, 3)
        top.setStretchFactor(1, 2)
        top.setSizes([600, 400])
        plots = QSplitter(Qt.Orientation.Vertical)
        plots.addWidget(top)
        plots.addWidget(self.table)
        plots.setStretchFactor(0, 1)
        plots.setStretchFactor(1, 0)
        plots.setSizes([660, 170])

        side = QWidget()
        side.setObjectName("raceSidebar")
        column = QVBoxLayout(side)
        column.setContentsMargins(6, 6, 6, 6)
        column.addWidget(self._build_race_box())
        column.addWidget(self._build_racers_box())
        column.addWidget(self._build_settings_box())
        what = QGroupBox("What is happening")
        self.text = QLabel()
        self.text.setObjectName("raceText")
        self.text.setAccessibleName("What is happening")
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        QVBoxLayout(what).addWidget(self.text)
        column.addWidget(what, 1)
        self.lay_out(plots, side, width=(340, 410))

    def _build_race_box(self) -> QGroupBox:
        box = QGroupBox("Race")
        grid = QGridLayout(box)
        grid.setSpacing(4)
        grid.addWidget(self.command_button("step_batch"), 0, 0)
        grid.addWidget(self.command_button("step_epoch"), 0, 1)
        grid.addWidget(self.command_button("run"), 1, 0)
        grid.addWidget(self.command_button("reset"), 1, 1)
        self.speed = self.speed_slider("raceSpeed", len(SPEEDS))
        self.speed_label = QLabel()
        self.speed_label.setMinimumWidth(self.speed_label.fontMetrics().horizontalAdvance("as fast as possible"))
        self.speed.valueChanged.connect(self._on_speed)
        speed_row = QHBoxLayout()
        speed_row.addWidget(QLabel("Speed"))
        speed_row.addWidget(self.speed, 1)
        speed_row.addWidget(self.speed_label)
        grid.addLayout(speed_row, 2, 0, 1, 2)
        self.speed.setValue(len(SPEEDS) - 2)
        self._on_speed(self.speed.value())
        return box

    def _build_racers_box(self) -> QGroupBox:
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
            check.setChecked(True)
            check.toggled.connect(self._on_racers_changed)
            self.enabled[key] = check
            grid.addWidget(check, row, 0)
            rate = QDoubleSpinBox()
            rate.setObjectName(f"{key}LearningRate")
            rate.setAccessibleName(f"{LABELS[key]} learning rate")
            rate.setPrefix("lr ")
            rate.setDecimals(4)
            rate.setRange(1e-4, 1000.0)
            rate.setStepType(QDoubleSpinBox.StepType.AdaptiveDecimalStepType)
            rate.setValue(DEFAULT_LEARNING_RATE[key])
            rate.setKeyboardTracking(False)
            rate.setToolTip(f"{LABELS[key]}'s learning rate (TensorFlow.js default {DEFAULT_LEARNING_RATE[key]:g})")
            rate.valueChanged.connect(self._on_racers_changed)
            self.rates[key] = rate
            grid.addWidget(rate, row, 1)
            self.options[key] = {}
            for col, (kw, shown, default, lo, hi, step, decimals, tip) in enumerate(OPTIONS[key], start=2):
                spin = QDoubleSpinBox()
                spin.setObjectName(f"{key}_{kw}")
                spin.setAccessibleName(f"{LABELS[key]} {kw}")
                spin.setPrefix(f"{shown} ")
                spin.setDecimals(decimals)
                spin.setRange(lo, hi)
                spin.setSingleStep(step)
                spin.setValue(default)
                spin.setKeyboardTracking(False)
                spin.setButtonSymbols(QDoubleSpinBox.ButtonSymbols.NoButtons)
                spin.setToolTip(f"{tip} (TensorFlow.js default {default:g}; scroll or type to change)")
                spin.valueChanged.connect(self._on_racers_changed)
                self.options[key][kw] = spin
                grid.addWidget(spin, row, col)
        grid.setColumnStretch(1, 1)
        return box

    def _build_settings_box(self) -> QGroupBox:
        box = QGroupBox("The course")
        form = QFormLayout(box)
        form.setVerticalSpacing(4)
        defaults = self.dataset.defaults
        self.loss_function = QComboBox()
        self.loss_function.setObjectName("raceLoss")
        self.loss_function.setAccessibleName("Loss function")
        for key, text in LOSS_NAMES.items():
            self.loss_function.addItem(text, key)
        self.loss_function.setCurrentIndex(self.loss_function.findData("mse"))  # the most telling surface
        self.loss_function.currentIndexChanged.connect(self._on_loss)
        form.addRow("Loss", self.loss_function)
        self.batch_size = QSpinBox()
        self.batch_size.setObjectName("raceBatchSize")
        self.batch_size.setAccessibleName("Batch size")
        self.batch_size.setRange(1, max(1, len(self.dataset.y_train)))
        self.batch_size.setValue(min(defaults.batch_size, len(self.dataset.y_train)))
        self.batch_size.setKeyboardTracking(False)
        self.batch_size.setToolTip("Examples per step; every racer gets the same batches")
        self.batch_size.valueChanged.connect(self.restart)
        form.addRow("Batch size", self.batch_size)
        self.epochs = QSpinBox()
        self.epochs.setObjectName("raceEpochs")
        self.epochs.setAccessibleName("Epochs to run")
        self.epochs.setRange(1, 1_000_000)
        self.epochs.setValue(defaults.epochs)
        self.epochs.setKeyboardTracking(False)
        self.epochs.setToolTip("Run stops after this many epochs")
        self.epochs.valueChanged.connect(self._on_epochs)
        form.addRow("Epochs", self.epochs)
        self.seed = QSpinBox()
        self.seed.setObjectName("raceSeed")
        self.seed.setAccessibleName("Seed")
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setValue(defaults.seed)
        self.seed.setKeyboardTracking(False)
        self.seed.setToolTip("Seeds the shuffling: one seed, so every racer sees the same batches")
        self.seed.valueChanged.connect(self.restart)
        form.addRow("Seed", self.seed)
        self.tolerance = QDoubleSpinBox()
        self.tolerance.setObjectName("raceTolerance")
        self.tolerance.setAccessibleName("Finish line: distance to the optimum")
        self.tolerance.setDecimals(4)
        self.tolerance.setRange(0.0001, 10.0)
        self.tolerance.setSingleStep(0.005)
        self.tolerance.setValue(0.01)
        self.tolerance.setKeyboardTracking(False)
        self.tolerance.setToolTip("A racer has finished when its distance to the optimum in (kernel, bias), "
                                  "√((k − k*)² + (b − b*)²), is at most this")
        self.tolerance.valueChanged.connect(self._on_tolerance)
        form.addRow("Tolerance", self.tolerance)
        hint = QLabel("A racer has arrived when its distance to the optimum, ‖(kernel, bias) − (k*, b*)‖, "
                      "is at most the tolerance (the dashed circle on the map).")
        hint.setWordWrap(True)
        hint.setStyleSheet("color: #666;")
        form.addRow(hint)
        self.start_label = QLabel()
        self.start_label.setObjectName("raceStart")
        self.start_label.setAccessibleName("Start point")
        form.addRow("Start (k, b)", self.start_label)
        return box

    # ------------------------------------------------------------ the race
    def specs(self) -> list[RacerSpec]:
        """The ticked racers, in table order, with their settings."""
        return [
            RacerSpec(key, self.rates[key].value(), {kw: spin.value() for kw, spin in self.options[key].items()})
            for key in RACERS if self.enabled[key].isChecked()
        ]

    def settings(self):
        return replace(
            self.dataset.defaults, model="linear", normalize=False, validation_split=0.0,
            loss=self.loss_function.currentData(), batch_size=self.batch_size.value(), epochs=self.epochs.value(),
            seed=self.seed.value(), init=self.start,
        )

    @Slot(float, float)
    def start_at(self, kernel: float, bias: float) -> None:
        """Every racer starts again from (kernel, bias)."""
        self.start = (float(kernel), float(bias))
        self.restart()

    def restart(self) -> None:
        """A fresh race from the start point with the current settings."""
        specs = self.specs()
        self.keys = [s.optimizer for s in specs]
        self._done = False
        self.start_label.setText(f"{self.start[0]:.4g}, {self.start[1]:.4g}")
        if specs:
            self.race = Race.build(self.dataset, self.settings(), specs)
            self.controller.set_trainer(self.race)
        else:
            self.race = None
            self.controller.set_trainer(None)
        start = np.array(self.start)
        self.histories = [History(start) for _ in specs]
        self._losses = [_Grow() for _ in specs]
        self._reached: list[int | None] = [None] * len(specs)
        self._scanned = [0] * len(specs)
        for key in ("step_batch", "step_epoch", "run"):
            self.commands[key].setEnabled(bool(specs))
        self._build_racer_items()
        self.redraw()

    def step(self, unit: Unit) -> None:
        if self.race is not None and not self.controller.running:
            self.controller.step(unit)

    def toggle_run(self) -> None:
        if self.controller.running:
            self.controller.pause()
        elif self.race is None or not self.controller.run():
            self.commands["run"].setChecked(False)

    def shutdown(self) -> None:
        self._frame.stop()
        self.controller.shutdown()

    # ------------------------------------------------------- settings changed
    def _on_racers_changed(self, *_) -> None:
        self.restart()

    def _on_loss(self, _index: int) -> None:
        self._set_loss_context()
        self.restart()

    def _on_epochs(self, n: int) -> None:
        self._done = False
        self.controller.change(lambda t: setattr(t, "epochs", max(n, t.epoch)))

    def _on_tolerance(self, _value: float) -> None:
        self._reached = [None] * len(self.histories)
        self._scanned = [0] * len(self.histories)
        self.redraw()

    def _on_speed(self, position: int) -> None:
        label, delay = SPEEDS[position]
        self.speed_label.setText(label)
        self.controller.set_delay(delay)

    def _set_loss_context(self, reframe: bool = False) -> None:
        """The loss function's surface, optimum and optimum loss."""
        self.loss = get_loss(self.loss_function.currentData())
        self.experiment = Experiment(self.dataset, replace(self.settings(), optimizer="sgd", learning_rate=0.01))
        X, y = self.experiment.X, self.experiment.y
        self.optimum, self.optimum_loss = optimum(X, y, self.loss)
        if reframe:
            k_lo, k_hi, b_lo, b_hi = default_window(X, y, self.experiment.stats.optimum())
            self.surface.set_range(k_lo, k_hi, b_lo, b_hi)
        self.surface.set_optimum(float(self.optimum[0]), float(self.optimum[1]))
        self.losses.set_optimum(self.optimum_loss)
        self.losses.plot.setLabel("left", self.loss.name.upper())
        self._recompute_surface()

    def _recompute_surface(self) -> None:
        if not self.isVisible():  # the map costs ~0.1 s: draw it when the tab is first shown, not at start-up
            self._surface_stale = True
            return
        self._surface_stale = False
        k_lo, k_hi, b_lo, b_hi = self.surface.visible_range()
        a = np.linspace(k_lo, k_hi, GRID)
        b = np.linspace(b_lo, b_hi, GRID)
        self.surface.set_surface(a, b, self.experiment.loss_slice(np.zeros(2), 0, 1, a, b))

    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        if self._surface_stale:
            self._recompute_surface()

    # ----------------------------------------------------------- reports
    @Slot(object)
    def _on_reports(self, reports: tuple) -> None:
        for report in reports:
            if isinstance(report, RaceStepReport | RaceEpochReport):
                for history, own in zip(self.histories, report.racers, strict=True):
                    if own is not None:
                        history.add(own)
        if not self._frame.isActive():
            self._frame.start()

    def _on_frame(self) -> None:
        """A frame: draw, and while the race runs, paint it at once with the worker held (as the surface tab)."""
        if not self.controller.running:
            self.redraw()
            return
        with self.controller.holding():
            self.redraw()
            QApplication.processEvents(QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents)

    @Slot(str)
    def _on_stopped(self, why: str) -> None:
        self._done = why in ("done", "diverged")
        self.redraw()

    @Slot(bool)
    def _on_running_changed(self, running: bool) -> None:
        run = self.commands["run"]
        run.setChecked(running)
        run.setText("Pause" if running else "&Run")
        self._frame.setInterval(RUN_FRAME_MS if running else FRAME_MS)
        for key in ("step_batch", "step_epoch"):
            self.commands[key].setEnabled(not running and self.race is not None)

    # ----------------------------------------------------------- drawing
    def _build_racer_items(self) -> None:
        plot = self.surface.plot
        for items in self._items:
            for item in items.values():
                plot.removeItem(item)
        self.legend.clear()
        self._items = []
        for key in self.keys:
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
        self.legend.addItem(self.surface.optimum, "optimum")
        self.losses.set_racers([(key, LABELS[key], COLOURS[key]) for key in self.keys])

    def redraw(self) -> None:
        """Draw every racer's history: trajectories, loss curves, the table, the text."""
        self.surface.start.setData([self.start[0]], [self.start[1]])
        t = np.linspace(0, 2 * np.pi, 120)
        tol = self.tolerance.value()
        self.finish.setData(self.optimum[0] + tol * np.cos(t), self.optimum[1] + tol * np.sin(t))
        X, y = self.experiment.X, self.experiment.y
        for i, (key, history, items) in enumerate(zip(self.keys, self.histories, self._items, strict=True)):
            params = history.params
            drawn = _thinned(params)
            items["casing"].setData(drawn[:, 0], drawn[:, 1])
            items["line"].setData(drawn[:, 0], drawn[:, 1])
            items["dot"].setData(params[-1:, 0], params[-1:, 1])
            if history.diverged is not None:
                items["cross"].setData(params[-1:, 0], params[-1:, 1])
            else:
                items["cross"].setData([], [])
            grow = self._losses[i]
            if grow.n < len(params):
                grow.extend(losses_of(X, y, self.loss, params[grow.n :]))
            self.losses.set_losses(key, grow.view)
            if self._reached[i] is None:
                self._reached[i] = steps_to_within(params, self.optimum, tol, self._scanned[i])
                self._scanned[i] = len(params)
        self._fill_table()
        self._fill_text()

    def _fill_table(self) -> None:
        self.table.setRowCount(len(self.keys))
        running = self.controller.running
        for row, (key, history) in enumerate(zip(self.keys, self.histories, strict=True)):
            reached = self._reached[row]
            current = history.current
            distance = float(np.hypot(*(current - self.optimum)))
            loss = float(self._losses[row].view[-1])
            if history.diverged is not None:
                status = f"diverged at step {history.diverged.step}"
            elif running:
                status = "racing"
            elif history.steps == 0:
                status = "at the start"
            else:
                status = "done: epoch limit" if self._done else "paused"
            cells = [
                f"{LABELS[key]}  (lr {self.rates[key].value():g})  ",
                "–" if reached is None else str(reached),
                f"{distance:.4g}",
                f"{loss:.5g}",
                status,
            ]
            for col, text in enumerate(cells):
                item = self.table.item(row, col)
                if item is None:
                    item = QTableWidgetItem()
                    self.table.setItem(row, col, item)
                item.setText(text)
                if col > 0:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
            self.table.item(row, 0).setIcon(_swatch(COLOURS[key]))
            bad = history.diverged is not None
            for col in range(len(COLUMNS)):
                self.table.item(row, col).setBackground(QColor("#fdecea") if bad else QColor("#ffffff"))
                self.table.item(row, col).setForeground(QColor("#8a1c12") if bad else QColor("#111111"))
            if reached is not None:
                self.table.item(row, 1).setForeground(QColor("#2e7d32"))

    def _fill_text(self) -> None:
        texts = resources.sections("race.md")
        tol = f"{self.tolerance.value():g}"
        if not self.keys:
            self.text.setText(texts["empty"])
            return
        steps = max(h.steps for h in self.histories)
        epochs = max(len(h.epochs) for h in self.histories)
        if steps == 0:
            body = texts["idle"]
        elif self._done:
            finished = [(s, LABELS[k]) for s, k in zip(self._reached, self.keys, strict=True) if s is not None]
            if finished:
                s, name = min(finished)
                winner = texts["winner"].format(name=name, tolerance=tol, steps=s)
            else:
                winner = texts["nobody"].format(tolerance=tol)
            body = texts["done"].format(epochs=epochs, step=steps, winner=winner)
            slow = [LABELS[k] for k, s in zip(self.keys, self._reached, strict=True)
                    if k in ("rmsprop", "adam") and s is None and self.rates[k].value() <= 0.001]
            if slow:
                body += " " + texts["slow"].format(names=" and ".join(slow))
            body += " " + texts["try"]
        else:
            body = texts["running"].format(step=steps, epoch=epochs, tolerance=tol,
                                           loss_name=LOSS_NAMES[self.loss.name].split(" (")[0])
        gone = [LABELS[k] for k, h in zip(self.keys, self.histories, strict=True) if h.diverged is not None]
        if gone:
            body += "<br><br>" + texts["diverged"].format(names=" and ".join(gone))
        self.text.setText(body)

    # --- for tests and tours ---
    def trajectory(self, key: str) -> np.ndarray:
        """The parameters of racer ``key`` after each step, row 0 the start (n_steps + 1, 2)."""
        return self.histories[self.keys.index(key)].params

    # ------------------------------------------------------------ sessions (the format: gui/session.py)
    def controls(self) -> dict[str, QWidget]:
        """The controls a session and the app's remembered settings hold, by key."""
        out: dict[str, QWidget] = {}
        for key in RACERS:
            out[f"{key}.enabled"] = self.enabled[key]
            out[f"{key}.learning_rate"] = self.rates[key]
            for kw, spin in self.options[key].items():
                out[f"{key}.{kw}"] = spin
        out.update(loss=self.loss_function, batch_size=self.batch_size, epochs=self.epochs, seed=self.seed,
                   tolerance=self.tolerance, speed=self.speed)
        return out

    def recall_controls(self, values: dict) -> None:
        """Settings remembered from the last time the app ran: set the controls, and a fresh race from them."""
        if session.write_controls(self.controls(), values):
            self._on_speed(self.speed.value())
            self._set_loss_context()
            self.restart()

    def session_state(self) -> dict:
        """This view's part of a session (take it while the controller is idle, its changes settled)."""
        return {
            "data": session.data_source(self.dataset),
            "settings": session.settings_to_json(self.settings()),  # the race's (a change restarts it)
            "racers": [{"optimizer": s.optimizer, "learning_rate": s.rate, "options": dict(s.options)}
                       for s in self.specs()],
            "controls": session.read_controls(self.controls()),
            "start": [float_to_json(v) for v in self.start],
            "race": None if self.race is None else self.race.state(),
            "histories": [session.history_to_json(h) for h in self.histories],
            "done": self._done,
            "range": list(self.surface.visible_range()),
            "log_scale": self.losses.log_scale.isChecked(),
        }

    def prepare_session(self, state: dict):
        """Build everything ``state`` describes, changing nothing; return the function that swaps it in.

        Raises :class:`~gui.session.SessionError`, or ValueError/KeyError/TypeError for a damaged part.
        """
        dataset = session.load_source(state["data"], self.dataset)
        if dataset is not self.dataset:
            raise session.SessionError("the optimizer race runs on the download-time data only")
        settings = session.settings_from_json(state["settings"])
        if not isinstance(state["racers"], list) or not all(isinstance(r, dict) for r in state["racers"]):
            raise ValueError("the racers are malformed")
        specs = []
        for r in state["racers"]:
            if r["optimizer"] not in RACERS or not isinstance(r["options"], dict):
                raise ValueError("a racer is malformed")
            options = {kw: finite_from_json(v, "a racer's option") for kw, v in r["options"].items()}
            specs.append(RacerSpec(r["optimizer"], finite_from_json(r["learning_rate"], "a racer's rate"), options))
        if len({s.optimizer for s in specs}) != len(specs):
            raise ValueError("a racer runs twice")
        start = state["start"]
        if not isinstance(start, list) or len(start) != 2:
            raise ValueError("the start point is not two numbers")
        start = tuple(finite_from_json(v, "the start point") for v in start)
        race = None
        if specs:
            race = Race.build(dataset, settings, specs)
            race.restore(state["race"])
        histories = state["histories"]
        if not isinstance(histories, list) or len(histories) != len(specs):
            raise ValueError("there is not one history per racer")
        n_rows = len(race.trainers[0].y) if race is not None else 0
        histories = [session.history_from_json(h, 2, n_rows) for h in histories]
        for h, t in zip(histories, race.trainers if race is not None else [], strict=True):
            session.check_trainer_matches(h, t.params)
        controls = state["controls"]
        done = session.bool_field(state["done"], "done")
        window = session.range_field(state["range"])
        log_scale = session.bool_field(state["log_scale"], "the log scale")

        def apply() -> None:
            session.write_controls(self.controls(), controls)
            self._on_speed(self.speed.value())
            self.start = start
            self._set_loss_context()
            self.restart()  # the racers' items, table rows and curves; the race itself is replaced now
            self.keys = [s.optimizer for s in specs]
            self.race = race
            self.controller.discard_pending()
            self.controller.set_trainer(race)
            self.histories = histories
            self._losses = [_Grow() for _ in specs]
            self._reached, self._scanned = [None] * len(specs), [0] * len(specs)
            self._build_racer_items()
            self._done = done
            self.losses.log_scale.setChecked(log_scale)
            self.surface.set_range(*window)
            self._recompute_surface()
            self.redraw()

        return apply

    def restore_session(self, state: dict) -> None:
        """Open this view's part of a session: all of it, or (on an exception) nothing."""
        self.prepare_session(state)()
