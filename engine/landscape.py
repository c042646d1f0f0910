"""Loss landscapes of any model: the loss over a plane through parameter space.

A network's loss lives in as many dimensions as it has parameters; a picture shows two. A :class:`Plane` is
an origin ``θ₀`` and two directions ``d₁``, ``d₂`` (flat vectors in :attr:`~engine.models.Model.flat` order),
and the slice is the loss at ``θ₀ + α·d₁ + β·d₂`` over a grid of ``(α, β)``. Two planes are worth drawing
(Li et al., 2018, "Visualizing the Loss Landscape of Neural Nets"; tomgoldstein/loss-landscape):

- :func:`pca_plane`: the two principal directions of the training path. The saved points ``θ_t`` (every
  epoch's, say) less the final one, ``θ_t − θ_final``, go through a PCA (centred on their mean, as Li et al.
  do with scikit-learn's ``PCA``); the plane passes through ``θ_final`` along the two leading directions,
  the path is projected onto it (its end at the origin), and the share of the path's variance each
  direction explains is reported.
- :func:`random_plane`: two random Gaussian directions normalized filter by filter
  (:func:`filter_normalized_direction`): each filter of the direction — one unit's incoming weights, a
  column of a dense kernel of shape (in, out) — is scaled to the norm of the same filter of the weights,
  ``d_ij ← d_ij/‖d_ij‖ · ‖θ_ij‖``, and biases get a zero direction. A step of 1 along it changes every unit's
  incoming weights by as much as their own size, whatever the layer's scale.

:func:`iter_slice` computes a slice batched in NumPy: the parameters of many grid points go through the
network at once (for a dense layer, ``X·(W₀ + αW₁ + βW₂)`` is ``X·W₀ + α·X·W₁ + β·X·W₂``, and deeper layers
take one batched matrix product per chunk of points), in chunks whose size is bounded in memory; it is a
generator that reports progress after each chunk and can be dropped (cancelled) at any report, for a
worker thread. :func:`slice_plane` runs it to the end with a callback and a cancel test. Grids are
``L[ia, ib]``: the first axis follows ``a`` (α, the x axis of a plot), the second ``b`` (β).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .losses import MAE, MSE
from .models import ACTIVATIONS, MLP, Linear, Model

#: At most this many float64 numbers in each of the slice's working arrays (2 MB, to stay in cache).
MAX_ELEMENTS = 250_000


# --- directions ---
def filter_normalized_direction(model: Model, theta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random Gaussian direction normalized filter by filter to the weights ``theta`` (Li et al., 2018).

    For every 2-D parameter (a dense kernel of shape (in, out), tfjs/Keras layout), each column — one unit's
    incoming weights, a *filter* — of a standard normal draw is rescaled to the norm of the same column of
    ``theta``: ``d[:, j] ← d[:, j]/‖d[:, j]‖ · ‖θ[:, j]‖``. 1-D parameters (biases) get zeros, as Li et al.'s
    ``ignore='biasbn'`` does. A filter whose weights are all zero gets a zero direction.

    Parameters
    ----------
    model : Model
        Gives the parameters' names and shapes (:meth:`~engine.models.Model.parameters`).
    theta : ndarray of shape (n_params,)
        The weights the plane passes through, in flat order.
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of shape (n_params,)
    """
    theta = np.asarray(theta, dtype=np.float64)
    out = np.zeros(model.n_params)
    for (start, stop), shape in zip(_spans(model), (p.shape for p in model.parameters().values()), strict=True):
        if len(shape) < 2:
            continue  # a bias: no direction
        w = theta[start:stop].reshape(shape)
        d = rng.standard_normal(shape)
        d_norm = np.linalg.norm(d, axis=0)
        w_norm = np.linalg.norm(w, axis=0)
        out[start:stop] = (d * np.divide(w_norm, d_norm, out=np.zeros_like(w_norm), where=d_norm > 0)).ravel()
    return out


def filter_norms(model: Model, flat: np.ndarray) -> list[np.ndarray]:
    """The norm of every filter of every 2-D parameter of ``flat`` (n_params,): one array of shape (out,) per
    kernel, in :meth:`~engine.models.Model.parameters` order (biases left out)."""
    flat = np.asarray(flat, dtype=np.float64)
    shapes = [p.shape for p in model.parameters().values()]
    return [np.linalg.norm(flat[a:b].reshape(s), axis=0) for (a, b), s in zip(_spans(model), shapes, strict=True)
            if len(s) >= 2]


