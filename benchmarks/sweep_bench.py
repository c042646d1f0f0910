"""Learning-rate sweeps and network landscapes (the "see why" views).

(a) A sweep of the Boston linear model with the book's settings (SGD, batch 40, validation split 0.2,
    z-scored features): 30 rates log-spaced from 1e-3 to 1, 200 epochs each, through :class:`Sweep` (a fresh
    :class:`Trainer` per rate), against the same 30 runs as a bare NumPy loop written out below (the same
    order of operations and the same divergence test; the final losses and the steps where runs diverge are
    checked to agree bit for bit).
    Target: at most 2 s. The ratio to the bare loop is the trainer's per-step overhead (see engine_bench); the
    sweep's own is its ratio to the same 30 runs through ``Experiment(...).trainer.run()``: at most 1.2 times.
(b) A 60 × 60 loss slice of the 2-layer Boston MLP (12 → 50 → 50 → 1 sigmoid, 266 training rows) over two
    filter-normalized random directions, batched (:func:`iter_slice`), against one ``predict_flat`` per grid
    point (:func:`pointwise_slice`; the grids are checked to agree). Target: at most 2 s.
(c) The PCA of that MLP's training path, every step of 200 epochs (1,401 points of 3,251 parameters), for
    information.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from fitscope.engine.data import load
from fitscope.engine.experiment import Experiment
from fitscope.engine.landscape import pca_plane, pointwise_slice, random_plane, slice_plane
from fitscope.engine.losses import MSE
from fitscope.engine.sweep import Sweep, log_rates
from fitscope.engine.trainer import BLOWUP, StepReport

from . import Result, best_of

RATES, EPOCHS, GRID = 30, 200, 60


def bare_sweep(exp: Experiment, rates: np.ndarray, epochs: int) -> list[tuple[float, float, int | None]]:
    """The sweep as a bare NumPy loop: per rate, (final training loss, final validation loss, the step that
    diverged or None).

    The experiment gives the rows (shuffled once, normalized, split) and the start; each run shuffles every
    epoch with a fresh ``default_rng(seed)``, and stops as the trainer does: when a batch loss or the weights
    are not finite, or when the epoch's loss summed so far passes ``BLOWUP`` times the reference (the larger of
    the loss at the start and that of always predicting the mean target, on the training rows).
    """
    X, y, X_val, y_val = exp.X, exp.y, exp.X_val, exp.y_val
    n, batch_size, seed = len(y), exp.settings.batch_size, exp.settings.seed
    start = exp.model.get_flat()
    r0 = X @ start[:-1] + start[-1] - y
    baseline = y - y.mean()
    reference = max(float(baseline @ baseline) / n, float(r0 @ r0) / n)
    out = []
    with np.errstate(all="ignore"):
        for lr in rates:
            kernel, bias = start[:-1].copy(), float(start[-1])
            rng = np.random.default_rng(seed)
            stopped, loss_sum, step = False, 0.0, 0
            for _ in range(epochs):
                order = rng.permutation(n)
                loss_sum = 0.0
                for s in range(0, n, batch_size):
                    idx = order[s : s + batch_size]
                    Xb, yb = X[idx], y[idx]
                    r = Xb @ kernel + bias - yb
                    loss = float(r @ r) / len(idx)
                    if not math.isfinite(loss) or (loss_sum + loss * len(idx)) / n > BLOWUP * reference:
                        stopped = True
                        break
                    d = (2.0 / len(idx)) * r
                    kernel = kernel - lr * (d @ Xb)
                    bias = bias - lr * d.sum()
                    if not (math.isfinite(kernel @ kernel) and math.isfinite(bias)):
                        stopped = True
                        break
                    loss_sum += loss * len(idx)
                    step += 1
                if stopped:
                    break
            if stopped:
                out.append((math.nan, math.nan, step + 1))
            else:
                r_val = X_val @ kernel + bias - y_val
                out.append((loss_sum / n, float(r_val @ r_val) / len(y_val), None))
    return out


def sweep_results() -> list[Result]:
    """(a): the Boston linear sweep against the bare loop."""
    dataset = load("boston-housing")
    exp = Experiment(dataset, replace(dataset.defaults, model="linear", normalize=True, batch_size=40))
    rates = log_rates(1e-3, 1.0, RATES)

    def engine():
        return Sweep(exp, rates, epochs=EPOCHS).run_all()

    results = engine()
    bare_results = bare_sweep(exp, rates, EPOCHS)
    same = all(
        r.diverged_step == b[2] and (r.stopped or (r.final_loss == b[0] and r.val_loss == b[1]))
        for r, b in zip(results, bare_results, strict=True)
    )

    def fits():
        for lr in rates:
            for _ in exp.with_settings(learning_rate=float(lr), epochs=EPOCHS).trainer.run():
                pass

    t_engine = t_bare = t_fits = float("inf")
    for _ in range(2):  # interleaved, so that all see the same state of the machine
        t_engine = min(t_engine, best_of(engine, repeat=2))
        t_bare = min(t_bare, best_of(lambda: bare_sweep(exp, rates, EPOCHS), repeat=2))
        t_fits = min(t_fits, best_of(fits, repeat=2))
    steps = sum(r.diverged_step - 1 if r.stopped else r.epochs * math.ceil(len(exp.y) / 40) for r in results)
    stopped = sum(r.stopped for r in results)
    return [
        Result(f"sweep: boston linear, {RATES} rates x {EPOCHS} epochs", t_engine, target=2.0,
               note=f"{steps:,} steps, {stopped} rates stopped by divergence"),
        Result("sweep: engine / bare NumPy loop", t_engine / t_bare, unit="x",
               note=("same losses and divergence steps, bit for bit" if same else "RESULTS DIFFER from the bare loop")
               + f"; bare loop {t_bare * 1e3:.0f} ms"),
        Result("sweep: engine / 30 separate fits", t_engine / t_fits, unit="x", target=1.2,
               note=f"the fits {t_fits * 1e3:.0f} ms (each an Experiment and its trainer)"),
    ]


def landscape_results() -> list[Result]:
    """(b) and (c): the 60 × 60 slice of the 2-layer Boston MLP, and the PCA of its path."""
    dataset = load("boston-housing")
    exp = Experiment(dataset, replace(dataset.defaults, model="mlp", hidden=(50, 50)))
    model = exp.model
    plane = random_plane(model, model.get_flat(), seed=0)
    a = b = np.linspace(-1.0, 1.0, GRID)

    def batched():
        return slice_plane(model, exp.X, exp.y, MSE, plane, a, b)

    grid = batched()
    reference = pointwise_slice(model, exp.X, exp.y, MSE, plane, a, b)
    agree = float(np.max(np.abs(grid / reference - 1)))
    t_batched = best_of(batched, repeat=3)
    t_point = best_of(lambda: pointwise_slice(model, exp.X, exp.y, MSE, plane, a, b), repeat=2)

    path = [exp.trainer.params] + [r.params for r in exp.trainer.run() if isinstance(r, StepReport)]
    path = np.array(path)
    t_pca = best_of(lambda: pca_plane(path), repeat=3)
    return [
        Result(f"landscape: {GRID}x{GRID} slice, boston MLP 50-50", t_batched, target=2.0,
               note=f"{model.n_params:,} parameters, {len(exp.y)} rows; batched over grid points"),
        Result("landscape: batched / one point at a time", t_batched / t_point, unit="x",
               note=f"point by point {t_point:.2f} s; largest relative difference {agree:.1e}"),
        Result("landscape: PCA of the path (every step)", t_pca,
               note=f"{len(path):,} points of {path.shape[1]:,} parameters"),
    ]


def run() -> list[Result]:
    """All the sweep and landscape benchmarks."""
    return [*sweep_results(), *landscape_results()]
