"""The first tab: one feature's data, its loss surface over (kernel, bias), and training stepped by hand.

The tab shows a :class:`~fitscope.gui.models.surface.SurfaceRun`: clicks on the map and typed (kernel, bias)
start it afresh there, the settings form edits its settings, and every panel is drawn from it.
"""

from __future__ import annotations

import html

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QDoubleSpinBox, QGroupBox, QVBoxLayout, QWidget

from fitscope import resources
from fitscope.engine.data import BUILTIN, Dataset, load_builtin
from fitscope.engine.numbers import prose
from fitscope.engine.settings import settings_values
from fitscope.engine.trainer import Phase
from fitscope.gui import access
from fitscope.gui.models.surface import SurfaceRun, fmt
from fitscope.gui.panels.compare import PreviousRunOverlay
from fitscope.gui.panels.curvature import CurvatureBox
from fitscope.gui.panels.data_plot import DataPanel
from fitscope.gui.panels.edges import EdgeMarkers, Mark
from fitscope.gui.panels.loss_curve import LossCurvePanel
from fitscope.gui.panels.plotting import fit_title
from fitscope.gui.panels.readouts import ReadoutsPanel
from fitscope.gui.panels.surface import SurfacePanel
from fitscope.gui.views import controls
from fitscope.gui.views.base import TRAINING_COMMANDS, TrainingView
from fitscope.gui.views.curvature import CurvatureOverlay, MapShown
from fitscope.gui.views.tab import Command
from fitscope.gui.views.undo import undoable

GRID = 200  # surface resolution, points per axis
SURFACE_TITLE = "Training loss over (kernel, bias) — click to start there"

FIELDS = (
    controls.learning_rate("learningRate", slider=True),
    controls.batch_size("batchSize"),
    controls.loss("lossFunction"),
    controls.optimizer("optimizer", "Changing the optimizer starts its state afresh, with TensorFlow.js's default "
                       "learning rate for it (from the next batch)"),
    controls.epochs("epochs"),
    controls.seed("seed", "Seeds the shuffling and Random init (changing it starts again from the same point)"),
)


