"""Curvature of a linear model's MSE: the Hessian, κ, the stability limit and the axes of a slice's ellipses."""

import math
from dataclasses import replace

import numpy as np
import pytest

from fitscope.engine.curvature import (
    Curvature,
    curvature_of,
    hessian,
    normalization_effect,
    stability_limit,
    steps_per_tenfold,
)
from fitscope.engine.data import load
from fitscope.engine.experiment import Experiment
from fitscope.engine.losses import MSE
from fitscope.engine.models import Linear
from fitscope.engine.numbers import prose
from fitscope.engine.surface import QuadraticStats


def _data(n=50, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)) * [1.0, 4.0, 0.3] + [0.5, -2.0, 1.0]
    y = X @ [1.0, -0.5, 2.0] + 0.7 + rng.normal(scale=0.2, size=n)
    return X, y


def _gradient(X, y, theta):
    model = Linear(X.shape[1])
    model.set_flat(theta)
    return model.backward_flat(MSE.grad(model.forward(X), y))


@pytest.fixture(scope="module")
def download_time():
    ds = load("download-time")
    return Experiment(ds, replace(ds.defaults, loss="mse"))


def test_hessian_is_the_derivative_of_the_models_gradient():
    X, y = _data()
    H = hessian(X)
    theta, h = np.array([0.2, -0.1, 0.4, 1.0]), 1e-3
    # The gradient is linear in θ, so central differences are exact up to rounding.
    fd = np.column_stack([(_gradient(X, y, theta + h * e) - _gradient(X, y, theta - h * e)) / (2 * h)
                          for e in np.eye(4)])
    np.testing.assert_allclose(H, fd, rtol=1e-7, atol=1e-9)
    Z = np.hstack([X, np.ones((len(X), 1))])
    np.testing.assert_allclose(H, 2 / len(X) * Z.T @ Z, rtol=1e-14)
    np.testing.assert_array_equal(H, H.T)


def test_eigenvalues_and_vectors_are_numpys():
    X, _ = _data()
    c = Curvature.from_rows(X)
    H = 2 / len(X) * np.hstack([X, np.ones((len(X), 1))]).T @ np.hstack([X, np.ones((len(X), 1))])
    w = np.linalg.eigvalsh(H)
    np.testing.assert_allclose(c.eigenvalues, w, rtol=1e-12)
    assert c.lam_max == pytest.approx(w[-1], rel=1e-12) and c.lam_min == pytest.approx(w[0], rel=1e-12)
    assert c.condition == pytest.approx(w[-1] / w[0], rel=1e-12)
    assert c.stability_limit == pytest.approx(2 / w[-1], rel=1e-12)
    _, V = np.linalg.eigh(H)
    for k in range(4):  # the same directions (an eigenvector's sign is arbitrary)
        assert abs(c.eigenvectors[:, k] @ V[:, k]) == pytest.approx(1.0, abs=1e-10)
        np.testing.assert_allclose(H @ c.eigenvectors[:, k], w[k] * c.eigenvectors[:, k], atol=1e-10 * w[-1])


def test_download_time_numbers_of_the_design_notes(download_time):
    c = curvature_of(download_time)
    assert round(c.stability_limit, 4) == 0.0464
    assert round(c.condition) == 39
    assert c.names == ["kernel", "bias"]
    text = c.sentence()
    assert "0.0464" in text and "39.2" in text and "45 steps" in text


def test_curvature_is_the_experiments_training_rows():
    ds = load("boston-housing")
    exp = Experiment(ds)  # validation split 0.2: 266 of 333 rows
    c = curvature_of(exp)
    assert c.n_rows == len(exp.y) == 266
    np.testing.assert_allclose(c.hessian, 2 * QuadraticStats.from_data(exp.X, exp.y).G, rtol=1e-12)
    assert c.names[-1] == "bias" and c.names[0] == f"kernel_{ds.feature_names[0]}"


def test_curvature_refuses_other_models_and_losses(download_time):
    with pytest.raises(ValueError, match="linear model with MSE"):
        curvature_of(download_time.with_settings(loss="mae"))
    ds = load("boston-housing")
    with pytest.raises(ValueError, match="linear model with MSE"):
        curvature_of(Experiment(ds, replace(ds.defaults, model="mlp", hidden=(4,))))


