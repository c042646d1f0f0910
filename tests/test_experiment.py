"""Experiments on the built-in data: the reference figures of DESIGN.md, the validation split, loss_at."""

import warnings
from dataclasses import replace

import numpy as np
import pytest

from fitscope.engine.data import Dataset, load
from fitscope.engine.experiment import Experiment
from fitscope.engine.models import MLP, Linear
from fitscope.engine.settings import FitSettings
from fitscope.engine.surface import design
from fitscope.engine.trainer import DivergedReport, EpochReport, StepReport


@pytest.fixture(scope="module")
def boston():
    return load("boston-housing")


@pytest.fixture(scope="module")
def download_time():
    return load("download-time")


def _dataset(X, y, X_test=None, y_test=None, feature_names=None, **settings):
    """A Dataset made from arrays (no file), with FitSettings(**settings) as its defaults."""
    names = tuple(feature_names or (f"f{i}" for i in range(X.shape[1])))
    return Dataset(
        name="arrays", source="arrays", feature_names=names, target_name="t", X_train=X, y_train=y,
        X_test=X_test, y_test=y_test, descriptions={}, target_unit="", defaults=FitSettings(**settings),
    )


# --- the reference figures ---


def test_boston_mean_target_and_baseline(boston):
    exp = Experiment(boston)
    assert round(float(boston.y_train.mean()), 6) == 22.768769
    assert exp.baseline_loss("test") == pytest.approx(85.582852, abs=5e-7)


def test_boston_least_squares_on_z_scored_features(boston):
    # least squares on all 333 training rows (no validation split)
    exp = Experiment(boston, replace(boston.defaults, validation_split=0.0))
    assert exp.X.shape == (333, 12)
    theta = exp.stats.optimum()
    np.testing.assert_allclose(theta, np.linalg.lstsq(design(exp.X), exp.y, rcond=None)[0], rtol=1e-9)
    assert exp.loss_at(theta, "test") == pytest.approx(22.611198, abs=5e-7)
    assert exp.loss_at(theta, "train") == pytest.approx(23.13, abs=0.005)


def test_download_time_least_squares(download_time):
    exp = Experiment(download_time)
    k, b = exp.stats.optimum()
    assert (round(float(k), 4), round(float(b), 4)) == (0.0684, 0.0868)


def test_boston_linear_with_the_book_settings(boston):
    exp = Experiment(boston)  # sgd 0.01, batch 40, 200 epochs, validation split 0.2, normalized
    assert exp.settings == boston.defaults
    reports = list(exp.trainer.run())
    last = reports[-1]
    assert isinstance(last, EpochReport) and last.epoch == 200
    assert 21 < last.loss < 25
    assert last.test_loss == exp.test_loss()
    # SGD ends near the least-squares fit of the 266 rows it trained on (shuffled with the seed first, as
    # tfjs-examples' loader does: the file keeps the towns' order, so its last fifth is no fair validation set).
    best = exp.stats.optimum()
    assert exp.loss_at(last.params, "train") - exp.loss_at(best, "train") < 0.5
    assert last.test_loss == pytest.approx(exp.loss_at(best, "test"), abs=1.0)
    assert 21.5 < last.test_loss < 24.0


def test_boston_rows_are_shuffled_with_the_seed_before_the_split(boston):
    exp = Experiment(boston)
    order = np.random.default_rng(boston.defaults.seed).permutation(333)
    std = exp.standardizer
    np.testing.assert_array_equal(exp.y, boston.y_train[order[:266]])
    np.testing.assert_array_equal(exp.y_val, boston.y_train[order[266:]])
    np.testing.assert_allclose(exp.X, std.transform(boston.X_train)[order[:266]], rtol=0, atol=0)


def test_boston_linear_without_a_validation_split_reaches_the_least_squares_test_loss(boston):
    exp = Experiment(boston, replace(boston.defaults, validation_split=0.0))
    last = list(exp.trainer.run())[-1]
    assert 21 < last.loss < 25
    assert last.test_loss == pytest.approx(22.611198, abs=0.1)
    assert last.val_loss is None


