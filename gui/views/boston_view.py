"""The Boston Housing tab: ``fit()`` on 12 features, with normalization on or off, as the book's §2.3.

The view owns one :class:`~gui.worker.TrainingController` (the trainer runs in its thread), the
:class:`~engine.experiment.Experiment` of the current run and its :class:`~gui.history.History`. Reports
are recorded as they arrive and drawn at most ~60 times a second (~15 while training runs at full speed,
each frame painted with the training thread held). The loss slice over two parameters is computed in this
thread for a linear model (closed form, cheap) and in a background pool for an MLP
(:class:`~gui.views.slicer.BackgroundSlicer`), a few times a second at most while training runs.
"""

from __future__ import annotations

import html
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import replace
from functools import partial

import numpy as np
from PySide6.QtCore import QEventLoop, Qt, QTimer, Slot
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QLabel,
    QProgressBar,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from fitscope import resources
from fitscope.engine.data import Dataset, load_builtin
from fitscope.engine.experiment import Experiment
from fitscope.engine.optimizers import make_optimizer
from fitscope.engine.serial import floats_from_json, floats_to_json
from fitscope.engine.settings import DEFAULT_LEARNING_RATE, FitSettings
from fitscope.engine.surface import model_slice
from fitscope.engine.trainer import DivergedReport, EpochReport
from fitscope.gui import session
from fitscope.gui.history import History
from fitscope.gui.panels.loss_curve import LossCurvePanel
from fitscope.gui.panels.loss_slice import LossSlicePanel
from fitscope.gui.panels.pred_actual import PredActualPanel
from fitscope.gui.panels.readouts import ReadoutsPanel
from fitscope.gui.panels.weights import WeightsPanel
from fitscope.gui.views.base import View
from fitscope.gui.views.slicer import BackgroundSlicer, SliceResult
from fitscope.gui.worker import TrainingController, Unit

FRAME_MS = 16  # at most ~60 redraws a second
RUN_FRAME_MS = 66  # … and ~15 while training runs at full speed: every frame holds the training thread
SLICE_MS = 250  # the loss slice follows training at most 4 times a second
MLP_SLICE_MS = 1000  # … an MLP's once a second: its job competes with training for the interpreter lock
LINEAR_GRID = 120  # slice resolution (points per axis) of a linear model, when training stands still
LINEAR_GRID_RUNNING = 60  # … and while it runs (drawing the isolines costs more than the grid)
HISTORY_BYTES = 64 * 2**20  # the most a new run's trajectory reserves at once
#: The most a run's trajectory may hold: an MLP's 3,251 parameters a step fill a gigabyte in a minute at
#: batch size 1; beyond this, training pauses with a message instead of running out of memory. (With the
#: reports still in flight it stays under 256 MB, the trajectory's second doubling of HISTORY_BYTES.)
TRAJECTORY_BYTES = 192 * 2**20
MLP_GRID = {1: 41, 2: 25}  # per number of hidden layers: one forward pass per grid point, off this thread
MLP_SLICE_ROWS = 1000  # an MLP's slice over more rows is computed over a fixed random sample of this many
PRED_POINTS = 3000  # the predicted-against-actual chart shows at most this many rows (a fixed random sample)

#: (label, settings.model, settings.hidden) — the three models of tfjs-examples' Boston Housing.
MODELS = [
    ("Linear regression", "linear", None),
    ("MLP: 1 hidden layer (50 sigmoid)", "mlp", (50,)),
    ("MLP: 2 hidden layers (50, 50 sigmoid)", "mlp", (50, 50)),
]
OPTIMIZER_NAMES = {"sgd": "SGD", "momentum": "Momentum", "rmsprop": "RMSProp", "adam": "Adam"}


def _fmt(v: float | None, digits: int = 5) -> str:
    return "–" if v is None or not math.isfinite(v) else f"{v:.{digits}g}"


def _span(v: float) -> str:
    return f"{v:.3g}"


