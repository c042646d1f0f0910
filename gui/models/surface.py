"""The loss-surface tab's model: a one-feature linear run, started from a (kernel, bias) on the map.

On top of :class:`~fitscope.engine.run.FitRun`: the start as a point of the map (``settings.init``), a
start drawn as TensorFlow.js draws one, the loss over a grid of (kernel, bias) and its optimum, the training
loss readout (cheap even on a million rows), the example the backpropagation tab follows, and the numbers
the texts of the five phases quote.
"""

from __future__ import annotations

import html
import math
import time
from dataclasses import dataclass, replace

import numpy as np

from fitscope import resources
from fitscope.engine.data import Dataset
from fitscope.engine.models import Linear
from fitscope.engine.numbers import prose, short_exponent
from fitscope.engine.run import NEW_RUN, FitRun
from fitscope.engine.settings import SEED_MAX, FitSettings
from fitscope.engine.surface import default_window, linear_slice
from fitscope.engine.trainer import Phase
from fitscope.gui.models.surface_texts import claims

#: With more training rows than this, the MAE surface (which has no closed form) is computed over a fixed
#: random sample of this many rows, and the plot says so; 200 × 200 points × 1,000 rows ≈ 0.1 s.
MAE_SURFACE_ROWS = 1000
#: Up to this many points the MAE optimum is found exactly, by trying the line through every pair.
LAD_EXACT_ROWS = 300
#: With more training rows than this, the MAE training-loss readout (one pass over the rows) is refreshed at
#: most every LOSS_READOUT_S seconds while training runs.
EXACT_LOSS_ROWS = 20_000
LOSS_READOUT_S = 0.25
LOSS_NAMES = {"mse": "MSE (mean squared error)", "mae": "MAE (mean absolute error)"}
#: The optimizers' names in the texts.
OPTIMIZER_NAMES = {"sgd": "SGD", "momentum": "Momentum", "rmsprop": "RMSProp", "adam": "Adam"}
#: Significant digits of the new kernel and bias in the update's text (more if the step would not show).
UPDATE_DIGITS = 5


def fmt(v: float | None, digits: int = 5) -> str:
    """A number for the texts and readouts: ``digits`` significant digits, "–" for none or non-finite."""
    return "–" if v is None or not math.isfinite(v) else prose(v, digits)


def num(v: float, digits: int) -> str:
    """A number written out in an update's text: at most ``digits`` significant digits (fewer when they say
    it exactly), a short exponent (``1e-7``), "–" if it is not finite."""
    v = float(v)
    if not math.isfinite(v):
        return "–"
    s = repr(v) if len(repr(v).lstrip("-").replace(".", "").lstrip("0")) <= digits else f"{v:.{digits}g}"
    return short_exponent(s).removesuffix(".0")


def operand(v: float, digits: int) -> str:
    """:func:`num` written after an operator: a negative number in parentheses."""
    s = num(v, digits)
    return f"({s})" if s.startswith("-") else s


def _value(text: str) -> float:
    """The number a text of :func:`num` or :func:`operand` says."""
    return float(text.strip("()")) if text != "–" else math.nan


def recompute(optimizer: str, v: dict[str, str], w: str) -> float:
    """The new value of weight ``w`` (``"k"`` or ``"b"``) as a student would recompute it from the numbers an
    update's text prints (``v``: its placeholders' values), with ``optimizer``'s rule."""
    x = {key: _value(text) for key, text in v.items() if key not in ("optimizer", "t")}
    old, lr = x[f"{w}_old"], x["lr"]
    with np.errstate(all="ignore"):
        if optimizer == "sgd":
            return old - lr * x[f"{w}_g"]
        if optimizer == "momentum":
            return old - lr * x[f"{w}_vel"]
        if optimizer == "rmsprop":
            return old - lr * x[f"{w}_g"] / math.sqrt(x[f"{w}_ms"] + x["eps"])
        if optimizer == "adam":
            t = int(v["t"])
            m_hat = x[f"{w}_m"] / (1 - x["beta1"] ** t)
            v_hat = x[f"{w}_v"] / (1 - x["beta2"] ** t)
            return old - lr * m_hat / (math.sqrt(v_hat) + x["eps"])
    raise ValueError(f"no rule for {optimizer!r}")


