"""The computational graph of one sample: the book's example, finite differences on every edge, order."""

import numpy as np
import pytest

from fitscope.engine.backprop import trace
from fitscope.engine.losses import MAE, MSE
from fitscope.engine.models import Linear


def _edge(tr, source, target):
    (edge,) = [e for e in tr.edges if (e.source, e.target) == (source, target)]
    return edge


def test_book_example():
    # loss = (v·x − y)² at x 2, y 5, v 0 (Deep Learning with JavaScript §2.2.2)
    tr = trace(0, 2, 5, bias=None, k_name="v")
    assert tr.loss == 25.0
    assert _edge(tr, "sub", "loss_op").grad == -10.0  # ∂loss/∂(v·x − y) = 2·(−5)
    assert _edge(tr, "mul", "sub").grad == -10.0  # ∂loss/∂(v·x)
    assert _edge(tr, "v", "mul").grad == -20.0  # ∂loss/∂v = −10·x
    assert tr.grad_k == -20.0 and tr.grad_b is None and tr.b is None
    assert tr.new_k == pytest.approx(0.2)  # v − 0.01·(−20)
    assert tr.learning_rate == 0.01
    assert "v ← 0 − 0.01 · (-20) = 0.2" in tr.update_rule("v")
    assert {n.id for n in tr.nodes} == {"v", "x", "mul", "y", "sub", "loss_op", "loss"}
    assert not any(n.id in ("b", "add") for n in tr.nodes)
    assert _edge(tr, "v", "mul").symbol == "v"


@pytest.mark.parametrize(
    "k, x, y, b", [(0.5, 2.0, 3.0, 0.25), (-1.2, 0.7, 0.1, 2.0), (0.07, 9.0, 0.739, 0.1)]
)
@pytest.mark.parametrize("loss", ["mse", "mae"])
def test_with_bias_equals_the_linear_models_gradient_for_a_batch_of_one(k, x, y, b, loss):
    tr = trace(k, x, y, bias=b, loss=loss, learning_rate=0.1)
    L = {"mse": MSE, "mae": MAE}[loss]
    model = Linear(1, kernel=[k], bias=b)
    X, Y = np.array([[x]]), np.array([y])
    pred = model.forward(X)
    gk, gb = model.backward(L.grad(pred, Y))
    assert tr.loss == pytest.approx(L.loss(pred, Y), rel=1e-14)
    assert tr.grad_k == pytest.approx(gk[0, 0], rel=1e-14)
    assert tr.grad_b == pytest.approx(gb[0], rel=1e-14)
    assert tr.new_k == pytest.approx(k - 0.1 * gk[0, 0])
    assert tr.new_b == pytest.approx(b - 0.1 * gb[0])
    assert len(tr.update_rule().splitlines()) == 2


def _loss_with(tr, loss, override):
    """Recompute the loss from the trace's inputs, with the value on one edge replaced.

    ``override`` maps (source, target) to the value that edge carries instead; everything downstream of
    it is recomputed and everything upstream is held, which is what ∂loss/∂(edge value) means.
    """
    k_name = tr.nodes[0].id
    x = override.get(("x", "mul"), _edge(tr, "x", "mul").value)
    k = override.get((k_name, "mul"), tr.k)
    p = override.get(("mul", "add" if tr.b is not None else "sub"), k * x)
    if tr.b is not None:
        p = override.get(("add", "sub"), p + override.get(("b", "add"), tr.b))
    y = override.get(("y", "sub"), _edge(tr, "y", "sub").value)
    e = override.get(("sub", "loss_op"), p - y)
    value = e * e if loss == "mse" else abs(e)
    return override.get(("loss_op", "loss"), value)


@pytest.mark.parametrize("bias", [None, 0.3])
@pytest.mark.parametrize("loss", ["mse", "mae"])
def test_every_edge_gradient_matches_finite_differences(loss, bias):
    # e = ŷ − y = 0.8·1.5 (+ 0.3) − 2 is well away from 0, where |e| has its kink.
    tr = trace(0.8, 1.5, 2.0, bias=bias, loss=loss)
    assert _loss_with(tr, loss, {}) == pytest.approx(tr.loss)
    h = 1e-6
    for edge in tr.edges:
        key = (edge.source, edge.target)
        numeric = (
            _loss_with(tr, loss, {key: edge.value + h}) - _loss_with(tr, loss, {key: edge.value - h})
        ) / (2 * h)
        assert edge.grad == pytest.approx(numeric, rel=1e-6, abs=1e-9), key


@pytest.mark.parametrize("bias", [None, 0.3])
def test_edge_values_are_the_forward_values(bias):
    k, x, y = 0.8, 1.5, 2.0
    tr = trace(k, x, y, bias=bias)
    yhat = k * x + (bias or 0.0)
    assert _edge(tr, "k", "mul").value == k
    assert _edge(tr, "x", "mul").value == x
    assert _edge(tr, "y", "sub").value == y
    assert _edge(tr, "add" if bias is not None else "mul", "sub").value == pytest.approx(yhat)
    assert _edge(tr, "sub", "loss_op").value == pytest.approx(yhat - y)
    assert _edge(tr, "loss_op", "loss").value == pytest.approx((yhat - y) ** 2)
    if bias is not None:
        assert _edge(tr, "mul", "add").value == pytest.approx(k * x)
        assert _edge(tr, "b", "add").value == bias


@pytest.mark.parametrize("bias", [None, 0.3])
def test_backward_steps_go_from_the_loss_back_to_the_parameters(bias):
    tr = trace(0.8, 1.5, 2.0, bias=bias)
    order = [tr.edges[s.edge] for s in tr.steps]
    # every edge is visited once, starting with ∂loss/∂loss = 1
    assert sorted(s.edge for s in tr.steps) == list(range(len(tr.edges)))
    assert (order[0].target, order[0].grad) == ("loss", 1.0)
    # an edge's gradient is computed only after the gradient at its target node is known
    reached = {"loss"}
    for e in order:
        assert e.target in reached, (e.source, e.target)
        reached.add(e.source)
    params = {"k", "b"} if bias is not None else {"k"}
    assert params <= reached
    # the parameters come last among the nodes (after the operations they feed)
    assert order[-2].source == "k"
    assert all(isinstance(s.rule, str) and s.rule for s in tr.steps)


def test_mae_sign_of_zero_is_zero():
    tr = trace(1.0, 2.0, 2.0, bias=None, loss="mae")  # ŷ = y
    assert tr.loss == 0.0
    assert tr.grad_k == 0.0
    assert tr.new_k == 1.0


def test_unknown_loss():
    with pytest.raises(ValueError, match="unknown loss"):
        trace(0, 1, 1, loss="huber")
