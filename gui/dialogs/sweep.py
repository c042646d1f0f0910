"""The learning-rate sweep of a training tab: its setup trained from its start once per rate, off the GUI thread.

Training ▸ Learning-rate sweep… (:class:`SweepMenu`) opens a :class:`SweepDialog` for the tab shown. It is a
non-modal dialog, one per tab and kept while the window lives, rather than a dock: the sweep is a question asked
now and then, and its plot needs room that the tabs' plots cannot spare; as a window of its own it stands beside
the tab it came from, the user tries a rate there (a click on a point sets it) and comes back to the results.

The flow:

1. Start reads the tab's setup (:class:`SweepSetup`: its data set, settings and start point, copied) and the
   range of rates the user set (:func:`~fitscope.engine.sweep.log_rates`: a bad range is one line in the
   dialog, and Start stays disabled);
2. a :class:`SweepWorker`, in a QThread started for this sweep, builds the experiment and the engine's
   :class:`~fitscope.engine.sweep.Sweep` and runs it: it reports the plan (:class:`SweepPlan`: the rates, the
   stability limit, the loss at the start), each rate's :class:`~fitscope.engine.sweep.RateResult` as its run
   ends, and the progress; between epochs it gives the GUI thread its way (:mod:`fitscope.gui.activity`);
3. the dialog draws what has come, at most ~30 times a second (:class:`SweepPlot`); Cancel, or closing the
   dialog or the window, asks the sweep to stop after the batch under way, keeps the results so far, and
   waits for the thread to end.

Threading rules (DESIGN.md): the worker's signals reach only ``@Slot`` methods of the dialog; what they carry
is frozen (the results are frozen dataclasses of floats, the plan's rates a read-only copy).
"""

from __future__ import annotations

import html
import math
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QPointF, Qt, QThread, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from fitscope.engine.curvature import Curvature
from fitscope.engine.data import BUILTIN, Dataset
from fitscope.engine.experiment import Experiment
from fitscope.engine.export import ExportError, write_csv
from fitscope.engine.run import FitRun
from fitscope.engine.settings import EPOCHS_MAX, LEARNING_RATE_RANGE, FitSettings, n_train_rows
from fitscope.engine.sweep import NUM_RATES, SWEEP_HEADER, RateResult, Sweep, log_rates
from fitscope.gui import prefs
from fitscope.gui.activity import beat_while_running, give_way, hold_until_painted, install
from fitscope.gui.panels.axes import LogAxis, compact
from fitscope.gui.panels.plotting import OutsideLegend, quiet_plot
from fitscope.gui.views.base import TrainingView
from fitscope.gui.views.controls import OPTIMIZER_NAMES
from fitscope.gui.views.notices import MessageLabel

#: How many rates the dialog offers to start with.
DEFAULT_NUM = 30
#: Seconds between two progress reports of the worker (the bar moves ~25 times a second at most).
PROGRESS_SECONDS = 0.04
#: Milliseconds between two frames of the plot while results come in.
FRAME_MS = 33
#: Milliseconds between two looks at the tab's setup while the dialog is shown (its rate, its data, its start).
FOLLOW_MS = 300
#: The stability limit is computed for the default range only over at most this many rows (in the GUI thread).
LIMIT_ROWS = 200_000
#: A click chooses the nearest point within this many pixels.
CLICK_PIXELS = 14

TRAIN = "#1e88e5"
VAL = "#fb8c00"
DIVERGED = "#d32f2f"
LIMIT = "#6a1b9a"
START = "#757575"
TAB_RATE = "#2e7d32"
CHOSEN = "#212121"

SWEEP_TIP = ("Train this tab's setup from its start with many learning rates, and see which converge and which "
             "diverge (Ctrl+L)")
RACE_TIP = ("The race trains four optimizers at once, each with its own rate: sweep one optimizer's rates on the "
            "Loss surface tab (the same data, loss and start)")


# --------------------------------------------------------------------------- what is swept
@dataclass(frozen=True, eq=False)
class SweepSetup:
    """A tab's setup as it was when the sweep started: its data set, settings and start point.

    ``start`` is a read-only copy of the flat parameters the tab's run started from (row 0 of its history);
    ``chosen`` says whether the user chose it (a click, typed numbers) rather than the seed's initial weights.
    """

    dataset: Dataset
    settings: FitSettings
    start: np.ndarray
    chosen: bool

    @classmethod
    def of(cls, view: TrainingView) -> SweepSetup:
        """The setup of ``view``'s model (a :class:`~fitscope.engine.run.FitRun`) now."""
        run: FitRun = view.model
        start = np.array(run.history.params[0], dtype=np.float64)
        start.flags.writeable = False
        return cls(run.dataset, run.settings, start, run.start is not None or run.settings.init is not None)

    @property
    def rows(self) -> int:
        """The training rows (the validation rows taken off)."""
        return n_train_rows(len(self.dataset.y_train), self.settings.validation_split)

    def same_as(self, other: SweepSetup | None) -> bool:
        """Whether ``other`` sweeps the same: data, settings (but the rate and the epochs) and start."""
        if other is None or other.dataset is not self.dataset or other.start.shape != self.start.shape:
            return False
        ignored = {"learning_rate": 1.0, "epochs": 1}
        return (replace(other.settings, **ignored) == replace(self.settings, **ignored)
                and np.array_equal(other.start, self.start))

    def describe(self) -> str:
        """One line: the model, loss, optimizer, batches, data and start (the rate and epochs are the sweep's)."""
        s = self.settings
        model = "linear model" if s.model == "linear" else \
            f"MLP {'-'.join(map(str, s.hidden))} {s.activation}"
        optimizer = OPTIMIZER_NAMES.get(s.optimizer, s.optimizer)
        if s.optimizer == "momentum":
            optimizer += f" {s.momentum:g}"
        n = self.rows
        batch = f"full batch of {n} rows" if s.batch_size >= n else f"batches of {s.batch_size} of {n} rows"
        data = self.dataset.name if self.dataset.source in BUILTIN else os.path.basename(self.dataset.name)
        extras = [x for x in ("normalized" if s.normalize and self.dataset.n_features > 1 else "",
                              f"validation split {s.validation_split:g}" if s.validation_split > 0 else "") if x]
        start = self.start
        if start.size == 2:
            where = f"from kernel {compact(start[0])}, bias {compact(start[1])}"
        else:
            where = "from the start point chosen on the tab" if self.chosen else \
                f"from the initial weights of seed {s.seed}"
        return (f"{data}{' (' + ', '.join(extras) + ')' if extras else ''}: {model}, {s.loss.upper()}, {optimizer}, "
                f"{batch}, {where}")


