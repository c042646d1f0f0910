"""Models: analytic gradients against central finite differences, forward passes, initialisation."""

import numpy as np
import pytest

from fitscope.engine.losses import MAE, MSE
from fitscope.engine.models import ACTIVATIONS, MLP, Linear, glorot_uniform, lecun_normal

N_MLP_FEATURES = 3
MODEL_FACTORIES = {
    "linear-1": lambda: Linear(1, seed=1),
    "linear-4": lambda: Linear(4, seed=1),
    **{
        f"mlp-{act}-{'x'.join(map(str, hidden))}": (
            lambda act=act, hidden=hidden: MLP(N_MLP_FEATURES, hidden, act, seed=1)
        )
        for act in ("sigmoid", "relu", "tanh", "linear")
        for hidden in ((5,), (4, 3))
    },
}

H = 1e-6  # finite-difference step
KINK_MARGIN = 0.05  # distance kept from relu's kink (pre-activation 0) and MAE's kink (residual 0)


def _hidden_preactivations(model, X):
    """The pre-activations of every hidden layer of an MLP, computed from its parameters by hand."""
    arrays = list(model.parameters().values())
    f = ACTIVATIONS[model.activation][0]
    a, out = X, []
    for W, b in zip(arrays[:-2:2], arrays[1:-2:2], strict=True):
        z = a @ W + b
        out.append(z)
        a = f(z)
    return out


def _smooth_problem(model, seed=0, n=8):
    """Random parameters and a batch (X, y) on which the loss is smooth around those parameters.

    Kinks: relu is not differentiable at a pre-activation of 0, and MAE not at a residual of 0. A central
    difference that straddles a kink compares one-sided slopes, so we keep the data away from both:
    rows whose hidden pre-activations come within KINK_MARGIN of 0 are dropped, and the targets are set
    at a distance in [0.3, 1] from the predictions. A step of H = 1e-6 moves any pre-activation or residual
    by far less than the margins, so every difference quotient stays on one smooth piece.
    """
    rng = np.random.default_rng(seed)
    model.set_flat(rng.normal(scale=0.8, size=model.n_params))  # non-zero biases too
    X = rng.normal(size=(10 * n, model.n_features))
    if isinstance(model, MLP):
        keep = np.all([np.abs(z).min(axis=1) > KINK_MARGIN for z in _hidden_preactivations(model, X)], axis=0)
        X = X[keep]
    assert len(X) >= n, "not enough rows away from the kinks; change the seed"
    X = X[:n]
    y = model.predict(X) + rng.choice([-1.0, 1.0], size=n) * rng.uniform(0.3, 1.0, size=n)
    return X, y


@pytest.mark.parametrize("loss", [MSE, MAE], ids=["mse", "mae"])
@pytest.mark.parametrize("name", list(MODEL_FACTORIES))
def test_gradient_matches_central_differences(name, loss):
    model = MODEL_FACTORIES[name]()
    X, y = _smooth_problem(model)
    theta = model.get_flat()

    pred = model.forward(X)
    analytic = np.concatenate([g.ravel() for g in model.backward(loss.grad(pred, y))])

    numeric = np.empty_like(theta)
    for i in range(theta.size):
        e = np.zeros_like(theta)
        e[i] = H
        numeric[i] = (
            loss.loss(model.predict_flat(theta + e, X), y) - loss.loss(model.predict_flat(theta - e, X), y)
        ) / (2 * H)

    assert np.abs(analytic).max() > 1e-3  # the check is not vacuous
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8)
    np.testing.assert_array_equal(model.get_flat(), theta)  # predict_flat changed nothing


@pytest.mark.parametrize("name", list(MODEL_FACTORIES))
def test_backward_returns_one_gradient_per_parameter_in_order(name):
    model = MODEL_FACTORIES[name]()
    X, y = _smooth_problem(model)
    grads = model.backward(MSE.grad(model.forward(X), y))
    params = model.parameters()
    assert [g.shape for g in grads] == [p.shape for p in params.values()]
    assert all(g.dtype == np.float64 for g in grads)


