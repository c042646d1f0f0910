"""One training run set up from a data set and its settings: the way the CLI and the app use the engine.

>>> from fitscope.engine.data import load
>>> from fitscope.engine.experiment import Experiment
>>> exp = Experiment(load("boston-housing"))          # the book's settings
>>> for report in exp.trainer.run():
...     pass
>>> round(exp.test_loss(), 1)                          # doctest: +SKIP
22.6

The experiment normalizes the features with the training file's statistics (when asked), shuffles the
training rows once if the settings say so (``shuffle_data``, as tfjs-examples' Boston loader does), takes the
validation split off the end of the training rows (tfjs ``validationSplit``), builds the model, the loss,
the optimizer and the :class:`~engine.trainer.Trainer`.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .data import DataError, Dataset
from .files import shown
from .losses import get_loss
from .models import MLP, Linear, Model
from .normalize import Standardizer
from .numbers import prose
from .optimizers import Optimizer, make_optimizer
from .settings import FitSettings, n_train_rows
from .surface import QuadraticStats, linear_slice, model_slice
from .trainer import Trainer


def build_model(settings: FitSettings, n_features: int) -> Model:
    """The model the settings describe, initialised from ``settings.seed`` (or ``settings.init``)."""
    if settings.model == "mlp":
        return MLP(n_features, settings.hidden, settings.activation, seed=settings.seed)
    if settings.init is not None:
        if n_features != 1:
            raise ValueError("an initial (kernel, bias) applies to a one-feature linear model only")
        k, b = settings.init
        return Linear(1, kernel=[k], bias=b)
    return Linear(n_features, seed=settings.seed)


def _largest(a: np.ndarray) -> str:
    return prose(float(np.max(np.abs(a)))) if a.size else "0"


def _check_magnitude(dataset: Dataset, settings: FitSettings) -> None:
    """A :class:`DataError` if the data overflows float64 by itself: the loss of always predicting the mean
    target, or the features' statistics, are not finite (values near 1e308, or whose squares overflow)."""
    y = dataset.y_train
    with np.errstate(all="ignore"):
        baseline = get_loss(settings.loss).loss(np.full(len(y), y.mean()), y)
        if not np.isfinite(baseline):
            raise DataError(f"{shown(dataset.name, 60)}: the target {dataset.target_name!r} has values too large to "
                            f"compute a loss with in 64-bit floating point (up to {_largest(y)}): rescale them")
        if settings.normalize:
            X = dataset.X_train
            bad = ~(np.isfinite(X.mean(axis=0)) & np.isfinite(X.std(axis=0)))
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise DataError(f"{shown(dataset.name, 60)}: the feature {dataset.feature_names[i]!r} has values "
                                f"too large to normalize in 64-bit floating point (up to {_largest(X[:, i])}): "
                                "rescale them")


def build_optimizer(settings: FitSettings) -> Optimizer:
    return make_optimizer(settings.optimizer, settings.learning_rate, settings.momentum)


