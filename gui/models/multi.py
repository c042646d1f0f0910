"""The multi-feature tab's model: Boston Housing (or the user's CSV of several features), linear or an MLP.

On top of :class:`~fitscope.engine.run.FitRun`: the three models of tfjs-examples, a start clicked on the
loss slice, the slice's pair of parameters (and the pair that tells the most by default), names for every
parameter, the weights split into the model's arrays, the rows of the predicted-against-actual chart, and
the numbers the texts quote.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from fitscope.engine.data import Dataset
from fitscope.engine.numbers import prose
from fitscope.engine.run import NEW_RUN, FitRun
from fitscope.engine.settings import FitSettings
from fitscope.engine.trainer import DivergedReport
from fitscope.gui.models import multi_texts
from fitscope.gui.models.surface import fmt

#: (label, settings.model, settings.hidden) — the three models of tfjs-examples' Boston Housing.
MODELS = [
    ("Linear regression", "linear", None),
    ("MLP: 1 hidden layer (50 sigmoid)", "mlp", (50,)),
    ("MLP: 2 hidden layers (50, 50 sigmoid)", "mlp", (50, 50)),
]
PRED_POINTS = 3000  # the predicted-against-actual chart shows at most this many rows (a fixed random sample)


@dataclass(frozen=True)
class Moment:
    """Where a run stood when the Now box was drawn (:meth:`MultiRun.moment`): the history and its version,
    the parameters, the steps, the epochs done, whether the last step ended an epoch, whether it diverged."""

    history: object
    version: int
    params: np.ndarray
    steps: int
    epochs_done: int
    epoch_end: bool
    diverged: bool

    @property
    def key(self) -> tuple:
        """What a chart drawn at this moment is the same for (a report's arrays would make == ambiguous)."""
        return (self.history, self.version)


class MultiRun(FitRun):
    """A run on two or more features.

    Attributes
    ----------
    pair : (int, int)
        The two parameters the loss slice is drawn over (flat indices).
    """

    def __init__(self, dataset: Dataset, settings: FitSettings | None = None, start: np.ndarray | None = None
                 ) -> None:
        self.constrain(dataset, dataset.defaults)  # refuses data of one feature, before anything else
        self._describe(dataset)
        super().__init__(dataset, settings, start)
        self.pair = self.default_pair()
        self._pred_rows: tuple | None = None
        self._n_params = self.n_params
        self._move_pair = False
        self.listen(self._on_new_run)

    @classmethod
    def constrain(cls, dataset: Dataset, settings: FitSettings) -> FitSettings:
        if dataset.n_features < 2:
            raise ValueError("the multi-feature tab needs a data set with at least two features")
        if settings.model == "mlp" and settings.hidden not in [m[2] for m in MODELS]:
            raise ValueError("the multi-feature tab offers MLPs of one or two hidden layers of 50 units")
        return replace(settings, init=None, loss="mse", activation="sigmoid",
                       batch_size=min(settings.batch_size, len(dataset.y_train)))

    @classmethod
    def from_state(cls, state, current=None) -> MultiRun:
        run = super().from_state(state, current)
        run._describe(run.dataset)
        run._pred_rows, run._n_params, run._move_pair = None, run.n_params, False
        pair = state.get("pair")
        if not isinstance(pair, list) or len(pair) != 2 or not all(type(k) is int for k in pair):
            raise ValueError("the slice's pair of parameters is malformed")
        i, j = pair
        if not (0 <= i < run.n_params and 0 <= j < run.n_params) or i == j:
            raise ValueError("the slice's pair of parameters is out of range")
        run.pair = (i, j)
        run.listen(run._on_new_run)
        return run

    def state(self) -> dict:
        return {**super().state(), "pair": list(self.pair)}

    def _describe(self, dataset: Dataset) -> None:
        """What the data set itself says: its widest- and narrowest-ranging features, its strongest two."""
        lo, hi = dataset.X_train.min(axis=0), dataset.X_train.max(axis=0)
        width = hi - lo
        wide = int(np.argmax(width))
        narrow = int(np.argmin(np.where((width > 0) & (np.arange(len(width)) != wide), width, np.inf)))
        if narrow == wide:  # every other feature is constant
            narrow = (wide + 1) % len(width)
        self.wide, self.narrow = wide, narrow
        names = dataset.feature_names
        self.spans = {"wide": names[wide].upper(), "wide_lo": prose(lo[wide]), "wide_hi": prose(hi[wide]),
                      "narrow": names[narrow].upper(), "narrow_lo": prose(lo[narrow]),
                      "narrow_hi": prose(hi[narrow])}
        if {"rm", "lstat"} <= set(names):
            self.strongest = names.index("rm"), names.index("lstat")
        else:
            with np.errstate(all="ignore"):
                X, y = dataset.X_train - dataset.X_train.mean(axis=0), dataset.y_train - dataset.y_train.mean()
                r = np.abs(X.T @ y) / np.sqrt((X * X).sum(axis=0) * (y @ y))
            order = np.argsort(-np.nan_to_num(r, nan=-1.0), kind="stable")
            self.strongest = int(order[0]), int(order[1])

    def _on_new_run(self, what: str) -> None:
        if what == NEW_RUN:  # told before anyone else: the pair is right when the others hear of the run
            self._pred_rows = None
            if self.n_params != self._n_params or self._move_pair:  # another model, or normalization toggled
                self._n_params = self.n_params
                self.pair = self.default_pair()

    # --- settings ---
    def update(self, **changes) -> None:
        """As :meth:`FitRun.update`; toggling normalization also moves the slice to the pair that shows the
        difference, unless the user chose another pair."""
        self._move_pair = "normalize" in changes and self.pair == self.default_pair()
        try:
            super().update(**changes)
        finally:
            self._move_pair = False

    @property
    def model_index(self) -> int:
        """Which of :data:`MODELS` the settings describe."""
        s = self.settings
        hidden = s.hidden if s.model == "mlp" else None
        return next((k for k, m in enumerate(MODELS) if m[1:] == (s.model, hidden)), 0)

    @staticmethod
    def model_changes(index: int) -> dict:
        """The settings of :data:`MODELS` ``[index]``."""
        _, model, hidden = MODELS[index]
        return {"model": model} if hidden is None else {"model": model, "hidden": hidden}

    # --- names ---
    @property
    def is_boston(self) -> bool:
        return self.dataset.name == "boston-housing"

    @property
    def is_linear(self) -> bool:
        return self.experiment.is_linear

    @property
    def target_noun(self) -> str:
        return "price" if self.is_boston else self.dataset.target_name

    @property
    def title(self) -> str:
        d = self.dataset
        return "Boston Housing" if self.is_boston else f"{d.name} ({d.n_features} features)"

    def param_labels(self) -> list[str]:
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
                        dst = self.target_noun if output else f"unit {c + 1}"
                        labels.append(f"{where}: {src} → {dst}")
            else:
                labels += [f"{where}: bias" if output else f"{where}: bias of unit {c + 1}" for c in range(p.size)]
        return labels

    def array_labels(self) -> list[tuple[str, tuple[int, ...]]]:
        """Each parameter array of an MLP: its name ("hidden 1 kernel", "output bias"…) and shape."""
        arrays = list(self.experiment.model.parameters().items())
        n_layers = len(arrays) // 2
        out = []
        for k, (name, p) in enumerate(arrays):
            layer = k // 2 + 1
            kind = "kernel" if name.endswith("kernel") else "bias"
            out.append((f"{'output' if layer == n_layers else f'hidden {layer}'} {kind}", p.shape))
        return out

    def split(self, flat: np.ndarray) -> list[np.ndarray]:
        """Flat parameters as the model's arrays."""
        out, k = [], 0
        for p in self.experiment.model.parameters().values():
            out.append(flat[k : k + p.size].reshape(p.shape))
            k += p.size
        return out

    # --- the loss slice ---
    def default_pair(self) -> tuple[int, int]:
        """rm and lstat (the book's strongest features; for other data the two features most correlated with
        the target); with normalization off, the widest- and narrowest-ranging; for an MLP, into its first
        hidden unit."""
        if self.settings.normalize or not self.is_linear:
            a, b = self.strongest
        else:
            a, b = self.wide, self.narrow
        if self.is_linear:
            return a, b
        units = self.settings.hidden[0]
        return a * units, b * units

    def set_pair(self, i: int, j: int) -> None:
        if not (0 <= i < self.n_params and 0 <= j < self.n_params) or i == j:
            raise ValueError("a slice needs two different parameters of the model")
        self.pair = (int(i), int(j))

    def slice_theta(self) -> np.ndarray:
        """The parameters the slice holds fixed: the current ones (after a divergence, the ones kept)."""
        return self.history.current

    def start_at(self, x: float, y: float) -> None:
        """A new start: the slice's two parameters at (x, y), every other one as it is now."""
        params = np.array(self.slice_theta())
        i, j = self.pair
        params[i], params[j] = x, y
        self.restart(self.settings, params)

    def needed_points(self, from_row: int = 0) -> np.ndarray:
        """Points (x, y) the slice's window must show: the trajectory (from its row ``from_row`` on) and, for a
        linear MSE model, the minimum."""
        i, j = self.pair
        pts = self.history.params[from_row:, [i, j]]
        if self.is_linear and self.experiment.loss.name == "mse":
            opt = self.experiment.stats.slice_optimum(self.slice_theta(), i, j)
            pts = np.vstack([pts, opt])
        return pts[np.isfinite(pts).all(axis=1)]

    def slice_optimum(self, theta0: np.ndarray, a: np.ndarray, b: np.ndarray, grid: np.ndarray
                      ) -> tuple[tuple[float, float], str]:
        """The slice's minimum and how to call it: exact for a linear MSE model, else the grid's lowest point."""
        i, j = self.pair
        if self.is_linear and self.experiment.loss.name == "mse":
            return tuple(self.experiment.stats.slice_optimum(theta0, i, j)), "★ the minimum of this slice"
        ia, ib = np.unravel_index(np.argmin(np.where(np.isfinite(grid), grid, np.inf)), grid.shape)
        on_edge = ia in (0, len(a) - 1) or ib in (0, len(b) - 1)
        what = "★ the lowest point in view (it goes lower beyond)" if on_edge else "★ the grid's minimum"
        return (float(a[ia]), float(b[ib])), what

    # --- predicted against actual ---
    def pred_points(self) -> tuple[np.ndarray, np.ndarray, str, str]:
        """The rows of the predicted-against-actual chart: the test rows, or else (for the user's data) the
        training rows; at most PRED_POINTS of them, a fixed random sample. Also what to call them, and a note
        when they are a sample."""
        exp = self.experiment
        if self._pred_rows is None:
            if exp.X_test is not None:
                X, y, rows = exp.X_test, exp.y_test, "Test set"
            else:
                X, y, rows = exp.X, exp.y, "Training set"
            note = ""
            if len(y) > PRED_POINTS:
                keep = np.sort(np.random.default_rng(0).choice(len(y), PRED_POINTS, replace=False))
                X, y, note = X[keep], y[keep], f"showing a random {PRED_POINTS:,} of {len(y):,} rows"
            self._pred_rows = (X, y, rows, note)
        return self._pred_rows

    def moment(self) -> Moment:
        """Where the run stands now, for a panel drawn a little later to show the same moment."""
        h = self.history
        done = self.epochs_done
        return Moment(h, h.version, h.current.copy(), h.steps, done,
                      bool(done) and int(h.epochs[-1, 1]) == h.steps, h.diverged is not None)

    def predictions(self, moment: Moment | None = None) -> tuple[np.ndarray, np.ndarray, str, float, str, str]:
        """(actual, predicted, when, loss, rows, note) of the chart: the model at ``moment`` (default now) —
        the step every other panel shows — and its loss on those rows; ``when`` says which step that is ("at
        the start", "after epoch 3", "at step 12, in epoch 2", "after step 1, kept at the divergence")."""
        m = self.moment() if moment is None else moment
        exp = self.experiment
        X, y, rows, note = self.pred_points()
        with np.errstate(all="ignore"):
            predicted = exp.model.predict_flat(m.params, X)
        loss = exp.loss_at(m.params, "test" if self.dataset.has_test else "train")
        if m.steps == 0:
            when = "at the start"
        elif m.diverged:
            when = f"after step {m.steps:,}, kept at the divergence"
        elif m.epoch_end:
            when = f"after epoch {m.epochs_done:,}"
        else:
            when = f"at step {m.steps:,}, in epoch {m.epochs_done + 1:,}"
        return y, predicted, when, loss, rows, note

    # --- texts ---
    def divergence_text(self, texts: dict[str, str], report: DivergedReport) -> str:
        return multi_texts.divergence_text(self, texts, report)

    def losses_text(self) -> str:
        """The two lines over the loss chart: the losses of the last epoch ended ("–" before the first) and the
        typical miss they mean ("After epoch 37 of 200: …", "Final, after epoch 200: …" once the run is finished). Short
        enough not to wrap beside the sidebar, and the same lines all along: the chart keeps its height."""
        loss, val, test = self.last_epoch() or (math.nan, None, None)
        parts = [f"training <b>{fmt(loss, 4)}</b>"]
        if self.trainer.validation is not None:
            parts.append(f"validation <b>{fmt(val, 4)}</b>")
        if self.dataset.has_test:
            parts.append(f"test <b>{fmt(test, 4)}</b>")
        done = self.epochs_done
        total = max(done, self.settings.epochs)
        when = (f"Final, after epoch {done:,}" if self.finished else f"After epoch {done:,} of {total:,}" if done
                else f"Before the first of {total:,} epochs")
        typical = test if self.dataset.has_test and test is not None else loss
        split = "test" if self.dataset.has_test else "training"
        return f"{when}: {' · '.join(parts)}<br>{self.loss_in_units(typical, split)}"

    def typical_miss(self, loss: float) -> str:
        """A loss as a typical miss in the target's units: an MSE's root, an MAE itself (``"$4,768"``)."""
        unit = self.dataset.target_unit
        value = (math.sqrt(loss) if loss >= 0 else math.nan) if self.settings.loss == "mse" else loss
        if not math.isfinite(value):
            return "–"
        if unit == "$1000s":
            return f"${value * 1000:,.0f}"
        return f"{prose(value)} {unit}".rstrip()

    def loss_in_units(self, loss: float, split: str) -> str:
        """What a loss means in the target's units: an MSE is in its square, so its root is a typical miss
        (``"√MSE, a typical test miss: $4,768 (guessing the mean: $9,251)"``)."""
        what = "√MSE" if self.settings.loss == "mse" else "MAE"
        return (f"{what}, a typical {split} miss: {self.typical_miss(loss)} "
                f"(guessing the mean: {self.typical_miss(self.baseline())})")

    def explanation(self, texts: dict[str, str]) -> str:
        """The sidebar's text for this model, data, normalization and state (:func:`.multi_texts.explanation`)."""
        return multi_texts.explanation(self, texts)
