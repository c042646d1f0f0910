"""Landscapes of a network: the training path's PCA plane, filter-normalized random planes, batched slices."""

from dataclasses import replace

import numpy as np
import pytest

from fitscope.engine.data import load
from fitscope.engine.experiment import Experiment
from fitscope.engine.landscape import (
    Plane,
    filter_normalized_direction,
    filter_norms,
    iter_slice,
    path_pca,
    pca_plane,
    pointwise_slice,
    random_plane,
    slice_plane,
)
from fitscope.engine.losses import MAE, MSE
from fitscope.engine.models import MLP, Linear
from fitscope.engine.surface import model_slice
from fitscope.engine.trainer import EpochReport, StepReport


@pytest.fixture(scope="module")
def boston_mlp():
    """The 2-layer Boston MLP (12 → 50 → 50 → 1), trained 15 epochs; its start and every epoch's weights."""
    ds = load("boston-housing")
    exp = Experiment(ds, replace(ds.defaults, model="mlp", hidden=(50, 50), epochs=15))
    path = [exp.trainer.params.copy()]
    path += [r.params.copy() for r in exp.trainer.run() if isinstance(r, EpochReport)]
    return exp, np.array(path)


def _small_data(n=30, n_features=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_features))
    return X, np.sin(X[:, 0]) + 0.5 * X[:, 1] + rng.normal(scale=0.1, size=n)


# --- the PCA plane of the training path ---
@pytest.mark.parametrize("centered", [True, False])
def test_pca_of_the_path_against_an_svd(boston_mlp, centered):
    _, path = boston_mlp
    pca = path_pca(path, centered)
    M = path - path[-1]
    C = M - M.mean(axis=0) if centered else M
    _, S, Vt = np.linalg.svd(C, full_matrices=False)
    np.testing.assert_allclose(pca.explained, S[:2] ** 2 / (S**2).sum(), rtol=1e-8)
    for k in range(2):
        assert abs(pca.directions[k] @ Vt[k]) == pytest.approx(1.0, abs=1e-8)
    np.testing.assert_allclose(pca.directions @ pca.directions.T, np.eye(2), atol=1e-12)


@pytest.mark.parametrize("centered", [True, False])
def test_the_plane_explains_the_variance_it_reports(boston_mlp, centered):
    _, path = boston_mlp
    plane = pca_plane(path, centered)
    M = path - path[-1]
    if centered:
        kept = ((plane.path - plane.path.mean(axis=0)) ** 2).sum(axis=0)
        whole = ((M - M.mean(axis=0)) ** 2).sum()
    else:
        kept, whole = (plane.path**2).sum(axis=0), (M**2).sum()
    np.testing.assert_allclose(kept / whole, plane.explained, rtol=1e-9)
    assert 0 < plane.explained[1] <= plane.explained[0] and plane.explained.sum() <= 1 + 1e-12
    assert f"{100 * plane.explained[0]:.1f} %" in plane.caption


def test_the_projected_path_ends_at_the_origin(boston_mlp):
    _, path = boston_mlp
    plane = pca_plane(path)
    assert plane.path.shape == (len(path), 2)
    np.testing.assert_array_equal(plane.path[-1], [0.0, 0.0])
    np.testing.assert_array_equal(plane.origin, path[-1])
    np.testing.assert_allclose(plane.path, (path - path[-1]) @ np.stack([plane.d1, plane.d2]).T, atol=1e-12)
    np.testing.assert_allclose(plane.project(path), plane.path, atol=1e-9)
    assert np.all(plane.path[0] >= 0)  # the signs are chosen so: the path starts in the first quadrant
    lo_a, hi_a, lo_b, hi_b = plane.default_window()
    assert lo_a < plane.path[:, 0].min() and hi_a > plane.path[:, 0].max()
    assert lo_b < plane.path[:, 1].min() and hi_b > plane.path[:, 1].max()


def test_pca_of_a_path_longer_than_the_parameters():
    """A linear model's path has more points than parameters: the other Gram matrix; the same answer."""
    ds = load("boston-housing")
    exp = Experiment(ds, replace(ds.defaults, epochs=3))
    path = np.array([exp.trainer.params] + [r.params for r in exp.trainer.run() if isinstance(r, StepReport)])
    assert len(path) > path.shape[1]
    pca = path_pca(path)
    C = (path - path[-1]) - (path - path[-1]).mean(axis=0)
    _, S, Vt = np.linalg.svd(C, full_matrices=False)
    np.testing.assert_allclose(pca.explained, S[:2] ** 2 / (S**2).sum(), rtol=1e-8)
    assert abs(pca.directions[0] @ Vt[0]) == pytest.approx(1.0, abs=1e-8)