class Experiment:
    """A data set, its settings, and the trainer they make.

    Parameters
    ----------
    dataset : Dataset
    settings : FitSettings, optional
        Defaults to ``dataset.defaults``.

    Attributes
    ----------
    X, y : the normalized training rows that gradients are computed on (validation rows taken off)
    X_val, y_val, X_test, y_test : ndarray or None
    standardizer : Standardizer or None
    notice : str
        A one-line remark for the user (constant columns), or "".
    """

    def __init__(self, dataset: Dataset, settings: FitSettings | None = None) -> None:
        settings = dataset.defaults if settings is None else settings
        n_test = 0 if dataset.y_test is None else len(dataset.y_test)
        settings.validate(len(dataset.y_train), dataset.n_features, n_test)
        self.dataset = dataset
        self.settings = settings
        X_all, y_all, X_test = dataset.X_train, dataset.y_train, dataset.X_test
        if settings.shuffle_data:
            order = np.random.default_rng(settings.seed).permutation(len(y_all))
            X_all, y_all = X_all[order], y_all[order]
        self.standardizer: Standardizer | None = None
        self.notice = ""
        _check_magnitude(dataset, settings)
        if settings.normalize:
            self.standardizer = Standardizer.fit(X_all)
            X_all = self.standardizer.transform(X_all)
            X_test = None if X_test is None else self.standardizer.transform(X_test)
            self.notice = self.standardizer.describe_constant(dataset.feature_names)
        n = n_train_rows(len(y_all), settings.validation_split)
        self.X, self.y = X_all[:n], y_all[:n]
        self.X_val, self.y_val = (X_all[n:], y_all[n:]) if n < len(y_all) else (None, None)
        self.X_test, self.y_test = X_test, dataset.y_test
        self.loss = get_loss(settings.loss)
        self.model = build_model(settings, dataset.n_features)
        self.trainer = Trainer(
            self.model,
            self.loss,
            build_optimizer(settings),
            self.X,
            self.y,
            batch_size=settings.batch_size,
            epochs=settings.epochs,
            validation=None if self.X_val is None else (self.X_val, self.y_val),
            test=None if X_test is None else (self.X_test, self.y_test),
            shuffle=settings.shuffle,
            seed=settings.seed,
        )
        self._stats: QuadraticStats | None = None
        self._check_start()

    def _check_start(self) -> None:
        """A :class:`DataError` (or, for a start point the user gave, a :class:`ValueError`) if the loss at the
        start cannot be computed in float64: no learning rate could train from there."""
        start = self.trainer.evaluate(self.X, self.y)
        if np.isfinite(start):
            return
        if self.settings.init is not None:
            raise ValueError(f"the loss at the start {self.settings.init!r} is not finite in 64-bit floating "
                             "point: start from a smaller kernel and bias")
        where = "normalize the features or rescale them" if self.standardizer is None else "rescale them"
        raise DataError(f"{shown(self.dataset.name, 60)}: the loss at the start is not finite in 64-bit floating point "
                        f"(features up to {_largest(self.dataset.X_train)}): {where}")

    def with_settings(self, **changes) -> Experiment:
        """A fresh experiment on the same data with some settings changed."""
        return Experiment(self.dataset, replace(self.settings, **changes))

    @property
    def param_names(self) -> list[str]:
        """One name per scalar parameter (``kernel,bias``; ``kernel_<feature>…,bias``; or ``p0,p1,…``)."""
        return self.model.flat_names(self.dataset.feature_names)

    @property
    def is_linear(self) -> bool:
        return isinstance(self.model, Linear)

    @property
    def stats(self) -> QuadraticStats:
        """Sufficient statistics of the MSE of a linear model on the training rows (computed once)."""
        if self._stats is None:
            self._stats = QuadraticStats.from_data(self.X, self.y)
        return self._stats

    def baseline_loss(self, split: str = "test") -> float:
        """Loss of always predicting the training target's mean, on ``split`` ("train", "val" or "test")."""
        X, y = self._split(split)
        return self.loss.loss(np.full(len(y), self.dataset.y_train.mean()), y)

    def loss_at(self, params: np.ndarray, split: str = "train") -> float:
        """The loss of the model with flat parameters ``params`` on ``split``.

        Pure: it reads neither the model's parameters nor its caches, so any thread may call it while the
        trainer runs in another.
        """
        X, y = self._split(split)
        with np.errstate(all="ignore"):
            if self.is_linear and self.loss.name == "mse" and split == "train":
                return float(self.stats.loss(params))
            return self.loss.loss(self.model.predict_flat(params, X), y)

    def loss_slice(self, theta0: np.ndarray, i: int, j: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Training loss on the grid ``θ_i = a``, ``θ_j = b``, the other parameters at ``theta0``.

        Closed form for a linear model with MSE; over the rows, vectorised, for a linear model with MAE;
        one forward pass per grid point for an MLP. Pure, like :meth:`loss_at`. Shape (len(a), len(b)).
        """
        if self.is_linear and self.loss.name == "mse":
            return self.stats.slice(theta0, i, j, a, b)
        if self.is_linear:
            return linear_slice(self.X, self.y, self.loss, theta0, i, j, a, b)
        return model_slice(self.model, self.X, self.y, self.loss, theta0, i, j, a, b)

    def test_loss(self) -> float | None:
        return None if self.X_test is None else self.loss_at(self.trainer.params, "test")

    def _split(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        X, y = {"train": (self.X, self.y), "val": (self.X_val, self.y_val), "test": (self.X_test, self.y_test)}[
            split
        ]
        if X is None:
            raise ValueError(f"this data has no {split} rows")
        return X, y
