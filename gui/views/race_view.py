"""The optimizer race: SGD, momentum, RMSProp and Adam from one start, on one loss surface, on the same batches.

The tab shows a :class:`~fitscope.gui.models.race.RaceRun`: its racers' paths on the map, their losses on
one chart, and a table of who arrived where. The racers' fields are built from the model's declaration of
each optimizer's options (:data:`~fitscope.gui.models.race.OPTIONS`).

The finish line is a distance: a racer has arrived when ‖(kernel, bias) − optimum‖ ≤ the tolerance, with
the optimum computed exactly (least squares for MSE; the best line through two points for MAE).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDoubleSpinBox,
    QGridLayout,
    QGroupBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from fitscope import resources
from fitscope.engine.data import Dataset
from fitscope.engine.race import LABELS
from fitscope.engine.settings import DEFAULT_LEARNING_RATE, settings_values
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
COLUMNS = ["Optimizer", "First step\nwithin tolerance", "Distance to\noptimum now", "Training\nloss now", "Status"]

FIELDS = (
    controls.loss("raceLoss"),
    controls.batch_size("raceBatchSize", "Examples per step; every racer gets the same batches"),
    controls.epochs("raceEpochs"),
    controls.seed("raceSeed", "Seeds the shuffling: one seed, so every racer sees the same batches"),
    controls.Field("tolerance", "Tolerance", "raceTolerance", "rate", lo=TOLERANCE_RANGE[0], hi=TOLERANCE_RANGE[1],
                   accessible="Finish line: distance to the optimum",
                   tip="A racer has finished when its distance to the optimum in (kernel, bias), "
                   "√((k − k*)² + (b − b*)²), is at most this"),
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
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setWordWrap(False)
        self.table.setMinimumHeight(120)
        self.table.setToolTip("First step within tolerance: the first step after which the racer's distance to "
                              "the optimum was at most the tolerance (0: it started there)")

        top = self.splitter(Qt.Orientation.Horizontal, [self.surface, self.losses], [600, 400], stretch=[3, 2])
        plots = self.splitter(Qt.Orientation.Vertical, [top, self.table], [660, 170], stretch=[1, 0])

        side, column = self.stack([], "raceSidebar", margin=6)
        column.addWidget(self._build_race_box())
        column.addWidget(self._build_racers_box())
        self.form = controls.SettingsForm("The course", FIELDS)
        self.form.changed.connect(self._on_course_changed)
        hint = QLabel("A racer has arrived when its distance to the optimum, ‖(kernel, bias) − (k*, b*)‖, "
                      "is at most the tolerance (the dashed circle on the map).")
        hint.setWordWrap(True)
        hint.setStyleSheet("color: #666;")
        self.start_label = QLabel()
        self.start_label.setObjectName("raceStart")
        self.start_label.setAccessibleName("Start point")
        self.form.layout().addRow(hint)
        self.form.layout().addRow("Start (k, b)", self.start_label)
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
        self.start_label.setText(f"{run.start[0]:.4g}, {run.start[1]:.4g}")
        self.surface.set_optimum(float(run.optimum[0]), float(run.optimum[1]))
        self.losses.set_optimum(run.optimum_loss)
        self.losses.plot.setLabel("left", run.loss.name.upper())
        if self._surface_loss != run.loss.name:
            self.recompute_surface()

    def run_started(self) -> None:
        run = self.model
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

    def _fill_table(self) -> None:
        run = self.model
        self.table.setRowCount(len(run.keys))
        running = self.controller.running
        for row, (key, history) in enumerate(zip(run.keys, run.histories, strict=True)):
            reached = run.reached(row)
            if history.diverged is not None:
                status = f"diverged at step {history.diverged.step}"
            elif running:
                status = "racing"
            elif history.steps == 0:
                status = "at the start"
            else:
                status = "done: epoch limit" if run.done else "paused"
            cells = [
                f"{LABELS[key]}  (lr {run.racers[key].learning_rate:g})  ",
                "–" if reached is None else str(reached),
                f"{run.distance(row):.4g}",
                f"{float(run.losses(row)[-1]):.5g}",
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
        run = self.model
        texts = resources.sections("race.md")
        tol = f"{run.tolerance:g}"
        if not run.keys:
            self.text.setText(texts["empty"])
            return
        steps, epochs = run.steps, run.epochs_done
        if steps == 0:
            body = texts["idle"]
        elif run.done:
            finished = [(run.reached(i), LABELS[k]) for i, k in enumerate(run.keys) if run.reached(i) is not None]
            if finished:
                s, name = min(finished)
                winner = texts["winner"].format(name=name, tolerance=tol, steps=s)
            else:
                winner = texts["nobody"].format(tolerance=tol)
            body = texts["done"].format(epochs=epochs, step=steps, winner=winner)
            slow = [LABELS[k] for i, k in enumerate(run.keys)
                    if k in ("rmsprop", "adam") and run.reached(i) is None and run.racers[k].learning_rate <= 0.001]
            if slow:
                body += " " + texts["slow"].format(names=" and ".join(slow))
            body += " " + texts["try"]
        else:
            body = texts["running"].format(step=steps, epoch=epochs, tolerance=tol,
                                           loss_name=controls.LOSS_NAMES[run.loss.name].split(" (")[0])
        gone = [LABELS[k] for k, h in zip(run.keys, run.histories, strict=True) if h.diverged is not None]
        if gone:
            body += "<br><br>" + texts["diverged"].format(names=" and ".join(gone))
        self.text.setText(body)

    def trajectory(self, key: str) -> np.ndarray:
        """The parameters of racer ``key`` after each step, row 0 the start (n_steps + 1, 2)."""
        return self.model.histories[self.model.keys.index(key)].params

    def range_restored(self) -> None:
        self.recompute_surface()
