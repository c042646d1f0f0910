"""The multi-feature tab: ``fit()`` on Boston Housing (or the user's CSV), with normalization on or off.

The tab shows a :class:`~fitscope.gui.models.multi.MultiRun`. The loss slice over two parameters is
computed in this thread for a linear model (closed form, cheap) and in a background pool for an MLP
(:class:`~fitscope.gui.views.slicer.BackgroundSlicer`), a few times a second at most while training runs.
"""

from __future__ import annotations

import html
import time

import numpy as np
from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtWidgets import QGroupBox, QLabel, QProgressBar, QSizePolicy, QToolButton, QVBoxLayout, QWidget

from fitscope import resources
from fitscope.engine.data import Dataset, load_builtin
from fitscope.engine.settings import settings_values
from fitscope.gui.activity import hold_until_painted
from fitscope.gui.models.multi import MODELS, MultiRun
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
from fitscope.gui.views.slicer import BackgroundSlicer, SliceResult
from fitscope.gui.views.undo import undoable

SLICE_MS = 250  # the loss slice follows training at most 4 times a second
MLP_SLICE_MS = 1000  # … an MLP's once a second: its job competes with training for the interpreter lock
LINEAR_GRID = 120  # slice resolution (points per axis) of a linear model, when training stands still
LINEAR_GRID_RUNNING = 60  # … and while it runs (drawing the isolines costs more than the grid)
MLP_GRID = {1: 41, 2: 25}  # per number of hidden layers: one forward pass per grid point, off this thread
MLP_SLICE_ROWS = 1000  # an MLP's slice over more rows is computed over a fixed random sample of this many

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