def _spans(model: Model) -> list[tuple[int, int]]:
    """(start, stop) of each parameter array in the flat vector."""
    spans, i = [], 0
    for p in model.parameters().values():
        spans.append((i, i + p.size))
        i += p.size
    return spans


# --- planes ---
@dataclass(frozen=True)
class Plane:
    """The plane ``θ₀ + α·d₁ + β·d₂`` through parameter space.

    Attributes
    ----------
    origin, d1, d2 : ndarray of shape (n_params,)
    kind : str
        ``"pca"``, ``"random"`` or ``"custom"``.
    caption : str
        One line saying what the axes are.
    explained : ndarray of shape (2,) or None
        For a PCA plane, the share of the path's variance along ``d1`` and ``d2``.
    path : ndarray of shape (T, 2) or None
        For a PCA plane, the training path projected onto it (the last point at the origin).
    """

    origin: np.ndarray
    d1: np.ndarray
    d2: np.ndarray
    kind: str = "custom"
    caption: str = ""
    explained: np.ndarray | None = None
    path: np.ndarray | None = None

    def point(self, alpha: float, beta: float) -> np.ndarray:
        """The flat parameters at ``(alpha, beta)``, shape (n_params,)."""
        return self.origin + alpha * self.d1 + beta * self.d2

    def project(self, thetas: np.ndarray) -> np.ndarray:
        """The plane's coordinates of the points nearest to ``thetas`` (T, n_params) in it, shape (T, 2).

        Least squares over ``(α, β)``: the dot products with ``d1``, ``d2`` when they are orthonormal (a PCA
        plane), and still the nearest point when they are not (random directions).
        """
        D = np.stack([self.d1, self.d2])
        offsets = np.atleast_2d(np.asarray(thetas, dtype=np.float64)) - self.origin
        return np.linalg.lstsq(D @ D.T, D @ offsets.T, rcond=None)[0].T

    def default_window(self, margin: float = 0.25) -> tuple[float, float, float, float]:
        """``(a_lo, a_hi, b_lo, b_hi)``: the projected path with a margin on each side (a PCA plane), or
        ``[−1, 1]²`` (Li et al.'s window for filter-normalized directions)."""
        if self.path is None or len(self.path) == 0:
            return -1.0, 1.0, -1.0, 1.0
        lo, hi = self.path.min(axis=0), self.path.max(axis=0)
        span = np.maximum(hi - lo, 1e-3 * max(float(np.abs(self.path).max()), 1e-12))
        lo, hi = lo - margin * span, hi + margin * span
        return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])


@dataclass(frozen=True)
class PathPCA:
    """The principal directions of a training path ``θ_t − θ_final``.

    Attributes
    ----------
    directions : ndarray of shape (2, n_params)
        Orthonormal rows, the two leading principal directions; each one's sign is chosen so that the
        start of the path has a coordinate ≥ 0 along it.
    explained : ndarray of shape (2,)
        The share of the path's variance along each direction (``s_k² / Σ s²`` of the singular values).
    coords : ndarray of shape (T, 2)
        ``(θ_t − θ_final) · directions``: the path projected onto the plane through ``θ_final``; the last
        row is ``(0, 0)``.
    final : ndarray of shape (n_params,)
        ``θ_final``, the last point.
    centered : bool
        Whether the PCA took the points about their mean (Li et al.'s, scikit-learn's ``PCA``) or about
        ``θ_final`` (the variance then is the sum of squared distances from ``θ_final``).
    """

    directions: np.ndarray
    explained: np.ndarray
    coords: np.ndarray
    final: np.ndarray
    centered: bool