def update_values(optimizer, step) -> tuple[str, dict[str, str]]:
    """The placeholders of the update's text for ``step`` (an ``UPDATE`` report) made by ``optimizer`` (the
    trainer's, read after the step while nobody trains): the key of the template (``update sgd`` …, or
    ``update unknown`` if the optimizer's state is not the one this step left: changed, reset or another
    one) and its values, with just enough digits that the new kernel and bias recomputed from the printed
    numbers come out as printed."""
    name = getattr(optimizer, "name", "")
    before, after, gradient = step.params_before, step.params_after, step.gradient
    values: dict[str, str] = {"optimizer": OPTIMIZER_NAMES.get(name, name)}
    terms = None
    if name in OPTIMIZER_NAMES and not (name == "rmsprop" and optimizer.momentum != 0):
        try:
            terms = optimizer.last_update(before, gradient, learning_rate=step.learning_rate)
        except (AttributeError, KeyError, TypeError, ValueError):  # a state being replaced meanwhile
            terms = None
    if terms is None or np.shape(terms["after"]) != np.shape(after) or not np.allclose(
            terms["after"], after, rtol=1e-12, atol=0):
        for w, i in (("k", 0), ("b", 1)):
            values[f"{w}_old"], values[f"{w}_new"] = fmt(before[i], 7), fmt(after[i], 7)
        return "update unknown", values
    config = optimizer.config()
    out = {}
    for w, i in (("k", 0), ("b", 1)):  # the new value's digits: enough to show the change
        out[w] = UPDATE_DIGITS
        while out[w] < 10 and num(before[i], out[w]) == num(after[i], out[w]) and before[i] != after[i]:
            out[w] += 1
        values[f"{w}_new"] = num(after[i], out[w])
    for digits in range(max(out.values()) + 1, 18):  # the printed numbers' digits: enough to recompute
        values.update(lr=num(step.learning_rate, digits), t=str(terms["t"]))
        for key, short in (("momentum", "mu"), ("rho", "rho"), ("beta1", "beta1"), ("beta2", "beta2"),
                           ("epsilon", "eps")):
            if key in config:
                values[short] = num(config[key], digits)
                if key in ("rho", "beta1", "beta2"):
                    values[f"{short}_c"] = num(1 - config[key], digits)
        for w, i in (("k", 0), ("b", 1)):
            values[f"{w}_old"], values[f"{w}_g"] = num(before[i], digits), operand(gradient[i], digits)
            for term, short in (("velocity", "vel"), ("ms", "ms"), ("m", "m"), ("v", "v")):
                if term in terms:
                    values[f"{w}_{short}_old"] = operand(terms[f"{term}_before"][i], digits)
                    values[f"{w}_{short}"] = operand(terms[term][i], digits)
        if all(num(recompute(name, values, w), out[w]) == values[f"{w}_new"] for w in out):
            break
    return f"update {name}", values


def drawn_init(seed: int) -> tuple[float, float]:
    """(kernel, bias) as tfjs initialises a 1→1 dense layer from ``seed``: Glorot uniform, zero bias."""
    model = Linear(1, seed=seed)
    return float(model.kernel[0, 0]), float(model.bias[0])


