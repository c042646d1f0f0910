"""Backpropagation through the computational graph of one sample's loss, with real numbers.

For the linear model ``ŷ = k·x + b`` the loss of one sample is ``(k·x + b − y)²`` (MSE) or
``|k·x + b − y|`` (MAE). :func:`trace` builds that graph: nodes for the inputs, the parameters and each
operation, and on every edge the value that flows forward along it and, from the backward pass, the
gradient of the loss with respect to that value. The backward pass is recorded edge by edge, from
``∂loss/∂loss = 1`` back to ``∂loss/∂k`` and ``∂loss/∂b``, each step with the rule that produced it.

The book's example (§2.2.2), ``loss = (v·x − y)²`` at x 2, y 5, v 0, is ``trace(0, 2, 5, bias=None)``:
the edge gradients are −10, −10, −20 and ``v`` becomes 0.2 after a step at learning rate 0.01.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Node:
    id: str  # "k", "x", "b", "y", "mul", "add", "sub", "loss_op", "loss"
    label: str  # what a view writes in the node
    kind: str  # "param", "input", "op" or "output"


@dataclass(frozen=True, slots=True)
class Edge:
    source: str
    target: str
    symbol: str  # the quantity on the edge, e.g. "k·x"
    value: float  # forward value
    grad: float  # ∂loss/∂value


@dataclass(frozen=True, slots=True)
class BackwardStep:
    edge: int  # index into Trace.edges
    rule: str  # one line: which rule produced the gradient, with the numbers


@dataclass(frozen=True)
class Trace:
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    steps: tuple[BackwardStep, ...]  # in backward order
    loss: float
    grad_k: float
    grad_b: float | None  # None without a bias
    k: float
    b: float | None
    learning_rate: float

    @property
    def new_k(self) -> float:
        return self.k - self.learning_rate * self.grad_k

    @property
    def new_b(self) -> float | None:
        return None if self.b is None else self.b - self.learning_rate * self.grad_b

    def update_rule(self, k_name: str = "k") -> str:
        """One line per parameter: ``k ← k − lr·∂loss/∂k`` with the numbers."""
        lines = [f"{k_name} ← {_n(self.k)} − {_n(self.learning_rate)} · ({_n(self.grad_k)}) = {_n(self.new_k)}"]
        if self.b is not None:
            lines.append(f"b ← {_n(self.b)} − {_n(self.learning_rate)} · ({_n(self.grad_b)}) = {_n(self.new_b)}")
        return "\n".join(lines)


def _n(v: float) -> str:
    """A number as a person writes it: up to 6 significant digits, no "-0"."""
    v = float(v)
    return f"{0.0 if v == 0 else v:.6g}"


def trace(
    k: float, x: float, y: float, bias: float | None = 0.0, loss: str = "mse", learning_rate: float = 0.01,
    k_name: str = "k",
) -> Trace:
    """The graph of one sample's loss for ``ŷ = k·x + b`` (``bias=None``: no bias, ``ŷ = k·x``).

    Parameters
    ----------
    k, x, y : float
    bias : float or None
    loss : {"mse", "mae"}
        ``(ŷ − y)²`` or ``|ŷ − y|``.
    learning_rate : float
        For :attr:`Trace.new_k` and :meth:`Trace.update_rule`.
    k_name : str
        What to call the kernel in labels (the book calls it ``v``).
    """
    k, x, y = float(k), float(x), float(y)
    has_b = bias is not None
    b = float(bias) if has_b else None
    p = k * x
    yhat = p + b if has_b else p
    e = yhat - y
    if loss == "mse":
        L, dL_de, op, rule = e * e, 2 * e, "²", f"square: ∂(e²)/∂e = 2e = 2 · ({_n(e)}) = {_n(2 * e)}"
    elif loss == "mae":
        s = float(np.sign(e))
        L, dL_de, op, rule = abs(e), s, "|·|", f"absolute value: ∂|e|/∂e = sign(e) = {_n(s)}"
    else:
        raise ValueError(f"unknown loss {loss!r} (choose mse, mae)")

    nodes = [Node(k_name, k_name, "param"), Node("x", "x", "input"), Node("mul", "×", "op")]
    if has_b:
        nodes += [Node("b", "b", "param"), Node("add", "+", "op")]
    nodes += [
        Node("y", "y", "input"), Node("sub", "−", "op"), Node("loss_op", op, "op"), Node("loss", "loss", "output")
    ]

    yhat_src = "add" if has_b else "mul"
    yhat_sym = f"{k_name}·x + b" if has_b else f"{k_name}·x"
    edges: list[Edge] = [Edge("loss_op", "loss", "loss", L, 1.0), Edge("sub", "loss_op", "e = ŷ − y", e, dL_de)]
    steps = [
        BackwardStep(0, "start: ∂loss/∂loss = 1"),
        BackwardStep(1, rule),
        _add(edges, Edge(yhat_src, "sub", f"ŷ = {yhat_sym}", yhat, dL_de),
             f"subtraction: ∂(ŷ − y)/∂ŷ = 1, so ∂loss/∂ŷ = {_n(dL_de)} · 1 = {_n(dL_de)}"),
        _add(edges, Edge("y", "sub", "y", y, -dL_de),
             f"subtraction: ∂(ŷ − y)/∂y = −1, so ∂loss/∂y = {_n(dL_de)} · (−1) = {_n(-dL_de)}"),
    ]
    if has_b:
        steps += [
            _add(edges, Edge("mul", "add", f"{k_name}·x", p, dL_de),
                 f"addition: ∂({k_name}·x + b)/∂({k_name}·x) = 1, so ∂loss/∂({k_name}·x) = {_n(dL_de)}"),
            _add(edges, Edge("b", "add", "b", b, dL_de),
                 f"addition: ∂({k_name}·x + b)/∂b = 1, so ∂loss/∂b = {_n(dL_de)}"),
        ]
    grad_k = dL_de * x
    steps += [
        _add(edges, Edge(k_name, "mul", k_name, k, grad_k),
             f"multiplication: ∂({k_name}·x)/∂{k_name} = x = {_n(x)}, so ∂loss/∂{k_name} = {_n(dL_de)} · {_n(x)} "
             f"= {_n(grad_k)}"),
        _add(edges, Edge("x", "mul", "x", x, dL_de * k),
             f"multiplication: ∂({k_name}·x)/∂x = {k_name} = {_n(k)}, so ∂loss/∂x = {_n(dL_de)} · {_n(k)} "
             f"= {_n(dL_de * k)}"),
    ]
    return Trace(
        nodes=tuple(nodes), edges=tuple(edges), steps=tuple(steps), loss=L, grad_k=grad_k,
        grad_b=dL_de if has_b else None, k=k, b=b, learning_rate=float(learning_rate),
    )


def _add(edges: list[Edge], edge: Edge, rule: str) -> BackwardStep:
    edges.append(edge)
    return BackwardStep(len(edges) - 1, rule)