def path_pca(path: np.ndarray, centered: bool = True) -> PathPCA:
    """The PCA of ``θ_t − θ_final`` over the saved points of a training path.

    Parameters
    ----------
    path : ndarray of shape (T, n_params)
        The saved parameters in training order (for instance the start and every epoch's end), the final
        ones last. At least two different points.
    centered : bool
        Take the PCA about the points' mean (default, as Li et al.) or about ``θ_final``.

    Computed from the eigenvectors of the smaller of the two Gram matrices (T × T or n_params × n_params),
    so a long path of a large network stays quick.
    """
    P = np.asarray(path, dtype=np.float64)
    if P.ndim != 2 or len(P) < 2:
        raise ValueError("a path needs at least two points")
    final = P[-1].copy()
    M = P - final
    C = M - M.mean(axis=0) if centered else M
    total = float(np.einsum("ij,ij->", C, C))
    if not total > 0:
        raise ValueError("the path does not move: it has no principal directions")
    if len(C) <= C.shape[1]:
        w, U = np.linalg.eigh(C @ C.T)  # (T, T): C = U S Vᵀ, so CCᵀ = U S² Uᵀ and v = Cᵀu / s
        order = np.argsort(w)[::-1][:2]
        dirs = np.zeros((2, C.shape[1]))
        s2 = np.maximum(w[order], 0.0)
        for k, idx in enumerate(order):
            v = C.T @ U[:, idx]
            norm = np.linalg.norm(v)
            if norm > 0 and s2[k] > total * 1e-14:
                dirs[k] = v / norm
        if not dirs[1].any():  # the path is a straight line: any unit vector orthogonal to the first will do
            dirs[1] = _orthogonal_unit(dirs[0])
    else:
        w, V = np.linalg.eigh(C.T @ C)  # (n_params, n_params)
        order = np.argsort(w)[::-1][:2]
        s2 = np.maximum(w[order], 0.0)
        dirs = V[:, order].T.copy()
    coords = M @ dirs.T
    flip = np.where(coords[0] < 0, -1.0, 1.0)
    dirs *= flip[:, None]
    coords *= flip
    coords[-1] = 0.0  # exactly: M[-1] is zero
    return PathPCA(dirs, s2 / total, coords, final, centered)


def _orthogonal_unit(v: np.ndarray) -> np.ndarray:
    e = np.zeros_like(v)
    e[int(np.argmin(np.abs(v)))] = 1.0
    u = e - (e @ v) * v
    return u / np.linalg.norm(u)


def pca_plane(path: np.ndarray, centered: bool = True) -> Plane:
    """The plane of the path's two principal directions through its last point (:func:`path_pca`)."""
    pca = path_pca(path, centered)
    e1, e2 = (100 * pca.explained).tolist()
    caption = (f"Axes: the training path's two principal directions ({e1:.1f} % and {e2:.1f} % of its "
               f"variance), through the final weights at (0, 0)")
    return Plane(pca.final, pca.directions[0].copy(), pca.directions[1].copy(), "pca", caption,
                 pca.explained, pca.coords)


def random_plane(model: Model, theta: np.ndarray, seed: int = 0) -> Plane:
    """Two random directions through ``theta``, normalized filter by filter (:func:`filter_normalized_direction`).

    Both are drawn from ``numpy.random.default_rng(seed)``, one after the other. They are not made orthogonal
    (in many dimensions two random directions nearly are, as Li et al. note; for a small model they may not be).
    """
    rng = np.random.default_rng(seed)
    theta = np.asarray(theta, dtype=np.float64).copy()
    d1 = filter_normalized_direction(model, theta, rng)
    d2 = filter_normalized_direction(model, theta, rng)
    caption = (f"Axes: two random directions (seed {seed}), each unit's incoming weights scaled to their own "
               f"norm (Li et al., 2018), biases held; the current weights at (0, 0)")
    return Plane(theta, d1, d2, "random", caption)


# --- the slice ---
class SliceProgress(NamedTuple):
    """A report of :func:`iter_slice`: ``done`` of ``total`` grid points computed; ``values`` is the whole
    grid, shape (len(a), len(b)), in the last report only (None before)."""

    done: int
    total: int
    values: np.ndarray | None = None