def lad_line(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """The (kernel, bias) of the line with the least mean absolute error through the points (x, y).

    Such a line passes through two of the points (the loss is piecewise linear and convex): up to
    :data:`LAD_EXACT_ROWS` points every pair is tried; beyond, iteratively reweighted least squares (weights
    1/|residual|) from the least squares line, which converges to it. A vertical spread (all x equal) gives the
    horizontal line through the median."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(x) == 0:
        return 0.0, 0.0
    if np.ptp(x) == 0:
        return 0.0, float(np.median(y))
    if len(x) <= LAD_EXACT_ROWS:
        i, j = np.triu_indices(len(x), 1)
        keep = x[i] != x[j]
        i, j = i[keep], j[keep]
        k = (y[j] - y[i]) / (x[j] - x[i])
        b = y[i] - k * x[i]
        best, loss = 0, np.inf
        for lo in range(0, len(k), 4096):  # in chunks: pairs × points
            mae = np.abs(y[None, :] - (k[lo : lo + 4096, None] * x[None, :] + b[lo : lo + 4096, None])).mean(axis=1)
            m = int(np.argmin(mae))
            if mae[m] < loss:
                best, loss = lo + m, float(mae[m])
        return float(k[best]), float(b[best])
    A = np.column_stack([x, np.ones_like(x)])
    theta = np.linalg.lstsq(A, y, rcond=None)[0]
    for _ in range(200):
        w = 1 / np.maximum(np.abs(y - A @ theta), 1e-12 * (np.abs(y).max() or 1))
        new = np.linalg.solve(A.T @ (A * w[:, None]), A.T @ (w * y))
        if np.allclose(new, theta, rtol=1e-12, atol=0):
            theta = new
            break
        theta = new
    return float(theta[0]), float(theta[1])


@dataclass(frozen=True)
class Sample:
    """One training example and the model's state, for the backpropagation tab."""

    index: int  # row of the training data
    x: float
    y: float
    kernel: float
    bias: float
    learning_rate: float
    loss: str  # "mse" or "mae"
    chosen: bool  # True if the user clicked the point; False for the first of the current batch
    optimizer: str = "sgd"  # the optimizer the loss-surface tab trains with


class SurfaceRun(FitRun):
    """A one-feature linear model's run; the start is ``settings.init``, a point of the (kernel, bias) map.

    Attributes
    ----------
    chosen : int or None
        A training row picked in the data plot for the backpropagation tab (None: the batch's first).
    """

    def __init__(self, dataset: Dataset, settings: FitSettings | None = None) -> None:
        self.chosen: int | None = None
        self._surface_rows = None
        self._lad: tuple[float, float] | None = None  # the MAE optimum (the data's, whatever the settings)
        self._loss_cache: tuple | None = None
        self._update_text: tuple | None = None  # (the UPDATE report, its update_rule and optimizer)
        super().__init__(dataset, settings)
        self.listen(self._forget_cache)

    @classmethod
    def constrain(cls, dataset: Dataset, settings: FitSettings) -> FitSettings:
        """Linear, one feature, no normalization or validation split; the seed's start if none is chosen."""
        if dataset.n_features != 1:
            raise ValueError("the loss-surface tab needs a data set with exactly one feature")
        init = settings.init if settings.init is not None else drawn_init(settings.seed)
        return replace(settings, model="linear", normalize=False, validation_split=0.0,
                       batch_size=min(settings.batch_size, len(dataset.y_train)), init=init)

    @classmethod
    def from_state(cls, state, current=None) -> SurfaceRun:
        run = super().from_state(state, current)
        run.chosen, run._surface_rows, run._loss_cache, run._lad = None, None, None, None
        run._update_text = None
        run.listen(run._forget_cache)
        return run

    def _forget_cache(self, what: str) -> None:
        if what == NEW_RUN:
            self.forget_loss_cache()

    def forget_loss_cache(self) -> None:
        """Compute the next training-loss readout afresh (it is kept a moment while training runs)."""
        self._loss_cache = None

    # --- the start ---
    @property
    def init(self) -> tuple[float, float]:
        """The start (kernel, bias)."""
        return self.settings.init

    def start_at(self, kernel: float, bias: float) -> None:
        """A fresh run from (kernel, bias): the trajectory restarts there."""
        if not (math.isfinite(kernel) and math.isfinite(bias)):
            raise ValueError("a start point needs finite numbers")
        self.restart(replace(self.settings, init=(float(kernel), float(bias))))

    def random_init(self) -> None:
        """The next seed (after the largest comes 0), and a start drawn from it as tfjs would."""
        seed = 0 if self.settings.seed >= SEED_MAX else self.settings.seed + 1
        self.restart(replace(self.settings, seed=seed, init=drawn_init(seed)))

    def choose(self, index: int | None) -> None:
        """Follow training row ``index`` in the backpropagation tab (None: the first of the current batch)."""
        if index is not None and not 0 <= index < len(self.experiment.y):
            raise ValueError("no such training row")
        self.chosen = index

    # --- the map ---
    def home_window(self, upto: int | None = None) -> tuple[float, float, float, float]:
        """The usual window around the optimum, widened to take in the whole path (up to step ``upto``, if
        given) if it strays outside."""
        exp = self.experiment
        k_lo, k_hi, b_lo, b_hi = default_window(exp.X, exp.y, exp.stats.optimum())
        path = self.history.params
        if upto is not None:
            path = path[: np.searchsorted(self.history.param_steps, upto, side="right")]
        path = path[(np.abs(path) < 1e300).all(axis=1)]  # finite, and framed without overflowing
        if len(path):
            lo, hi = path.min(axis=0), path.max(axis=0)
            pad = 0.1 * (hi - lo)
            k_lo, k_hi = min(k_lo, lo[0] - pad[0]), max(k_hi, hi[0] + pad[0])
            b_lo, b_hi = min(b_lo, lo[1] - pad[1]), max(b_hi, hi[1] + pad[1])
        return k_lo, k_hi, b_lo, b_hi

    def surface(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, str | None]:
        """The training loss over kernel ``a`` × bias ``b`` (shape (len(a), len(b))), and a note when it is
        computed over a sample of the rows (MAE on many rows), else None."""
        exp = self.experiment
        n = len(exp.y)
        if exp.loss.name == "mae" and n > MAE_SURFACE_ROWS:  # no closed form: a fixed sample of the rows
            rows = self._mae_rows()
            grid = linear_slice(exp.X[rows], exp.y[rows], exp.loss, np.zeros(2), 0, 1, a, b)
            return grid, f"from a random {len(rows):,} of {n:,} rows"
        return exp.loss_slice(np.zeros(2), 0, 1, a, b), None

    def optimum(self, a: np.ndarray | None = None, b: np.ndarray | None = None, grid: np.ndarray | None = None
                ) -> tuple[float, float]:
        """The best (kernel, bias) for the loss in use: least squares for MSE; for MAE the least absolute
        deviations line (over the rows the map is drawn from), wherever the map is zoomed. (``a``, ``b``,
        ``grid``: the map drawn, no longer needed; kept for callers that pass it.)"""
        exp = self.experiment
        if exp.loss.name == "mse":
            k, b0 = exp.stats.optimum()
            return float(k), float(b0)
        if self._lad is None:
            rows = self._mae_rows()
            self._lad = lad_line(exp.X[rows, 0], exp.y[rows])
        return self._lad

    def _mae_rows(self) -> np.ndarray | slice:
        """The rows the MAE map is drawn from: all, or a fixed sample of :data:`MAE_SURFACE_ROWS` of many."""
        n = len(self.experiment.y)
        if n <= MAE_SURFACE_ROWS:
            return slice(None)
        if self._surface_rows is None:
            self._surface_rows = np.sort(np.random.default_rng(0).choice(n, MAE_SURFACE_ROWS, replace=False))
        return self._surface_rows

    # --- readouts ---
    def train_loss(self, params: np.ndarray | None = None, running: bool = False) -> float:
        """The training loss at ``params`` (default: now): MSE in closed form; MAE over every row, but with many
        rows at most every LOSS_READOUT_S seconds while ``running`` (in between, the last value)."""
        params = self.current if params is None else params
        exp = self.experiment
        if exp.loss.name == "mse" or len(exp.y) <= EXACT_LOSS_ROWS:
            return exp.loss_at(params, "train")
        now = time.perf_counter()
        cache = self._loss_cache
        if cache is not None and cache[0] == exp.loss.name and (
            np.array_equal(cache[1], params) or (running and now - cache[2] < LOSS_READOUT_S)
        ):
            return cache[3]
        value = exp.loss_at(params, "train")
        self._loss_cache = (exp.loss.name, np.array(params), now, value)
        return value

    def shown_params(self) -> np.ndarray:
        """The (kernel, bias) the last phase shows (the current ones after an update or a divergence)."""
        step = self.history.last_step
        return step.params if step is not None and self.history.diverged is None else self.current

    def sample(self) -> Sample:
        """The example the backpropagation tab shows: the chosen row, or the first of the current batch."""
        step = self.history.last_step
        index = self.chosen if self.chosen is not None else (int(step.indices[0]) if step is not None else 0)
        k, b = self.shown_params()
        return Sample(index, float(self.experiment.X[index, 0]), float(self.experiment.y[index]), float(k),
                      float(b), self.settings.learning_rate, self.settings.loss, self.chosen is not None,
                      self.settings.optimizer)

    def axis_names(self) -> dict[str, str]:
        """The names the texts give x and y: the book's words for its data set, the columns' for the user's."""
        d = self.dataset
        if d.name == "download-time":
            return {"x_name": "size", "y_name": "time", "a_y": "a time"}
        x, y = (html.escape(n) for n in (d.feature_names[0], d.target_name))
        return {"x_name": x, "y_name": y, "a_y": f"<i>{y}</i>"}

    def text_values(self, running: bool = False, moment: str | None = None) -> dict[str, object]:
        """The numbers the texts of the phases quote, for the state shown now, and the sentences of the text of
        ``moment`` (a section of phases.md) that depend on it (:func:`~.surface_texts.claims`)."""
        h = self.history
        step = h.last_step
        current = h.current
        values: dict[str, object] = {
            "n": "–", "batch": "–", "per_epoch": "–", "epoch": f"{len(h.epochs):,}", "k": fmt(current[0]),
            "b": fmt(current[1]), "loss_name": LOSS_NAMES[self.settings.loss], "loss": "–", "gk": "–", "gb": "–",
            "lr": fmt(self.settings.learning_rate), "step": f"{h.steps:,}", "message": "",
            "train_loss": fmt(self.train_loss(current, running)), **self.axis_names(),
        }
        if step is not None:
            shown = step.params
            values.update(n=f"{len(step.indices):,}", batch=f"{step.batch + 1:,}",
                          per_epoch=f"{step.batches_per_epoch:,}", epoch=f"{step.epoch:,}", k=fmt(shown[0]),
                          b=fmt(shown[1]), loss=fmt(step.loss),
                          step=f"{step.step:,}", lr=fmt(step.learning_rate))
            if step.gradient is not None:
                values.update(gk=fmt(step.gradient[0]), gb=fmt(step.gradient[1]))
        if h.diverged is not None:
            values["message"] = h.diverged.message
        values.update(self.update_text(running))
        values.update(claims(self, step, moment, values))
        return values

    def update_text(self, running: bool = False) -> dict[str, str]:
        """``update_rule`` (the optimizer's rule written out with this update's numbers, from the template
        ``update <optimizer>`` of phases.md) and ``optimizer`` (its name), for the update shown last; the
        optimizer's state is read only while nobody trains (not ``running``), once per update."""
        step = self.history.last_step
        name = OPTIMIZER_NAMES.get(self.settings.optimizer, self.settings.optimizer)
        if step is None or step.phase is not Phase.UPDATE or self.history.diverged is not None:
            return {"update_rule": "", "optimizer": name}
        cached = self._update_text
        if cached is not None and cached[0] is step:
            return cached[1]
        if running:
            return {"update_rule": "", "optimizer": name}
        key, values = update_values(self.trainer.optimizer, step)
        out = {"update_rule": resources.sections("phases.md")[key].format(**values),
               "optimizer": values["optimizer"]}
        if key != "update unknown":
            self._update_text = (step, out)
        return out

    def moment(self, running: bool) -> str | None:
        """Which text describes the state: ``diverged``, ``running``, ``done``, a phase's name, or None (the
        start)."""
        step = self.history.last_step
        if self.history.diverged is not None:
            return "diverged"
        if running:
            return "running"
        if self.finished:
            return "done"
        return None if step is None else step.phase.name.lower()
