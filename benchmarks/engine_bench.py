"""Engine benchmarks: the trainer's overhead over bare NumPy, and the loss surfaces.

(a) The Boston linear fit with the book's settings (200 epochs, batch 40, SGD 0.01, validation split 0.2,
    z-scored features) through ``Experiment(...).trainer.run()``, against the same algorithm written out
    below as a bare NumPy loop. Both end on the same parameters (checked). Target: at most 1.5 times as long.
(b) A 400 × 400 grid over (kernel, bias) for the download-time data: MSE from the sufficient statistics
    (:meth:`QuadraticStats.slice`, ≤ 5 ms) and MAE over the rows (:func:`linear_slice`, ≤ 50 ms).
(c) The MSE surface of a 1,000,000-row one-feature data set: one pass for the statistics (reported), then
    the 400 × 400 grid from them (≤ 100 ms).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from fitscope.engine.data import Dataset, load
from fitscope.engine.experiment import Experiment
from fitscope.engine.losses import MAE
from fitscope.engine.settings import FitSettings, n_train_rows
from fitscope.engine.surface import QuadraticStats, linear_slice
from fitscope.engine.trainer import EpochReport

from . import Result, best_of

GRID = 400


Losses = list[tuple[float, float | None, float | None]]


def engine_fit(dataset: Dataset, settings: FitSettings) -> tuple[np.ndarray, Losses]:
    """The fit through the engine, as the CLI and the app run it: final parameters, per-epoch losses."""
    exp = Experiment(dataset, settings)
    losses = [(r.loss, r.val_loss, r.test_loss) for r in exp.trainer.run() if isinstance(r, EpochReport)]
    return exp.trainer.params, losses


def bare_fit(dataset: Dataset, settings: FitSettings) -> tuple[np.ndarray, Losses]:
    """The same fit (linear model, MSE, SGD) as a bare NumPy loop: ``[kernel…, bias]``, per-epoch losses.

    Same order of operations as the engine, so the results agree bit for bit: shuffle the training file
    once with ``default_rng(seed)`` (``shuffle_data``), z-score with its statistics, take the validation rows
    off the end, draw the Glorot-uniform kernel from another ``default_rng(seed)``, and a third one permutes
    the rows of every epoch; per batch the loss, its gradient and the update; per epoch the training loss
    (weighted by batch size) and the validation and test losses.
    """
    lr, batch_size = settings.learning_rate, settings.batch_size
    X_all, y_all = dataset.X_train, dataset.y_train
    if settings.shuffle_data:
        order = np.random.default_rng(settings.seed).permutation(len(y_all))
        X_all, y_all = X_all[order], y_all[order]
    mean, std = X_all.mean(axis=0), X_all.std(axis=0)
    std = np.where(std == 0, 1.0, std)
    X_all = (X_all - mean) / std
    X_test, y_test = (dataset.X_test - mean) / std, dataset.y_test
    n = int(len(y_all) * (1 - settings.validation_split))
    X, y, X_val, y_val = X_all[:n], y_all[:n], X_all[n:], y_all[n:]
    n_features = X.shape[1]
    limit = np.sqrt(6.0 / (n_features + 1))
    kernel = np.random.default_rng(settings.seed).uniform(-limit, limit, size=(n_features, 1))[:, 0].copy()
    bias = 0.0
    rng = np.random.default_rng(settings.seed)
    losses: Losses = []
    for _ in range(settings.epochs):
        order = rng.permutation(n)
        loss_sum = 0.0
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            Xb, yb = X[idx], y[idx]
            r = Xb @ kernel + bias - yb
            loss = float(r @ r) / len(idx)
            d = (2.0 / len(idx)) * r
            kernel -= lr * (d @ Xb)
            bias -= lr * d.sum()
            loss_sum += loss * len(idx)
        r_val = X_val @ kernel + bias - y_val
        r_test = X_test @ kernel + bias - y_test
        losses.append((loss_sum / n, float(r_val @ r_val) / len(y_val), float(r_test @ r_test) / len(y_test)))
    return np.append(kernel, bias), losses


def fit_overhead() -> list[Result]:
    """(a): the engine's Boston fit against the bare loop."""
    dataset = load("boston-housing")
    settings = replace(dataset.defaults, model="linear", loss="mse", optimizer="sgd", learning_rate=0.01,
                       batch_size=40, epochs=200, validation_split=0.2, normalize=True)
    (p_engine, l_engine), (p_bare, l_bare) = engine_fit(dataset, settings), bare_fit(dataset, settings)
    same = np.array_equal(p_engine, p_bare) and l_engine == l_bare
    engine = bare = float("inf")
    for _ in range(3):  # interleaved, so that both see the same state of the machine
        engine = min(engine, best_of(lambda: engine_fit(dataset, settings), repeat=3))
        bare = min(bare, best_of(lambda: bare_fit(dataset, settings), repeat=3))
    steps = settings.epochs * math.ceil(n_train_rows(len(dataset.y_train), 0.2) / settings.batch_size)
    return [
        Result("boston fit: engine / bare NumPy", engine / bare, unit="x", target=1.5,
               note="same results bit for bit" if same else "RESULTS DIFFER from the bare loop"),
        Result("boston fit: engine", engine, note=f"{steps} steps, {engine / steps * 1e6:.1f} us per step"),
        Result("boston fit: bare NumPy loop", bare, note=f"{bare / steps * 1e6:.1f} us per step"),
    ]


def _grid(center: np.ndarray, half_width: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return (np.linspace(center[0] - half_width[0], center[0] + half_width[0], GRID),
            np.linspace(center[1] - half_width[1], center[1] + half_width[1], GRID))


def download_time_surfaces() -> list[Result]:
    """(b): the 400 × 400 MSE and MAE grids over (kernel, bias) of the download-time data."""
    exp = Experiment(load("download-time"))
    theta = exp.stats.optimum()
    a, b = _grid(theta, np.array([0.1, 0.5]))
    stats = exp.stats
    mse = best_of(lambda: stats.slice(theta, 0, 1, a, b), repeat=20)
    mae = best_of(lambda: linear_slice(exp.X, exp.y, MAE, theta, 0, 1, a, b), repeat=10)
    shape = f"{GRID}x{GRID} grid, {len(exp.y)} rows"
    return [
        Result("download-time MSE surface (stats)", mse, target=5e-3, note=shape),
        Result("download-time MAE surface (rows)", mae, target=50e-3, note=shape),
    ]


def million_row_surface() -> list[Result]:
    """(c): the MSE grid of a 1,000,000-row one-feature data set, after one pass for the statistics."""
    rng = np.random.default_rng(0)
    X = rng.uniform(0.0, 10.0, size=(1_000_000, 1))
    y = 0.07 * X[:, 0] + 0.09 + rng.normal(scale=0.02, size=len(X))
    pass_time = best_of(lambda: QuadraticStats.from_data(X, y), repeat=5)
    stats = QuadraticStats.from_data(X, y)
    theta = stats.optimum()
    a, b = _grid(theta, np.array([0.1, 0.5]))
    grid = best_of(lambda: stats.slice(theta, 0, 1, a, b), repeat=20)
    return [
        Result("1M rows: statistics pass", pass_time, note="once per data set"),
        Result("1M rows: MSE surface (stats)", grid, target=100e-3, note=f"{GRID}x{GRID} grid"),
    ]


def run() -> list[Result]:
    """All the engine benchmarks."""
    return [*fit_overhead(), *download_time_surfaces(), *million_row_surface()]