def default_range(run: FitRun) -> tuple[float, float]:
    """A range of rates for ``run``'s setup: whole decades around the stability limit ``2/λmax`` (from a hundredth
    of it to ten times it) where there is one, else from a hundredth to a hundred times the run's rate."""
    s = run.settings
    limit = None
    if s.model == "linear" and s.loss == "mse" and len(run.experiment.y) <= LIMIT_ROWS:
        limit = Curvature.from_rows(run.experiment.X).limit(s.optimizer, s.momentum)
    lo, hi = (limit / 100, limit * 10) if limit else (s.learning_rate / 100, s.learning_rate * 100)
    lo = 10.0 ** math.floor(math.log10(lo))
    hi = 10.0 ** math.ceil(math.log10(hi))
    return max(lo, LEARNING_RATE_RANGE[0]), min(hi, LEARNING_RATE_RANGE[1])


def read_range(lo_text: str, hi_text: str, num: int, epochs: int) -> np.ndarray:
    """The rates the fields ask for (:func:`~fitscope.engine.sweep.log_rates`); :class:`ValueError` with one
    line saying what is wrong."""
    values = []
    for text, which in ((lo_text, "smallest"), (hi_text, "largest")):
        try:
            values.append(float(text.strip()))
        except ValueError:
            shown = text.strip() or "nothing"
            raise ValueError(f"the {which} learning rate must be a positive number, not {shown!r}") from None
    rates = log_rates(values[0], values[1], num)
    top = LEARNING_RATE_RANGE[1]
    if rates[-1] > top:
        raise ValueError(f"the largest learning rate may be at most {top:g}, as in the tabs")
    if not 1 <= epochs <= EPOCHS_MAX:
        raise ValueError(f"the number of epochs must be from 1 to {EPOCHS_MAX:,}")
    return rates


@dataclass(frozen=True, eq=False)
class SweepPlan:
    """What the sweep knows before its first run (sent by the worker once the sweep is built).

    Attributes
    ----------
    rates : ndarray of shape (num,)
        Ascending, read-only.
    epochs : int
    limit : float or None
        The stability limit of full-batch training (a linear model with MSE and SGD or momentum).
    limit_exact : bool
        Every batch holds all the training rows: the limit is the sweep's own.
    limit_name : str
        ``2/λmax`` or ``2(1 + m)/λmax``.
    start_loss : float
    validation : bool
        The runs have a validation split.
    batch_size, rows : int
    loss : str
        The loss's name ("mse", "mae").
    """

    rates: np.ndarray
    epochs: int
    limit: float | None
    limit_exact: bool
    limit_name: str
    start_loss: float
    validation: bool
    batch_size: int
    rows: int
    loss: str

    @classmethod
    def of(cls, sweep: Sweep) -> SweepPlan:
        s = sweep.settings
        name = "2/λmax" if s.optimizer == "sgd" else f"2(1 + {s.momentum:g})/λmax"
        rates = sweep.rates.copy()
        rates.flags.writeable = False
        return cls(rates, sweep.epochs, sweep.limit, sweep.limit_exact, name, float(sweep.start_loss),
                   sweep.experiment.X_val is not None, s.batch_size, len(sweep.experiment.y), s.loss)

    @property
    def step(self) -> float:
        """The grid's step: the ratio of two neighbouring rates."""
        r = self.rates
        return float((r[-1] / r[0]) ** (1 / (len(r) - 1))) if len(r) > 1 else 1.0


def threshold(results: Sequence[RateResult]) -> tuple[float | None, float | None]:
    """``(last stable, first diverged)`` of results in ascending order of rate, as
    :meth:`~fitscope.engine.sweep.Sweep.threshold` reads them."""
    first = next((r for r in results if r.diverged), None)
    if first is None:
        return max((r.learning_rate for r in results), default=None), None
    below = [r.learning_rate for r in results if not r.diverged and r.learning_rate < first.learning_rate]
    return (max(below) if below else None), first.learning_rate


def best(results: Sequence[RateResult]) -> RateResult | None:
    """The run with the lowest final training loss among those that did not diverge."""
    finite = [r for r in results if not r.diverged and math.isfinite(r.final_loss)]
    return min(finite, key=lambda r: r.final_loss, default=None)


