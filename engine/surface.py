"""The loss over a grid of two parameters, and the closed-form least-squares optimum.

For a linear model, the flat parameters are ``θ = [kernel…, bias]`` and the predictions ``Zθ`` with
``Z = [X, 1]``. Its MSE is a quadratic in θ,

    L(θ) = θᵀGθ − 2θᵀh + c,    G = ZᵀZ/n,  h = Zᵀy/n,  c = yᵀy/n,

so once these sufficient statistics are known (one pass over the rows), the loss anywhere, on any slice
through two parameters, and its minimum cost nothing that grows with the number of rows
(:class:`QuadraticStats`). MAE has no such shortcut: :func:`linear_slice` evaluates it over the rows,
vectorised, in chunks. :func:`model_slice` works for any model (an MLP), one grid point at a time.

Grids are returned as ``L[ia, ib]``: the first axis follows ``a`` (the x axis of a plot), the second ``b``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .losses import MAE, MSE


def design(X: np.ndarray) -> np.ndarray:
    """``Z = [X, 1]``, shape (n, n_features + 1)."""
    return np.hstack([X, np.ones((len(X), 1))])


@dataclass(frozen=True)
class QuadraticStats:
    """Sufficient statistics of the MSE of a linear model: ``G``, ``h``, ``c`` (see the module's text)."""

    G: np.ndarray  # (p, p)
    h: np.ndarray  # (p,)
    c: float

    @classmethod
    def from_data(cls, X: np.ndarray, y: np.ndarray) -> QuadraticStats:
        """One pass over ``X`` (n, n_features) and ``y`` (n,)."""
        n = len(y)
        sx = X.sum(axis=0)
        G = np.empty((X.shape[1] + 1,) * 2)
        G[:-1, :-1] = X.T @ X
        G[:-1, -1] = G[-1, :-1] = sx
        G[-1, -1] = n
        h = np.append(X.T @ y, y.sum())
        return cls(G / n, h / n, float(y @ y) / n)

    def loss(self, theta: np.ndarray) -> float:
        """MSE at the flat parameters ``theta`` (p,); never negative (the terms can cancel to −1e−16)."""
        with np.errstate(all="ignore"):
            return max(0.0, float(theta @ self.G @ theta - 2 * theta @ self.h + self.c))

    def gradient(self, theta: np.ndarray) -> np.ndarray:
        """∇L at ``theta``: ``2(Gθ − h)``."""
        return 2 * (self.G @ theta - self.h)

    def optimum(self) -> np.ndarray:
        """The least-squares parameters (minimum norm if the features are collinear)."""
        return np.linalg.lstsq(self.G, self.h, rcond=None)[0]

    def slice(self, theta0: np.ndarray, i: int, j: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """MSE on the grid ``θ_i = a``, ``θ_j = b``, the other parameters held at ``theta0``.

        Returns an array of shape (len(a), len(b)).
        """
        theta0 = np.asarray(theta0, dtype=np.float64).copy()
        theta0[[i, j]] = 0.0
        with np.errstate(all="ignore"):
            g = self.G @ theta0 - self.h
        base = self.loss(theta0)
        A = np.asarray(a, dtype=np.float64)[:, None]
        B = np.asarray(b, dtype=np.float64)[None, :]
        G = self.G
        with np.errstate(all="ignore"):
            out = base + 2 * g[i] * A + 2 * g[j] * B + G[i, i] * A * A + G[j, j] * B * B + 2 * G[i, j] * A * B
            return np.maximum(out, 0.0)

    def slice_optimum(self, theta0: np.ndarray, i: int, j: int) -> tuple[float, float]:
        """The minimum of :meth:`slice` (over all of the plane ``θ_i``, ``θ_j``)."""
        theta0 = np.asarray(theta0, dtype=np.float64).copy()
        theta0[[i, j]] = 0.0
        g = self.G @ theta0 - self.h
        H = self.G[np.ix_([i, j], [i, j])]
        a, b = np.linalg.lstsq(H, -g[[i, j]], rcond=None)[0]
        return float(a), float(b)


def linear_slice(
    X: np.ndarray,
    y: np.ndarray,
    loss: type[MSE] | type[MAE],
    theta0: np.ndarray,
    i: int,
    j: int,
    a: np.ndarray,
    b: np.ndarray,
    max_elements: int = 4_000_000,
) -> np.ndarray:
    """Loss of a linear model on the grid ``θ_i = a``, ``θ_j = b`` (others at ``theta0``), over the rows.

    Exact for any loss. Vectorised over the grid, in chunks of rows so that at most ``max_elements``
    residuals are held at once. For MSE prefer :meth:`QuadraticStats.slice`. Returns (len(a), len(b)).
    """
    Z = design(X)
    theta0 = np.asarray(theta0, dtype=np.float64).copy()
    theta0[[i, j]] = 0.0
    r0 = Z @ theta0 - y
    A = np.asarray(a, dtype=np.float64)[:, None, None]
    B = np.asarray(b, dtype=np.float64)[None, :, None]
    total = np.zeros((A.shape[0], B.shape[1]))
    chunk = max(1, max_elements // total.size)
    with np.errstate(all="ignore"):
        for s in range(0, len(y), chunk):
            r = r0[s : s + chunk] + A * Z[s : s + chunk, i] + B * Z[s : s + chunk, j]
            total += (r * r).sum(axis=2) if loss is MSE else np.abs(r).sum(axis=2)
    return total / len(y)


def model_slice(model, X, y, loss, theta0, i, j, a, b) -> np.ndarray:
    """Loss of any model on the grid ``θ_i = a``, ``θ_j = b`` (others at ``theta0``); one forward pass per point.

    Leaves the model untouched. Returns (len(a), len(b)).
    """
    theta = np.asarray(theta0, dtype=np.float64).copy()
    out = np.empty((len(a), len(b)))
    with np.errstate(all="ignore"):
        for ia, va in enumerate(a):
            theta[i] = va
            for ib, vb in enumerate(b):
                theta[j] = vb
                out[ia, ib] = loss.loss(model.predict_flat(theta, X), y)
    return out


def default_window(X: np.ndarray, y: np.ndarray, optimum: np.ndarray) -> tuple[float, float, float, float]:
    """A (kernel, bias) window for a one-feature linear model that frames the optimum and typical starts.

    Glorot-uniform starts of a 1→1 dense layer fall in ``±√3``; the window spans at least that in kernel,
    and three times the data's own scales (``std(y)/std(x)`` for the kernel, ``std(y)`` for the bias)
    around the least-squares optimum. Returns ``(k_lo, k_hi, b_lo, b_hi)``.
    """
    x, t = X[:, 0], y
    sx, sy = float(x.std()) or 1.0, float(t.std()) or 1.0
    k0, b0 = float(optimum[0]), float(optimum[1])
    half_k = max(np.sqrt(3.0), 3 * abs(k0), 3 * sy / sx)
    half_b = max(1.0, 3 * abs(b0), 3 * sy)
    return k0 - half_k, k0 + half_k, b0 - half_b, b0 + half_b
