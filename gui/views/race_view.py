"""The optimizer race: SGD, momentum, RMSProp and Adam from one start, on one loss surface, on the same batches.

The tab shows a :class:`~fitscope.gui.models.race.RaceRun`: its racers' paths on the map, their losses on
one chart, and a table of where each stands against the finish line. The racers' fields are built from the
model's declaration of each optimizer's options (:data:`~fitscope.gui.models.race.OPTIONS`).

The finish line is a distance: a racer is inside when ‖(kernel, bias) − optimum‖ ≤ the tolerance, with the
optimum computed exactly (least squares for MSE; the best line through two points for MAE). A racer *settles*
at the first step after which every later step of the race is inside; the winner is decided when the race
has ended, by the settled step (then by the final distance). While it goes on, the table says since when
each racer has been inside.

When a race has ended with racers that did not settle, a :class:`~fitscope.gui.views.race_advisor.RateAdvisor`
races each of them again at other learning rates (the engine's :class:`~fitscope.engine.race.RateScan`, off the
GUI thread), and the text says which rates settle in the race's steps.

This module is the wiring: the table's cells and the texts are :mod:`fitscope.gui.models.race_texts`, the advice
:mod:`fitscope.gui.models.race_advice`, the table :class:`~fitscope.gui.panels.race_table.RaceTable`, the typed
start :class:`~fitscope.gui.panels.start_fields.StartFields`.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QGridLayout, QGroupBox, QLabel, QWidget

from fitscope.engine.data import Dataset
from fitscope.engine.numbers import prose
from fitscope.engine.race import LABELS, Trial
from fitscope.engine.settings import DEFAULT_LEARNING_RATE, settings_values
from fitscope.gui import access
from fitscope.gui.models import race_advice, race_texts
from fitscope.gui.models.race import OPTIONS, RACERS, RATE_RANGE, TOLERANCE_RANGE, RaceRun
from fitscope.gui.panels.compare import PreviousRaceOverlay
from fitscope.gui.panels.plotting import OutsideLegend, fit_title
from fitscope.gui.panels.race_losses import RaceLossPanel
from fitscope.gui.panels.race_table import RaceTable, swatch
from fitscope.gui.panels.start_fields import StartFields
from fitscope.gui.panels.surface import SurfacePanel
from fitscope.gui.views import controls
from fitscope.gui.views.base import TRAINING_COMMANDS, TrainingView
from fitscope.gui.views.race_advisor import RateAdvisor
from fitscope.gui.views.tab import Command

GRID = 200
COLOURS = {"sgd": "#e53935", "momentum": "#ff9800", "rmsprop": "#29b6f6", "adam": "#9c27b0"}

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


#: The start ring's size on the race's map (pixels): larger than a racer's dot, which it rings.
START_RING = 20

class RaceView(TrainingView):
    title = "Optimizer race"
    MODEL = RaceRun
    RUN_FRAME_MS = 66  # ~15 frames a second while the race runs: four racers' paths and curves are much to draw
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
        self.table = RaceTable()

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
        self.compare = PreviousRaceOverlay(self.undo, self.losses, self.surface, COLOURS,  # faded, when ticked
                                           lambda: self.model.settings.loss)

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
            check.setIcon(swatch(COLOURS[key]))
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
                                    o.lo, o.hi, f"{o.tip} ({o.default_is} {o.default:g}; scroll or type to "
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
        # The white ring everyone starts at, around the racers' dots (which all sit on it before a race), not under.
        self.surface.start.setSize(START_RING)
        self.surface.start.setZValue(6 + 4)
        self.legend.addItem(self.surface.optimum, "optimum")
        self.losses.set_racers([(key, LABELS[key], COLOURS[key]) for key in keys])

    def drawn(self, key: str) -> dict[str, pg.GraphicsObject]:
        """What is drawn of racer ``key`` on the map: its ``line``, its ``dot`` (now) and its ✕ (``cross``)."""
        return dict(self._items[self.model.keys.index(key)])

    def marker(self, key: str) -> np.ndarray:
        """Where racer ``key``'s ✕ (the last finite point of a racer that diverged) is drawn: (k, 2), k ≤ 1."""
        x, y = self._items[self.model.keys.index(key)]["cross"].getData()
        return np.column_stack([x, y])

    def redraw_parts(self) -> list:
        """Every racer's history: the map (trajectories), then the loss curves, then the table and the text;
        three frames' work while the race runs."""
        return [self._draw_map, self._draw_losses, self._draw_numbers]

    def _draw_map(self) -> None:
        run = self.model
        self.compare.update()
        self.surface.start.setData([run.start[0]], [run.start[1]])
        t = np.linspace(0, 2 * np.pi, 120)
        tol = run.tolerance
        self.finish.setData(run.optimum[0] + tol * np.cos(t), run.optimum[1] + tol * np.sin(t))
        for i, (history, items) in enumerate(zip(run.histories, self._items, strict=True)):
            params = history.params
            drawn = self.surface.drawn_path(params[:, 0], params[:, 1], history.growth, slot=i,
                                             settled=history.settled)
            items["casing"].setData(*drawn)
            items["line"].setData(*drawn)
            items["dot"].setData(params[-1:, 0], params[-1:, 1])
            if history.diverged is not None:
                items["cross"].setData(params[-1:, 0], params[-1:, 1])
            else:
                items["cross"].setData([], [])
        self.surface.make_way()
        self.start_fields.show_point(*run.start)
        self.surface.setAccessibleDescription(self.map_description())

    def _draw_losses(self) -> None:
        run = self.model
        for i, (key, history) in enumerate(zip(run.keys, run.histories, strict=True)):
            self.losses.set_losses(key, run.losses(i), history.param_steps, history.growth, history.settled)

    def _draw_numbers(self) -> None:
        self.table.show_race(self.model, self.controller.running, COLOURS)
        self._fill_text()

    # ------------------------------------------------------------------ the text
    def _fill_text(self) -> None:
        self.text.setText(race_texts.explanation(self.model, self._advice_text))

    def _advice_text(self, texts: dict[str, str]) -> str:
        """Which other rates settle, for the racers that did not (asked for in the background, said once known)."""
        return race_advice.advice_text(self.model, texts, self._advice, self.advisor.key, self.advisor.request)

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
        parts = [f"Loss surface, {run.loss.name.upper()}, the optimum (star) at kernel {prose(k)}, bias {prose(b)}, "
                 f"in a finish circle of radius {run.tolerance:g}"]
        if not run.keys:
            parts.append("no racers")
        else:
            when = "at the start" if run.steps == 0 else f"after {run.steps:,} steps"
            parts.append(f"racers {when}: " + ", ".join(
                f"{LABELS[key]} at kernel {prose(h.current[0])}, bias {prose(h.current[1])}, "
                f"{prose(run.distance(i))} from the optimum"
                for i, (key, h) in enumerate(zip(run.keys, run.histories, strict=True))))
        return "; ".join(parts)

    def trajectory(self, key: str) -> np.ndarray:
        """The parameters of racer ``key`` after each step, row 0 the start (n_steps + 1, 2)."""
        return self.model.histories[self.model.keys.index(key)].params

    def range_restored(self) -> None:
        self.recompute_surface()
