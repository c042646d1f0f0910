"""The multi-feature tab: ``fit()`` on Boston Housing (or the user's CSV), with normalization on or off.

The tab shows a :class:`~fitscope.gui.models.multi.MultiRun`. The loss slice over two parameters is
:class:`~fitscope.gui.views.pair_slice.PairSlice`'s; the one over a plane through all of them,
:class:`~fitscope.gui.views.landscape.LandscapeSlice`'s.
"""

from __future__ import annotations

import html
import time

import numpy as np
from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QGroupBox, QLabel, QProgressBar, QSizePolicy, QToolButton, QVBoxLayout, QWidget

from fitscope import resources
from fitscope.engine.data import Dataset, load_builtin
from fitscope.engine.numbers import prose
from fitscope.engine.settings import settings_values
from fitscope.gui.models.multi import MODELS, Moment, MultiRun
from fitscope.gui.models.surface import fmt
from fitscope.gui.panels.compare import PreviousRunOverlay
from fitscope.gui.panels.curvature import CurvatureBox
from fitscope.gui.panels.edges import EdgeMarkers, Mark
from fitscope.gui.panels.loss_curve import LossCurvePanel
from fitscope.gui.panels.loss_slice import LossSlicePanel
from fitscope.gui.panels.pred_actual import PredActualPanel
from fitscope.gui.panels.readouts import ReadoutsPanel
from fitscope.gui.panels.weights import WeightsPanel
from fitscope.gui.views import controls
from fitscope.gui.views.base import TrainingView
from fitscope.gui.views.controls import SPEEDS
from fitscope.gui.views.curvature import CurvatureOverlay, MapShown
from fitscope.gui.views.landscape import LandscapeSlice
from fitscope.gui.views.pair_slice import PairSlice
from fitscope.gui.views.undo import undoable

MODEL_FIELDS = (
    controls.Field("model", "Model", "bostonModel", "choice",
                   tip="The three models of tfjs-examples' Boston Housing (changing it starts again)",
                   choices=tuple((label, MultiRun.model_changes(k)) for k, (label, _, _) in enumerate(MODELS)),
                   get=lambda s: MultiRun.model_changes(next(
                       (k for k, m in enumerate(MODELS) if m[1:] == (s["model"], s["hidden"] if s["model"] == "mlp"
                                                                     else None)), 0))),
    controls.Field("normalize", "Normalize the features (z-score)", "normalize", "check",
                   accessible="Normalize the features", tip="Subtract each feature's training mean and divide by "
                   "its standard deviation (changing it starts again)"),
)
FIELDS = (
    controls.optimizer("bostonOptimizer", "Changing the optimizer sets TensorFlow.js's default learning rate for it"),
    controls.learning_rate("bostonLearningRate"),
    controls.batch_size("bostonBatchSize", "Examples per update (applies from the next batch)"),
    controls.epochs("bostonEpochs", "Train stops after this many epochs", accessible="Epochs"),
    controls.validation_split("bostonValidationSplit"),
    controls.seed("bostonSeed", "Seeds the initial weights and the shuffling (changing it starts again)"),
)

#: Predicted against actual follows training at every frame, so that it shows the step the other panels show; but
#: for data so large that its title's loss (over every row) would hold a frame up, at most 4 times a second.
PREDICTIONS_MS = 250
PREDICTIONS_EVERY_FRAME_ROWS = 50_000