@pytest.mark.parametrize("name", list(MODEL_FACTORIES))
def test_forward_predict_and_predict_flat_agree(name):
    model = MODEL_FACTORIES[name]()
    X, _ = _smooth_problem(model)
    before = model.get_flat()
    np.testing.assert_array_equal(model.forward(X), model.predict(X))
    np.testing.assert_array_equal(model.predict_flat(model.get_flat(), X), model.predict(X))
    other = before + 1.0
    assert not np.allclose(model.predict_flat(other, X), model.predict(X))
    np.testing.assert_array_equal(model.get_flat(), before)
    assert model.predict(X).shape == (len(X),)


def test_linear_forward_is_x_dot_kernel_plus_bias():
    model = Linear(2, kernel=[2.0, -3.0], bias=0.5)
    X = np.array([[1.0, 1.0], [0.0, 2.0], [4.0, 0.0]])
    np.testing.assert_allclose(model.predict(X), [2 - 3 + 0.5, -6 + 0.5, 8 + 0.5])
    np.testing.assert_array_equal(model.get_flat(), [2.0, -3.0, 0.5])


ACTIVATION_FORMULAS = {
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "relu": lambda z: np.where(z > 0, z, 0.0),
    "tanh": np.tanh,
    "linear": lambda z: z,
}


@pytest.mark.parametrize("activation", list(ACTIVATION_FORMULAS))
def test_mlp_forward_written_out(activation):
    model = MLP(2, (3, 2), activation, seed=4)
    rng = np.random.default_rng(5)
    model.set_flat(rng.normal(size=model.n_params))
    p = model.parameters()
    assert list(p) == [
        "dense_1/kernel", "dense_1/bias", "dense_2/kernel", "dense_2/bias", "dense_3/kernel", "dense_3/bias",
    ]
    assert [a.shape for a in p.values()] == [(2, 3), (3,), (3, 2), (2,), (2, 1), (1,)]
    X = rng.normal(size=(6, 2))
    f = ACTIVATION_FORMULAS[activation]
    h1 = f(X @ p["dense_1/kernel"] + p["dense_1/bias"])
    h2 = f(h1 @ p["dense_2/kernel"] + p["dense_2/bias"])
    expected = (h2 @ p["dense_3/kernel"] + p["dense_3/bias"])[:, 0]
    np.testing.assert_allclose(model.predict(X), expected, rtol=1e-12, atol=1e-14)


def test_mlp_unknown_activation():
    with pytest.raises(ValueError, match="unknown activation"):
        MLP(2, (3,), "softplus")


# --- the flat view of the parameters ---


def test_get_flat_is_a_copy_and_set_flat_writes_in_place():
    model = MLP(2, (3,), seed=0)
    arrays = list(model.parameters().values())
    flat = model.get_flat()
    flat[:] = 7.0
    assert not np.any(model.get_flat() == 7.0)
    new = np.arange(model.n_params, dtype=np.float64)
    model.set_flat(new)
    np.testing.assert_array_equal(model.get_flat(), new)
    # the live arrays are the same objects, updated in place (optimizers rely on this)
    assert all(a is b for a, b in zip(arrays, model.parameters().values(), strict=True))
    np.testing.assert_array_equal(np.concatenate([a.ravel() for a in arrays]), new)


def test_set_flat_rejects_the_wrong_size():
    model = Linear(3)
    with pytest.raises(ValueError, match="expected 4 parameters"):
        model.set_flat(np.zeros(5))


def test_flat_names():
    assert Linear(1).flat_names() == ["kernel", "bias"]
    assert Linear(2).flat_names(["crim", "zn"]) == ["kernel_crim", "kernel_zn", "bias"]
    assert Linear(2).flat_names() == ["kernel_0", "kernel_1", "bias"]
    mlp = MLP(2, (3,))
    assert mlp.flat_names() == [f"p{i}" for i in range(mlp.n_params)]
    assert mlp.n_params == 2 * 3 + 3 + 3 + 1


# --- initialisation (tfjs dense layers) ---