class SurfaceView(TrainingView):
    """Signals: ``sampleChanged(Sample)`` when the example shown by the backpropagation tab changes."""

    title = "Loss surface"
    MODEL = SurfaceRun
    COMMANDS = {
        **TRAINING_COMMANDS,
        "frame": Command("&Frame the path", "Ctrl+0", "frameButton",
                         "Zoom the map to the start, the whole path and the optimum"),
        "random_init": Command("Random &init", "I", "randomInitButton",
                               "Draw new start weights as TensorFlow.js does, from the next seed"),
    }
    sampleChanged = Signal(object)

    def __init__(self, parent: QWidget | None = None, dataset: Dataset | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("surfaceView")
        self.sample = None
        self.phase_key = "idle"
        self._dataset_shown: Dataset | None = None
        self._surface_loss: str | None = None  # the loss the map was last drawn for
        self._surface_timer = QTimer(self, singleShot=True, interval=120)  # after a zoom or pan settles
        self._surface_timer.timeout.connect(self.recompute_surface)
        self._surface_due = QTimer(self, singleShot=True, interval=0)  # asks made meanwhile: one map
        self._surface_due.timeout.connect(self.recompute_surface)
        self.add_training_commands("step_phase", "step_batch", "step_epoch", "run", "reset", "book_settings",
                                   "go_back")
        self.add_command("frame", self.frame_path)
        self.add_command("random_init", self.random_init)
        self._build_ui()
        self.bind(SurfaceRun(dataset or load_builtin("download-time")))

    # ------------------------------------------------------------------ UI
    def _build_ui(self) -> None:
        self.surface = SurfacePanel("kernel", "bias")
        self.surface.clicked.connect(self.start_at)
        self.surface.keys.homeRequested.connect(self.frame_path)
        access.describe(self.surface, lambda: f"Loss surface, {self.model.settings.loss.upper()}")
        self.surface.rangeChanged.connect(lambda _: self._surface_timer.start())
        self.map_marks = EdgeMarkers(self.surface.plot)  # the current point, a kept one, the optimum
        self.data_panel = DataPanel("x", "y")
        self.data_panel.pointClicked.connect(self.choose_sample)
        self.loss_panel = LossCurvePanel("Loss")

        right = self.splitter(Qt.Orientation.Vertical, [self.data_panel, self.loss_panel], [420, 330])
        plots = self.splitter(Qt.Orientation.Horizontal, [self.surface, right], [640, 430], stretch=[3, 2])

        side, column = self.stack([], "surfaceSidebar", margin=6)
        box = self.command_box("Training", [["step_phase", "step_batch", "step_epoch"],
                                            ["run", "reset", "random_init"]])
        box.layout().addLayout(self.speed_row("speed"), 2, 0, 1, 3)
        column.addWidget(box)
        self.form = controls.SettingsForm("Hyperparameters", FIELDS)
        self.form.changed.connect(lambda changes: self.change(**changes))
        column.addWidget(self.form)
        column.addWidget(self._build_readouts_box())
        self.curvature_box = CurvatureBox("surface")
        self.curvature = CurvatureOverlay(self.curvature_box, self.surface, self._curvature_shown)
        self.phase_text = self.text_label("phaseText", "What is happening")
        self.phase_text.setMinimumHeight(150)
        column.addWidget(self.explanation_box("What is happening", self.phase_text), 1)
        column.addWidget(self.curvature_box)  # below the explanation, which is read first
        self.lay_out(plots, side, width=(330, 400))
        self.map_panel, self.loss_chart = self.surface, self.loss_panel
        self.compare = PreviousRunOverlay(self.undo, self.loss_panel, self.surface, lambda c: (c.params[:, 0],
                                          c.params[:, 1]), loss_of=lambda: self.model.settings.loss)

    def _build_readouts_box(self) -> QGroupBox:
        box = QGroupBox("Now")
        self.readouts = ReadoutsPanel([
            ("stepValue", "step"), ("epochValue", "epoch"), ("lossValue", "batch loss"),
            ("trainLossValue", "training loss now"), ("testLossValue", "test loss"),
        ])
        now_tip = ("The loss on all the training rows at the weights now. The chart's training loss is each epoch's "
                   "mean batch loss, measured while the weights were still moving, so the two differ")
        self.readouts.labels["trainLossValue"].setToolTip(now_tip)
        self.readouts.form.labelForField(self.readouts.labels["trainLossValue"]).setToolTip(now_tip)
        tip = ("The loss of the batch shown last, measured before its update (at the weights of the step before); "
               "the training loss below is at the weights now, on all the training rows")
        self.readouts.labels["lossValue"].setToolTip(tip)
        self.readouts.form.labelForField(self.readouts.labels["lossValue"]).setToolTip(tip)
        self.kernel_edit = self._param_box("kernelValue", "Kernel: type a value to start training there")
        self.bias_edit = self._param_box("biasValue", "Bias: type a value to start training there")
        self.readouts.add_row("kernel", self.kernel_edit)
        self.readouts.add_row("bias", self.bias_edit)
        layout = QVBoxLayout(box)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.readouts)
        return box

    def _param_box(self, name: str, tip: str) -> QDoubleSpinBox:
        box = QDoubleSpinBox()
        box.setObjectName(name)
        box.setAccessibleName(tip.split(":")[0])
        box.setToolTip(tip)
        box.setDecimals(6)
        box.setRange(-1e300, 1e300)  # any value training reaches before it counts as diverged, shown as it is
        box.setSingleStep(0.01)
        box.setKeyboardTracking(False)
        box.valueChanged.connect(self._on_param_typed)
        return box

    # ------------------------------------------------------------------ the model
    @property
    def run(self) -> SurfaceRun:
        return self.model

    def model_bound(self) -> None:
        """A model of (perhaps) other data: its points, axes and ranges."""
        d = self.model.dataset
        self.form.set_range("batch_size", 1, max(1, len(d.y_train)))
        self.settings_changed()
        if d is self._dataset_shown:
            return
        self._dataset_shown = d
        self.data_panel.plot.setLabel("bottom", html.escape(d.feature_names[0]))  # a label is rich text: a
        self.data_panel.plot.setLabel("left", html.escape(d.target_name))  # column's name is shown as written
        X_test = None if d.X_test is None else d.X_test[:, 0]
        title = "Data and the current line" if d.name in BUILTIN else f"{d.name} and the current line"
        self.data_panel.set_data(d.X_train[:, 0], d.y_train, X_test, d.y_test, title)
        self.loss_panel.show_curves(validation=False, test=d.has_test)
        self.loss_panel.log_scale.setChecked(True)  # the loss falls by orders of magnitude
        self.frame_path()

    def run_started(self) -> None:
        """A fresh start: the map stays (it is of the data and the loss, which settings_changed looks at)."""
        self.loss_panel.clear()
        self.settings_changed()

    def settings_changed(self) -> None:
        self.form.show_values(settings_values(self.model.settings))
        self.readouts.reserve("epochValue", self.model.longest_epoch_text())
        self.readouts.reserve("stepValue", self.model.longest_step_text())
        self.loss_panel.plot.setLabel("left", self.model.settings.loss.upper())
        self.curvature.update(self.model.experiment)
        if self._surface_loss != self.model.experiment.loss.name:
            self._surface_due.start()

    @undoable("random init")
    def random_init(self) -> None:
        self.model.random_init()

    def frame_path(self) -> None:
        """Show the usual window around the optimum, widened to take in the whole path if it strays outside."""
        self.surface.set_range(*self.model.home_window())
        self._surface_due.start()

    def run_stopped(self, why: str) -> None:
        """A run that left the map is framed once it stops (steps by hand leave the view as it is: the edge
        marks show where the point went); after a divergence, the path up to the step it can go back to."""
        if why == "diverged":
            step = self.recovery_step()
            window = self.model.home_window(upto=0 if step is None else step)
            k_lo, k_hi, b_lo, b_hi = self.surface.visible_range()
            if not (k_lo <= window[0] and window[1] <= k_hi and b_lo <= window[2] and window[3] <= b_hi):
                self.surface.set_range(*window)
                self._surface_due.start()
        elif why in ("paused", "done") and not self._in_view(self.model.current):
            self.frame_path()

    def went_back(self) -> None:
        self.frame_path()

    def _in_view(self, point) -> bool:
        k_lo, k_hi, b_lo, b_hi = self.surface.visible_range()
        return bool(k_lo <= point[0] <= k_hi and b_lo <= point[1] <= b_hi)

    @undoable("new start point")
    def _on_param_typed(self, _value: float) -> None:
        if self.controller.running:
            self.controller.pause()
        self.model.start_at(self.kernel_edit.value(), self.bias_edit.value())

    @Slot(int)
    def choose_sample(self, index: int) -> None:
        """Follow training row ``index`` in the backpropagation tab (instead of the batch's first)."""
        self.model.choose(index)
        self._update_sample()

    # ------------------------------------------------------------------ drawing
    def recompute_surface(self) -> None:
        """Compute and draw the map for the range shown (asks made in one go are drawn once)."""
        self._surface_due.stop()
        k_lo, k_hi, b_lo, b_hi = self.surface.visible_range()
        a = np.linspace(k_lo, k_hi, GRID)
        b = np.linspace(b_lo, b_hi, GRID)
        grid, note = self.model.surface(a, b)
        self._surface_loss = self.model.experiment.loss.name
        title = SURFACE_TITLE if note is None else f"Training MAE over (kernel, bias), {note}"
        fit_title(self.surface.plot, title)
        self.surface.set_surface(a, b, grid)
        self._optimum = self.model.optimum(a, b, grid)
        self.surface.set_optimum(*self._optimum)
        self.curvature.redraw()
        self._mark_map()

    def redraw_parts(self) -> list:
        """The map (the path, the step, its marks), then the data, the loss chart and the numbers: two frames'
        work while training runs."""
        return [self._draw_map, self._draw_progress]

    def _draw_map(self) -> None:
        """The path over the map, the step shown on it, and the marks at its edge."""
        self.compare.update()
        h = self.model.history
        params = h.params
        self.surface.set_trajectory(params[:, 0], params[:, 1], h.epoch_rows(), h.growth, h.settled)
        step = h.last_step
        if step is not None and h.diverged is None:
            self.surface.set_step(step.params_before if step.phase >= Phase.GRADIENT else None,
                                  step.params_after, step.gradient)
        else:
            self.surface.set_step(None, None, None)
        self._mark_map()

    def _draw_progress(self) -> None:
        """The data with the line of the step shown, the loss chart, and the numbers."""
        run = self.model
        h = run.history
        step = h.last_step
        current = h.current
        if step is not None and h.diverged is None:
            shown = step.params
            self.data_panel.set_fit(shown[0], shown[1], step.indices, step.phase >= Phase.FORWARD)
        else:
            self.data_panel.set_fit(current[0], current[1], None, False)
        other = "MSE" if run.settings.loss == "mae" else "MAE"
        self.loss_panel.set_history(h.batch_loss, h.epochs, run.loss_since, other, steps=h.loss_steps,
                                    growth=h.loss_growth, growing=self.controller.running)

        running = self.controller.running
        r = self.readouts
        r.set("stepValue", h.steps)
        r.set("epochValue", run.epoch_text())
        r.set("lossValue", fmt(run.batch_loss_now()))  # "–" for a loss of the loss function used before
        r.set("trainLossValue", fmt(run.train_loss(current, running)))
        r.set("testLossValue", fmt(run.loss_now("test")))
        for box, value in ((self.kernel_edit, current[0]), (self.bias_edit, current[1])):
            if not box.hasFocus():
                blocked = box.blockSignals(True)
                box.setValue(value)
                box.blockSignals(blocked)
        self._set_phase_text(run.moment(running) or "idle")

    def _mark_map(self) -> None:
        """Marks at the map's edge for the current point (with its gradient, when shown), the point kept after a
        divergence and the optimum, when they are out of view."""
        h = self.model.history
        step = h.last_step
        now = step.params if step is not None and h.diverged is None else h.current
        what = "now" if h.diverged is None else "kept after the divergence"
        label = f"{what} ({prose(now[0])}, {prose(now[1])})"
        marks = []
        if step is not None and h.diverged is None and step.gradient is not None and step.phase >= Phase.GRADIENT:
            label += ", with its gradient"
        marks.append(Mark(float(now[0]), float(now[1]), label, "#e65100"))
        optimum = getattr(self, "_optimum", None)
        if optimum is not None:
            marks.append(Mark(float(optimum[0]), float(optimum[1]), "optimum ★", "#212121"))
        self.map_marks.set(marks)

    def status_text(self) -> str:
        diverged = self.model.history.diverged
        return "" if diverged is None else diverged.message

    def _curvature_shown(self) -> MapShown | None:
        """The map's (kernel, bias) and the loss's optimum, for the curvature axes."""
        return MapShown(self.model.experiment, 0, 1, self.model.optimum())

    def model_changed(self, what: str) -> None:
        self._update_sample()  # the backpropagation tab follows, shown or not

    def _set_phase_text(self, key: str) -> None:
        self.phase_key = key
        self.phase_text.setText(resources.sections("phases.md")[key].format(
            **self.model.text_values(self.controller.running, key)))

    def _update_sample(self) -> None:
        sample = self.model.sample()
        if sample != self.sample:
            self.sample = sample
            self.sampleChanged.emit(sample)

    # ------------------------------------------------------------------ sessions
    def view_state(self) -> dict:
        return {**super().view_state(), "chosen": self.model.chosen}

    def check_view_state(self, state: dict, model: SurfaceRun) -> dict:
        chosen = state.get("chosen")
        if chosen is not None and not (type(chosen) is int and 0 <= chosen < len(model.experiment.y)):
            raise ValueError("the chosen example is out of range")
        return {**super().check_view_state(state, model), "chosen": chosen}

    def apply_view_state(self, state: dict) -> None:
        self.model.choose(state["chosen"])
        self._update_sample()
        super().apply_view_state(state)

    def range_restored(self) -> None:
        self._surface_due.start()