def caption(plan: SweepPlan | None, results: Sequence[RateResult], finished: bool) -> str:
    """One sentence: what the plot shows and, where the stability limit applies, how the measured divergence
    relates to it (plain text)."""
    if plan is None:
        return ("Start trains the tab's setup from its start once per learning rate and plots each run's final "
                "loss against the rate.")
    losses = "training and validation loss" if plan.validation else "training loss"
    text = f"The final {losses} after {plan.epochs:,} epochs at each learning rate (✕ at the top: diverged)"
    stable, first = threshold(results)
    low = best(results)
    if plan.limit is not None:
        limit = f"{plan.limit_name} = {compact(plan.limit)}"
        if not plan.limit_exact:
            found = f": here the first rate that diverged is {compact(first)}" if first is not None else ""
            return (f"{text}; with batches of {plan.batch_size} of {plan.rows} rows, {limit} (the limit of "
                    f"full-batch gradient descent) is only a reference{found}.")
        if first is None:
            if not finished:
                return f"{text}; full-batch gradient descent diverges above {limit}."
            where = "the range stays below" if plan.rates[-1] < plan.limit else "none diverged, although it passes"
            return f"{text}; {where} {limit}, above which full-batch gradient descent diverges."
        if stable is not None and stable < plan.limit <= first:
            steps = math.log(first / stable) / math.log(plan.step) if plan.step > 1 else 1
            which = "neighbouring rates of the sweep, " if steps < 1.5 else ""
            return (f"{text}; {limit} lies between {which}{compact(stable)}, the largest rate that converged, and "
                    f"{compact(first)}, the first that diverged, as full-batch gradient descent predicts.")
        side = "below" if first < plan.limit else "above"
        return f"{text}; the first rate that diverged, {compact(first)}, lies {side} {limit}."
    if first is not None:
        lowest = f", and the lowest final loss, {compact(low.final_loss)}, came at {compact(low.learning_rate)}" \
            if low is not None else ""
        return f"{text}; the first rate that diverged is {compact(first)}{lowest}."
    if finished:
        return f"{text}; none diverged: larger rates show where training breaks down."
    return f"{text}."


# --------------------------------------------------------------------------- the worker (its own thread)
class SweepJob:
    """One sweep asked for: the setup, the rates and epochs, and a cancel that works from any thread, before
    the sweep is built or while it runs."""

    def __init__(self, setup: SweepSetup, rates: np.ndarray, epochs: int) -> None:
        self.setup, self.rates, self.epochs = setup, rates, int(epochs)
        self._cancel = threading.Event()
        self._lock = threading.Lock()
        self._sweep: Sweep | None = None

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        """Stop the sweep after the batch under way (or before it starts)."""
        with self._lock:
            self._cancel.set()
            sweep = self._sweep
        if sweep is not None:
            sweep.cancel()

    def attach(self, sweep: Sweep) -> None:
        """From the worker: the sweep was built (cancelled at once if the job was)."""
        with self._lock:
            self._sweep = sweep
            if self._cancel.is_set():
                sweep.cancel()


class SweepWorker(QObject):
    """Runs one :class:`SweepJob` in the thread it was moved to (started by its thread's ``started``)."""

    planned = Signal(object, object)  # job, SweepPlan
    result = Signal(object, object)  # job, RateResult
    progressed = Signal(object, int, int)  # job, epochs done, epochs in all
    ended = Signal(object, str, str)  # job, "done" / "cancelled" / "error", one-line message

    def __init__(self, job: SweepJob) -> None:
        super().__init__()
        self.job = job

    @Slot()
    def run(self) -> None:
        job = self.job
        try:
            setup = job.setup
            sweep = Sweep(Experiment(setup.dataset, setup.settings), job.rates, epochs=job.epochs, start=setup.start)
        except MemoryError:
            self.ended.emit(job, "error", "the sweep does not fit in memory")
            return
        except Exception as e:  # noqa: BLE001 (whatever it is, the user gets one line, never a traceback)
            self.ended.emit(job, "error", " ".join(str(e).split()) or type(e).__name__)
            return
        job.attach(sweep)
        self.planned.emit(job, SweepPlan.of(sweep))
        last = [0.0]

        def progress(done: int, total: int) -> None:
            if job.cancelled:
                return
            now = time.perf_counter()
            if now - last[0] >= PROGRESS_SECONDS or done == total:
                last[0] = now
                self.progressed.emit(job, done, total)
            give_way()  # between two epochs: the GUI thread first

        try:
            for result in sweep.run(progress):
                self.result.emit(job, result)
        except MemoryError:
            self.ended.emit(job, "error", "the sweep ran out of memory")
            return
        except Exception as e:  # noqa: BLE001
            self.ended.emit(job, "error", " ".join(str(e).split()) or type(e).__name__)
            return
        self.ended.emit(job, "done" if sweep.done else "cancelled", "")