def test_a_straight_path_and_a_still_one():
    start, end = np.array([1.0, 2.0, 3.0]), np.array([0.0, 0.0, 1.0])
    line = np.array([start, (start + end) / 2, end])
    pca = path_pca(line, centered=False)
    np.testing.assert_allclose(pca.explained, [1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(pca.directions @ pca.directions.T, np.eye(2), atol=1e-12)
    with pytest.raises(ValueError, match="does not move"):
        path_pca(np.array([start, start]))
    with pytest.raises(ValueError, match="two points"):
        path_pca(start[None, :])


# --- filter-normalized random directions ---
def test_each_filter_has_its_weights_norm_and_biases_get_none(boston_mlp):
    exp, path = boston_mlp
    theta = path[-1]
    d = filter_normalized_direction(exp.model, theta, np.random.default_rng(3))
    norms_d, norms_w = filter_norms(exp.model, d), filter_norms(exp.model, theta)
    assert [n.shape for n in norms_d] == [(50,), (50,), (1,)]  # one norm per unit of each dense layer
    for nd, nw in zip(norms_d, norms_w, strict=True):
        np.testing.assert_allclose(nd, nw, rtol=1e-12)
    i = 0
    for name, p in exp.model.parameters().items():
        if name.endswith("bias"):
            assert not d[i : i + p.size].any()
        else:  # a kernel's filters are its columns (one unit's incoming weights), shape (in, out)
            column = d[i : i + p.size].reshape(p.shape)[:, 7 % p.shape[1]]
            assert np.linalg.norm(column) == pytest.approx(np.linalg.norm(
                theta[i : i + p.size].reshape(p.shape)[:, 7 % p.shape[1]]), rel=1e-12)
        i += p.size


def test_random_planes_are_seeded_and_hold_zero_filters_at_zero():
    model = MLP(4, (5,), seed=1)
    theta = model.get_flat()
    theta[:20].reshape(4, 5)[:, 2] = 0.0  # one unit with no incoming weights
    p1, p2 = random_plane(model, theta, seed=5), random_plane(model, theta, seed=5)
    np.testing.assert_array_equal(p1.d1, p2.d1)
    assert not np.array_equal(p1.d1, p1.d2)
    assert not np.array_equal(p1.d1, random_plane(model, theta, seed=6).d1)
    assert not p1.d1[:20].reshape(4, 5)[:, 2].any()
    assert p1.default_window() == (-1.0, 1.0, -1.0, 1.0)
    assert "Li et al." in p1.caption


def test_a_linear_models_kernel_is_one_filter():
    model = Linear(3, seed=2)
    theta = model.get_flat()
    d = filter_normalized_direction(model, theta, np.random.default_rng(0))
    assert np.linalg.norm(d[:3]) == pytest.approx(np.linalg.norm(theta[:3]), rel=1e-12) and d[3] == 0.0


# --- batched slices ---
def _coordinate_plane(theta0, i, j):
    origin = np.array(theta0, dtype=np.float64)
    origin[[i, j]] = 0.0
    e_i, e_j = np.zeros_like(origin), np.zeros_like(origin)
    e_i[i], e_j[j] = 1.0, 1.0
    return Plane(origin, e_i, e_j)


def _grid(slice_fn):
    for report in slice_fn:
        if report.values is not None:
            return report.values
    raise AssertionError("no grid")


@pytest.mark.parametrize("loss", [MSE, MAE])
def test_batched_slice_of_the_boston_mlp_equals_model_slice(boston_mlp, loss):
    exp, path = boston_mlp
    theta, model = path[-1], exp.model
    for i, j in ((0, 1), (5, 700), (620, 3250)):  # first layer, first and second, first and output bias
        a = np.linspace(theta[i] - 1.0, theta[i] + 1.0, 7)
        b = np.linspace(theta[j] - 2.0, theta[j] + 2.0, 5)
        batched = _grid(iter_slice(model, exp.X, exp.y, loss, _coordinate_plane(theta, i, j), a, b))
        reference = model_slice(model, exp.X, exp.y, loss, theta, i, j, a, b)
        np.testing.assert_allclose(batched, reference, rtol=1e-12)


@pytest.mark.parametrize("activation", ["sigmoid", "relu", "tanh", "linear"])
@pytest.mark.parametrize("hidden", [(6,), (5, 4, 3)])
def test_batched_slice_equals_point_by_point_for_every_activation(activation, hidden):
    X, y = _small_data()
    model = MLP(X.shape[1], hidden, activation, seed=4)
    plane = random_plane(model, model.get_flat(), seed=1)
    plane = Plane(plane.origin, plane.d1 + 0.1, plane.d2 - 0.05)  # biases move too
    a, b = np.linspace(-1.5, 1.5, 9), np.linspace(-1, 1, 8)
    for loss in (MSE, MAE):
        batched = _grid(iter_slice(model, X, y, loss, plane, a, b))
        np.testing.assert_allclose(batched, pointwise_slice(model, X, y, loss, plane, a, b), rtol=1e-12)


def test_batched_slice_of_a_linear_model_equals_the_closed_form():
    X, y = _small_data()
    exp_model = Linear(X.shape[1], seed=0)
    theta = np.array([0.5, -1.0, 2.0, 0.1, 0.3])
    a, b = np.linspace(-2, 2, 11), np.linspace(-3, 1, 6)
    batched = _grid(iter_slice(exp_model, X, y, MSE, _coordinate_plane(theta, 1, 4), a, b))
    np.testing.assert_allclose(batched, model_slice(exp_model, X, y, MSE, theta, 1, 4, a, b), rtol=1e-12)


def test_chunks_of_points_and_blocks_of_rows_give_the_same_grid(boston_mlp):
    exp, path = boston_mlp
    plane = random_plane(exp.model, path[-1], seed=0)
    a = b = np.linspace(-0.5, 0.5, 6)
    whole = _grid(iter_slice(exp.model, exp.X, exp.y, MSE, plane, a, b, max_elements=10**8))
    for max_elements in (50 * 266 * 7, 1000, 1):  # 7 points a chunk; then rows split into blocks
        reports = list(iter_slice(exp.model, exp.X, exp.y, MSE, plane, a, b, max_elements=max_elements))
        np.testing.assert_allclose(reports[-1].values, whole, rtol=1e-12)
        assert len(reports) > 1
    assert len(list(iter_slice(exp.model, exp.X, exp.y, MSE, plane, a, b, max_elements=50 * 266 * 7))) == 6


def test_progress_and_the_grid_in_the_last_report(boston_mlp):
    exp, path = boston_mlp
    plane = random_plane(exp.model, path[-1])
    a, b = np.linspace(-1, 1, 20), np.linspace(-1, 1, 15)
    before = np.geterr()
    reports = []
    for report in iter_slice(exp.model, exp.X, exp.y, MSE, plane, a, b, max_elements=50 * 266 * 40):
        reports.append(report)
        assert np.geterr() == before  # the generator does not leave its error state with the consumer
    dones = [r.done for r in reports]
    assert dones == sorted(dones) and dones[-1] == 300 and all(r.total == 300 for r in reports)
    assert all(r.values is None for r in reports[:-1]) and reports[-1].values.shape == (20, 15)
    assert len(reports) == 300 // 40 + 1


def test_cancel_stops_early(boston_mlp):
    exp, path = boston_mlp
    plane = random_plane(exp.model, path[-1])
    a = b = np.linspace(-1, 1, 30)
    seen = []
    result = slice_plane(exp.model, exp.X, exp.y, MSE, plane, a, b, max_elements=50 * 266 * 10,
                         progress=lambda done, total: seen.append(done), cancel=lambda: len(seen) >= 3)
    assert result is None and seen == [10, 20, 30]  # 3 chunks of 10 points of the 900
    done = slice_plane(exp.model, exp.X, exp.y, MSE, plane, a, b, cancel=lambda: False)
    np.testing.assert_allclose(done, pointwise_slice(exp.model, exp.X, exp.y, MSE, plane, a, b), rtol=1e-12)


def test_a_plane_of_another_model_is_refused(boston_mlp):
    exp, _ = boston_mlp
    plane = random_plane(Linear(12), Linear(12).get_flat())
    with pytest.raises(ValueError, match="not a plane of this model"):
        next(iter_slice(exp.model, exp.X, exp.y, MSE, plane, [0.0], [0.0]))