def iter_slice(
    model: Model,
    X: np.ndarray,
    y: np.ndarray,
    loss: type[MSE] | type[MAE],
    plane: Plane,
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    *,
    max_elements: int = MAX_ELEMENTS,
) -> Iterator[SliceProgress]:
    """The loss of ``model`` on ``(X, y)`` at ``plane.point(α, β)`` for every ``α`` in ``a``, ``β`` in ``b``.

    Parameters
    ----------
    model : Model
        Gives the network's structure; its parameters are not read or changed.
    X, y : ndarray of shape (n, n_features) and (n,)
    loss : MSE or MAE
    plane : Plane
    a, b : 1-D arrays of shape (len_a,) and (len_b,)
    max_elements : int
        Bound on the float64 numbers of each working array (a chunk of grid points times rows times units).

    Yields
    ------
    SliceProgress
        After each chunk of grid points (in row-major grid order); the last one carries the grid, shape
        (len_a, len_b). Dropping the generator between reports cancels the work.

    A :class:`~engine.models.Linear` model or an :class:`~engine.models.MLP` is computed batched; any other
    model one forward pass per grid point. Overflow gives ``inf`` or ``nan`` where it happens, silently.
    """
    for name in ("origin", "d1", "d2"):
        if np.shape(getattr(plane, name)) != (model.n_params,):
            raise ValueError(f"the plane's {name} has shape {np.shape(getattr(plane, name))}, not "
                             f"({model.n_params},): it is not a plane of this model")
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    alpha = np.repeat(a, len(b))
    beta = np.tile(b, len(a))
    total = alpha.size
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    out = np.empty(total)
    if isinstance(model, MLP | Linear) and loss in (MSE, MAE):
        chunks = _batched(model, X, y, loss, plane, alpha, beta, out, max_elements)
    else:
        chunks = _pointwise(model, X, y, loss, plane, alpha, beta, out)
    for done in chunks:
        if done < total:
            yield SliceProgress(done, total)
    yield SliceProgress(total, total, out.reshape(len(a), len(b)))


def slice_plane(
    model: Model,
    X: np.ndarray,
    y: np.ndarray,
    loss: type[MSE] | type[MAE],
    plane: Plane,
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    *,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    max_elements: int = MAX_ELEMENTS,
) -> np.ndarray | None:
    """:func:`iter_slice` to the end: the grid (len(a), len(b)), or None if ``cancel()`` became true.

    ``progress(done, total)`` is called after each chunk; ``cancel`` (e.g. ``threading.Event().is_set``) is
    checked after each chunk.
    """
    for report in iter_slice(model, X, y, loss, plane, a, b, max_elements=max_elements):
        if progress is not None:
            progress(report.done, report.total)
        if report.values is not None:
            return report.values
        if cancel is not None and cancel():
            return None
    return None  # pragma: no cover (iter_slice always ends with the grid)


def pointwise_slice(model: Model, X: np.ndarray, y: np.ndarray, loss, plane: Plane, a, b) -> np.ndarray:
    """The same grid as :func:`iter_slice`, one ``predict_flat`` per point (the reference; slow)."""
    out = np.empty((len(a), len(b)))
    with np.errstate(all="ignore"):
        for ia, va in enumerate(a):
            for ib, vb in enumerate(b):
                out[ia, ib] = loss.loss(model.predict_flat(plane.point(va, vb), X), y)
    return out


def _pointwise(model, X, y, loss, plane, alpha, beta, out) -> Iterator[int]:
    for k in range(alpha.size):
        with np.errstate(all="ignore"):
            out[k] = loss.loss(model.predict_flat(plane.point(alpha[k], beta[k]), X), y)
        yield k + 1