# --------------------------------------------------------------------------- the plot
class SweepPlot(QWidget):
    """Final loss against learning rate, both on log axes: the training loss (and validation loss) of each run
    that did not diverge, a cross at the top edge for each that did, the stability limit and the loss at the start
    as labelled lines, the tab's own rate as a dashed line, and the point chosen last ringed.

    ``clicked(float)``: the rate of the point nearest a click (within :data:`CLICK_PIXELS`).
    """

    clicked = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sweepPlot")
        self.setAccessibleName("Final loss against learning rate")
        self.widget = pg.PlotWidget(background="w", axisItems={"left": LogAxis("left"), "bottom": LogAxis("bottom")})
        self.plot = self.widget.getPlotItem()
        quiet_plot(self.plot)
        self.plot.setLogMode(x=True, y=True)
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        self.plot.setLabel("bottom", "learning rate")
        self.plot.setLabel("left", "final loss")
        self.plot.setMouseEnabled(x=False, y=False)  # the frame is the sweep's: crosses stay at the top edge
        self.view_box = self.plot.getViewBox()
        self.legend = OutsideLegend(self.plot)
        self.train = self.plot.plot(pen=pg.mkPen(TRAIN, width=1.5), symbol="o", symbolSize=7,
                                    symbolBrush=TRAIN, symbolPen=pg.mkPen("w", width=0.8), name="final training loss")
        self.val = self.plot.plot(pen=pg.mkPen(VAL, width=1.5), symbol="s", symbolSize=6, symbolBrush=VAL,
                                  symbolPen=pg.mkPen("w", width=0.8), name="validation loss")
        self.diverged = self.plot.plot(pen=None, symbol="x", symbolSize=11, symbolBrush=DIVERGED,
                                       symbolPen=pg.mkPen(DIVERGED, width=1.2), name="diverged")
        self.chosen = self.plot.plot(pen=None, symbol="o", symbolSize=15, symbolBrush=None,
                                     symbolPen=pg.mkPen(CHOSEN, width=2))
        for item in (self.train, self.val, self.diverged):  # the legend draws the symbols before any data
            scatter, opts = item.scatter, item.opts
            scatter.setSymbol(opts["symbol"])
            scatter.setSize(opts["symbolSize"])
            scatter.setPen(pg.mkPen(opts["symbolPen"]))
            scatter.setBrush(pg.mkBrush(opts["symbolBrush"]))
        self.limit = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(LIMIT, width=1.5),
                                     label="", labelOpts={"position": 0.45, "color": LIMIT,
                                                          "anchors": [(-0.05, 0.5), (-0.05, 0.5)]})
        self.start_line = pg.InfiniteLine(angle=0, movable=False,
                                          pen=pg.mkPen(START, width=1.2, style=Qt.PenStyle.DotLine),
                                          label="", labelOpts={"position": 0.03, "color": "#555",
                                                               "anchors": [(0, 1), (0, 1)]})
        tab_pen = pg.mkPen(TAB_RATE, width=1.2, style=Qt.PenStyle.DashLine)
        self.tab_rate = pg.InfiniteLine(angle=90, movable=False, pen=tab_pen)
        for line in (self.limit, self.start_line, self.tab_rate):
            line.hide()
            self.plot.addItem(line)
        self.legend.removeItem(self.val)
        self.tab_rate_key = pg.PlotDataItem(pen=tab_pen)  # the line's entry in the legend (it draws nothing)
        self.legend.addItem(self.tab_rate_key, "the tab's learning rate")
        self.plot.scene().sigMouseClicked.connect(self._on_mouse_clicked)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.widget)
        self._points: list[tuple[float, float]] = []  # (rate, loss as drawn) of every point a click may choose
        self._plan_drawn: SweepPlan | None | bool = False  # the plan whose lines are drawn (False: none yet)
        self._y_range: tuple[float, float] | None = None
        self._span = (-4.0, 0.0)
        self.set_span(1e-4, 1.0)

    # --- what is drawn ---
    def set_span(self, lo: float, hi: float) -> None:
        """The rates' axis from ``lo`` to ``hi`` (a little margin on both sides)."""
        a, b = math.log10(lo), math.log10(hi)
        pad = 0.03 * max(b - a, 1e-6)
        self._span = (a - pad, b + pad)
        self.view_box.setXRange(*self._span, padding=0)

    def show_results(self, plan: SweepPlan | None, results: Sequence[RateResult]) -> None:
        """Draw ``results`` (ascending by rate) of ``plan``; nothing but the frame without a plan. Only what
        changed is drawn again (the lines of a plan, the loss axis's range): a frame costs little while the
        sweep goes on."""
        if plan is not self._plan_drawn:
            self._plan_drawn = plan
            self._show_plan(plan)
        ok = [r for r in results if not r.diverged and r.final_loss > 0 and math.isfinite(r.final_loss)]
        train = [(r.learning_rate, r.final_loss) for r in ok]
        val = [(r.learning_rate, r.val_loss) for r in ok
               if r.val_loss is not None and math.isfinite(r.val_loss) and r.val_loss > 0]
        shown = [y for _, y in train + val]
        if plan is not None and plan.start_loss > 0 and math.isfinite(plan.start_loss):
            shown.append(plan.start_loss)
        lo, hi = (math.log10(min(shown)), math.log10(max(shown))) if shown else (-1.0, 1.0)
        span = max(hi - lo, 1.0)
        top = hi + 0.12 * span  # the diverged runs' crosses, along the top edge
        y_range = (lo - 0.08 * span, hi + 0.18 * span)
        if y_range != self._y_range:
            self._y_range = y_range
            self.view_box.setYRange(*y_range, padding=0)
        self.plot.getAxis("left").set_blank(not shown)
        crosses = [(r.learning_rate, 10.0**top) for r in results if r.diverged]
        self._set(self.train, train)
        self._set(self.val, val)
        self._set(self.diverged, crosses)
        self._points = train + val + crosses

    def _show_plan(self, plan: SweepPlan | None) -> None:
        """What a plan decides: the loss's name, the validation curve, the limit and the loss at the start."""
        self.plot.setLabel("left", "final loss" if plan is None else f"final loss ({plan.loss.upper()})")
        validation = plan is not None and plan.validation
        if validation != ("validation loss" in self.legend.names()):
            if validation:
                for item in (self.diverged, self.tab_rate_key):
                    self.legend.removeItem(item)
                self.legend.addItem(self.val, "validation loss")
                self.legend.addItem(self.diverged, "diverged")
                self.legend.addItem(self.tab_rate_key, "the tab's learning rate")
            else:
                self.legend.removeItem(self.val)
        self.val.setVisible(validation)
        if plan is not None and plan.limit is not None:
            self.limit.setPos(math.log10(plan.limit))
            style = Qt.PenStyle.SolidLine if plan.limit_exact else Qt.PenStyle.DashDotLine  # a reference only
            self.limit.setPen(pg.mkPen(LIMIT, width=1.5, style=style))
            self.limit.show()  # before the text: a hidden label ignores a new format
            self.limit.label.setFormat(f"{plan.limit_name} = {compact(plan.limit)}")
        else:
            self.limit.hide()
        if plan is not None and plan.start_loss > 0 and math.isfinite(plan.start_loss):
            self.start_line.setPos(math.log10(plan.start_loss))
            self.start_line.show()
            self.start_line.label.setFormat(f"loss at the start {compact(plan.start_loss)}")
        else:
            self.start_line.hide()

    def show_tab_rate(self, rate: float | None) -> None:
        """The rate the tab trains with now, as a dashed line (None: no line)."""
        if rate is None or not rate > 0:
            self.tab_rate.hide()
            return
        self.tab_rate.setPos(math.log10(rate))
        self.tab_rate.show()

    def show_chosen(self, rate: float | None) -> None:
        """Ring the point drawn at ``rate`` (its training loss, or its cross); None: no ring."""
        at = [(x, y) for x, y in self._points if rate is not None and x == rate]
        self._set(self.chosen, at[:1])

    @staticmethod
    def _set(item: pg.PlotDataItem, points: Sequence[tuple[float, float]]) -> None:
        if points:
            x, y = zip(*points, strict=True)
            item.setData(np.array(x, dtype=float), np.array(y, dtype=float))
        else:
            item.setData([], [])

    # --- what is drawn, read back (tests, and the CSV's check) ---
    def training_points(self) -> tuple[np.ndarray, np.ndarray]:
        """The (rate, final training loss) points drawn, in data units."""
        return self._data(self.train)

    def validation_points(self) -> tuple[np.ndarray, np.ndarray]:
        return self._data(self.val)

    def diverged_points(self) -> tuple[np.ndarray, np.ndarray]:
        """The crosses: (rate, the loss at the top edge they are drawn at)."""
        return self._data(self.diverged)

    def limit_drawn(self) -> float | None:
        """The rate the stability limit's line is drawn at (None if it is not)."""
        return 10.0 ** float(self.limit.value()) if self.limit.isVisible() else None

    def y_range(self) -> tuple[float, float]:
        """The loss axis's range, in data units."""
        lo, hi = self.view_box.viewRange()[1]
        return 10.0**lo, 10.0**hi

    @staticmethod
    def _data(item: pg.PlotDataItem) -> tuple[np.ndarray, np.ndarray]:
        x, y = item.getOriginalDataset()
        return (np.array([]), np.array([])) if x is None else (np.asarray(x, float), np.asarray(y, float))

    def widget_pos_of(self, rate: float, loss: float):
        """Where the point (``rate``, ``loss``) is drawn, in pixels of the plot widget's viewport."""
        scene = self.view_box.mapViewToScene(QPointF(math.log10(rate), math.log10(loss)))
        return self.widget.mapFromScene(scene)

    # --- clicks ---
    def _on_mouse_clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or not self._points:
            return
        pos = event.scenePos()
        if not self.view_box.sceneBoundingRect().adjusted(-20, -20, 20, 20).contains(pos):
            return
        nearest, distance = None, float(CLICK_PIXELS)
        for rate, loss in self._points:
            p = self.view_box.mapViewToScene(QPointF(math.log10(rate), math.log10(loss)))
            d = math.hypot(p.x() - pos.x(), p.y() - pos.y())
            if d <= distance:
                nearest, distance = rate, d
        if nearest is not None:
            event.accept()
            self.clicked.emit(nearest)


