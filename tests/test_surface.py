"""Loss surfaces: the quadratic form of the MSE, grid slices, and the least-squares optimum."""

import numpy as np
import pytest

from fitscope.engine.losses import MAE, MSE
from fitscope.engine.models import MLP, Linear
from fitscope.engine.surface import QuadraticStats, design, linear_slice, model_slice


def _data(n=40, n_features=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_features)) * [1.0, 3.0, 0.5][:n_features] + [0.0, 2.0, -1.0][:n_features]
    y = X @ rng.normal(size=n_features) + 1.5 + rng.normal(scale=0.3, size=n)
    return X, y


def _direct_loss(X, y, theta, loss=MSE):
    """The loss of a linear model with flat parameters θ = [kernel…, bias], computed by the Linear model."""
    model = Linear(X.shape[1])
    model.set_flat(theta)
    return loss.loss(model.predict(X), y)


def _direct_grid(X, y, loss, theta0, i, j, a, b):
    out = np.empty((len(a), len(b)))
    for ia, va in enumerate(a):
        for ib, vb in enumerate(b):
            theta = np.array(theta0, dtype=np.float64)
            theta[i], theta[j] = va, vb
            out[ia, ib] = _direct_loss(X, y, theta, loss)
    return out


def test_design_appends_a_column_of_ones():
    X = np.array([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(design(X), [[1, 2, 1], [3, 4, 1]])


@pytest.mark.parametrize("n_features", [1, 3])
def test_quadratic_loss_equals_direct_mse(n_features):
    X, y = _data(n_features=n_features)
    stats = QuadraticStats.from_data(X, y)
    rng = np.random.default_rng(1)
    for _ in range(10):
        theta = rng.normal(scale=2.0, size=n_features + 1)
        assert stats.loss(theta) == pytest.approx(_direct_loss(X, y, theta), rel=1e-10)


def test_quadratic_gradient_equals_the_linear_models_gradient():
    X, y = _data()
    stats = QuadraticStats.from_data(X, y)
    theta = np.array([0.3, -0.2, 1.0, 0.5])
    model = Linear(3)
    model.set_flat(theta)
    grads = model.backward(MSE.grad(model.forward(X), y))
    np.testing.assert_allclose(stats.gradient(theta), np.concatenate([g.ravel() for g in grads]), rtol=1e-10)


def test_optimum_equals_lstsq_on_the_design_matrix():
    X, y = _data()
    stats = QuadraticStats.from_data(X, y)
    expected = np.linalg.lstsq(design(X), y, rcond=None)[0]
    np.testing.assert_allclose(stats.optimum(), expected, rtol=1e-9)
    np.testing.assert_allclose(stats.gradient(stats.optimum()), 0.0, atol=1e-10)


def test_optimum_with_collinear_features_is_a_minimum():
    X, y = _data(n_features=2)
    X = np.column_stack([X, 2 * X[:, 0]])  # the third feature is twice the first
    stats = QuadraticStats.from_data(X, y)
    theta = stats.optimum()
    best = np.linalg.lstsq(design(X), y, rcond=None)[0]
    assert stats.loss(theta) == pytest.approx(_direct_loss(X, y, best), rel=1e-8)


GRID_CASES = [(0, 1), (1, 3), (3, 0), (2, 3)]


@pytest.mark.parametrize("i, j", GRID_CASES)
def test_slice_equals_linear_slice_and_direct_evaluation(i, j):
    X, y = _data()
    stats = QuadraticStats.from_data(X, y)
    theta0 = np.array([0.4, -0.3, 0.8, 1.0])
    a = np.linspace(-2, 2, 7)
    b = np.linspace(-1, 3, 5)
    s = stats.slice(theta0, i, j, a, b)
    assert s.shape == (7, 5)  # L[ia, ib]: the first axis follows a
    np.testing.assert_allclose(s, linear_slice(X, y, MSE, theta0, i, j, a, b), rtol=1e-10)
    np.testing.assert_allclose(s, _direct_grid(X, y, MSE, theta0, i, j, a, b), rtol=1e-10)


def test_slice_leaves_theta0_unchanged():
    X, y = _data()
    stats = QuadraticStats.from_data(X, y)
    theta0 = np.array([0.4, -0.3, 0.8, 1.0])
    stats.slice(theta0, 0, 1, np.zeros(2), np.zeros(2))
    linear_slice(X, y, MAE, theta0, 0, 1, np.zeros(2), np.zeros(2))
    np.testing.assert_array_equal(theta0, [0.4, -0.3, 0.8, 1.0])


@pytest.mark.parametrize("i, j", [(0, 3), (1, 2)])
def test_grid_minimum_is_within_one_cell_of_the_slice_optimum(i, j):
    X, y = _data()
    stats = QuadraticStats.from_data(X, y)
    opt = stats.optimum()
    theta0 = opt + np.array([0.3, -0.2, 0.1, 0.4])  # off the optimum: the slice optimum is not opt
    ca, cb = stats.slice_optimum(theta0, i, j)
    a = np.linspace(ca - 1.7, ca + 2.3, 81)
    b = np.linspace(cb - 2.1, cb + 1.9, 61)
    L = stats.slice(theta0, i, j, a, b)
    ia, ib = np.unravel_index(np.argmin(L), L.shape)
    assert abs(a[ia] - ca) <= a[1] - a[0]
    assert abs(b[ib] - cb) <= b[1] - b[0]
    # the slice optimum really is the minimum over the plane: the gradient's i, j parts vanish there
    theta = theta0.copy()
    theta[[i, j]] = ca, cb
    np.testing.assert_allclose(stats.gradient(theta)[[i, j]], 0.0, atol=1e-10)


def test_grid_minimum_through_the_optimum_is_within_one_cell_of_it():
    X, y = _data()
    stats = QuadraticStats.from_data(X, y)
    opt = stats.optimum()
    a = np.linspace(opt[0] - 3, opt[0] + 2, 51)
    b = np.linspace(opt[3] - 2, opt[3] + 4, 41)
    L = stats.slice(opt, 0, 3, a, b)
    ia, ib = np.unravel_index(np.argmin(L), L.shape)
    assert abs(a[ia] - opt[0]) <= a[1] - a[0]
    assert abs(b[ib] - opt[3]) <= b[1] - b[0]
    np.testing.assert_allclose(stats.slice_optimum(opt, 0, 3), opt[[0, 3]], rtol=1e-8)


@pytest.mark.parametrize("max_elements", [1, 7, 100, 4_000_000])
def test_linear_slice_mae_equals_direct_evaluation_for_any_chunking(max_elements):
    X, y = _data(n=23)
    theta0 = np.array([0.1, 0.2, -0.3, 0.5])
    a = np.linspace(-1, 1, 4)
    b = np.linspace(0, 2, 3)
    got = linear_slice(X, y, MAE, theta0, 1, 3, a, b, max_elements=max_elements)
    np.testing.assert_allclose(got, _direct_grid(X, y, MAE, theta0, 1, 3, a, b), rtol=1e-12)


@pytest.mark.parametrize("loss", [MSE, MAE])
def test_model_slice_on_an_mlp_equals_direct_evaluation_and_leaves_the_model(loss):
    X, y = _data(n=15, n_features=2)
    model = MLP(2, (3,), "tanh", seed=1)
    before = model.get_flat()
    theta0 = before + 0.1
    a, b = np.linspace(-1, 1, 3), np.linspace(-0.5, 0.5, 4)
    i, j = 1, model.n_params - 1
    L = model_slice(model, X, y, loss, theta0, i, j, a, b)
    assert L.shape == (3, 4)
    for ia, va in enumerate(a):
        for ib, vb in enumerate(b):
            theta = theta0.copy()
            theta[i], theta[j] = va, vb
            ref = MLP(2, (3,), "tanh")
            ref.set_flat(theta)
            assert L[ia, ib] == pytest.approx(loss.loss(ref.predict(X), y), rel=1e-12)
    np.testing.assert_array_equal(model.get_flat(), before)
    np.testing.assert_array_equal(theta0, before + 0.1)


def test_quadratic_mse_is_never_negative_on_exactly_linear_data():
    # y = 0.07·x + 0.09 exactly: the minimum is 0, and θᵀGθ − 2θᵀh + c cancels to ±1e-16 there. An MSE
    # below zero is impossible; a caller taking its log (a log-scaled surface or loss curve) would get NaN.
    lowest = []
    for seed in range(8):
        rng = np.random.default_rng(seed)
        X = rng.uniform(0, 10, size=(20, 1))
        y = 0.07 * X[:, 0] + 0.09
        stats = QuadraticStats.from_data(X, y)
        opt = stats.optimum()
        np.testing.assert_allclose(opt, [0.07, 0.09], rtol=1e-10)
        a = opt[0] + np.linspace(-1e-9, 1e-9, 5)
        b = opt[1] + np.linspace(-1e-9, 1e-9, 5)
        lowest.append(min(stats.loss(opt), stats.slice(opt, 0, 1, a, b).min()))
    assert min(lowest) >= 0.0, lowest