def _layers(model: Model, flat: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """``flat`` as (kernel (in, out), bias (out,)) pairs, one per dense layer."""
    arrays = [flat[s:e].reshape(p.shape) for (s, e), p in zip(_spans(model), model.parameters().values(),
                                                             strict=True)]
    if isinstance(model, Linear):
        return [(arrays[0], arrays[1])]
    return list(zip(arrays[::2], arrays[1::2], strict=True))


class _Layer(NamedTuple):
    """One dense layer of the three vectors of a plane, ready for :func:`_chunk_loss`.

    ``kernels`` (3, in·out) and ``biases`` (3, out) stack the origin's, ``d1``'s and ``d2``'s, so that a chunk's
    coefficients ``C = [1, α, β]`` (g, 3) give every point's weights as ``C @ kernels`` in one product.
    """

    kernels: np.ndarray
    biases: np.ndarray
    shape: tuple[int, int]
    activation: str  # applied after this layer ("" for the output layer)


def _prepare(model: Model, plane: Plane) -> list[_Layer]:
    """The plane's layers, with the logistic sigmoid computed as ``tanh`` of halved pre-activations.

    The model computes ``σ(z) = ½(1 + tanh(½z))``. Here a sigmoid layer's weights and biases are halved
    (exactly: a power of two) so that the layer gives ``t = tanh(½z)`` directly, and the next layer takes
    ``σ = ½(1 + t)`` into its own weights: ``σ·W + b = t·(½W) + (b + Σ_rows ½W)``. Two passes over the
    activations are saved; the result agrees with the model's to rounding.
    """
    per_vector = [_layers(model, v) for v in (plane.origin, plane.d1, plane.d2)]
    act = getattr(model, "activation", "linear")
    n_layers = len(per_vector[0])
    out: list[_Layer] = []
    for li in range(n_layers):
        this = act if li < n_layers - 1 else ""
        after_sigmoid = li > 0 and act == "sigmoid"
        pre = 0.5 if this == "sigmoid" else 1.0
        kernels, biases = [], []
        for layers in per_vector:
            W, b = layers[li]
            W = W * (pre * (0.5 if after_sigmoid else 1.0))
            b = b * pre
            if after_sigmoid:
                b = b + W.sum(axis=0)
            kernels.append(W.ravel())
            biases.append(b)
        out.append(_Layer(np.stack(kernels), np.stack(biases), per_vector[0][li][0].shape,
                          "tanh" if this == "sigmoid" else this))
    return out


def _activate(name: str, z: np.ndarray) -> None:
    """An activation in place (a sigmoid is already ``tanh`` here: see :func:`_prepare`)."""
    if name == "tanh":
        np.tanh(z, out=z)
    elif name == "relu":
        np.maximum(z, 0.0, out=z)
    elif name not in ("linear", ""):
        z[...] = ACTIVATIONS[name][0](z)


def _batched(model, X, y, loss, plane: Plane, alpha, beta, out, max_elements) -> Iterator[int]:
    """Fill ``out`` (G,) with the losses at the G grid points, a chunk of points at a time; yield points done.

    Each layer's weights at grid point g are ``W₀ + α_g·W₁ + β_g·W₂`` (and so its biases). The first layer's
    pre-activations are ``Q₀ + α_g·Q₁ + β_g·Q₂`` with ``Q_k = X·W_k + b_k``: three products for all points;
    each later layer is one batched product of the chunk's activations (g, n, in) with its weights
    (g, in, out). Rows are split into blocks too when one point's activations alone exceed ``max_elements``.
    """
    layers = _prepare(model, plane)
    n = len(y)
    width = max(layer.shape[1] for layer in layers)
    per_point = n * width
    if per_point <= max_elements:
        chunk, rows = max(1, max_elements // per_point), n
    else:
        chunk, rows = 1, max(1, max_elements // width)
    sq = loss is MSE
    for start in range(0, alpha.size, chunk):
        ga, gb = alpha[start : start + chunk], beta[start : start + chunk]
        with np.errstate(all="ignore"):  # not across a yield: the consumer keeps its own error state
            out[start : start + len(ga)] = _chunk_loss(layers, X, y, sq, ga, gb, rows)
        yield start + len(ga)


def _chunk_loss(layers: list[_Layer], X, y, sq: bool, ga: np.ndarray, gb: np.ndarray, rows: int) -> np.ndarray:
    """The loss at the grid points ``(ga, gb)``, shape (g,), over the rows in blocks of ``rows``."""
    n, g = len(y), len(ga)
    C = np.empty((g, 3))
    C[:, 0], C[:, 1], C[:, 2] = 1.0, ga, gb
    weights = [(C @ layer.kernels).reshape(g, *layer.shape) for layer in layers[1:]]  # (g, in, out)
    biases = [C @ layer.biases for layer in layers[1:]]  # (g, out)
    first = layers[0]
    fan_in, fan_out = first.shape
    total = np.zeros(g)
    for r0 in range(0, n, rows):
        Xr, yr = X[r0 : r0 + rows], y[r0 : r0 + rows]
        # Q_k = X·W_k + b_k for the three vectors, (3, rows·out); then every point's z = C·Q, (g, rows, out)
        Q = np.stack([Xr @ first.kernels[k].reshape(fan_in, fan_out) + first.biases[k] for k in range(3)])
        z = (C @ Q.reshape(3, -1)).reshape(g, len(yr), fan_out)
        _activate(first.activation, z)
        for layer, W, b in zip(layers[1:], weights, biases, strict=True):
            z = np.matmul(z, W)
            z += b[:, None, :]
            _activate(layer.activation, z)
        r = z[:, :, 0]  # the output layer has one unit: predictions (g, rows)
        r -= yr
        total += np.einsum("gn,gn->g", r, r) if sq else np.abs(r).sum(axis=1)
    return total / n
