"""The first tab: the download-time data, its loss surface over (kernel, bias), and training stepped by hand.

The view owns one :class:`~gui.worker.TrainingController` (the trainer runs in its thread), one
:class:`~engine.experiment.Experiment` (data and settings) and the :class:`~gui.history.History` of the
current run. Reports arrive from the worker, are recorded at once, and drawn at most ~60 times a second.
"""

from __future__ import annotations

import html
import math
import time
from dataclasses import dataclass, replace

import numpy as np
from PySide6.QtCore import QEventLoop, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QLabel,
    QSlider,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from fitscope import resources
from fitscope.engine.data import BUILTIN, Dataset, load_builtin
from fitscope.engine.experiment import Experiment
from fitscope.engine.losses import get_loss
from fitscope.engine.models import Linear
from fitscope.engine.optimizers import make_optimizer
from fitscope.engine.settings import DEFAULT_LEARNING_RATE
from fitscope.engine.surface import default_window, linear_slice
from fitscope.engine.trainer import Phase
from fitscope.gui import session
from fitscope.gui.history import History
from fitscope.gui.panels.data_plot import DataPanel
from fitscope.gui.panels.loss_curve import LossCurvePanel
from fitscope.gui.panels.readouts import ReadoutsPanel
from fitscope.gui.panels.surface import SurfacePanel
from fitscope.gui.views.base import View
from fitscope.gui.worker import TrainingController, Unit

GRID = 200  # surface resolution, points per axis
#: With more training rows than this, the MAE surface (which has no closed form) is computed over a fixed
#: random sample of this many rows, and the plot says so; 200 × 200 points × 1,000 rows ≈ 0.1 s.
MAE_SURFACE_ROWS = 1000
#: With more training rows than this, the MAE training-loss readout (one pass over the rows) is refreshed at
#: most every LOSS_READOUT_S seconds while training runs.
EXACT_LOSS_ROWS = 20_000
LOSS_READOUT_S = 0.25
SURFACE_TITLE = "Training loss over (kernel, bias) — click to start there"
FRAME_MS = 16  # at most ~60 redraws a second when stepping
RUN_FRAME_MS = 40  # and ~25 while running: more would only take time from training
#: Run speeds: (label, seconds to wait after each batch).
SPEEDS = [
    ("1 batch/s", 1.0), ("2 batches/s", 0.5), ("5 batches/s", 0.2), ("10 batches/s", 0.1),
    ("30 batches/s", 1 / 30), ("100 batches/s", 0.01), ("as fast as possible", 0.0),
]
LOSS_NAMES = {"mse": "MSE (mean squared error)", "mae": "MAE (mean absolute error)"}
OPTIMIZER_NAMES = {"sgd": "SGD", "momentum": "Momentum", "rmsprop": "RMSProp", "adam": "Adam"}


@dataclass(frozen=True)
class Sample:
    """One training example and the model's state, for the backpropagation view."""

    index: int  # row of the training data
    x: float
    y: float
    kernel: float
    bias: float
    learning_rate: float
    loss: str  # "mse" or "mae"
    chosen: bool  # True if the user clicked the point; False for the first of the current batch


def _fmt(v: float | None, digits: int = 5) -> str:
    return "–" if v is None or not math.isfinite(v) else f"{v:.{digits}g}"


class LogSlider(QSlider):
    """A horizontal slider over a log scale: ``steps_per_decade`` positions per factor of 10."""

    def __init__(self, lo: float, hi: float, steps_per_decade: int = 20) -> None:
        super().__init__(Qt.Orientation.Horizontal)
        self._lo, self._k = math.log10(lo), steps_per_decade
        self.setRange(0, round((math.log10(hi) - self._lo) * steps_per_decade))

    def value_of(self, position: int) -> float:
        return 10 ** (self._lo + position / self._k)

    def position_of(self, value: float) -> int:
        return round((math.log10(value) - self._lo) * self._k)