def test_glorot_uniform_bound_and_spread():
    fan_in, fan_out = 300, 200
    w = glorot_uniform(np.random.default_rng(0), fan_in, fan_out)
    limit = np.sqrt(6 / (fan_in + fan_out))
    assert w.shape == (fan_in, fan_out)
    assert np.abs(w).max() <= limit
    assert np.abs(w).max() > 0.99 * limit  # uses the whole interval
    assert w.std() == pytest.approx(limit / np.sqrt(3), rel=0.01)  # std of U(−l, l)
    assert abs(w.mean()) < 0.01 * limit


def test_lecun_normal_truncated_at_two_sigma():
    # tfjs's leCunNormal is VarianceScaling(scale 1, fanIn, 'normal'): truncatedNormal with σ = √(1/fan_in),
    # re-drawn beyond 2σ and NOT rescaled afterwards (unlike Keras ≥ 2.x, which divides by .8796), so the
    # sample std is σ times the std of a standard normal truncated to [−2, 2], √(1 − 4φ(2)/(Φ(2) − Φ(−2))).
    fan_in, fan_out = 400, 300
    w = lecun_normal(np.random.default_rng(0), fan_in, fan_out)
    sigma = np.sqrt(1 / fan_in)
    truncated_std = 0.8796256610342398
    assert w.shape == (fan_in, fan_out)
    assert np.abs(w).max() <= 2 * sigma
    assert np.abs(w).max() > 0.99 * 2 * sigma
    assert w.std() == pytest.approx(truncated_std * sigma, rel=0.01)
    assert abs(w.mean()) < 0.01 * sigma


@pytest.mark.parametrize("n_features", [1, 5, 12])
def test_linear_init_glorot_kernel_zero_bias(n_features):
    model = Linear(n_features, seed=3)
    assert model.kernel.shape == (n_features, 1)
    assert np.abs(model.kernel).max() <= np.sqrt(6 / (n_features + 1))
    assert np.any(model.kernel != 0)
    np.testing.assert_array_equal(model.bias, [0.0])


def test_linear_with_given_start_values():
    model = Linear(1, kernel=[0.3], bias=-0.2)
    np.testing.assert_array_equal(model.get_flat(), [0.3, -0.2])


@pytest.mark.parametrize("hidden_init", ["lecun_normal", "glorot_uniform"])
def test_mlp_init_bounds(hidden_init):
    model = MLP(12, (50, 40), seed=2, hidden_init=hidden_init)
    p = model.parameters()
    for name, fan_in, fan_out in [("dense_1", 12, 50), ("dense_2", 50, 40)]:
        bound = 2 / np.sqrt(fan_in) if hidden_init == "lecun_normal" else np.sqrt(6 / (fan_in + fan_out))
        assert np.abs(p[f"{name}/kernel"]).max() <= bound
        assert np.abs(p[f"{name}/kernel"]).max() > 0.8 * bound
        np.testing.assert_array_equal(p[f"{name}/bias"], np.zeros(fan_out))
    # the output layer is always Glorot uniform
    assert np.abs(p["dense_3/kernel"]).max() <= np.sqrt(6 / (40 + 1))
    np.testing.assert_array_equal(p["dense_3/bias"], [0.0])


def test_mlp_hidden_std_is_lecun():
    model = MLP(200, (300,), seed=9)
    w = model.parameters()["dense_1/kernel"]
    assert w.std() == pytest.approx(0.8796256610342398 * np.sqrt(1 / 200), rel=0.02)


@pytest.mark.parametrize(
    "make",
    [lambda s: Linear(4, seed=s), lambda s: MLP(3, (5, 4), "relu", seed=s)],
    ids=["linear", "mlp"],
)
def test_same_seed_same_weights_different_seed_different(make):
    np.testing.assert_array_equal(make(7).get_flat(), make(7).get_flat())
    a, b = make(7).get_flat(), make(8).get_flat()
    kernels = a != 0  # biases are zero for every seed
    assert np.all(a[kernels] != b[kernels])