# --------------------------------------------------------------------------- the view
class BostonView(View):
    title = "Boston Housing"

    def __init__(self, parent: QWidget | None = None, dataset: Dataset | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("bostonView")
        self.dataset = dataset or load_builtin("boston-housing")
        self.settings: FitSettings = self.dataset.defaults
        self._spans = self._feature_spans()
        self.controller = TrainingController(self)
        self.controller.reports.connect(self._on_reports)
        self.controller.stopped.connect(self._on_stopped)
        self.controller.runningChanged.connect(self._on_running_changed)
        self.slicer = BackgroundSlicer(self)
        self.slicer.ready.connect(self._on_slice_ready)
        self._frame = QTimer(self, singleShot=True, interval=FRAME_MS)
        self._frame.timeout.connect(self._on_frame)
        self._slice_timer = QTimer(self, singleShot=True, interval=SLICE_MS)
        self._slice_timer.timeout.connect(self._compute_slice)
        self._start: np.ndarray | None = None  # a start chosen by a click on the slice (None: the seed's)
        self._finished = False
        self._pred_dirty = True
        self._pred_at = 0.0  # when the predictions were last drawn (perf_counter)
        self._held = False  # inside _drawing()
        self._frame_end = 0.0  # when the last frame was drawn (perf_counter)
        self._slice_version = -1  # the history version the slice was last computed for
        self._slice_grid: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._slice_theta0: np.ndarray | None = None
        self._shut = False
        self._behind = False  # frames or slices were skipped while the view was hidden
        self._relabel = True  # the slice's parameter names must be refilled (a new model or data set)
        self._pred_rows: tuple | None = None  # (experiment, X, y, note) the predicted-vs-actual chart draws

        self._build_commands()
        self._build_ui()
        self._show_data_labels()
        self._load_settings_into_controls(self.settings)
        self._new_run()

    # ------------------------------------------------------------------ UI
    def _build_commands(self) -> None:
        run = self.add_command("run", self.toggle_run, checkable=True)
        run.setText("&Train")
        run.setToolTip(run.toolTip().replace("Train until the epoch limit", "Train until the last epoch"))
        self.add_command("step_batch", lambda: self.step(Unit.BATCH))
        self.add_command("step_epoch", lambda: self.step(Unit.EPOCH))
        self.add_command("reset", self.reset)

    def _build_ui(self) -> None:
        self.loss_panel = LossCurvePanel("Loss per step (MSE)", object_name="bostonLossCurve")
        self.loss_panel.show_curves(validation=True, test=False)
        self.loss_panel.log_scale.setChecked(True)  # losses here span from hundreds (or 1e12) down to ~10
        self.final_losses = QLabel()
        self.final_losses.setObjectName("finalLosses")
        self.final_losses.setAccessibleName("Final losses")
        self.final_losses.setTextFormat(Qt.TextFormat.RichText)
        self.final_losses.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.final_losses.hide()
        self.loss_panel.layout().insertWidget(0, self.final_losses)

        self.slice = LossSlicePanel()
        self.slice_panel = self.slice.surface  # the plot itself
        self.slice_panel.clicked.connect(self.start_at)
        self.slice_panel.rangeChanged.connect(self._on_slice_range)
        self.slice.pairChanged.connect(self._on_pair_changed)

        self.weights = WeightsPanel()
        self.pred_panel = PredActualPanel(self.dataset.target_unit)

        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.loss_panel)
        top.addWidget(self.slice)
        top.setSizes([520, 520])
        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.addWidget(self.weights)
        bottom.addWidget(self.pred_panel)
        bottom.setSizes([600, 440])
        plots = QSplitter(Qt.Orientation.Vertical)
        plots.addWidget(top)
        plots.addWidget(bottom)
        plots.setSizes([450, 400])
        for s in (top, bottom, plots):
            s.setChildrenCollapsible(False)

        side = QWidget()
        side.setObjectName("bostonSidebar")
        column = QVBoxLayout(side)
        column.setContentsMargins(6, 6, 6, 6)
        column.addWidget(self._build_training_box())
        column.addWidget(self._build_model_box())
        column.addWidget(self._build_settings_box())
        column.addWidget(self._build_readouts_box())
        self.message = QLabel()
        self.message.setObjectName("message")
        self.message.setAccessibleName("Message")
        self.message.setWordWrap(True)
        self.message.hide()
        self.explanation = QLabel()
        self.explanation.setObjectName("bostonText")
        self.explanation.setAccessibleName("About this view")
        self.explanation.setWordWrap(True)
        self.explanation.setTextFormat(Qt.TextFormat.RichText)
        self.explanation.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.explanation.setStyleSheet(
            "QLabel { background: #fffbea; border: 1px solid #f0e2a8; border-radius: 6px; padding: 8px; color: #333; }"
        )
        what = QGroupBox("What you see")
        what_layout = QVBoxLayout(what)
        what_layout.addWidget(self.message)
        what_layout.addWidget(self.explanation, 1)
        column.addWidget(what, 1)
        self.lay_out(plots, side, width=(340, 400))

    def _combo(self, name: str, accessible: str) -> QComboBox:
        combo = QComboBox()
        combo.setObjectName(name)
        combo.setAccessibleName(accessible)
        return combo

    def _build_training_box(self) -> QGroupBox:
        box = QGroupBox("Training")
        grid = QGridLayout(box)
        grid.setSpacing(4)
        train = self.command_button("run")
        train.setObjectName("trainButton")
        train.setAccessibleName("Train")
        grid.addWidget(train, 0, 0)
        grid.addWidget(self.command_button("step_batch"), 0, 1)
        grid.addWidget(self.command_button("step_epoch"), 1, 0)
        grid.addWidget(self.command_button("reset"), 1, 1)
        self.progress = QProgressBar()
        self.progress.setObjectName("epochProgress")
        self.progress.setAccessibleName("Epoch progress")
        self.progress.setFormat("Epoch %v of %m")
        self.progress.setTextVisible(True)
        self.progress.setAlignment(Qt.AlignmentFlag.AlignCenter)
        grid.addWidget(self.progress, 2, 0, 1, 2)
        return box

    def _build_model_box(self) -> QGroupBox:
        box = QGroupBox("Model")
        form = QFormLayout(box)
        form.setVerticalSpacing(4)
        self.model_choice = self._combo("bostonModel", "Model")
        for label, model, hidden in MODELS:
            self.model_choice.addItem(label, (model, hidden))
        self.model_choice.setToolTip("The three models of tfjs-examples' Boston Housing (changing it starts again)")
        self.model_choice.currentIndexChanged.connect(self._on_structure_changed)
        form.addRow("Model", self.model_choice)
        self.normalize = QCheckBox("Normalize the features (z-score)")
        self.normalize.setObjectName("normalize")
        self.normalize.setAccessibleName("Normalize the features")
        self.normalize.setToolTip("Subtract each feature's training mean and divide by its standard deviation "
                                  "(changing it starts again)")
        self.normalize.toggled.connect(self._on_normalize)
        form.addRow(self.normalize)
        return box

    def _build_settings_box(self) -> QGroupBox:
        box = QGroupBox("Hyperparameters")
        form = QFormLayout(box)
        form.setVerticalSpacing(4)
        self.optimizer = self._combo("bostonOptimizer", "Optimizer")
        for key, text in OPTIMIZER_NAMES.items():
            self.optimizer.addItem(text, key)
        self.optimizer.setToolTip("Changing the optimizer sets TensorFlow.js's default learning rate for it")
        self.optimizer.currentIndexChanged.connect(self._on_optimizer)
        form.addRow("Optimizer", self.optimizer)

        self.learning_rate = QDoubleSpinBox()
        self.learning_rate.setObjectName("bostonLearningRate")
        self.learning_rate.setAccessibleName("Learning rate")
        self.learning_rate.setDecimals(6)
        self.learning_rate.setRange(1e-6, 1000.0)
        self.learning_rate.setStepType(QDoubleSpinBox.StepType.AdaptiveDecimalStepType)
        self.learning_rate.setKeyboardTracking(False)
        self.learning_rate.setToolTip("Step size of each update (applies from the next batch)")
        self.learning_rate.valueChanged.connect(self._on_learning_rate)
        form.addRow("Learning rate", self.learning_rate)

        self.batch_size = QSpinBox()
        self.batch_size.setObjectName("bostonBatchSize")
        self.batch_size.setAccessibleName("Batch size")
        self.batch_size.setKeyboardTracking(False)
        self.batch_size.setToolTip("Examples per update (applies from the next batch)")
        self.batch_size.valueChanged.connect(self._on_batch_size)
        form.addRow("Batch size", self.batch_size)

        self.epochs = QSpinBox()
        self.epochs.setObjectName("bostonEpochs")
        self.epochs.setAccessibleName("Epochs")
        self.epochs.setRange(1, 100_000)
        self.epochs.setKeyboardTracking(False)
        self.epochs.setToolTip("Train stops after this many epochs")
        self.epochs.valueChanged.connect(self._on_epochs)
        form.addRow("Epochs", self.epochs)

        self.validation_split = QDoubleSpinBox()
        self.validation_split.setObjectName("bostonValidationSplit")
        self.validation_split.setAccessibleName("Validation split")
        self.validation_split.setRange(0.0, 0.9)
        self.validation_split.setSingleStep(0.05)
        self.validation_split.setDecimals(2)
        self.validation_split.setKeyboardTracking(False)
        self.validation_split.setToolTip("The last fraction of the training rows, kept for validation as "
                                         "tfjs's validationSplit (changing it starts again)")
        self.validation_split.valueChanged.connect(self._on_structure_changed)
        form.addRow("Validation split", self.validation_split)

        self.seed = QSpinBox()
        self.seed.setObjectName("bostonSeed")
        self.seed.setAccessibleName("Seed")
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setKeyboardTracking(False)
        self.seed.setToolTip("Seeds the initial weights and the shuffling (changing it starts again)")
        self.seed.valueChanged.connect(self._on_structure_changed)
        form.addRow("Seed", self.seed)
        return box

    def _build_readouts_box(self) -> QGroupBox:
        box = QGroupBox("Now")
        self.readouts = ReadoutsPanel([
            ("bostonStep", "step"), ("bostonEpoch", "epoch"), ("bostonBatchLoss", "batch loss"),
            ("bostonTrainLoss", "training loss"), ("bostonValLoss", "validation loss"),
            ("bostonTestLoss", "test loss"), ("bostonBaseline", "baseline (test)"),
        ])
        self.readouts.labels["bostonTrainLoss"].setToolTip(
            "Of the last epoch: its batch losses averaged, as tfjs logs it")
        self.readouts.labels["bostonBaseline"].setToolTip("Test loss of always predicting the mean training price")
        layout = QVBoxLayout(box)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.readouts)
        return box

    def _load_settings_into_controls(self, s: FitSettings) -> None:
        widgets = (self.model_choice, self.normalize, self.optimizer, self.learning_rate, self.batch_size,
                   self.epochs, self.validation_split, self.seed)
        for w in widgets:
            w.blockSignals(True)
        hidden = s.hidden if s.model == "mlp" else None
        self.model_choice.setCurrentIndex(next((k for k, m in enumerate(MODELS) if m[1:] == (s.model, hidden)), 0))
        self.normalize.setChecked(s.normalize)
        self.optimizer.setCurrentIndex(self.optimizer.findData(s.optimizer))
        self.learning_rate.setValue(s.learning_rate)
        self.batch_size.setRange(1, len(self.dataset.y_train))
        self.batch_size.setValue(min(s.batch_size, len(self.dataset.y_train)))
        self.epochs.setValue(s.epochs)
        self.validation_split.setValue(s.validation_split)
        self.seed.setValue(s.seed)
        for w in widgets:
            w.blockSignals(False)

    # ------------------------------------------------------------ runs
    def settings_from_controls(self) -> FitSettings:
        """The settings the controls show, on top of the data set's defaults."""
        model, hidden = self.model_choice.currentData()
        return replace(
            self.dataset.defaults,
            model=model,
            hidden=hidden if hidden is not None else self.dataset.defaults.hidden,
            normalize=self.normalize.isChecked(),
            optimizer=self.optimizer.currentData(),
            learning_rate=self.learning_rate.value(),
            batch_size=self.batch_size.value(),
            epochs=self.epochs.value(),
            validation_split=round(self.validation_split.value(), 6),
            seed=self.seed.value(),
        )

    def _new_run(self, start: np.ndarray | None = None, reframe: bool = True) -> None:
        """A fresh experiment from the controls' settings, starting at ``start`` (default: the seed's init)."""
        previous = getattr(self, "experiment", None)
        self.settings = self.settings_from_controls()
        self.experiment = exp = Experiment(self.dataset, self.settings)
        if start is not None:
            exp.trainer.set_params(start)
        # Room for the whole run at once (growing a wide trajectory copies it, a stall), up to ~64 MB.
        per_epoch = -(-len(exp.y) // self.settings.batch_size)
        room = min(self.settings.epochs * per_epoch, HISTORY_BYTES // (8 * exp.model.n_params))
        self.history = History(exp.trainer.params, steps=max(room, 1023))
        self._finished = False
        self._pred_dirty = True
        self.message.hide()
        self.final_losses.hide()
        self.controller.set_trainer(exp.trainer)
        self.slicer.invalidate()
        self._slice_version = -1

        if previous is None or self._relabel or exp.model.n_params != previous.model.n_params:
            self._relabel = False
            self._fill_param_combos()
        self.loss_panel.clear()
        self.loss_panel.show_curves(validation=exp.X_val is not None, test=False)
        self.loss_panel.set_baseline(exp.baseline_loss(self._eval_split), f"baseline (mean {self._target_noun})")
        if exp.is_linear:
            self.weights.show_linear(self.settings.normalize)
        else:
            self.weights.show_mlp([(self._array_label(name, k), p.shape)
                                   for k, (name, p) in enumerate(exp.model.parameters().items())])
        self._set_explanation()
        if reframe:
            self._frame_slice()
        self._request_slice(now=True)
        self.redraw()

    def reset(self) -> None:
        """Back to the last start: the seed's initial weights, or the point last clicked on the slice."""
        self._new_run(self._start, reframe=False)
        self._frame_slice()

    @Slot(float, float)
    def start_at(self, x: float, y: float) -> None:
        """A new start: the slice's two parameters at (x, y), every other one as it is now."""
        params = self._slice_theta().copy()
        i, j = self._pair
        params[i], params[j] = x, y
        self._start = params
        self._new_run(params, reframe=False)

    def step(self, unit: Unit) -> None:
        if self._trajectory_full():
            self._show_full()
        elif not self.controller.running:
            self.controller.step(unit)

    def toggle_run(self) -> None:
        if self.controller.running:
            self.controller.pause()
            return
        if self._trajectory_full():
            self.commands["run"].setChecked(False)
            self._show_full()
            return
        if self._finished:
            self.commands["run"].setChecked(False)
            self._show_done()
            return
        if not self.controller.run():
            self.commands["run"].setChecked(False)

    def shutdown(self) -> None:
        if self._shut:
            return
        self._shut = True
        self._frame.stop()
        self._slice_timer.stop()
        self.controller.shutdown()
        self.slicer.shutdown()

    # ------------------------------------------------------- settings changed
    def _on_structure_changed(self, *_) -> None:
        """Model, validation split or seed: a new run (a clicked start no longer applies)."""
        self._start = None
        self._new_run()

    def _on_normalize(self, on: bool) -> None:
        """A new run; the slice moves to the pair that shows the difference, unless the user chose another."""
        was_default = self._pair == self._default_pair(not on)
        self._start = None
        self._new_run(reframe=False)
        if was_default:
            self._set_pair(*self._default_pair(on))
            self.redraw()  # the trajectory and the start point, in the new pair's coordinates
        self._frame_slice()
        self._request_slice(now=True)

    def _live_or_restart(self, change: Callable) -> None:
        """Before the first step the run starts afresh with the new settings; after it, the change applies
        from the next batch."""
        if self.history.steps == 0 and not self.controller.busy:
            self._new_run(self._start, reframe=False)
        else:
            self.controller.change(change)

    def _on_learning_rate(self, lr: float) -> None:
        self._live_or_restart(lambda t: setattr(t.optimizer, "learning_rate", lr))

    def _on_batch_size(self, n: int) -> None:
        self._live_or_restart(lambda t: setattr(t, "batch_size", n))

    def _on_epochs(self, n: int) -> None:
        self._finished = False
        self.final_losses.hide()
        self._live_or_restart(lambda t: setattr(t, "epochs", max(n, t.epoch)))
        self.redraw()

    def _on_optimizer(self, _index: int) -> None:
        name = self.optimizer.currentData()
        lr = DEFAULT_LEARNING_RATE[name]
        momentum = self.settings.momentum
        self.learning_rate.blockSignals(True)
        self.learning_rate.setValue(lr)  # tfjs's default rate for this optimizer
        self.learning_rate.blockSignals(False)
        self._live_or_restart(lambda t: setattr(t, "optimizer", make_optimizer(name, lr, momentum)))

    # ----------------------------------------------------------- reports
    @Slot(object)
    def _on_reports(self, reports: tuple) -> None:
        add = self.history.add
        for report in reports:
            add(report)
            if isinstance(report, EpochReport):
                self._pred_dirty = True
            elif isinstance(report, DivergedReport):
                self._show_divergence(report)
        if self.history.diverged is None and not self.message.isHidden():
            self.message.hide()  # training went on after a divergence (at a smaller rate)
        if self._trajectory_full():
            self.controller.pause()
            self._show_full()
        if not self._frame.isActive():
            wait = FRAME_MS
            if self.controller.running:
                since = (time.perf_counter() - self._frame_end) * 1000
                wait = max(FRAME_MS, int(RUN_FRAME_MS - since))
            self._frame.start(wait)

    @Slot(str)
    def _on_stopped(self, why: str) -> None:
        self._finished = why == "done"
        if self._finished:
            self._show_done()
        self.redraw()
        self._request_slice(now=True)

    @Slot(bool)
    def _on_running_changed(self, running: bool) -> None:
        run = self.commands["run"]
        run.setChecked(running)
        run.setText("Pause" if running else "&Train")
        for key in ("step_batch", "step_epoch"):
            self.commands[key].setEnabled(not running)

    def _show_divergence(self, report: DivergedReport) -> None:
        texts = resources.sections("boston.md")
        key = "diverged" if self.settings.normalize else "diverged_raw"
        self.message.setText(texts[key].format(step=report.step, lr=_fmt(report.learning_rate), **self._spans))
        self.message.show()

    def _trajectory_full(self) -> bool:
        return self.history.params.nbytes >= TRAJECTORY_BYTES

    def _show_full(self) -> None:
        self.message.setText(resources.sections("boston.md")["full"].format(
            step=f"{self.history.steps:,}", n_params=f"{self.experiment.model.n_params:,}",
            mb=f"{TRAJECTORY_BYTES // 2**20:,}"))
        self.message.show()

    def _show_done(self) -> None:
        epochs = self.history.epochs
        if not len(epochs):
            return
        _, _, loss, val, test = epochs[-1]
        parts = [f"training <b>{_fmt(loss, 4)}</b>"]
        if math.isfinite(val):
            parts.append(f"validation <b>{_fmt(val, 4)}</b>")
        if self.dataset.has_test:
            parts.append(f"test <b>{_fmt(test, 4)}</b>")
        self.final_losses.setText(f"Final after {len(epochs)} epochs: {' · '.join(parts)} "
                                  f"(baseline {_fmt(self.experiment.baseline_loss(self._eval_split), 4)})")
        self.final_losses.show()
        self._set_explanation()

    # ----------------------------------------------------------- drawing
    @contextmanager
    def _drawing(self) -> Iterator[None]:
        """Around GUI work while training runs: the training thread and the slice job wait, so that the GUI
        thread need not win the interpreter lock back at every Qt call. The paints the work causes are done
        inside, too."""
        if self._held:
            yield
            return
        self._held = True
        try:
            with self.controller.holding() if self.controller.running else nullcontext(), self.slicer.holding():
                yield
                QApplication.processEvents(QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents)
        finally:
            self._held = False

    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        """A hidden tab skips its frames and slices: catch up when it is shown."""
        super().showEvent(event)
        if self._behind:
            self._behind = False
            self.redraw()
            self._request_slice(now=True)

    def _on_frame(self) -> None:
        if not self.isVisible():
            self._behind = True
            return
        if not self.controller.running:
            self.redraw()
        else:
            with self._drawing():
                self.redraw()
        self._frame_end = time.perf_counter()

    def redraw(self) -> None:
        """Draw the history's latest state on every panel (the slice's grid is refreshed on its own timer)."""
        h, exp = self.history, self.experiment
        self.loss_panel.set_history(h.batch_loss, h.epochs)
        done = len(h.epochs)
        self._set_progress(done, max(self.epochs.value(), done))

        current = h.current
        step = h.last_step
        r = self.readouts
        r.set("bostonStep", h.steps)
        r.set("bostonEpoch", f"{step.epoch} (batch {step.batch + 1} of {step.batches_per_epoch})"
              if step is not None else "–")
        r.set("bostonBatchLoss", _fmt(step.loss if step is not None else None))
        last = h.epochs[-1] if done else None
        r.set("bostonTrainLoss", _fmt(last[2]) if last is not None else "–")
        r.set("bostonValLoss", _fmt(last[3]) if last is not None else "–")
        r.set("bostonTestLoss", _fmt(last[4]) if last is not None else "–")
        r.set("bostonBaseline", _fmt(exp.baseline_loss(self._eval_split)))

        if exp.is_linear:
            self.weights.set_linear(current[:-1], float(current[-1]))
        else:
            self.weights.set_mlp(self._split(current))
        running = self.controller.running
        if self._pred_dirty and (not running or time.perf_counter() - self._pred_at > SLICE_MS / 1000):
            self._pred_dirty = False
            self._pred_at = time.perf_counter()
            at_epoch = h.params[h.epoch_steps[-1]] if done else h.params[0]
            X, y, rows, note = self._pred_points()
            with np.errstate(all="ignore"):
                predicted = exp.model.predict_flat(at_epoch, X)
            self.pred_panel.set_points(y, predicted)
            if self.dataset.has_test:
                loss = last[4] if last is not None else exp.loss_at(current, "test")
            else:
                loss = last[2] if last is not None else exp.loss_at(current, "train")
            self.pred_panel.set_title(done, loss, rows=rows, note=note)

        i, j = self._pair
        params = h.params
        self.slice_panel.set_trajectory(params[:, i], params[:, j], h.epoch_steps)
        if h.version != self._slice_version:
            self._follow()
            self._request_slice()

    def _set_progress(self, value: int, maximum: int) -> None:
        """QProgressBar repaints itself at once on every new value; let it wait for the next paint instead."""
        bar = self.progress
        if bar.value() == value and bar.maximum() == maximum:
            return
        bar.setUpdatesEnabled(False)
        bar.setMaximum(maximum)
        bar.setValue(value)
        bar.setUpdatesEnabled(True)
        bar.update()

    def _split(self, flat: np.ndarray) -> list[np.ndarray]:
        out, k = [], 0
        for p in self.experiment.model.parameters().values():
            out.append(flat[k : k + p.size].reshape(p.shape))
            k += p.size
        return out

    def _set_explanation(self) -> None:
        texts = resources.sections("boston.md")
        exp, d = self.experiment, self.dataset
        user = "" if self._is_boston else "user_"  # the user's own data: texts that name its columns
        names = {"file": html.escape(d.name), "target": html.escape(d.target_name), "n": d.n_features,
                 "rows": f"{len(d.y_train):,}"}
        if exp.is_linear:
            model = texts[f"{user}linear"].format(baseline=_fmt(exp.baseline_loss(self._eval_split), 4), **names)
        else:
            n = len(self.settings.hidden)
            layers = {1: "One hidden layer", 2: "Two hidden layers"}.get(n, f"{n} hidden layers")
            model = texts[f"{user}mlp"].format(layers=layers, n_params=f"{exp.model.n_params:,}", **names)
        norm = texts["normalized" if self.settings.normalize else f"{user}raw"].format(
            lr=_fmt(self.settings.learning_rate), **self._spans)
        parts = [model, norm]
        if user:
            parts.insert(0, texts["user_data"].format(**names))
        if self._finished:
            parts.append(texts["done"].format(epochs=len(self.history.epochs)))
        if exp.notice:
            parts.append(exp.notice)
        self.explanation.setText("<p>" + "</p><p>".join(parts) + "</p>")

    def _feature_spans(self) -> dict[str, str]:
        """The widest- and narrowest-ranging features of the training file, for the texts."""
        d = self.dataset
        lo, hi = d.X_train.min(axis=0), d.X_train.max(axis=0)
        width = hi - lo
        wide = int(np.argmax(width))
        narrow = int(np.argmin(np.where((width > 0) & (np.arange(len(width)) != wide), width, np.inf)))
        if narrow == wide:  # every other feature is constant
            narrow = (wide + 1) % len(width)
        self._wide, self._narrow = wide, narrow
        names = d.feature_names
        return {"wide": names[wide].upper(), "wide_lo": _span(lo[wide]), "wide_hi": _span(hi[wide]),
                "narrow": names[narrow].upper(), "narrow_lo": _span(lo[narrow]), "narrow_hi": _span(hi[narrow])}

    # ----------------------------------------------------------- the data set
    def set_dataset(self, dataset: Dataset) -> None:
        """Show a data set of two or more features (the user's CSV file, or Boston Housing again): its names in
        the tab, titles and labels, its default settings in the controls, and a fresh run."""
        if dataset.n_features < 2:
            raise ValueError("the multi-feature view needs a data set with at least two features")
        self.dataset = dataset
        self._start = None
        self._spans = self._feature_spans()
        self._show_data_labels()
        self._load_settings_into_controls(dataset.defaults)
        self._relabel = True
        self._new_run()

    @property
    def _is_boston(self) -> bool:
        return self.dataset.name == "boston-housing"

    @property
    def _eval_split(self) -> str:
        """Where the baseline and the predictions are measured: the test rows, or the training rows if none."""
        return "test" if self.dataset.has_test else "train"

    @property
    def _target_noun(self) -> str:
        return "price" if self._is_boston else self.dataset.target_name

    def _show_data_labels(self) -> None:
        """Everything that names the data set: the tab's title, the weights' rows, the chart's axes and range,
        the readouts' captions; and the two features the slice shows by default."""
        d = self.dataset
        self.set_title("Boston Housing" if self._is_boston else f"{d.name} ({d.n_features} features)")
        self.weights.set_features(d.feature_names, [d.descriptions.get(f, "") for f in d.feature_names])
        self.weights.set_target(self._target_noun, d.target_unit)
        ys = d.y_train if d.y_test is None else np.concatenate([d.y_train, d.y_test])
        lo, hi = float(ys.min()), float(ys.max())
        pad = 0.05 * (hi - lo) or 0.05 * abs(hi) or 1.0
        self.pred_panel.set_limits(min(0.0, lo - pad) if 0 <= lo <= hi - lo else lo - pad, hi + pad)
        unit = f" ({d.target_unit})" if d.target_unit else ("" if self._is_boston else f" {d.target_name}")
        self.pred_panel.plot.setLabel("bottom", f"actual{unit}")
        self.pred_panel.plot.setLabel("left", f"predicted{unit}")
        self._pred_rows = None
        split = "test" if d.has_test else "training"
        form = self.readouts.form
        form.labelForField(self.readouts.labels["bostonBaseline"]).setText(f"baseline ({split})")
        self.readouts.labels["bostonBaseline"].setToolTip(
            f"{split.capitalize()} loss of always predicting the mean training {self._target_noun}")
        for key in ("bostonTestLoss",):
            form.setRowVisible(self.readouts.labels[key], d.has_test)
        names = d.feature_names
        if {"rm", "lstat"} <= set(names):
            self._strongest = names.index("rm"), names.index("lstat")
        else:
            with np.errstate(all="ignore"):
                X, y = d.X_train - d.X_train.mean(axis=0), d.y_train - d.y_train.mean()
                r = np.abs(X.T @ y) / np.sqrt((X * X).sum(axis=0) * (y @ y))
            order = np.argsort(-np.nan_to_num(r, nan=-1.0), kind="stable")
            self._strongest = int(order[0]), int(order[1])

    def _pred_points(self) -> tuple[np.ndarray, np.ndarray, str, str]:
        """The rows of the predicted-against-actual chart: the test rows, or else (for the user's data) the
        training rows; at most PRED_POINTS of them, a fixed random sample. Also what to call them, and a note
        when they are a sample."""
        exp = self.experiment
        if self._pred_rows is None or self._pred_rows[0] is not exp:
            if exp.X_test is not None:
                X, y, rows = exp.X_test, exp.y_test, "Test set"
            else:
                X, y, rows = exp.X, exp.y, "Training set"
            note = ""
            if len(y) > PRED_POINTS:
                keep = np.sort(np.random.default_rng(0).choice(len(y), PRED_POINTS, replace=False))
                X, y, note = X[keep], y[keep], f"showing a random {PRED_POINTS:,} of {len(y):,} rows"
            self._pred_rows = (exp, X, y, rows, note)
        return self._pred_rows[1:]

    # ----------------------------------------------------------- the loss slice
    def _param_labels(self) -> list[str]:
        """One readable name per flat parameter."""
        exp = self.experiment
        features = self.dataset.feature_names
        if exp.is_linear:
            return [f"weight of {f}" for f in features] + ["bias"]
        labels: list[str] = []
        arrays = list(exp.model.parameters().items())
        n_layers = len(arrays) // 2
        for k, (name, p) in enumerate(arrays):
            layer = k // 2 + 1
            output = layer == n_layers
            where = "output" if output else f"layer {layer}"
            if name.endswith("kernel"):
                fan_in, fan_out = p.shape
                for r in range(fan_in):
                    src = features[r] if layer == 1 else f"unit {r + 1}"
                    for c in range(fan_out):
                        dst = self._target_noun if output else f"unit {c + 1}"
                        labels.append(f"{where}: {src} → {dst}")
            else:
                labels += [f"{where}: bias" if output else f"{where}: bias of unit {c + 1}" for c in range(p.size)]
        return labels

    def _array_label(self, name: str, k: int) -> str:
        n_layers = len(self.experiment.model.parameters()) // 2
        layer = k // 2 + 1
        kind = "kernel" if name.endswith("kernel") else "bias"
        return f"{'output' if layer == n_layers else f'hidden {layer}'} {kind}"

    def _default_pair(self, normalized: bool) -> tuple[int, int]:
        """rm and lstat (the book's strongest features; for other data the two features most correlated with
        the target); with normalization off the widest and narrowest."""
        if normalized or not self.experiment.is_linear:
            a, b = self._strongest
        else:
            a, b = self._wide, self._narrow
        if self.experiment.is_linear:
            return a, b
        units = self.settings.hidden[0]
        return a * units, b * units  # into the first hidden unit

    @property
    def _pair(self) -> tuple[int, int]:
        return self.slice.pair

    def _fill_param_combos(self) -> None:
        self.slice.set_parameters(self._param_labels(), *self._default_pair(self.settings.normalize))
        self._forget_slice()

    def _set_pair(self, i: int, j: int) -> None:
        self.slice.set_pair(i, j)
        self._forget_slice()

    def _forget_slice(self) -> None:
        """Another pair of parameters: the slice drawn and any being computed no longer apply."""
        self.slicer.invalidate()
        self._slice_grid = None
        self._slice_version = -1

    @Slot(int, int)
    def _on_pair_changed(self, _i: int, _j: int) -> None:
        self._forget_slice()
        self._frame_slice()
        self._request_slice(now=True)
        self.redraw()

    @Slot(tuple)
    def _on_slice_range(self, _range: tuple) -> None:
        self._request_slice(now=True)

    def _slice_theta(self) -> np.ndarray:
        """The parameters the slice holds fixed: the current ones (the start's, after a divergence)."""
        h = self.history
        return h.params[0] if h.diverged is not None else h.current

    def _needed_points(self) -> np.ndarray:
        """Points (x, y) the slice's window must show: the trajectory and, for a linear model, the minimum."""
        i, j = self._pair
        pts = self.history.params[:, [i, j]]
        if self.experiment.is_linear and self.experiment.loss.name == "mse":
            opt = self.experiment.stats.slice_optimum(self._slice_theta(), i, j)
            pts = np.vstack([pts, opt])
        return pts[np.isfinite(pts).all(axis=1)]

    def _frame_slice(self) -> None:
        """A window that frames the trajectory (and the slice's minimum) with a margin."""
        pts = self._needed_points()
        if self.history.diverged is not None:
            pts = pts[:1]
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        centre, half = (lo + hi) / 2, (hi - lo) / 2
        floor = 1.0 if self.experiment.is_linear else 2.0
        half = np.maximum(half * 1.3, np.maximum(floor, 0.05 * np.abs(centre)))
        self.slice_panel.set_range(centre[0] - half[0], centre[0] + half[0], centre[1] - half[1], centre[1] + half[1])
        self._request_slice(now=True)

    def _follow(self) -> None:
        """Widen the window when the trajectory or the minimum leaves it (not after a divergence)."""
        if self.history.diverged is not None:
            return
        x0, x1, y0, y1 = self.slice_panel.visible_range()
        pts = self._needed_points()
        inside = (pts[:, 0] >= x0) & (pts[:, 0] <= x1) & (pts[:, 1] >= y0) & (pts[:, 1] <= y1)
        if inside.all():
            return
        far = np.abs(pts - [(x0 + x1) / 2, (y0 + y1) / 2]) > 50 * np.array([x1 - x0, y1 - y0])
        if far.any():  # a run on its way out: do not chase it
            return
        lo = np.minimum(pts.min(axis=0), [x0, y0])
        hi = np.maximum(pts.max(axis=0), [x1, y1])
        pad = 0.15 * (hi - lo)
        self.slice_panel.set_range(lo[0] - pad[0], hi[0] + pad[0], lo[1] - pad[1], hi[1] + pad[1])

    def _request_slice(self, now: bool = False) -> None:
        if self._shut:
            return
        if now:
            self._slice_timer.start(0)
        elif not self._slice_timer.isActive():
            running_mlp = self.controller.running and not self.experiment.is_linear
            self._slice_timer.start(MLP_SLICE_MS if running_mlp else SLICE_MS)

    def _compute_slice(self) -> None:
        if not self.isVisible():
            self._behind = True
            return
        exp = self.experiment
        i, j = self._pair
        theta0 = np.array(self._slice_theta())
        x0, x1, y0, y1 = self.slice_panel.visible_range()
        self._slice_version = self.history.version
        if exp.is_linear:
            n = LINEAR_GRID_RUNNING if self.controller.running else LINEAR_GRID
            a, b = np.linspace(x0, x1, n), np.linspace(y0, y1, n)
            with self._drawing() if self.controller.running else nullcontext():
                self._draw_slice(a, b, exp.loss_slice(theta0, i, j, a, b), theta0)
        else:
            n = MLP_GRID.get(len(self.settings.hidden), 25)
            a, b = np.linspace(x0, x1, n), np.linspace(y0, y1, n)
            self.slice.status.setText("computing…")
            compute = exp.loss_slice
            if len(exp.y) > MLP_SLICE_ROWS:  # one forward pass per grid point: over a fixed sample of the rows
                rows = np.sort(np.random.default_rng(0).choice(len(exp.y), MLP_SLICE_ROWS, replace=False))
                compute = partial(model_slice, exp.model, exp.X[rows], exp.y[rows], exp.loss)
            self.slicer.request(compute, theta0, i, j, a, b)

    @Slot(object)
    def _on_slice_ready(self, result: SliceResult) -> None:
        self.slice.status.setText("" if not self.slicer.busy else "computing…")
        with self._drawing() if self.controller.running else nullcontext():
            self._draw_slice(result.a, result.b, result.grid, result.theta0)

    def _draw_slice(self, a: np.ndarray, b: np.ndarray, grid: np.ndarray, theta0: np.ndarray) -> None:
        exp = self.experiment
        self._slice_grid = (a, b, grid)
        self._slice_theta0 = theta0
        i, j = self._pair
        if exp.is_linear and exp.loss.name == "mse":
            optimum = exp.stats.slice_optimum(theta0, i, j)
            what = "★ the minimum of this slice"
        else:
            ia, ib = np.unravel_index(np.argmin(np.where(np.isfinite(grid), grid, np.inf)), grid.shape)
            optimum = (a[ia], b[ib])
            on_edge = ia in (0, len(a) - 1) or ib in (0, len(b) - 1)
            what = "★ the lowest point in view (it goes lower beyond)" if on_edge else "★ the grid's minimum"
        held = "at the start (training diverged)" if self.history.diverged is not None else "as they are now"
        caption = f"The other {exp.model.n_params - 2:,} parameters held {held}; {what}"
        if not exp.is_linear and len(exp.y) > MLP_SLICE_ROWS:
            caption += f" (loss over a random {MLP_SLICE_ROWS:,} of the {len(exp.y):,} rows)"
        self.slice.draw(a, b, grid, optimum, caption, coarse=not exp.is_linear)

    # ------------------------------------------------------------ sessions (the format: gui/session.py)
    def controls(self) -> dict[str, QWidget]:
        """The controls a session and the app's remembered settings hold, by key."""
        return {"model": self.model_choice, "normalize": self.normalize, "optimizer": self.optimizer,
                "learning_rate": self.learning_rate, "batch_size": self.batch_size, "epochs": self.epochs,
                "validation_split": self.validation_split, "seed": self.seed}

    def recall_controls(self, values: dict) -> None:
        """Settings remembered from the last time the app ran: set the controls, and a fresh run from them."""
        if session.write_controls(self.controls(), values):
            self._start = None
            self._new_run(reframe=False)
            self._set_pair(*self._default_pair(self.settings.normalize))
            self._frame_slice()

    def session_state(self) -> dict:
        """This view's part of a session (take it while the controller is idle, its changes settled)."""
        return {
            "data": session.data_source(self.dataset),
            "settings": session.settings_to_json(self.settings),
            "controls": session.read_controls(self.controls()),
            "start": None if self._start is None else floats_to_json(self._start),
            "trainer": self.experiment.trainer.state(),
            "history": session.history_to_json(self.history),
            "finished": self._finished,
            "pair": list(self._pair),
            "range": list(self.slice_panel.visible_range()),
            "log_scale": self.loss_panel.log_scale.isChecked(),
        }

    def prepare_session(self, state: dict):
        """Build everything ``state`` describes, changing nothing; return the function that swaps it in.

        Raises :class:`~gui.session.SessionError`, or ValueError/KeyError/TypeError for a damaged part.
        """
        dataset = session.load_source(state["data"], self.dataset)
        if dataset.n_features < 2:
            raise session.SessionError("the multi-feature view needs data with at least two features")
        settings = session.settings_from_json(state["settings"])
        experiment = Experiment(dataset, settings)
        experiment.trainer.restore(state["trainer"])
        n_params = experiment.model.n_params
        per_epoch = -(-len(experiment.y) // experiment.trainer.batch_size)
        room = min(max(experiment.trainer.epochs, 1) * per_epoch, HISTORY_BYTES // (8 * n_params))
        history = session.history_from_json(state["history"], n_params, len(experiment.y), room=room)
        session.check_trainer_matches(history, experiment.trainer.params)
        start = None if state["start"] is None else floats_from_json(state["start"], "the start", n_params)
        controls = state["controls"]
        finished = session.bool_field(state["finished"], "finished")
        pair = state["pair"]
        if not isinstance(pair, list) or len(pair) != 2:
            raise ValueError("the slice's pair of parameters is malformed")
        i, j = (session.index_field(k, n_params, "a parameter of the slice") for k in pair)
        if i == j:
            raise ValueError("the slice shows one parameter twice")
        window = session.range_field(state["range"])
        log_scale = session.bool_field(state["log_scale"], "the log scale")

        def apply() -> None:
            if dataset is not self.dataset:
                self.set_dataset(dataset)
            self._load_settings_into_controls(settings)
            self._start = start
            self._new_run(start, reframe=False)  # lays the panels out for this model; its run is replaced now
            self.settings, self.experiment, self.history = settings, experiment, history
            self.controller.discard_pending()
            self.controller.set_trainer(experiment.trainer)
            session.write_controls(self.controls(), controls)  # values changed during the run (learning rate…)
            self._finished = finished
            self._pred_dirty = True
            self.loss_panel.log_scale.setChecked(log_scale)
            self._set_pair(i, j)
            self.slice_panel.set_range(*window)
            self.message.hide()
            self.final_losses.hide()
            if history.diverged is not None:
                self._show_divergence(history.diverged)
            if finished:
                self._show_done()
            self._set_explanation()
            self.redraw()
            self._request_slice(now=True)

        return apply

    def restore_session(self, state: dict) -> None:
        """Open this view's part of a session: all of it, or (on an exception) nothing."""
        self.prepare_session(state)()