class BostonView(TrainingView):
    title = "Boston Housing"
    MODEL = MultiRun
    RUN_TEXT = "&Train"
    RUN_FRAME_MS = 66  # ~15 frames a second while training runs at full speed: every frame holds the training
    DEFAULT_SPEED = len(SPEEDS) - 1  # the book's 200 epochs take seconds: as fast as possible

    def __init__(self, parent: QWidget | None = None, dataset: Dataset | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("bostonView")
        self.slicer = BackgroundSlicer(self)
        self.slicer.ready.connect(self._on_slice_ready)
        self._slice_timer = QTimer(self, singleShot=True, interval=SLICE_MS)
        self._followed: tuple = (None, 0)  # (what it was for, rows): the trajectory rows found in the window
        self._slice_timer.timeout.connect(self._compute_slice)
        self._slice_version = -1  # the history version the slice was last computed for
        self.slice_grid: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # the grid drawn last
        self.slice_theta0: np.ndarray | None = None  # the parameters it held fixed
        self._pred_drawn: tuple | None = None  # (history, epochs done) the predictions were drawn for
        self._pred_at = 0.0
        self._dataset_shown: Dataset | None = None
        self._model_shown: tuple | None = None
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
        self.final_losses.setAccessibleName("Final losses")
        self.final_losses.setTextFormat(Qt.TextFormat.RichText)
        self.final_losses.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.final_losses.setWordWrap(True)  # never wider than the chart under it
        self.final_losses.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.final_losses.hide()
        self.loss_panel.layout().insertWidget(0, self.final_losses)

        self.slice = LossSlicePanel()
        self.slice_panel = self.slice.surface  # the plot itself
        self.slice_panel.clicked.connect(self.start_at)
        self.slice_panel.keys.homeRequested.connect(self._frame_slice)
        self.slice_marks = EdgeMarkers(self.slice_panel.plot)
        self.slice_panel.rangeChanged.connect(lambda _: self._request_slice(now=True))
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
            ("bostonTrainLoss", "training loss"), ("bostonValLoss", "validation loss"),
            ("bostonTestLoss", "test loss"), ("bostonBaseline", "baseline (test)"),
        ])
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
        self.slicer.invalidate()
        self._slice_version = -1
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
        self._frame_slice()

    def settings_changed(self) -> None:
        values = settings_values(self.model.settings)
        self.model_form.show_values(values)
        self.form.show_values(values)
        self.explanation.setText(self.model.explanation(resources.sections("boston.md")))

    def reset(self) -> None:
        self.model.reset()

    @Slot(int, int)
    def set_pair(self, i: int, j: int) -> None:
        """Draw the slice over parameters ``i`` (x) and ``j`` (y)."""
        self.model.set_pair(i, j)
        self.slice.set_pair(i, j)
        self._forget_slice()
        self._frame_slice()
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
        self._slice_timer.stop()
        super().shutdown()
        self.slicer.shutdown()
        self.landscape.shutdown()

    @Slot(str)
    def set_slice_mode(self, mode: str) -> None:
        """Take the slice over two weights, the training path's PCA plane or two random directions."""
        self._forget_slice()
        if self.landscape.choose(mode):  # back to the window the two weights had
            self._request_slice(now=True)
        else:
            self._frame_slice()
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
        behind = self._behind
        super().showEvent(event)
        if behind:
            self._request_slice(now=True)

    def redraw_parts(self) -> list:
        """The progress (the loss chart, the numbers, the weights), then the slice and the predictions (the slice's
        grid is refreshed on its own timer): two frames' work while training runs."""
        return [self._draw_progress, self._draw_where]

    def _draw_progress(self) -> None:
        """The loss chart, the progress bar, the numbers and the weights."""
        run = self.model
        h = run.history
        self.loss_panel.set_history(h.batch_loss, h.epochs, steps=h.loss_steps, growth=h.growth)
        self.compare.update()
        done = run.epochs_done
        step = h.last_step
        total = max(run.settings.epochs, done)
        if step is not None and step.epoch > done:  # an epoch under way: the bar says which, as the Now box does
            text = f"Epoch {step.epoch} of {total} (batch {step.batch + 1} of {step.batches_per_epoch})"
        else:
            text = f"{done} of {total} epochs done"
        self._set_progress(done, total, text)
        r = self.readouts
        r.set("bostonStep", h.steps)
        r.set("bostonEpoch", f"{step.epoch} (batch {step.batch + 1} of {step.batches_per_epoch})"
              if step is not None else "–")
        r.set("bostonBatchLoss", fmt(step.loss if step is not None else None))
        last = run.last_epoch()
        r.set("bostonTrainLoss", fmt(last[0]) if last is not None else "–")
        r.set("bostonValLoss", fmt(last[1]) if last is not None else "–")
        r.set("bostonTestLoss", fmt(last[2]) if last is not None else "–")
        r.set("bostonBaseline", fmt(run.baseline()))

        current = h.current
        if run.is_linear:
            self.weights.set_linear(current[:-1], float(current[-1]))
        else:
            self.weights.set_mlp(run.split(current))
        final = run.final_text() if run.finished else None
        self.final_losses.setText(final or "")
        self.final_losses.setVisible(final is not None)

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
            self.slice_panel.set_trajectory(params[:, i], params[:, j], h.epoch_rows())
            self._mark_slice(i, j)
        if h.version != self._slice_version:
            self._follow()
            self._request_slice()

    def went_back(self) -> None:
        self._frame_slice()

    def _mark_slice(self, i: int, j: int) -> None:
        """A mark at the slice's edge for the current point (the one kept after a divergence) out of view."""
        h = self.model.history
        now = h.current
        what = "now" if h.diverged is None else "kept after the divergence"
        self.slice.fields.show_point(float(now[i]), float(now[j]))  # the weights' fields (gui/keys.py)
        self.slice_marks.set([Mark(float(now[i]), float(now[j]), f"{what} ({now[i]:.3g}, {now[j]:.3g})", "#e65100")])

    def _draw_predictions(self) -> None:
        """The predicted-against-actual chart at the step shown (a few times a second while running)."""
        run = self.model
        key = (run.history, run.history.steps, run.history.diverged)
        if key == self._pred_drawn:
            return
        if self.controller.running and time.perf_counter() - self._pred_at < SLICE_MS / 1000:
            return
        self._pred_drawn, self._pred_at = key, time.perf_counter()
        actual, predicted, when, loss, rows, note = run.predictions()
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

    # ------------------------------------------------------------------ the loss slice
    def _forget_slice(self) -> None:
        """Another pair of parameters: the slice drawn and any being computed no longer apply."""
        self.slicer.invalidate()
        self.slice_grid = None
        self._slice_version = -1

    def _frame_slice(self) -> None:
        """A window that frames the trajectory (and the slice's minimum) with a margin."""
        if self.landscape.active:  # the plane's own window, when it is next made
            self.landscape.reframe()
            self._request_slice(now=True)
            return
        run = self.model
        pts = run.needed_points()
        if run.history.diverged is not None:
            pts = pts[:1]
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        centre, half = (lo + hi) / 2, (hi - lo) / 2
        floor = 1.0 if run.is_linear else 2.0
        half = np.maximum(half * 1.3, np.maximum(floor, 0.05 * np.abs(centre)))
        self.slice_panel.set_range(centre[0] - half[0], centre[0] + half[0], centre[1] - half[1], centre[1] + half[1])
        self._request_slice(now=True)

    def _follow(self) -> None:
        """Widen the window when the trajectory or the minimum leaves it (not after a divergence)."""
        if self.model.history.diverged is not None or self.landscape.active:
            return
        x0, x1, y0, y1 = self.slice_panel.visible_range()
        h = self.model.history
        # The rows found inside this window before stay inside (but for the last two, which may change): only
        # the rows since are looked at, so a frame costs the same at any length of run.
        key = (h.growth, self.model.pair, (x0, x1, y0, y1))
        seen = self._followed[1] if self._followed[0] == key else 0
        pts = self.model.needed_points(max(0, seen - 2))
        inside = (pts[:, 0] >= x0) & (pts[:, 0] <= x1) & (pts[:, 1] >= y0) & (pts[:, 1] <= y1)
        if inside.all():
            self._followed = (key, len(h.params))
            return
        pts = self.model.needed_points()
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
            running_mlp = self.controller.running and not self.model.is_linear
            self._slice_timer.start(MLP_SLICE_MS if running_mlp else SLICE_MS)

    def _compute_slice(self) -> None:
        if not self.isVisible():
            self._behind = True
            return
        run = self.model
        exp = run.experiment
        i, j = run.pair
        theta0 = np.array(run.slice_theta())
        self._slice_version = run.history.version
        if self.landscape.active:
            self.landscape.compute(self.controller.running)
            return
        x0, x1, y0, y1 = self.slice_panel.visible_range()
        if run.is_linear:
            n = LINEAR_GRID_RUNNING if self.controller.running else LINEAR_GRID
            a, b = np.linspace(x0, x1, n), np.linspace(y0, y1, n)
            hold_until_painted()
            self._draw_slice(a, b, exp.loss_slice(theta0, i, j, a, b), theta0)
        else:
            n = MLP_GRID.get(len(run.settings.hidden), 25)
            a, b = np.linspace(x0, x1, n), np.linspace(y0, y1, n)
            self.slice.status.setText("computing…")
            X, y = exp.X, exp.y
            if len(exp.y) > MLP_SLICE_ROWS:  # a forward pass per grid point: over a fixed sample of the rows
                rows = np.sort(np.random.default_rng(0).choice(len(exp.y), MLP_SLICE_ROWS, replace=False))
                X, y = X[rows], y[rows]
            self.slicer.request(exp.model, X, y, exp.loss, theta0, i, j, a, b)

    @Slot(object)
    def _on_slice_ready(self, result: SliceResult) -> None:
        self.slice.status.setText("" if not self.slicer.busy else "computing…")
        hold_until_painted()
        self._draw_slice(result.a, result.b, result.grid, result.theta0)

    def _draw_slice(self, a: np.ndarray, b: np.ndarray, grid: np.ndarray, theta0: np.ndarray) -> None:
        run = self.model
        self.slice_grid = (a, b, grid)
        self.slice_theta0 = theta0
        optimum, what = run.slice_optimum(theta0, a, b, grid)
        held = "as they are now" if run.history.diverged is None else "as they were kept at the divergence"
        caption = f"The other {run.n_params - 2:,} parameters held {held}; {what}"
        if not run.is_linear and len(run.experiment.y) > MLP_SLICE_ROWS:
            caption += f" (loss over a random {MLP_SLICE_ROWS:,} of the {len(run.experiment.y):,} rows)"
        self.slice.draw(a, b, grid, optimum, caption, coarse=not run.is_linear)
        self.curvature.redraw()

    def _curvature_shown(self) -> MapShown | None:
        """The slice's two weights and its minimum, for the curvature axes (a linear model's slice only)."""
        run = self.model
        if self.landscape.active or not run.is_linear or self.slice_theta0 is None or len(self.slice_theta0) != \
                run.n_params:
            return None  # no slice of this run drawn yet (a new model or data set is being bound)
        i, j = run.pair
        center = run.experiment.stats.slice_optimum(self.slice_theta0, i, j)
        return MapShown(run.experiment, i, j, (float(center[0]), float(center[1])))

    @property
    def slice_current(self) -> bool:
        """The slice drawn is of the history as it stands (no newer grid is due)."""
        return self._slice_version == self.model.history.version and self.slice_grid is not None

    def range_restored(self) -> None:
        self._request_slice(now=True)