def test_normalization_lowers_kappa_on_boston_by_orders_of_magnitude():
    ds = load("boston-housing")
    effect = normalization_effect(ds)
    raw = curvature_of(Experiment(ds, replace(ds.defaults, normalize=False)))
    norm = curvature_of(Experiment(ds, replace(ds.defaults, normalize=True)))
    assert effect.raw.condition == pytest.approx(raw.condition, rel=1e-9)
    assert effect.normalized.condition == pytest.approx(norm.condition, rel=1e-9)
    assert effect.factor > 1e4
    assert effect.normalized.stability_limit > 1e4 * effect.raw.stability_limit
    text = effect.sentence()
    assert prose(raw.condition) in text and prose(norm.condition) in text
    assert prose(norm.stability_limit) in text


def test_normalization_effect_ignores_the_settings_model():
    ds = load("boston-housing")
    mlp = normalization_effect(ds, replace(ds.defaults, model="mlp", loss="mae"))
    lin = normalization_effect(ds)
    np.testing.assert_array_equal(mlp.raw.eigenvalues, lin.raw.eigenvalues)


def test_stability_limits_by_optimizer():
    assert stability_limit(4.0) == 0.5
    assert stability_limit(4.0, "momentum", 0.9) == pytest.approx(2 * 1.9 / 4)
    assert stability_limit(4.0, "momentum", 1.0) is None
    assert stability_limit(4.0, "adam") is None and stability_limit(4.0, "rmsprop") is None
    assert stability_limit(0.0) is None


@pytest.mark.parametrize("kappa", [2.0, 10.0, 39.2, 500.0])
def test_steps_per_tenfold_matches_gradient_descent_at_its_best_rate(kappa):
    lam = np.array([1.0, kappa])  # a quadratic ½ Σ λ_k e_k², started on the flattest direction
    rate = 2 / (lam[0] + lam[1])
    e, steps = np.array([1.0, 0.0]), 0
    while abs(e[0]) > 0.1:
        e = e - rate * lam * e
        steps += 1
    assert math.ceil(steps_per_tenfold(kappa) - 1e-9) == steps


def test_steps_per_tenfold_edges():
    assert steps_per_tenfold(1.0) == 1.0 and steps_per_tenfold(math.inf) == math.inf
    assert steps_per_tenfold(1e6) == pytest.approx(1e6 * math.log(10) / 2, rel=1e-5)


def test_a_repeated_feature_makes_kappa_infinite():
    X, _ = _data()
    c = Curvature.from_rows(np.column_stack([X, X[:, 1]]))
    assert c.flat and c.condition == math.inf
    assert "infinite" in c.sentence()


def test_slice_axes_are_the_eigenvectors_of_the_two_by_two_block():
    X, y = _data()
    c = Curvature.from_rows(X)
    axes = c.slice_axes(1, 3)
    block = c.hessian[np.ix_([1, 3], [1, 3])]
    np.testing.assert_array_equal(axes.hessian, block)
    w, V = np.linalg.eigh(block)
    np.testing.assert_allclose(axes.eigenvalues, w, rtol=1e-12)
    for k in range(2):
        assert abs(axes.eigenvectors[:, k] @ V[:, k]) == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(ValueError):
        c.slice_axes(2, 2)


def test_slice_axes_end_on_the_contour_they_are_drawn_for():
    """The segments through the slice's minimum end where the slice's loss is L_min + Δ, wherever the other
    parameters are held."""
    X, y = _data()
    stats, c = QuadraticStats.from_data(X, y), Curvature.from_rows(X)
    axes = c.slice_axes(0, 2)
    for theta0 in (stats.optimum(), np.array([3.0, -1.0, 0.0, 5.0])):
        center = stats.slice_optimum(theta0, 0, 2)
        l_min = stats.slice(theta0, 0, 2, [center[0]], [center[1]])[0, 0]
        delta = 0.75
        seg = axes.segments(center, delta)
        for k in range(2):
            for end in range(2):
                a, b = seg[k, end]
                assert stats.slice(theta0, 0, 2, [a], [b])[0, 0] == pytest.approx(l_min + delta, rel=1e-9)
            # each axis is centred on the slice's minimum
            mid = seg[k].mean(axis=0)
            np.testing.assert_allclose(mid, center, atol=1e-12)
        half = np.linalg.norm(seg[:, 1] - seg[:, 0], axis=1) / 2
        np.testing.assert_allclose(half, np.sqrt(2 * delta / axes.eigenvalues), rtol=1e-12)
        assert half[0] > half[1]  # the long axis first (the smaller eigenvalue)