class BostonView(TrainingView):
    title = "Boston Housing"
    MODEL = MultiRun
    RUN_TEXT = "&Train"
    RUN_FRAME_MS = 66  # ~15 frames a second while training runs at full speed: every frame holds the training
    DEFAULT_SPEED = len(SPEEDS) - 1  # the book's 200 epochs take seconds: as fast as possible

    def __init__(self, parent: QWidget | None = None, dataset: Dataset | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("bostonView")
        self.pair_slice = PairSlice(self)  # the loss slice over two weights: when, where, and drawing it
        self.slicer = self.pair_slice.slicer
        self._pred_drawn: tuple | None = None  # (history, version) the predictions were drawn for
        self._moment: Moment | None = None  # where the run stood when the Now box was drawn
        self._pred_at = 0.0
        self._dataset_shown: Dataset | None = None
        self._model_shown: tuple | None = None
        self._losses_shown: tuple | None = None  # what the line over the loss chart was written for
        self.add_training_commands("run", "step_batch", "step_epoch", "reset", "book_settings", "go_back")
        self.commands["run"].setToolTip(self.commands["run"].toolTip().replace("until the epoch limit",
                                                                               "until the last epoch"))
        self._build_ui()
        self.bind(MultiRun(dataset or load_builtin("boston-housing")))

    # ------------------------------------------------------------------ UI
    def _build_ui(self) -> None:
        self.loss_panel = LossCurvePanel("Loss per step (MSE)", object_name="bostonLossCurve")
        self.loss_panel.log_scale.setChecked(True)  # losses here span from hundreds (or 1e12) down to ~10
        self.final_losses = QLabel()
        self.final_losses.setObjectName("finalLosses")
        self.final_losses.setAccessibleName("Losses of the last epoch")
        self.final_losses.setTextFormat(Qt.TextFormat.RichText)
        self.final_losses.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.final_losses.setWordWrap(True)  # never wider than the chart under it
        self.final_losses.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.loss_panel.layout().insertWidget(0, self.final_losses)

        self.slice = LossSlicePanel()
        self.slice_panel = self.slice.surface  # the plot itself
        self.slice_panel.clicked.connect(self.start_at)
        self.slice_panel.keys.homeRequested.connect(self.pair_slice.frame)
        self.slice_marks = EdgeMarkers(self.slice_panel.plot)
        self.slice_panel.rangeChanged.connect(lambda _: self.pair_slice.request(now=True))
        self.slice.pairChanged.connect(self.set_pair)
        self.landscape = LandscapeSlice(self)  # the slice over a plane through every parameter of an MLP
        self.slice.modeChanged.connect(self.set_slice_mode)

        self.weights = WeightsPanel()
        self.pred_panel = PredActualPanel("")

        top = self.splitter(Qt.Orientation.Horizontal, [self.loss_panel, self.slice], [520, 520])
        bottom = self.splitter(Qt.Orientation.Horizontal, [self.weights, self.pred_panel], [600, 440])
        plots = self.splitter(Qt.Orientation.Vertical, [top, bottom], [450, 400])
        for s in (top, bottom, plots):
            s.setChildrenCollapsible(False)

        side, column = self.stack([], "bostonSidebar", margin=6)
        column.addWidget(self._build_training_box())
        self.model_form = controls.SettingsForm("Model", MODEL_FIELDS)
        self.form = controls.SettingsForm("Hyperparameters", FIELDS)
        for form in (self.model_form, self.form):
            form.changed.connect(lambda changes: self.change(**changes))
            column.addWidget(form)
        column.addWidget(self._build_readouts_box())
        self.curvature_box = CurvatureBox("boston")
        self.curvature = CurvatureOverlay(self.curvature_box, self.slice_panel, self._curvature_shown,
                                          compare_normalization=True)
        self.explanation = self.text_label("bostonText", "About this view")
        self.explanation.setStyleSheet(
            "QLabel { background: #fffbea; border: 1px solid #f0e2a8; border-radius: 6px; padding: 8px; color: #333; }"
        )
        column.addWidget(self.explanation_box("What you see", self.explanation), 1)
        column.addWidget(self.curvature_box)  # below the explanation, which is read first
        self.lay_out(plots, side, width=(340, 400))
        self.map_panel, self.loss_chart = self.slice_panel, self.loss_panel
        self.compare = PreviousRunOverlay(self.undo, self.loss_panel, self.slice_panel, self._previous_path,
                                          lambda: (self.slice.current_mode, self.model.pair, self.model.n_params),
                                          loss_of=lambda: self.model.settings.loss)

    def _build_training_box(self) -> QGroupBox:
        box = self.command_box("Training", [["run", "step_batch"], ["step_epoch", "reset"]])
        grid = box.layout()
        box.findChild(QToolButton, "runButton").setObjectName("trainButton")
        self.progress = QProgressBar()
        self.progress.setObjectName("epochProgress")
        self.progress.setAccessibleName("Epoch progress")
        self.progress.setFormat("0 of 200 epochs done")
        self.progress.setTextVisible(True)
        self.progress.setAlignment(Qt.AlignmentFlag.AlignCenter)
        grid.addWidget(self.progress, 2, 0, 1, 2)
        grid.addLayout(self.speed_row("bostonSpeed"), 3, 0, 1, 2)
        return box

    def _build_readouts_box(self) -> QGroupBox:
        box = QGroupBox("Now")
        self.readouts = ReadoutsPanel([
            ("bostonStep", "step"), ("bostonEpoch", "epoch"), ("bostonBatchLoss", "batch loss"),
            ("bostonLossEpoch", "losses of epoch"), ("bostonTrainLoss", "training loss"),
            ("bostonValLoss", "validation loss"),
            ("bostonTestLoss", "test loss"), ("bostonBaseline", "baseline (test)"),
        ])
        self.readouts.labels["bostonLossEpoch"].setToolTip(
            "The losses below are those of this epoch, the last one ended (after a divergence: the last before it)")
        self.readouts.labels["bostonTrainLoss"].setToolTip(
            "Of the last epoch: its batch losses averaged, as tfjs logs it")
        layout = QVBoxLayout(box)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.readouts)
        return box

    # ------------------------------------------------------------------ the model
    @property
    def run(self) -> MultiRun:
        return self.model

    def model_bound(self) -> None:
        run = self.model
        if run.dataset is not self._dataset_shown:
            self._dataset_shown = run.dataset
            self._show_data_labels()
        self.form.set_range("batch_size", 1, len(run.dataset.y_train))
        self.settings_changed()

    def run_started(self) -> None:
        """A fresh trainer: panels laid out for its model, the slice framed again."""
        run = self.model
        self.settings_changed()
        self.pair_slice.invalidate()
        self._pred_drawn = None
        shape = (run.dataset, run.settings.model, run.settings.hidden, run.settings.normalize)
        if shape != self._model_shown:  # another model (or normalization): its parameters, its tables
            self._model_shown = shape
            self.slice.set_parameters(run.param_labels(), *run.pair, None if run.is_linear else run.array_labels())
            if run.is_linear:
                self.weights.show_linear(run.settings.normalize)
            else:
                self.weights.show_mlp(run.array_labels())
        else:
            self.slice.set_pair(*run.pair)
        exp = run.experiment
        self.loss_panel.clear()
        self.loss_panel.show_curves(validation=exp.X_val is not None, test=False)
        self.loss_panel.set_baseline(run.baseline(), f"baseline (always guessing the mean {run.target_noun})")
        self.landscape.model_changed()
        self.curvature.update(exp)
        self.pair_slice.frame()

    def settings_changed(self) -> None:
        values = settings_values(self.model.settings)
        self.model_form.show_values(values)
        self.form.show_values(values)
        self.readouts.reserve("bostonEpoch", self.model.longest_epoch_text())
        self.explanation.setText(self.model.explanation(resources.sections("boston.md")))

    def reset(self) -> None:
        self.model.reset()

    @Slot(int, int)
    def set_pair(self, i: int, j: int) -> None:
        """Draw the slice over parameters ``i`` (x) and ``j`` (y)."""
        self.model.set_pair(i, j)
        self.slice.set_pair(i, j)
        self.pair_slice.forget()
        self.pair_slice.frame()
        self.refresh()

    def _previous_path(self, previous) -> tuple[np.ndarray, np.ndarray] | None:
        """A previous run's path over the two weights shown (none over another plane, or of another model)."""
        if self.slice.current_mode != "weights" or previous.n_params != self.model.n_params:
            return None
        i, j = self.model.pair
        return previous.params[:, i], previous.params[:, j]

    def may_run(self) -> bool:
        if self.model.finished:
            self.refresh()  # the final losses and the note to raise Epochs
            return False
        return True

    def status_text(self) -> str:
        diverged = self.model.history.diverged
        if diverged is None:
            return ""
        return self.model.divergence_text(resources.sections("boston.md"), diverged)

    def shutdown(self) -> None:
        if self._shut:
            return
        super().shutdown()
        self.pair_slice.shutdown()
        self.landscape.shutdown()

    @Slot(str)
    def set_slice_mode(self, mode: str) -> None:
        """Take the slice over two weights, the training path's PCA plane or two random directions."""
        self.pair_slice.forget()
        if self.landscape.choose(mode):  # back to the window the two weights had
            self.pair_slice.request(now=True)
        else:
            self.pair_slice.frame()
        self.refresh()

    @undoable("new start point")
    def start_at(self, x: float, y: float) -> None:
        if self.landscape.active:
            self.landscape.start_at(x, y)
        else:
            super().start_at(x, y)

    # ------------------------------------------------------------------ data labels
    def _show_data_labels(self) -> None:
        """Everything that names the data set: the tab's title, the weights' rows, the chart's axes and range,
        the readouts' captions."""
        run = self.model
        d = run.dataset
        self.set_title(run.title)
        self.weights.set_features(d.feature_names, [d.descriptions.get(f, "") for f in d.feature_names])
        self.weights.set_target(run.target_noun, d.target_unit)
        ys = d.y_train if d.y_test is None else np.concatenate([d.y_train, d.y_test])
        lo, hi = float(ys.min()), float(ys.max())
        pad = 0.05 * (hi - lo) or 0.05 * abs(hi) or 1.0
        self.pred_panel.set_limits(min(0.0, lo - pad) if 0 <= lo <= hi - lo else lo - pad, hi + pad)
        unit = f" ({d.target_unit})" if d.target_unit else ("" if run.is_boston else f" {d.target_name}")
        self.pred_panel.plot.setLabel("bottom", html.escape(f"actual{unit}"))  # rich text: the column's name as
        self.pred_panel.plot.setLabel("left", html.escape(f"predicted{unit}"))  # written
        split = "test" if d.has_test else "training"
        self.pred_panel.widget.setAccessibleName(f"Predicted against actual {run.target_noun} on the {split} set")
        form = self.readouts.form
        form.labelForField(self.readouts.labels["bostonBaseline"]).setText(f"baseline ({split})")
        self.readouts.labels["bostonBaseline"].setToolTip(
            f"{split.capitalize()} loss of always predicting the mean training {run.target_noun}")
        form.setRowVisible(self.readouts.labels["bostonTestLoss"], d.has_test)

    # ------------------------------------------------------------------ drawing
    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        behind = self.frames.behind
        super().showEvent(event)
        if behind:
            self.pair_slice.request(now=True)

    def redraw_parts(self) -> list:
        """The progress (the loss chart, the numbers, the weights), then the slice and the predictions (the slice's
        grid is refreshed on its own timer): two frames' work while training runs."""
        return [self._draw_progress, self._draw_where]

    def _draw_progress(self) -> None:
        """The loss chart, the progress bar, the numbers and the weights."""
        run = self.model
        h = run.history
        self.loss_panel.set_history(h.batch_loss, h.epochs, steps=h.loss_steps, growth=h.loss_growth,
                                    growing=self.controller.running)
        self.compare.update()
        done = run.epochs_done
        step = h.last_step
        total = max(run.settings.epochs, done)
        if step is not None and step.epoch > done and not self.controller.running:
            # stopped within an epoch (a batch stepped): the bar says which, as the Now box does (while a run
            # goes, one text: frames within and at the end of an epoch alternated between the two)
            text = f"Epoch {step.epoch:,} of {total:,} (batch {step.batch + 1} of {step.batches_per_epoch})"
        else:
            text = f"{done:,} of {total:,} epochs done"
        self._set_progress(done, total, text)
        self._moment = run.moment()  # what the predictions drawn next show: the step the Now box shows
        r = self.readouts
        r.set("bostonStep", h.steps)
        r.set("bostonEpoch", f"{step.epoch:,} (batch {step.batch + 1} of {step.batches_per_epoch})"
              if step is not None else "–")
        r.set("bostonBatchLoss", fmt(step.loss if step is not None else None))
        last = run.last_epoch()
        r.set("bostonLossEpoch", int(h.epochs[-1, 0]) if last is not None else None)
        r.set("bostonTrainLoss", fmt(last[0]) if last is not None else "–")
        r.set("bostonValLoss", fmt(last[1]) if last is not None else "–")
        r.set("bostonTestLoss", fmt(last[2]) if last is not None else "–")
        r.set("bostonBaseline", fmt(run.baseline()))

        current = h.current
        if run.is_linear:
            self.weights.set_linear(current[:-1], float(current[-1]))
        else:
            self.weights.set_mlp(run.split(current))
        shown = (h, done, run.finished, run.settings)
        if shown != self._losses_shown:  # once an epoch (its baseline is a pass over the rows)
            self._losses_shown = shown
            self.final_losses.setText(run.losses_text())

    def _draw_where(self) -> None:
        """Where the run stands: predicted against actual, and the path on the slice (which follows it)."""
        run = self.model
        h = run.history
        self._draw_predictions()
        i, j = run.pair
        params = h.params
        if self.landscape.active:
            self.landscape.redraw()
        else:
            self.slice_panel.set_trajectory(params[:, i], params[:, j], h.epoch_rows(), (h.growth, i, j),
                                            h.settled)
            self._mark_slice(i, j)
        if self.pair_slice.due:
            self.pair_slice.follow()
            self.pair_slice.request()

    def went_back(self) -> None:
        self.pair_slice.frame()

    def _mark_slice(self, i: int, j: int) -> None:
        """A mark at the slice's edge for the current point (the one kept after a divergence) out of view."""
        h = self.model.history
        now = h.current
        what = "now" if h.diverged is None else "kept after the divergence"
        self.slice.fields.show_point(float(now[i]), float(now[j]))  # the weights' fields (gui/keys.py)
        label = f"{what} ({prose(now[i])}, {prose(now[j])})"
        self.slice_marks.set([Mark(float(now[i]), float(now[j]), label, "#e65100")])

    def _draw_predictions(self) -> None:
        """The predicted-against-actual chart at the step the Now box shows (drawn in the frame's first part,
        the moment of which it keeps; see :data:`PREDICTIONS_MS`)."""
        run = self.model
        moment = self._moment if self._moment is not None and self._moment.history is run.history else None
        moment = moment or run.moment()
        key = moment.key
        if key == self._pred_drawn:
            return
        exp = run.experiment
        rows = len(exp.y_test if exp.X_test is not None else exp.y)  # the rows of the title's loss
        if (self.controller.running and rows > PREDICTIONS_EVERY_FRAME_ROWS
                and time.perf_counter() - self._pred_at < PREDICTIONS_MS / 1000):
            return
        self._pred_drawn, self._pred_at = key, time.perf_counter()
        actual, predicted, when, loss, rows, note = run.predictions(moment)
        self.pred_panel.set_points(actual, predicted)
        self.pred_panel.set_title(when, loss, rows=rows, note=note)

    def _set_progress(self, value: int, maximum: int, text: str) -> None:
        """QProgressBar repaints itself at once on every new value; let it wait for the next paint instead."""
        bar = self.progress
        if bar.value() == value and bar.maximum() == maximum and bar.format() == text:
            return
        bar.setUpdatesEnabled(False)
        bar.setMaximum(maximum)
        bar.setValue(value)
        bar.setFormat(text)
        bar.setUpdatesEnabled(True)
        bar.update()

    def _curvature_shown(self) -> MapShown | None:
        """The slice's two weights and its minimum, for the curvature axes (a linear model's slice only)."""
        run = self.model
        theta0 = self.pair_slice.theta0
        if self.landscape.active or not run.is_linear or theta0 is None or len(theta0) != run.n_params:
            return None  # no slice of this run drawn yet (a new model or data set is being bound)
        i, j = run.pair
        center = run.experiment.stats.slice_optimum(theta0, i, j)
        return MapShown(run.experiment, i, j, (float(center[0]), float(center[1])))

    @property
    def slice_grid(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """The loss slice drawn last: its two axes and the grid (None: none yet of this run)."""
        return self.pair_slice.grid

    @property
    def slice_theta0(self) -> np.ndarray | None:
        """The parameters the slice drawn last held fixed."""
        return self.pair_slice.theta0

    @property
    def slice_current(self) -> bool:
        """The slice drawn is of the history as it stands (no newer grid is due)."""
        return self.pair_slice.current

    def range_restored(self) -> None:
        self.pair_slice.request(now=True)
