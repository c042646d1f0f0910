"""Losses: values and gradients on hand-computed examples, and against finite differences."""

import numpy as np
import pytest

from fitscope.engine.losses import LOSSES, MAE, MSE, get_loss

Y_PRED = np.array([1.0, 2.0, 3.0, -1.0])
Y = np.array([0.0, 2.0, 5.0, 0.5])
# residuals ŷ − y = [1, 0, −2, −1.5]


def test_mse_value_by_hand():
    assert MSE.loss(Y_PRED, Y) == pytest.approx((1 + 0 + 4 + 2.25) / 4)


def test_mse_grad_by_hand():
    np.testing.assert_allclose(MSE.grad(Y_PRED, Y), [2 * 1 / 4, 0.0, 2 * -2 / 4, 2 * -1.5 / 4])


def test_mae_value_by_hand():
    assert MAE.loss(Y_PRED, Y) == pytest.approx((1 + 0 + 2 + 1.5) / 4)


def test_mae_grad_by_hand_with_sign_of_zero_being_zero():
    g = MAE.grad(Y_PRED, Y)
    np.testing.assert_array_equal(g, [0.25, 0.0, -0.25, -0.25])
    assert g[1] == 0.0  # the residual is exactly 0 there: sign(0) = 0


@pytest.mark.parametrize("loss", [MSE, MAE])
def test_loss_of_a_perfect_fit_is_zero(loss):
    assert loss.loss(Y, Y) == 0.0
    np.testing.assert_array_equal(loss.grad(Y, Y), np.zeros_like(Y))


@pytest.mark.parametrize("loss", [MSE, MAE])
def test_loss_is_a_python_float_and_grad_has_the_batch_shape(loss):
    assert type(loss.loss(Y_PRED, Y)) is float
    assert loss.grad(Y_PRED, Y).shape == Y.shape


@pytest.mark.parametrize("loss", [MSE, MAE])
def test_grad_matches_central_differences(loss):
    # Residuals at least 0.1 from 0, so MAE's kink at ŷ = y is never within h of a point.
    rng = np.random.default_rng(3)
    y = rng.normal(size=7)
    y_pred = y + rng.choice([-1, 1], size=7) * rng.uniform(0.1, 2.0, size=7)
    h = 1e-6
    numeric = np.empty_like(y_pred)
    for i in range(y_pred.size):
        e = np.zeros_like(y_pred)
        e[i] = h
        numeric[i] = (loss.loss(y_pred + e, y) - loss.loss(y_pred - e, y)) / (2 * h)
    np.testing.assert_allclose(loss.grad(y_pred, y), numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("loss", [MSE, MAE])
def test_loss_is_the_mean_over_the_batch(loss):
    # Repeating the batch leaves a mean unchanged and halves each per-sample gradient.
    doubled_pred, doubled_y = np.tile(Y_PRED, 2), np.tile(Y, 2)
    assert loss.loss(doubled_pred, doubled_y) == pytest.approx(loss.loss(Y_PRED, Y))
    np.testing.assert_allclose(loss.grad(doubled_pred, doubled_y)[:4], loss.grad(Y_PRED, Y) / 2)


@pytest.mark.parametrize("name, cls", [("mse", MSE), ("mae", MAE)])
def test_get_loss_by_name(name, cls):
    assert get_loss(name) is cls
    assert cls.name == name
    assert LOSSES[name] is cls


def test_get_loss_unknown_name():
    with pytest.raises(ValueError, match="unknown loss 'huber'"):
        get_loss("huber")