def test_download_time_diverges_at_learning_rate_10(download_time):
    exp = Experiment(download_time, replace(download_time.defaults, loss="mse", learning_rate=10.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reports = list(exp.trainer.run())
    last = reports[-1]
    assert isinstance(last, DivergedReport)
    assert np.isfinite(last.params).all()
    np.testing.assert_array_equal(exp.model.get_flat(), last.params)
    # It ran away (a loss 10⁵ times the start's after one step) and was stopped before overflowing.
    assert last.step == 2 and "over 10000 times the loss at the start (3.27)" in last.how
    assert exp.loss_at(last.params, "train") > 1e4 * reports[0].loss


# --- the validation split ---


def test_validation_split_takes_the_last_rows_before_shuffling():
    n = 10
    X = np.arange(2.0 * n).reshape(n, 2)
    y = np.arange(n, dtype=np.float64)
    exp = Experiment(_dataset(X, y, validation_split=0.3, batch_size=3, epochs=3, seed=5))
    np.testing.assert_array_equal(exp.X, X[:7])
    np.testing.assert_array_equal(exp.y, y[:7])
    np.testing.assert_array_equal(exp.X_val, X[7:])
    np.testing.assert_array_equal(exp.y_val, y[7:])
    reports = list(exp.trainer.run())
    rows = [r.indices for r in reports if isinstance(r, StepReport)]
    # only the 7 training rows are shuffled and trained on, in the seeded order
    rng = np.random.default_rng(5)
    expected = np.concatenate([rng.permutation(7) for _ in range(3)])
    np.testing.assert_array_equal(np.concatenate(rows), expected)
    for e in (r for r in reports if isinstance(r, EpochReport)):
        model = Linear(2)
        model.set_flat(e.params)
        assert e.val_loss == pytest.approx(float(np.mean((model.predict(X[7:]) - y[7:]) ** 2)), rel=1e-12)


@pytest.mark.parametrize("n, split, n_train", [(10, 0.25, 7), (333, 0.2, 266), (5, 0.5, 2), (4, 0.0, 4)])
def test_validation_split_keeps_floor_of_n_times_one_minus_split(n, split, n_train):
    X = np.random.default_rng(0).normal(size=(n, 1))
    exp = Experiment(_dataset(X, X[:, 0] * 2, validation_split=split))
    assert len(exp.y) == n_train
    assert (exp.X_val is None) == (n_train == n)
    if exp.X_val is not None:
        assert len(exp.y_val) == n - n_train


def test_normalization_uses_the_whole_training_file_and_names_constant_columns():
    rng = np.random.default_rng(1)
    X = np.column_stack([rng.normal(5, 2, 20), np.full(20, 3.0), rng.normal(size=20)])
    X_test = rng.normal(size=(6, 3))
    exp = Experiment(_dataset(X, X[:, 0], X_test, X_test[:, 0], feature_names=("alpha", "flat", "gamma"),
                              normalize=True, validation_split=0.25))
    np.testing.assert_allclose(exp.standardizer.mean, X.mean(axis=0))  # all 20 rows, not the first 15
    np.testing.assert_allclose(exp.standardizer.std[[0, 2]], X.std(axis=0)[[0, 2]])
    np.testing.assert_allclose(exp.X, ((X - X.mean(axis=0)) / [X[:, 0].std(), 1.0, X[:, 2].std()])[:15])
    np.testing.assert_allclose(exp.X_test, (X_test - X.mean(axis=0)) / [X[:, 0].std(), 1.0, X[:, 2].std()])
    assert "flat" in exp.notice
    assert "alpha" not in exp.notice and "gamma" not in exp.notice


def test_no_rows_left_for_training_is_an_error():
    X = np.zeros((2, 1))
    with pytest.raises(ValueError, match="leaves no training rows"):
        Experiment(_dataset(X, X[:, 0], validation_split=0.6))  # floor(2 · 0.4) = 0


# --- models and names ---


def test_init_and_mlp_settings(download_time, boston):
    exp = Experiment(download_time, replace(download_time.defaults, init=(0.5, -0.25)))
    np.testing.assert_array_equal(exp.model.get_flat(), [0.5, -0.25])
    assert exp.param_names == ["kernel", "bias"]
    with pytest.raises(ValueError, match="linear model only"):
        exp.with_settings(model="mlp")  # the (kernel, bias) start means nothing to an MLP
    mlp = exp.with_settings(model="mlp", hidden=(4, 3), activation="relu", init=None)
    assert isinstance(mlp.model, MLP) and mlp.model.hidden == (4, 3) and mlp.model.activation == "relu"
    assert not mlp.is_linear and exp.is_linear
    assert Experiment(boston).param_names == [f"kernel_{n}" for n in boston.feature_names] + ["bias"]
    with pytest.raises(ValueError, match="one-feature"):
        Experiment(boston, replace(boston.defaults, init=(0.0, 0.0)))


# --- loss_at ---


@pytest.mark.parametrize(
    "changes",
    [{}, {"loss": "mae"}, {"model": "mlp", "hidden": (5,), "activation": "tanh"}],
    ids=["linear-mse", "linear-mae", "mlp"],
)
@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_loss_at_is_pure_and_equals_direct_evaluation(boston, changes, split):
    exp = Experiment(boston, replace(boston.defaults, **changes))
    gen = exp.trainer.run()
    for _ in range(3):
        next(gen)  # train a little: the model has moved and holds forward caches
    model_before, trainer_before = exp.model.get_flat(), exp.trainer.params.copy()
    theta = model_before + np.random.default_rng(0).normal(scale=0.3, size=model_before.size)

    got = exp.loss_at(theta, split)

    np.testing.assert_array_equal(exp.model.get_flat(), model_before)
    np.testing.assert_array_equal(exp.trainer.params, trainer_before)
    X, y = {"train": (exp.X, exp.y), "val": (exp.X_val, exp.y_val), "test": (exp.X_test, exp.y_test)}[split]
    ref = MLP(12, (5,), "tanh") if changes.get("model") == "mlp" else Linear(12)
    ref.set_flat(theta)
    assert got == pytest.approx(exp.loss.loss(ref.predict(X), y), rel=1e-9)
    # training continues exactly as if loss_at had never been called
    fresh = Experiment(boston, replace(boston.defaults, **changes))
    fresh_reports = list(fresh.trainer.run())
    np.testing.assert_array_equal(list(gen)[-1].params, fresh_reports[-1].params)


def test_loss_at_a_missing_split():
    X = np.arange(6.0).reshape(6, 1)
    exp = Experiment(_dataset(X, X[:, 0]))
    with pytest.raises(ValueError, match="no val rows"):
        exp.loss_at(exp.model.get_flat(), "val")
    with pytest.raises(ValueError, match="no test rows"):
        exp.loss_at(exp.model.get_flat(), "test")
    assert exp.test_loss() is None


@pytest.mark.parametrize(
    "changes",
    [{}, {"loss": "mae"}, {"model": "mlp", "hidden": (3,), "activation": "sigmoid"}],
    ids=["linear-mse", "linear-mae", "mlp"],
)
def test_loss_slice_equals_loss_at_on_every_grid_point(download_time, changes):
    exp = Experiment(download_time, replace(download_time.defaults, **changes))
    before = exp.model.get_flat()
    theta0 = before + 0.1
    i, j = 0, exp.model.n_params - 1
    a, b = np.linspace(-0.5, 0.5, 3), np.linspace(-1.0, 1.0, 4)
    L = exp.loss_slice(theta0, i, j, a, b)
    assert L.shape == (3, 4)
    for ia, va in enumerate(a):
        for ib, vb in enumerate(b):
            theta = theta0.copy()
            theta[[i, j]] = va, vb
            assert L[ia, ib] == pytest.approx(exp.loss_at(theta), rel=1e-10)
    np.testing.assert_array_equal(exp.model.get_flat(), before)
    np.testing.assert_array_equal(theta0, before + 0.1)


@pytest.mark.parametrize("loss", ["mse", "mae"])
def test_loss_at_and_loss_slice_at_diverged_parameters_do_not_warn(download_time, loss):
    # After a divergence the app still shows the point reached, and the surface around it.
    exp = Experiment(download_time, replace(download_time.defaults, loss=loss))
    far = np.array([-9.5e154, -1.4e154])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not exp.loss_at(far) < 1e150  # huge, inf or nan, but without a warning
        L = exp.loss_slice(far, 0, 1, np.array([far[0], 0.0]), np.array([far[1], 0.0]))
    assert L.shape == (2, 2)
