"""Optimizers: steps checked against the update rules of DESIGN.md, written out by hand (tfjs semantics)."""

import numpy as np
import pytest

from fitscope.engine.optimizers import SGD, Adam, Momentum, RMSProp, make_optimizer


def _problem():
    """Two parameter arrays of different shapes and two rounds of gradients for them."""
    rng = np.random.default_rng(0)
    params = [rng.normal(size=(3, 2)), rng.normal(size=2)]
    grads1 = [rng.normal(size=(3, 2)), rng.normal(size=2)]
    grads2 = [rng.normal(size=(3, 2)), rng.normal(size=2)]
    return params, grads1, grads2


def _step_twice(opt):
    """Two steps with the optimizer; returns (w0, w1, w2, g1, g2) as lists of copies."""
    params, g1, g2 = _problem()
    w0 = [p.copy() for p in params]
    opt.step(params, g1)
    w1 = [p.copy() for p in params]
    opt.step(params, g2)
    w2 = [p.copy() for p in params]
    return w0, w1, w2, g1, g2


def _assert_lists_close(actual, expected):
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected, strict=True):
        np.testing.assert_allclose(a, e, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("lr", [0.01, 0.3])
def test_sgd(lr):
    w0, w1, w2, g1, g2 = _step_twice(SGD(lr))
    _assert_lists_close(w1, [w - lr * g for w, g in zip(w0, g1, strict=True)])
    _assert_lists_close(w2, [w - lr * g for w, g in zip(w1, g2, strict=True)])


@pytest.mark.parametrize("lr, m", [(0.01, 0.9), (0.2, 0.5)])
def test_momentum(lr, m):
    w0, w1, w2, g1, g2 = _step_twice(Momentum(lr, m))
    for i in range(2):
        a1 = g1[i]  # tfjs starts the accumulator at 0: a = m·0 + g
        np.testing.assert_allclose(w1[i], w0[i] - lr * a1, rtol=1e-13)
        a2 = m * a1 + g2[i]
        np.testing.assert_allclose(w2[i], w1[i] - lr * a2, rtol=1e-13)


@pytest.mark.parametrize(
    "lr, rho, mu, eps", [(0.001, 0.9, 0.0, 1e-7), (0.05, 0.8, 0.6, 1e-3)], ids=["defaults", "custom"]
)
def test_rmsprop(lr, rho, mu, eps):
    w0, w1, w2, g1, g2 = _step_twice(RMSProp(lr, rho=rho, momentum=mu, epsilon=eps))
    for i in range(2):
        ms1 = (1 - rho) * g1[i] ** 2
        mom1 = lr * g1[i] / np.sqrt(ms1 + eps)  # ε inside the square root
        np.testing.assert_allclose(w1[i], w0[i] - mom1, rtol=1e-13)
        ms2 = rho * ms1 + (1 - rho) * g2[i] ** 2
        mom2 = mu * mom1 + lr * g2[i] / np.sqrt(ms2 + eps)
        np.testing.assert_allclose(w2[i], w1[i] - mom2, rtol=1e-13)


@pytest.mark.parametrize(
    "lr, b1, b2, eps", [(0.001, 0.9, 0.999, 1e-7), (0.1, 0.5, 0.8, 1e-2)], ids=["defaults", "custom"]
)
def test_adam(lr, b1, b2, eps):
    w0, w1, w2, g1, g2 = _step_twice(Adam(lr, beta1=b1, beta2=b2, epsilon=eps))
    for i in range(2):
        m1 = (1 - b1) * g1[i]
        v1 = (1 - b2) * g1[i] ** 2
        step1 = lr * (m1 / (1 - b1)) / (np.sqrt(v1 / (1 - b2)) + eps)  # ε outside the square root
        np.testing.assert_allclose(w1[i], w0[i] - step1, rtol=1e-13)
        m2 = b1 * m1 + (1 - b1) * g2[i]
        v2 = b2 * v1 + (1 - b2) * g2[i] ** 2
        step2 = lr * (m2 / (1 - b1**2)) / (np.sqrt(v2 / (1 - b2**2)) + eps)
        np.testing.assert_allclose(w2[i], w1[i] - step2, rtol=1e-13)


def test_adam_first_step_is_about_lr_times_sign():
    # With bias correction, Adam's first step is lr·g/(|g| + ε): the well-known "sign" step.
    params, g1, _ = _problem()
    w0 = params[0].copy()
    Adam(0.001).step(params, g1)
    np.testing.assert_allclose(w0 - params[0], 0.001 * np.sign(g1[0]), rtol=1e-5)


@pytest.mark.parametrize(
    "cls, expected",
    [
        (SGD, {"learning_rate": 0.01}),
        (Momentum, {"learning_rate": 0.01, "momentum": 0.9}),
        (RMSProp, {"learning_rate": 0.001, "rho": 0.9, "momentum": 0.0, "epsilon": 1e-7}),
        (Adam, {"learning_rate": 0.001, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-7}),
    ],
)
def test_tfjs_defaults(cls, expected):
    opt = cls()
    assert opt.config() == expected
    assert opt.iterations == 0


@pytest.mark.parametrize(
    "name, cls, lr", [("sgd", SGD, 0.01), ("momentum", Momentum, 0.01), ("rmsprop", RMSProp, 0.001),
                      ("adam", Adam, 0.001)]
)
def test_make_optimizer_defaults(name, cls, lr):
    opt = make_optimizer(name)
    assert type(opt) is cls
    assert opt.name == name
    assert opt.learning_rate == lr
    assert make_optimizer(name, 0.25).learning_rate == 0.25


def test_make_optimizer_momentum_goes_to_momentum_only():
    assert make_optimizer("momentum", 0.1, momentum=0.5).momentum == 0.5
    assert make_optimizer("rmsprop", 0.1, momentum=0.5).momentum == 0.0  # tfjs rmsprop's default


def test_make_optimizer_unknown():
    with pytest.raises(ValueError, match="unknown optimizer 'adagrad'"):
        make_optimizer("adagrad")


@pytest.mark.parametrize("name", ["sgd", "momentum", "rmsprop", "adam"])
def test_learning_rate_change_applies_from_the_next_step(name):
    """Changing ``learning_rate`` between steps equals an optimizer built with the new rate for step 2
    only: the state of step 1 (accumulators, t) is kept, and nothing of step 1 is redone."""
    params_a, g1, g2 = _problem()
    params_b = [p.copy() for p in params_a]
    a, b = make_optimizer(name, 0.01), make_optimizer(name, 0.01)
    a.step(params_a, g1)
    b.step(params_b, g1)
    a.learning_rate = 0.5  # changed between the steps
    a.step(params_a, g2)
    # the same second step written out, by an optimizer whose rate was 0.5 all along but state of step 1
    expected = _manual_second_step(name, params_b, g1, g2, lr1=0.01, lr2=0.5)
    _assert_lists_close(params_a, expected)
    assert a.iterations == 2


def _manual_second_step(name, w1, g1, g2, lr1, lr2):
    out = []
    for w, ga, gb in zip(w1, g1, g2, strict=True):
        if name == "sgd":
            out.append(w - lr2 * gb)
        elif name == "momentum":
            out.append(w - lr2 * (0.9 * ga + gb))
        elif name == "rmsprop":
            ms2 = 0.9 * (0.1 * ga**2) + 0.1 * gb**2
            mom1 = lr1 * ga / np.sqrt(0.1 * ga**2 + 1e-7)
            out.append(w - (0.0 * mom1 + lr2 * gb / np.sqrt(ms2 + 1e-7)))
        else:
            m2 = 0.9 * 0.1 * ga + 0.1 * gb
            v2 = 0.999 * 0.001 * ga**2 + 0.001 * gb**2
            out.append(w - lr2 * (m2 / (1 - 0.9**2)) / (np.sqrt(v2 / (1 - 0.999**2)) + 1e-7))
    return out


@pytest.mark.parametrize("name", ["sgd", "momentum", "rmsprop", "adam"])
def test_updates_in_place_and_counts_iterations(name):
    params, g1, g2 = _problem()
    ids = [id(p) for p in params]
    opt = make_optimizer(name)
    opt.step(params, g1)
    opt.step(params, g2)
    assert [id(p) for p in params] == ids
    assert opt.iterations == 2
    # the gradients are not modified
    _, g1_again, g2_again = _problem()
    _assert_lists_close(g1, g1_again)
    _assert_lists_close(g2, g2_again)


def test_momentum_accumulator_does_not_alias_the_gradient():
    # Step 1 stores a = g; if it stored the caller's array itself, a caller reusing its gradient buffer
    # would change the optimizer's state.
    params, g1, g2 = _problem()
    opt = Momentum(0.1, 0.9)
    opt.step(params, g1)
    w1 = [p.copy() for p in params]
    saved = [g.copy() for g in g1]
    for g in g1:
        g[...] = 100.0  # reuse the buffer
    opt.step(params, g2)
    for w, a, b, p in zip(w1, saved, g2, params, strict=True):
        np.testing.assert_allclose(p, w - 0.1 * (0.9 * a + b), rtol=1e-13)