# --------------------------------------------------------------------------- the dialog
class SweepDialog(QDialog):
    """The sweep of one training tab (see the module's docstring).

    ``sweepEnded(str)``: a sweep ended ("done", "cancelled" or "error"), its results drawn.
    """

    sweepEnded = Signal(str)

    def __init__(self, view: TrainingView) -> None:
        super().__init__(view.window())  # the window's, not the tab's: its plot is not one of the tab's plots
        self.view = view
        self.setObjectName("sweepDialog")
        self.setModal(False)
        self.plan: SweepPlan | None = None
        self.results: list[RateResult] = []
        self.setup: SweepSetup | None = None  # the setup of the results shown
        self.ended_why = ""  # how the last sweep ended ("" while one runs, or before any)
        self._job: SweepJob | None = None
        self._thread: QThread | None = None
        self._worker: SweepWorker | None = None
        self._beating = False
        self._edited = False  # the user typed a range: it no longer follows the tab's setup
        self._followed: tuple | None = None
        self._chosen: float | None = None
        self._closed_while_running = False
        self._frame = QTimer(self, singleShot=True, interval=FRAME_MS)
        self._frame.timeout.connect(self.redraw)
        self._follow = QTimer(self, interval=FOLLOW_MS)
        self._follow.timeout.connect(self.follow_tab)
        self._build_ui()
        self.follow_tab()
        self.check_range()
        self.redraw()
        self.resize(820, 660)

    # ------------------------------------------------------------------ UI
    def _build_ui(self) -> None:
        self.setup_label = QLabel()
        self.setup_label.setObjectName("sweepSetup")
        self.setup_label.setAccessibleName("What is swept")
        self.setup_label.setWordWrap(True)

        self.lr_min = self._rate_field("sweepMin", "Smallest learning rate")
        self.lr_max = self._rate_field("sweepMax", "Largest learning rate")
        self.num = QSpinBox()
        self.num.setObjectName("sweepNum")
        self.num.setAccessibleName("Number of learning rates")
        self.num.setToolTip(f"How many learning rates, log-spaced over the range ({NUM_RATES[0]} to {NUM_RATES[1]})")
        self.num.setRange(1, 999)  # a number outside 20–60 gets its message, rather than being changed silently
        self.num.setValue(DEFAULT_NUM)
        self.epochs = QSpinBox()
        self.epochs.setObjectName("sweepEpochs")
        self.epochs.setAccessibleName("Epochs per rate")
        self.epochs.setToolTip("Every rate trains for this many epochs (from the tab's start)")
        self.epochs.setRange(1, EPOCHS_MAX)
        self.epochs.setGroupSeparatorShown(True)
        for box in (self.num, self.epochs):
            box.valueChanged.connect(self._on_edited)
        self.start_button = QPushButton("&Start")
        self.start_button.setObjectName("sweepStart")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("&Cancel")
        self.cancel_button.setObjectName("sweepCancel")
        self.cancel_button.setToolTip("Stop after the batch under way; the rates done so far stay")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.setEnabled(False)

        row = QHBoxLayout()
        row.setSpacing(6)
        for widget in (QLabel("Learning rates from"), self.lr_min, QLabel("to"), self.lr_max, QLabel("·"),
                       self.num, QLabel("rates ·"), self.epochs, QLabel("epochs each")):
            row.addWidget(widget)
        row.addStretch(1)
        row.addWidget(self.start_button)
        row.addWidget(self.cancel_button)

        self.message = MessageLabel()  # styled as the tabs' messages
        self.message.setAccessibleName("Sweep message")
        self.progress = QProgressBar()
        self.progress.setObjectName("sweepProgress")
        self.progress.setAccessibleName("Sweep progress")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.progress.setFormat("No sweep yet")

        self.plot = SweepPlot()
        self.plot.clicked.connect(self.train_with)
        self.caption = QLabel()
        self.caption.setObjectName("sweepCaption")
        self.caption.setAccessibleName("What the plot shows")
        self.caption.setWordWrap(True)
        self.chosen_label = QLabel("Click a point to train the tab with its learning rate.")
        self.chosen_label.setObjectName("sweepChosen")
        self.chosen_label.setAccessibleName("Rate chosen")
        self.chosen_label.setWordWrap(True)
        self.chosen_label.setStyleSheet("color: #555;")

        self.best_button = QPushButton("Train with the &best rate")
        self.best_button.setObjectName("sweepBest")
        self.best_button.setToolTip("Set the tab's learning rate to the one with the lowest final training loss")
        self.best_button.clicked.connect(self.train_with_best)
        self.export_button = QPushButton("&Export CSV…")
        self.export_button.setObjectName("sweepExport")
        self.export_button.setToolTip("Save learning_rate,final_loss,val_loss,diverged, one row per rate (as "
                                      "fitscope sweep --csv)")
        self.export_button.clicked.connect(self.ask_and_export)
        close = QPushButton("Close")
        close.setObjectName("sweepClose")
        close.setAutoDefault(False)
        close.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.best_button)
        buttons.addWidget(self.export_button)
        buttons.addStretch(1)
        buttons.addWidget(close)

        layout = QVBoxLayout(self)
        layout.setSpacing(6)
        layout.addWidget(self.setup_label)
        layout.addLayout(row)
        layout.addWidget(self.message)
        layout.addWidget(self.progress)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.caption)
        layout.addWidget(self.chosen_label)
        layout.addLayout(buttons)

    def _rate_field(self, name: str, accessible: str) -> QLineEdit:
        field = QLineEdit()
        field.setObjectName(name)
        field.setAccessibleName(accessible)
        field.setToolTip("A positive number: 0.001, 1e-3, …")
        field.setMaximumWidth(90)
        field.textEdited.connect(self._on_edited)
        field.textChanged.connect(self.check_range)
        return field

    # ------------------------------------------------------------------ the tab
    @property
    def run(self) -> FitRun:
        return self.view.model

    def follow_tab(self) -> None:
        """Follow the tab: what Start would sweep, its rate, and (until the user types one) a range for it."""
        run = self.run
        key = (id(run), run.settings, id(run.history))  # a new history: a new start
        if key == self._followed:
            return
        self._followed = key
        self.setWindowTitle(f"Learning-rate sweep — {self.view.title}")
        setup = SweepSetup.of(self.view)
        text = f"<b>{html.escape(self.view.title)}</b> tab — {html.escape(setup.describe())}"
        if self.results and not setup.same_as(self.setup):
            text += ("<br><i>The plot shows a sweep of the tab's setup before it changed: Start sweeps the setup "
                     "above.</i>")
        self.setup_label.setText(text)
        self.plot.show_tab_rate(run.settings.learning_rate)
        if not self._edited:
            lo, hi = default_range(run)
            for field, value in ((self.lr_min, lo), (self.lr_max, hi)):
                field.setText(f"{value:g}")
            epochs = self.epochs.blockSignals(True)
            self.epochs.setValue(max(1, run.settings.epochs))
            self.epochs.blockSignals(epochs)
            if self.plan is None:
                self.plot.set_span(lo, hi)

    def _on_edited(self, *_) -> None:
        self._edited = True
        self.check_range()

    # ------------------------------------------------------------------ input
    def rates(self) -> np.ndarray:
        """The rates the fields ask for (:class:`ValueError`: one line)."""
        return read_range(self.lr_min.text(), self.lr_max.text(), self.num.value(), self.epochs.value())

    def check_range(self) -> bool:
        """Say what is wrong with the range, if anything; Start is enabled only for a good one (and no sweep
        running). True if it is good."""
        try:
            self.rates()
        except ValueError as e:
            text = str(e).rstrip(".")
            self.message.say(text[:1].upper() + text[1:] + ".")
            self.start_button.setEnabled(False)
            return False
        if self.message.property("kind") == "error":
            self.message.forget()
            self.message.show_state("")
        self.start_button.setEnabled(not self.running)
        return True

    # ------------------------------------------------------------------ running
    @property
    def running(self) -> bool:
        """A sweep is under way (its thread runs)."""
        return self._thread is not None

    def start(self) -> None:
        """Sweep the tab's setup now over the range in the fields (nothing happens while one runs, or for a bad
        range: its message is shown)."""
        if self.running or not self.check_range():
            return
        rates = self.rates()
        self._job = job = SweepJob(SweepSetup.of(self.view), rates, self.epochs.value())
        self._closed_while_running = False
        self.message.forget()
        self.message.show_state("")
        install()  # the GUI thread gets the interpreter whenever it asks; garbage is collected here only
        self._thread = QThread()
        self._thread.setObjectName("sweepThread")
        self._worker = SweepWorker(job)
        self._worker.moveToThread(self._thread)
        self._worker.planned.connect(self._on_planned)
        self._worker.result.connect(self._on_result)
        self._worker.progressed.connect(self._on_progress)
        self._worker.ended.connect(self._on_ended)
        self._thread.started.connect(self._worker.run)
        self.progress.setRange(0, len(rates) * job.epochs)
        self.progress.setValue(0)
        self.progress.setFormat(f"Starting {len(rates)} rates…")
        self._set_running(True)
        self._thread.start()
        self.redraw()

    def cancel(self) -> None:
        """Stop the sweep after the batch under way; the rates done so far stay."""
        if self._job is not None:
            self._job.cancel()
        self.cancel_button.setEnabled(False)

    def stop(self) -> None:
        """Cancel and wait for the thread to end (bounded: one batch, and at most a short wait for the GUI
        thread that :func:`~fitscope.gui.activity.give_way` would have made)."""
        if self._job is not None:
            self._job.cancel()
        self._finish_thread()

    def _finish_thread(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.quit()
            thread.wait()
            self._worker = None
        if self._beating:
            self._beating = False
            beat_while_running(False)
        self._set_running(False)

    def _set_running(self, running: bool) -> None:
        if running and not self._beating:
            self._beating = True
            beat_while_running(True)  # a heartbeat: the worker waits while the GUI thread falls behind
        self.cancel_button.setEnabled(running)
        for widget in (self.lr_min, self.lr_max, self.num, self.epochs):
            widget.setEnabled(not running)
        self.check_range()

    @Slot(object, object)
    def _on_planned(self, job: SweepJob, plan: SweepPlan) -> None:
        """The sweep is built: the results shown so far (of an earlier sweep) give way to its own."""
        if job is not self._job:
            return
        self.plan, self.setup, self.results, self._chosen, self.ended_why = plan, job.setup, [], None, ""
        self.plot.set_span(plan.rates[0], plan.rates[-1])
        self.chosen_label.setText("Click a point to train the tab with its learning rate.")
        self._followed = None  # the setup line no longer says the plot is of an earlier setup
        self.follow_tab()
        self.request_frame()

    @Slot(object, object)
    def _on_result(self, job: SweepJob, result: RateResult) -> None:
        if job is self._job:
            self.results.append(result)
            self.request_frame()

    @Slot(object, int, int)
    def _on_progress(self, job: SweepJob, done: int, total: int) -> None:
        if job is self._job and self.running:
            self.progress.setValue(done)
            self.progress.setFormat(f"{len(self.results)} of {len(job.rates)} rates")

    @Slot(object, str, str)
    def _on_ended(self, job: SweepJob, why: str, message: str) -> None:
        if job is not self._job:
            return
        self._finish_thread()
        planned = self.setup is job.setup  # the results shown are this sweep's (else still the last one's)
        if planned:
            self.ended_why = why
        n, done = len(job.rates), len(self.results) if planned else 0
        self.progress.setValue(done * job.epochs if why != "done" else self.progress.maximum())
        when = "when the dialog was closed, " if self._closed_while_running else ""
        if why == "done":
            self.progress.setFormat(f"{n} of {n} rates")
        elif why == "cancelled" and planned:
            self.progress.setFormat(f"Stopped after {done} of {n} rates")
            self.message.say(f"Stopped {when}after {done} of {n} rates: their results stay. Start sweeps again.",
                             note=True)
        elif why == "cancelled":
            self.progress.setFormat("Stopped before the first rate")
            shown = ": the plot still shows the last sweep" if self.results else ""
            self.message.say(f"Stopped {when}before the first rate{shown}. Start sweeps again.", note=True)
        else:
            self.progress.setFormat("Failed")
            text = message.rstrip(".")
            self.message.say(f"The sweep could not run: {text}.")
        self.redraw()
        self.sweepEnded.emit(why)

    # ------------------------------------------------------------------ drawing
    def request_frame(self) -> None:
        if not self._frame.isActive():
            self._frame.start()

    def redraw(self) -> None:
        """Draw the results so far, the caption and the buttons' state."""
        self._frame.stop()
        hold_until_painted()  # the worker waits while this is drawn
        self.plot.show_results(self.plan, self.results)
        self.plot.show_chosen(self._chosen)
        finished = self.ended_why == "done"
        self.caption.setText(caption(self.plan, self.results, finished))
        self.export_button.setEnabled(bool(self.results))
        self.best_button.setEnabled(best(self.results) is not None)

    # ------------------------------------------------------------------ choosing a rate
    def train_with(self, rate: float) -> None:
        """Set the tab's learning rate to ``rate`` (as the tab's own field would: a refused rate is said in the
        tab), and ring its point."""
        self._chosen = rate
        self.view.change(learning_rate=float(rate))
        applied = self.run.settings.learning_rate == float(rate)
        result = next((r for r in self.results if r.learning_rate == rate), None)
        what = ""
        if result is not None:
            what = " (it diverged in the sweep)" if result.diverged else \
                f" (final loss {compact(result.final_loss)} in the sweep)"
        if applied:
            self.chosen_label.setText(f"The {self.view.title} tab now trains with learning rate {compact(rate, 4)}"
                                      f"{what}, from its next batch.")
        else:
            self.chosen_label.setText(f"The {self.view.title} tab did not take learning rate {compact(rate, 4)}: "
                                      "its message says why.")
        self.plot.show_tab_rate(self.run.settings.learning_rate)
        self.plot.show_chosen(rate)

    def train_with_best(self) -> None:
        """Set the tab's learning rate to the one with the lowest final training loss."""
        low = best(self.results)
        if low is not None:
            self.train_with(low.learning_rate)

    # ------------------------------------------------------------------ the CSV
    def csv_rows(self) -> list[list[str]]:
        """The rows of ``learning_rate,final_loss,val_loss,diverged`` for the results so far (ascending)."""
        return [r.csv_row() for r in self.results]

    def export_csv(self, path: str | os.PathLike[str]) -> None:
        """Write the results as ``fitscope sweep --csv`` does (:class:`ExportError`: one line)."""
        setup = self.setup
        inputs = [] if setup is None or setup.dataset.source in BUILTIN else [setup.dataset.source]
        write_csv(path, SWEEP_HEADER, self.csv_rows(), inputs=inputs)

    def ask_and_export(self) -> str | None:
        """A Save dialog, then the CSV; the path written, or None."""
        if not self.results:
            return None
        stem = f"{(self.setup.dataset.name if self.setup else 'fitscope').rsplit('.', 1)[0]}-sweep"
        path, _ = QFileDialog.getSaveFileName(self, "Export the sweep as CSV", prefs.suggested_path(f"{stem}.csv"),
                                              "CSV file (*.csv);;All files (*)")
        if not path:
            return None
        prefs.remember_folder(path)
        if not os.path.splitext(path)[1]:
            path += ".csv"
        try:
            self.export_csv(path)
        except (ExportError, OSError) as e:
            text = " ".join(str(e).split()).rstrip(".")
            QMessageBox.warning(self, "Export", text[:1].upper() + text[1:] + ".")
            return None
        return path

    # ------------------------------------------------------------------ showing and closing
    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        self.follow_tab()
        self._follow.start()

    def hideEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().hideEvent(event)
        if not event.spontaneous():
            self._follow.stop()

    def done(self, result: int) -> None:
        """Closing (Close, Escape, the window's button) stops a sweep under way; its results stay."""
        if self.running:
            self._closed_while_running = True  # the end, when it arrives, says so
            self.stop()
        super().done(result)

    def shutdown(self) -> None:
        """Stop any sweep and its thread (the window closes)."""
        self._follow.stop()
        self._frame.stop()
        self.stop()


# --------------------------------------------------------------------------- the menu
class SweepMenu(QObject):
    """Training ▸ Learning-rate sweep… for the tab shown: one :class:`SweepDialog` per training tab that trains
    one model, made when first asked for; disabled, with a tooltip saying why, on the optimizer race."""

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self.action = QAction("Learning-rate s&weep…", window)
        self.action.setObjectName("sweepAction")
        self.action.setShortcut(QKeySequence("Ctrl+L"))
        self.action.setToolTip(f"<p>{html.escape(SWEEP_TIP)}</p>")
        self.action.setStatusTip(SWEEP_TIP)
        self.action.triggered.connect(self.open)
        self.view: QWidget | None = None
        self.dialogs: dict[int, SweepDialog] = {}

    def add_to(self, menu: QMenu, view: QWidget) -> None:
        """Add the action to ``menu`` (the Training menu, just filled for ``view``) if ``view`` is a training
        tab; enabled for a tab that trains one model."""
        self.view = view
        if not isinstance(view, TrainingView):
            return
        menu.setToolTipsVisible(True)
        menu.addSeparator()
        menu.addAction(self.action)
        ok = isinstance(view.model, FitRun)
        self.action.setEnabled(ok)
        tip = SWEEP_TIP if ok else RACE_TIP
        self.action.setToolTip(f"<p>{html.escape(tip)}</p>")  # rich text: wrapped to a readable width
        self.action.setStatusTip(tip)

    def dialog_for(self, view: TrainingView) -> SweepDialog:
        """The sweep dialog of ``view`` (made on first use)."""
        dialog = self.dialogs.get(id(view))
        if dialog is None:
            dialog = self.dialogs[id(view)] = SweepDialog(view)
        return dialog

    def open(self) -> SweepDialog | None:
        """Show (and raise) the sweep dialog of the tab shown; None where there is none."""
        view = self.view
        if not isinstance(view, TrainingView) or not isinstance(view.model, FitRun):
            return None
        dialog = self.dialog_for(view)
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()
        return dialog

    def shutdown(self) -> None:
        """Stop every dialog's sweep (safe to call more than once)."""
        for dialog in self.dialogs.values():
            if isValid(dialog):  # (the window may have been torn down already)
                dialog.shutdown()