class SurfaceView(View):
    """Signals: ``sampleChanged(Sample)`` when the example shown by the backpropagation view changes."""

    title = "Loss surface"
    sampleChanged = Signal(object)

    def __init__(self, parent: QWidget | None = None, dataset: Dataset | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("surfaceView")
        self.dataset = dataset or load_builtin("download-time")
        self.settings = self.dataset.defaults
        self.controller = TrainingController(self)
        self.controller.reports.connect(self._on_reports)
        self.controller.stopped.connect(self._on_stopped)
        self.controller.runningChanged.connect(self._on_running_changed)
        self._frame = QTimer(self, singleShot=True, interval=FRAME_MS)
        self._frame.timeout.connect(self._on_frame)
        self._surface_timer = QTimer(self, singleShot=True, interval=120)
        self._surface_timer.timeout.connect(self._recompute_surface)
        self._finished = False
        self._chosen: int | None = None  # a training row clicked in the data plot
        self._surface_rows: np.ndarray | None = None  # the rows the MAE surface is computed over (None: all)
        self._loss_cache: tuple | None = None  # (experiment, loss name, params, when, value) of the readout
        self.sample: Sample | None = None

        self._build_commands()
        self._build_ui()
        self._load_settings_into_controls()
        self.set_dataset(self.dataset)

    # ------------------------------------------------------------------ UI
    def _build_commands(self) -> None:
        self.add_command("step_phase", lambda: self.step(Unit.PHASE))
        self.add_command("step_batch", lambda: self.step(Unit.BATCH))
        self.add_command("step_epoch", lambda: self.step(Unit.EPOCH))
        self.add_command("run", self.toggle_run, checkable=True)
        self.add_command("reset", self.reset)
        self.add_command("frame", self.frame_path)
        self.add_command("random_init", self.random_init)

    def _build_ui(self) -> None:
        d = self.dataset
        self.surface = SurfacePanel("kernel", "bias")
        self.surface.clicked.connect(self.start_at)
        self.surface.rangeChanged.connect(lambda _: self._surface_timer.start())
        self.data_panel = DataPanel(d.feature_names[0], d.target_name)
        self.data_panel.pointClicked.connect(self.choose_sample)
        self.loss_panel = LossCurvePanel("Loss")

        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.data_panel)
        right.addWidget(self.loss_panel)
        right.setSizes([420, 330])
        plots = QSplitter(Qt.Orientation.Horizontal)
        plots.addWidget(self.surface)
        plots.addWidget(right)
        plots.setStretchFactor(0, 3)
        plots.setStretchFactor(1, 2)
        plots.setSizes([640, 430])

        side = QWidget()
        side.setObjectName("surfaceSidebar")
        column = QVBoxLayout(side)
        column.setContentsMargins(6, 6, 6, 6)
        column.addWidget(self._build_training_box())
        column.addWidget(self._build_settings_box())
        column.addWidget(self._build_readouts_box())
        self.phase_text = QLabel()
        self.phase_text.setObjectName("phaseText")
        self.phase_text.setAccessibleName("What is happening")
        self.phase_text.setWordWrap(True)
        self.phase_text.setTextFormat(Qt.TextFormat.RichText)
        self.phase_text.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.phase_text.setMinimumHeight(150)
        self.message = QLabel()
        self.message.setObjectName("message")
        self.message.setWordWrap(True)
        self.message.hide()
        what = QGroupBox("What is happening")
        what_layout = QVBoxLayout(what)
        what_layout.addWidget(self.message)
        what_layout.addWidget(self.phase_text)
        column.addWidget(what, 1)
        self.lay_out(plots, side, width=(330, 400))

    def _build_training_box(self) -> QGroupBox:
        box = QGroupBox("Training")
        grid = QGridLayout(box)
        grid.setSpacing(4)
        grid.addWidget(self.command_button("step_phase"), 0, 0)
        grid.addWidget(self.command_button("step_batch"), 0, 1)
        grid.addWidget(self.command_button("step_epoch"), 0, 2)
        grid.addWidget(self.command_button("run"), 1, 0)
        grid.addWidget(self.command_button("reset"), 1, 1)
        grid.addWidget(self.command_button("random_init"), 1, 2)
        self.speed = self.speed_slider("speed", len(SPEEDS))
        self.speed_label = QLabel()
        self.speed.valueChanged.connect(self._on_speed)
        grid.addWidget(QLabel("Speed"), 2, 0)
        grid.addWidget(self.speed, 2, 1)
        grid.addWidget(self.speed_label, 2, 2)
        return box

    def _build_settings_box(self) -> QGroupBox:
        box = QGroupBox("Hyperparameters")
        form = QFormLayout(box)
        form.setVerticalSpacing(4)
        self.learning_rate = QDoubleSpinBox()
        self.learning_rate.setObjectName("learningRate")
        self.learning_rate.setAccessibleName("Learning rate")
        self.learning_rate.setDecimals(6)
        self.learning_rate.setRange(1e-6, 1000.0)
        self.learning_rate.setStepType(QDoubleSpinBox.StepType.AdaptiveDecimalStepType)
        self.learning_rate.setKeyboardTracking(False)
        self.learning_rate.setToolTip(
            "How big a step each update takes, against the gradient (applies from the next batch)"
        )
        self.lr_slider = LogSlider(1e-4, 1e3)
        self.lr_slider.setObjectName("learningRateSlider")
        self.lr_slider.setAccessibleName("Learning rate (log scale)")
        self.lr_slider.setToolTip("Learning rate on a log scale, from 0.0001 to 1000")
        self.learning_rate.valueChanged.connect(self._on_learning_rate)
        self.lr_slider.valueChanged.connect(lambda p: self.learning_rate.setValue(self.lr_slider.value_of(p)))
        lr_row = QVBoxLayout()
        lr_row.setSpacing(1)
        lr_row.addWidget(self.learning_rate)
        lr_row.addWidget(self.lr_slider)
        form.addRow("Learning rate", lr_row)

        self.batch_size = QSpinBox()
        self.batch_size.setObjectName("batchSize")
        self.batch_size.setAccessibleName("Batch size")
        self.batch_size.setKeyboardTracking(False)
        self.batch_size.setToolTip("Examples per update; larger than the data means one batch per epoch")
        self.batch_size.valueChanged.connect(self._on_batch_size)
        form.addRow("Batch size", self.batch_size)

        self.loss_function = QComboBox()
        self.loss_function.setObjectName("lossFunction")
        self.loss_function.setAccessibleName("Loss function")
        for key, text in LOSS_NAMES.items():
            self.loss_function.addItem(text, key)
        self.loss_function.currentIndexChanged.connect(self._on_loss)
        form.addRow("Loss", self.loss_function)

        self.optimizer = QComboBox()
        self.optimizer.setObjectName("optimizer")
        self.optimizer.setAccessibleName("Optimizer")
        for key, text in OPTIMIZER_NAMES.items():
            self.optimizer.addItem(text, key)
        self.optimizer.setToolTip("Changing the optimizer starts its state afresh (from the next batch)")
        self.optimizer.currentIndexChanged.connect(self._on_optimizer)
        form.addRow("Optimizer", self.optimizer)

        self.epochs = QSpinBox()
        self.epochs.setObjectName("epochs")
        self.epochs.setAccessibleName("Epochs to run")
        self.epochs.setRange(1, 1_000_000)
        self.epochs.setKeyboardTracking(False)
        self.epochs.setToolTip("Run stops after this many epochs")
        self.epochs.valueChanged.connect(self._on_epochs)
        form.addRow("Epochs", self.epochs)

        self.seed = QSpinBox()
        self.seed.setObjectName("seed")
        self.seed.setAccessibleName("Seed")
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setKeyboardTracking(False)
        self.seed.setToolTip("Seeds the shuffling and Random init; applies when training restarts")
        form.addRow("Seed", self.seed)
        return box

    def _build_readouts_box(self) -> QGroupBox:
        box = QGroupBox("Now")
        self.readouts = ReadoutsPanel([
            ("stepValue", "step"), ("epochValue", "epoch"), ("lossValue", "batch loss"),
            ("trainLossValue", "training loss"), ("testLossValue", "test loss"),
        ])
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

    def _load_settings_into_controls(self) -> None:
        s = self.settings
        widgets = (self.learning_rate, self.lr_slider, self.batch_size, self.loss_function, self.optimizer,
                   self.epochs, self.seed)
        for w in widgets:
            w.blockSignals(True)
        self.learning_rate.setValue(s.learning_rate)
        self.lr_slider.setValue(self.lr_slider.position_of(s.learning_rate))
        self.batch_size.setRange(1, max(1, len(self.dataset.y_train)))
        self.batch_size.setValue(min(s.batch_size, len(self.dataset.y_train)))
        self.loss_function.setCurrentIndex(self.loss_function.findData(s.loss))
        self.optimizer.setCurrentIndex(self.optimizer.findData(s.optimizer))
        self.epochs.setValue(s.epochs)
        self.seed.setValue(s.seed)
        for w in widgets:
            w.blockSignals(False)
        self.speed.setValue(len(SPEEDS) - 2)
        self._on_speed(self.speed.value())

    # ------------------------------------------------------------ data and runs
    def set_dataset(self, dataset: Dataset) -> None:
        """Show a one-feature data set: its points, its surface, and a fresh start (Random init)."""
        if dataset.n_features != 1:
            raise ValueError("the loss-surface view needs a data set with exactly one feature")
        self.dataset = dataset
        self._chosen = None
        self.settings = replace(dataset.defaults, normalize=False, model="linear", validation_split=0.0)
        self._load_settings_into_controls()
        self.data_panel.plot.setLabel("bottom", dataset.feature_names[0])
        self.data_panel.plot.setLabel("left", dataset.target_name)
        X_test = None if dataset.X_test is None else dataset.X_test[:, 0]
        title = "Data and the current line" if dataset.name in BUILTIN else f"{dataset.name} and the current line"
        self.data_panel.set_data(dataset.X_train[:, 0], dataset.y_train, X_test, dataset.y_test, title)
        n = len(dataset.y_train)
        self._surface_rows = (np.sort(np.random.default_rng(0).choice(n, MAE_SURFACE_ROWS, replace=False))
                              if n > MAE_SURFACE_ROWS else None)
        self._loss_cache = None
        self.loss_panel.plot.setLabel("left", self.settings.loss.upper())
        self.loss_panel.show_curves(validation=False, test=dataset.has_test)
        self.loss_panel.log_scale.setChecked(True)  # the loss falls by orders of magnitude
        k, b = self._draw_init(self.settings.seed)
        self.start_at(k, b, reframe=True)

    def _draw_init(self, seed: int) -> tuple[float, float]:
        """(kernel, bias) as tfjs would initialise a 1→1 dense layer: Glorot uniform, zero bias."""
        model = Linear(1, seed=seed)
        return float(model.kernel[0, 0]), float(model.bias[0])

    def _current_settings(self):
        return replace(
            self.settings,
            learning_rate=self.learning_rate.value(),
            batch_size=self.batch_size.value(),
            loss=self.loss_function.currentData(),
            optimizer=self.optimizer.currentData(),
            epochs=self.epochs.value(),
            seed=self.seed.value(),
        )

    @Slot(float, float)
    def start_at(self, kernel: float, bias: float, reframe: bool = False) -> None:
        """Start a fresh run from (kernel, bias): the trajectory restarts there."""
        self.settings = replace(self._current_settings(), init=(float(kernel), float(bias)))
        self.experiment = Experiment(self.dataset, self.settings)
        self.history = History(self.experiment.trainer.params)
        self._finished = False
        self.message.hide()
        self.controller.set_trainer(self.experiment.trainer)
        if reframe:
            self.frame_path()
        self._set_phase_text("idle")
        self.redraw()

    def frame_path(self) -> None:
        """Show the usual window around the optimum, widened to take in the whole path if it strays outside."""
        optimum = self.experiment.stats.optimum()
        k_lo, k_hi, b_lo, b_hi = default_window(self.experiment.X, self.experiment.y, optimum)
        path = self.history.params[np.isfinite(self.history.params).all(axis=1)]
        if len(path):
            lo, hi = path.min(axis=0), path.max(axis=0)
            pad = 0.1 * (hi - lo)
            k_lo, k_hi = min(k_lo, lo[0] - pad[0]), max(k_hi, hi[0] + pad[0])
            b_lo, b_hi = min(b_lo, lo[1] - pad[1]), max(b_hi, hi[1] + pad[1])
        self.surface.set_range(k_lo, k_hi, b_lo, b_hi)
        self._recompute_surface()

    def reset(self) -> None:
        """Back to the last start point."""
        k, b = self.settings.init
        self.start_at(k, b)

    def random_init(self) -> None:
        """A new seed, and a start drawn from it as tfjs would (after the largest seed comes 0)."""
        self.seed.setValue(0 if self.seed.value() >= self.seed.maximum() else self.seed.value() + 1)
        self.start_at(*self._draw_init(self.seed.value()))

    def step(self, unit: Unit) -> None:
        if self.controller.running:
            return
        self.controller.step(unit)

    def toggle_run(self) -> None:
        if self.controller.running:
            self.controller.pause()
        elif not self.controller.run():
            self.commands["run"].setChecked(False)

    def shutdown(self) -> None:
        self._frame.stop()
        self.controller.shutdown()

    # ------------------------------------------------------- settings changed
    def _on_learning_rate(self, lr: float) -> None:
        self.lr_slider.blockSignals(True)
        self.lr_slider.setValue(self.lr_slider.position_of(max(lr, 1e-4)))
        self.lr_slider.blockSignals(False)
        self.controller.change(lambda t: setattr(t.optimizer, "learning_rate", lr))
        self._update_sample()  # the backpropagation tab's update uses the new rate at once

    def _on_batch_size(self, n: int) -> None:
        self.controller.change(lambda t: setattr(t, "batch_size", n))

    def _on_epochs(self, n: int) -> None:
        self._finished = False
        self.controller.change(lambda t: setattr(t, "epochs", max(n, t.epoch)))

    def _on_loss(self, _index: int) -> None:
        name = self.loss_function.currentData()
        loss = get_loss(name)
        self.experiment.loss = loss  # for the readouts and the surface, in this thread
        self.controller.change(lambda t: setattr(t, "loss", loss))
        self.loss_panel.plot.setLabel("left", name.upper())
        self._recompute_surface()
        self.redraw()

    def _on_optimizer(self, _index: int) -> None:
        name = self.optimizer.currentData()
        lr = DEFAULT_LEARNING_RATE[name]
        self.learning_rate.setValue(lr)  # tfjs's default rate for this optimizer
        self.controller.change(lambda t: setattr(t, "optimizer", make_optimizer(name, lr, self.settings.momentum)))

    def _on_speed(self, position: int) -> None:
        label, delay = SPEEDS[position]
        self.speed_label.setText(label)
        self.controller.set_delay(delay)

    def _on_param_typed(self, _value: float) -> None:
        if self.controller.running:
            self.controller.pause()
        self.start_at(self.kernel_edit.value(), self.bias_edit.value())

    # ----------------------------------------------------------- reports
    @Slot(object)
    def _on_reports(self, reports: tuple) -> None:
        add = self.history.add
        for report in reports:
            add(report)
        if self.history.diverged is not None:
            self.message.setText(self.history.diverged.message)
        self.message.setVisible(self.history.diverged is not None)
        if not self._frame.isActive():
            self._frame.start()

    @Slot(str)
    def _on_stopped(self, why: str) -> None:
        self._finished = why == "done"
        self.redraw()

    @Slot(bool)
    def _on_running_changed(self, running: bool) -> None:
        run = self.commands["run"]
        run.setChecked(running)
        run.setText("Pause" if running else "&Run")
        self._frame.setInterval(RUN_FRAME_MS if running else FRAME_MS)
        for key in ("step_phase", "step_batch", "step_epoch"):
            self.commands[key].setEnabled(not running)
        if running:
            self._set_phase_text("running")

    def _recompute_surface(self) -> None:
        k_lo, k_hi, b_lo, b_hi = self.surface.visible_range()
        a = np.linspace(k_lo, k_hi, GRID)
        b = np.linspace(b_lo, b_hi, GRID)
        exp, rows, title = self.experiment, self._surface_rows, SURFACE_TITLE
        if exp.loss.name == "mae" and rows is not None:  # no closed form: a fixed sample of the rows
            grid = linear_slice(exp.X[rows], exp.y[rows], exp.loss, np.zeros(2), 0, 1, a, b)
            title = f"Training MAE over (kernel, bias), from a random {len(rows):,} of {len(exp.y):,} rows"
        else:
            grid = exp.loss_slice(np.zeros(2), 0, 1, a, b)
        self.surface.plot.setTitle(title, size="10pt")
        self.surface.set_surface(a, b, grid)
        if exp.loss.name == "mse":
            opt = exp.stats.optimum()
        else:  # MAE: the grid's minimum
            ia, ib = np.unravel_index(np.argmin(np.where(np.isfinite(grid), grid, np.inf)), grid.shape)
            opt = (a[ia], b[ib])
        self.surface.set_optimum(float(opt[0]), float(opt[1]))

    def _axis_names(self) -> dict[str, str]:
        """The names the texts give x and y: the book's words for its data set, the columns' for the user's."""
        d = self.dataset
        if d.name == "download-time":
            return {"x_name": "size", "y_name": "time", "a_y": "a time"}
        x, y = (html.escape(n) for n in (d.feature_names[0], d.target_name))
        return {"x_name": x, "y_name": y, "a_y": f"<i>{y}</i>"}

    def _train_loss(self, params: np.ndarray) -> float:
        """The training loss at ``params``: MSE in closed form; MAE over every row, but with many rows at most
        every LOSS_READOUT_S seconds while training runs (in between, the last value is shown)."""
        exp = self.experiment
        if exp.loss.name == "mse" or len(exp.y) <= EXACT_LOSS_ROWS:
            return exp.loss_at(params, "train")
        now = time.perf_counter()
        cache = self._loss_cache
        if cache is not None and cache[0] is exp and cache[1] == exp.loss.name and (
            np.array_equal(cache[2], params) or (self.controller.running and now - cache[3] < LOSS_READOUT_S)
        ):
            return cache[4]
        value = exp.loss_at(params, "train")
        self._loss_cache = (exp, exp.loss.name, np.array(params), now, value)
        return value

    def _on_frame(self) -> None:
        """A frame: draw, and while training runs, paint it at once with the worker held."""
        if not self.controller.running:
            self.redraw()
            return
        with self.controller.holding():
            self.redraw()
            # pyqtgraph's updates and the paints they cause arrive as events; outside the hold, each of
            # them would have to win the interpreter lock back from the training thread.
            QApplication.processEvents(QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents)

    def redraw(self) -> None:
        """Draw the history's latest state on every panel."""
        self._draw()

    def _draw(self) -> None:
        h = self.history
        params = h.params
        self.surface.set_trajectory(params[:, 0], params[:, 1], h.epoch_steps)
        step = h.last_step
        current = h.current
        if step is not None and h.diverged is None:
            shown = step.params
            self.surface.set_step(step.params_before if step.phase >= Phase.GRADIENT else None,
                                  step.params_after, step.gradient)
            residuals = step.phase >= Phase.FORWARD
            self.data_panel.set_fit(shown[0], shown[1], step.indices, residuals)
        else:
            self.surface.set_step(None, None, None)
            self.data_panel.set_fit(current[0], current[1], None, False)
        self.loss_panel.set_history(h.batch_loss, h.epochs)

        r = self.readouts
        r.set("stepValue", h.steps)
        r.set("epochValue", self._epoch_text())
        r.set("lossValue", _fmt(step.loss if step is not None and step.loss is not None else None))
        r.set("trainLossValue", _fmt(self._train_loss(current)))
        test = self.experiment.loss_at(current, "test") if self.experiment.X_test is not None else None
        r.set("testLossValue", _fmt(test))
        for box, value in ((self.kernel_edit, current[0]), (self.bias_edit, current[1])):
            if not box.hasFocus():
                box.blockSignals(True)
                box.setValue(value)
                box.blockSignals(False)

        if h.diverged is not None:
            self._set_phase_text("diverged")
        elif self.controller.running:
            self._set_phase_text("running")
        elif self._finished:
            self._set_phase_text("done")
        elif step is not None:
            self._set_phase_text(step.phase.name.lower())

        self._update_sample()

    @Slot(int)
    def choose_sample(self, index: int) -> None:
        """Follow training row ``index`` in the backpropagation view (instead of the batch's first)."""
        self._chosen = index
        self._update_sample()

    def _update_sample(self) -> None:
        step = self.history.last_step
        if self._chosen is not None:
            index = self._chosen
        else:
            index = int(step.indices[0]) if step is not None else 0
        k, b = (step.params if step is not None and self.history.diverged is None else self.history.current)
        sample = Sample(index, float(self.experiment.X[index, 0]), float(self.experiment.y[index]), float(k),
                        float(b), self.learning_rate.value(), self.loss_function.currentData(),
                        self._chosen is not None)
        if sample != self.sample:
            self.sample = sample
            self.sampleChanged.emit(sample)

    def _epoch_text(self) -> str:
        step = self.history.last_step
        done = len(self.history.epochs)
        if step is None:
            return f"{done} of {self.epochs.value()}"
        return f"{step.epoch} (batch {step.batch + 1} of {step.batches_per_epoch})"

    def _set_phase_text(self, key: str) -> None:
        h = getattr(self, "history", None)
        step = h.last_step if h is not None else None
        current = h.current if h is not None else np.zeros(2)
        values = {
            "n": "–", "batch": "–", "per_epoch": "–", "epoch": len(h.epochs) if h is not None else 0,
            "k": _fmt(current[0]), "b": _fmt(current[1]), "loss_name": LOSS_NAMES[self.loss_function.currentData()],
            "loss": "–", "gk": "–", "gb": "–", "lr": _fmt(self.learning_rate.value()),
            "step": h.steps if h is not None else 0, "message": "",
            "train_loss": _fmt(self._train_loss(current)) if h is not None else "–",
            **self._axis_names(),
        }
        if step is not None:
            shown = step.params
            values.update(n=len(step.indices), batch=step.batch + 1, per_epoch=step.batches_per_epoch,
                          epoch=step.epoch, k=_fmt(shown[0]), b=_fmt(shown[1]), loss=_fmt(step.loss),
                          step=step.step, lr=_fmt(step.learning_rate))
            if step.gradient is not None:
                values.update(gk=_fmt(step.gradient[0]), gb=_fmt(step.gradient[1]))
        if h is not None and h.diverged is not None:
            values["message"] = h.diverged.message
        self.phase_text.setText(resources.sections("phases.md")[key].format(**values))
        self.phase_key = key

    # ------------------------------------------------------------ sessions (the format: gui/session.py)
    def controls(self) -> dict[str, QWidget]:
        """The controls a session and the app's remembered settings hold, by key."""
        return {"learning_rate": self.learning_rate, "batch_size": self.batch_size, "loss": self.loss_function,
                "optimizer": self.optimizer, "epochs": self.epochs, "seed": self.seed, "speed": self.speed}

    def recall_controls(self, values: dict) -> None:
        """Settings remembered from the last time the app ran: set the controls, and a fresh start from them."""
        if session.write_controls(self.controls(), values):
            self._on_speed(self.speed.value())
            self._sync_lr_slider()
            self.loss_panel.plot.setLabel("left", self.loss_function.currentData().upper())
            self.start_at(*self._draw_init(self.seed.value()), reframe=True)

    def _sync_lr_slider(self) -> None:
        self.lr_slider.blockSignals(True)
        self.lr_slider.setValue(self.lr_slider.position_of(max(self.learning_rate.value(), 1e-4)))
        self.lr_slider.blockSignals(False)

    def session_state(self) -> dict:
        """This view's part of a session (take it while the controller is idle, its changes settled)."""
        return {
            "data": session.data_source(self.dataset),
            "settings": session.settings_to_json(self.settings),
            "controls": session.read_controls(self.controls()),
            "trainer": self.experiment.trainer.state(),
            "history": session.history_to_json(self.history),
            "finished": self._finished,
            "chosen": self._chosen,
            "range": list(self.surface.visible_range()),
            "log_scale": self.loss_panel.log_scale.isChecked(),
        }

    def prepare_session(self, state: dict):
        """Build everything ``state`` describes, changing nothing; return the function that swaps it in.

        Raises :class:`~gui.session.SessionError`, or ValueError/KeyError/TypeError for a damaged part.
        """
        dataset = session.load_source(state["data"], self.dataset)
        if dataset.n_features != 1:
            raise session.SessionError("the loss-surface view needs data with exactly one feature")
        settings = session.settings_from_json(state["settings"])
        if settings.model != "linear" or settings.init is None or settings.normalize or settings.validation_split:
            raise ValueError("the settings are not those of this view")
        experiment = Experiment(dataset, settings)
        experiment.trainer.restore(state["trainer"])
        experiment.loss = experiment.trainer.loss
        history = session.history_from_json(state["history"], 2, len(experiment.y))
        session.check_trainer_matches(history, experiment.trainer.params)
        in_batch = self._replay_phases(experiment.trainer, history)
        controls = state["controls"]
        finished = session.bool_field(state["finished"], "finished")
        chosen = None if state["chosen"] is None else session.index_field(state["chosen"], len(experiment.y),
                                                                          "the chosen example")
        window = session.range_field(state["range"])
        log_scale = session.bool_field(state["log_scale"], "the log scale")

        def apply() -> None:
            if dataset is not self.dataset:
                self.set_dataset(dataset)
            session.write_controls(self.controls(), controls)
            self._on_speed(self.speed.value())
            self._sync_lr_slider()
            self.settings, self.experiment, self.history = settings, experiment, history
            self._finished, self._chosen = finished, chosen
            self.controller.discard_pending()
            if in_batch is None:
                self.controller.set_trainer(experiment.trainer)
            else:
                self.controller.set_trainer_in_batch(experiment.trainer, in_batch)
            self.loss_panel.plot.setLabel("left", experiment.loss.name.upper())
            self.loss_panel.log_scale.setChecked(log_scale)
            self.surface.set_range(*window)
            self._recompute_surface()
            self.message.setVisible(history.diverged is not None)
            if history.diverged is not None:
                self.message.setText(history.diverged.message)
            self._set_phase_text("idle")
            self.redraw()

        return apply

    def restore_session(self, state: dict) -> None:
        """Open this view's part of a session: all of it, or (on an exception) nothing."""
        self.prepare_session(state)()

    @staticmethod
    def _replay_phases(trainer, history: History):
        """A session saved between two phases of a batch: its trainer stands before that batch. Replay the
        phases shown (they change nothing until the update) and return the run, so that the next step shows
        the next phase; None if the session was saved between batches."""
        last = history.last_step
        if last is None or last.phase is Phase.UPDATE or history.diverged is not None or trainer.finished:
            return None
        trainer.phases = True
        reports = trainer.run()
        # The batch under way was drawn before any later change of the batch size (saved with the trainer).
        size, trainer.batch_size = trainer.batch_size, len(last.indices)
        try:
            for _ in range(int(last.phase) + 1):
                report = next(reports, None)
        finally:
            trainer.batch_size = size
        if (report is None or getattr(report, "phase", None) != last.phase or report.step != last.step
                or not np.array_equal(report.indices, last.indices)):
            raise ValueError("the batch under way does not follow from the trainer's state")
        return reports
