"""Models: a linear regressor and a multilayer perceptron, with analytic backward passes.

A model maps ``X`` of shape (n, n_features) to predictions of shape (n,). Its parameters are live
float64 arrays, in a fixed order, each with a name (:meth:`Model.parameters`). ``backward`` returns the
gradients in the same order, from the activations cached by the last ``forward``.

Initialisation follows TensorFlow.js dense layers: Glorot-uniform kernels and zero biases, or
LeCun-normal kernels (a truncated normal, as tfjs draws them) for the hidden layers of the Boston MLPs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def glorot_uniform(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    """tfjs ``glorotUniform``: U(−l, l) with ``l = √(6 / (fan_in + fan_out))``, shape (fan_in, fan_out)."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=(fan_in, fan_out))


def lecun_normal(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    """tfjs ``leCunNormal``: a normal of std ``√(1 / fan_in)`` truncated at two standard deviations."""
    std = np.sqrt(1.0 / fan_in)
    out = rng.normal(0.0, std, size=(fan_in, fan_out))
    bad = np.abs(out) > 2 * std
    while bad.any():
        out[bad] = rng.normal(0.0, std, size=int(bad.sum()))
        bad = np.abs(out) > 2 * std
    return out


class Model:
    """Common interface of :class:`Linear` and :class:`MLP`.

    All parameters live in one float64 vector (:attr:`flat`); :meth:`parameters` gives named views of it,
    so an optimizer may update either, in place.
    """

    _flat: np.ndarray
    _params: dict[str, np.ndarray]

    def _allocate(self, arrays: dict[str, np.ndarray]) -> None:
        """Store ``arrays`` in one flat vector and keep views of it, by name."""
        self._flat = np.concatenate([a.ravel() for a in arrays.values()])
        self._params, i = {}, 0
        for name, a in arrays.items():
            self._params[name] = self._flat[i : i + a.size].reshape(a.shape)
            i += a.size

    def parameters(self) -> dict[str, np.ndarray]:
        """The live parameter arrays by name, in a fixed order (views of :attr:`flat`)."""
        return self._params

    @property
    def flat(self) -> np.ndarray:
        """The live parameter vector (updating it updates the model)."""
        return self._flat

    def forward(self, X: np.ndarray) -> np.ndarray:
        """Predictions of shape (n,) for ``X`` of shape (n, n_features); caches what backward needs."""
        raise NotImplementedError

    def backward_flat(self, d_pred: np.ndarray) -> np.ndarray:
        """The gradient of the loss as a new flat vector (:attr:`flat` order), given ``d_pred`` = ∂loss/∂ŷ (n,)."""
        raise NotImplementedError

    def backward(self, d_pred: np.ndarray) -> list[np.ndarray]:
        """The gradient of the loss as one array per parameter, in :meth:`parameters` order."""
        g, out, i = self.backward_flat(d_pred), [], 0
        for p in self._params.values():
            out.append(g[i : i + p.size].reshape(p.shape))
            i += p.size
        return out

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predictions of shape (n,), without touching the backward cache."""
        return self._predict(list(self._params.values()), X)

    def predict_flat(self, flat: np.ndarray, X: np.ndarray) -> np.ndarray:
        """Predictions of the model with parameters ``flat`` instead of its own; changes nothing."""
        arrays, i = [], 0
        for p in self._params.values():
            arrays.append(flat[i : i + p.size].reshape(p.shape))
            i += p.size
        return self._predict(arrays, X)

    def _predict(self, arrays: list[np.ndarray], X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def flat_names(self, feature_names: Sequence[str] | None = None) -> list[str]:
        """One name per scalar parameter, in :attr:`flat` order."""
        return [f"p{i}" for i in range(self.n_params)]

    @property
    def n_params(self) -> int:
        return self._flat.size

    def get_flat(self) -> np.ndarray:
        """A copy of all parameters as one vector, in :meth:`parameters` order, each array in C order."""
        return self._flat.copy()

    def set_flat(self, flat: np.ndarray) -> None:
        """Set all parameters (in place) from a vector laid out as :meth:`get_flat`."""
        flat = np.asarray(flat, dtype=np.float64)
        if flat.shape != self._flat.shape:
            raise ValueError(f"expected {self.n_params} parameters, got {flat.shape}")
        self._flat[...] = flat


class Linear(Model):
    """``ŷ = X · kernel + bias``: tfjs ``tf.layers.dense({units: 1})``.

    Parameters
    ----------
    n_features : int
    seed : int
        Seeds the Glorot-uniform kernel; the bias starts at zero.
    kernel, bias : optional
        Start values instead (``kernel`` of shape (n_features,) or (n_features, 1), ``bias`` a scalar).
    """

    def __init__(self, n_features: int, seed: int = 0, kernel=None, bias=None) -> None:
        self.n_features = n_features
        rng = np.random.default_rng(seed)
        k = glorot_uniform(rng, n_features, 1)
        if kernel is not None:
            k = np.asarray(kernel, dtype=np.float64).reshape(n_features, 1)
        b = np.zeros(1) if bias is None else np.asarray(bias, dtype=np.float64).reshape(1)
        self._allocate({"kernel": k, "bias": b})
        self._kernel_vector = self._flat[:-1]
        self._X: np.ndarray | None = None

    @property
    def kernel(self) -> np.ndarray:
        return self._params["kernel"]

    @property
    def bias(self) -> np.ndarray:
        return self._params["bias"]

    def _predict(self, arrays: list[np.ndarray], X: np.ndarray) -> np.ndarray:
        kernel, bias = arrays
        return X @ kernel[:, 0] + bias[0]

    def predict(self, X: np.ndarray) -> np.ndarray:
        return X @ self._kernel_vector + self._flat[-1]

    def forward(self, X: np.ndarray) -> np.ndarray:
        self._X = X
        return X @ self._kernel_vector + self._flat[-1]

    def backward_flat(self, d_pred: np.ndarray) -> np.ndarray:
        g = np.empty(self._flat.size)
        np.dot(d_pred, self._X, out=g[: self.n_features])  # as d_pred @ X, bit for bit, a fifth faster
        g[-1] = np.add.reduce(d_pred)  # d_pred.sum(), without its Python wrapper
        return g

    def flat_names(self, feature_names: Sequence[str] | None = None) -> list[str]:
        if self.n_features == 1:
            return ["kernel", "bias"]
        names = feature_names or [str(i) for i in range(self.n_features)]
        return [f"kernel_{n}" for n in names] + ["bias"]


ACTIVATIONS = {
    # name: (f, f' expressed through the output a = f(z))
    "sigmoid": (lambda z: 0.5 * (1.0 + np.tanh(0.5 * z)), lambda a: a * (1.0 - a)),
    "tanh": (np.tanh, lambda a: 1.0 - a * a),
    "relu": (lambda z: np.maximum(z, 0.0), lambda a: (a > 0).astype(np.float64)),
    "linear": (lambda z: z, lambda a: np.ones_like(a)),
}


class MLP(Model):
    """Dense layers with an activation, then a linear output unit: the tfjs-examples Boston MLPs.

    Parameters
    ----------
    n_features : int
    hidden : sequence of int
        Units per hidden layer, e.g. ``(50,)`` or ``(50, 50)``.
    activation : {"sigmoid", "relu", "tanh", "linear"}
    seed : int
    hidden_init : {"lecun_normal", "glorot_uniform"}
        Kernel initialiser of the hidden layers (tfjs-examples uses LeCun normal); the output layer is
        Glorot uniform; biases start at zero.

    Parameter names are ``dense_1/kernel``, ``dense_1/bias``, …, the output layer last.
    """

    def __init__(
        self,
        n_features: int,
        hidden: Sequence[int] = (50,),
        activation: str = "sigmoid",
        seed: int = 0,
        hidden_init: str = "lecun_normal",
    ) -> None:
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r} (choose {', '.join(ACTIVATIONS)})")
        self.n_features = n_features
        self.hidden = tuple(int(h) for h in hidden)
        self.activation = activation
        self._f, self._df = ACTIVATIONS[activation]
        rng = np.random.default_rng(seed)
        init = {"lecun_normal": lecun_normal, "glorot_uniform": glorot_uniform}[hidden_init]
        sizes = [n_features, *self.hidden, 1]
        arrays = {}
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
            kernel_init = init if i <= len(self.hidden) else glorot_uniform
            arrays[f"dense_{i}/kernel"] = kernel_init(rng, fan_in, fan_out)
            arrays[f"dense_{i}/bias"] = np.zeros(fan_out)
        self._allocate(arrays)
        self._layers = [
            (self._params[f"dense_{i}/kernel"], self._params[f"dense_{i}/bias"]) for i in range(1, len(sizes))
        ]
        self._acts: list[np.ndarray] = []

    def _run(self, layers: list[tuple[np.ndarray, np.ndarray]], X: np.ndarray) -> list[np.ndarray]:
        acts = [X]
        for W, b in layers[:-1]:
            acts.append(self._f(acts[-1] @ W + b))
        W, b = layers[-1]
        acts.append((acts[-1] @ W + b)[:, 0])
        return acts

    def _predict(self, arrays: list[np.ndarray], X: np.ndarray) -> np.ndarray:
        return self._run(list(zip(arrays[::2], arrays[1::2], strict=True)), X)[-1]

    def forward(self, X: np.ndarray) -> np.ndarray:
        self._acts = self._run(self._layers, X)
        return self._acts[-1]

    def backward_flat(self, d_pred: np.ndarray) -> np.ndarray:
        acts = self._acts
        delta = d_pred[:, None]  # ∂loss/∂(pre-activation of the output), (n, 1)
        grads: list[np.ndarray] = []
        for layer in range(len(self._layers) - 1, -1, -1):
            W, _ = self._layers[layer]
            a_in = acts[layer]
            grads.append(delta.sum(axis=0))
            grads.append(a_in.T @ delta)
            if layer > 0:
                delta = (delta @ W.T) * self._df(a_in)
        grads.reverse()  # now kernel_1, bias_1, kernel_2, …
        return np.concatenate([g.ravel() for g in grads])
