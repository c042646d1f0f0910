"""The curvature of the MSE of a linear model: its Hessian, condition number and stability limit.

For a linear model with flat parameters ``θ = [kernel…, bias]`` and the design ``Z = [X, 1]`` (a bias
column), the MSE ``L(θ) = ‖Zθ − y‖²/n`` is a quadratic with the constant Hessian

    H = 2/n · ZᵀZ       (p × p, p = n_features + 1; the same at every θ, and independent of y),

so its eigenvalues ``λmin ≤ … ≤ λmax`` say everything about how gradient descent behaves on it:

- full-batch gradient descent ``θ ← θ − lr·∇L`` multiplies the distance to the minimum along the
  eigenvector of ``λ`` by ``1 − lr·λ`` at every step: it converges for ``0 < lr < 2/λmax`` (the *stability
  limit*) and diverges above it (tfjs's momentum, ``a ← m·a + g; θ ← θ − lr·a``, is stable up to
  ``2(1 + m)/λmax``);
- the condition number ``κ = λmax/λmin`` says how many steps it needs: at the best fixed rate,
  ``2/(λmax + λmin)``, the distance to the minimum shrinks by ``(κ − 1)/(κ + 1)`` per step along the worst
  direction, about ``κ·ln(10)/2`` steps per tenfold when κ is large.

Normalizing the features makes the columns of ``Z`` comparable, and κ falls (on Boston Housing, by six orders
of magnitude): :func:`normalization_effect`.

On a loss slice over two parameters ``θ_i``, ``θ_j`` with the others held fixed, the loss is a quadratic in
``(θ_i, θ_j)`` whose Hessian is the 2 × 2 block ``H[[i, j]][:, [i, j]]`` of the full one, wherever the other
parameters are held: its contours are ellipses centred on the slice's minimum, with axes along the block's
eigenvectors (:class:`SliceAxes`). These are not the full Hessian's eigenvectors projected on the slice.

Everything here is for a linear model with MSE; :func:`curvature_of` refuses anything else.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from .numbers import prose
from .surface import design

if TYPE_CHECKING:  # pragma: no cover
    from .data import Dataset
    from .experiment import Experiment
    from .settings import FitSettings


def hessian(X: np.ndarray) -> np.ndarray:
    """The Hessian of the MSE of a linear model, ``2/n · ZᵀZ`` with ``Z = [X, 1]``.

    Parameters
    ----------
    X : ndarray of shape (n, n_features)
        The rows the loss is taken over (normalized already, if the model sees them so).

    Returns
    -------
    ndarray of shape (n_features + 1, n_features + 1)
        Symmetric; rows and columns in the flat parameter order ``[kernel…, bias]``.
    """
    Z = design(np.asarray(X, dtype=np.float64))
    H = (2.0 / len(Z)) * (Z.T @ Z)
    return (H + H.T) / 2  # exactly symmetric


def stability_limit(lam_max: float, optimizer: str = "sgd", momentum: float = 0.0) -> float | None:
    """The largest learning rate at which full-batch training of a quadratic with curvature ``lam_max`` converges.

    ``2/λmax`` for plain gradient descent (``"sgd"``); ``2(1 + m)/λmax`` for tfjs's momentum (heavy ball,
    ``a ← m·a + g; θ ← θ − lr·a``, stable for ``0 ≤ m < 1``). ``None`` for RMSProp and Adam, whose steps
    are rescaled per parameter (no fixed limit), and for a flat loss (``λmax ≤ 0``).
    """
    if not lam_max > 0:
        return None
    if optimizer == "sgd":
        return 2.0 / lam_max
    if optimizer == "momentum" and 0 <= momentum < 1:
        return 2.0 * (1.0 + momentum) / lam_max
    return None


def steps_per_tenfold(kappa: float) -> float:
    """Steps gradient descent at its best fixed rate, ``2/(λmax + λmin)``, needs to shrink its distance to the
    minimum tenfold along the worst direction: ``ln 10 / ln((κ + 1)/(κ − 1))`` (≈ ``κ·ln(10)/2`` for large κ).

    1 for ``κ = 1`` (one step lands on the minimum); ``inf`` for ``κ = inf`` (a flat direction).
    """
    if math.isinf(kappa):
        return math.inf
    if kappa <= 1.0:
        return 1.0
    return max(1.0, math.log(10.0) / math.log1p(2.0 / (kappa - 1.0)))


@dataclass(frozen=True)
class SliceAxes:
    """The principal axes of the loss's contour ellipses on the slice over parameters ``i`` and ``j``.

    On the slice (``θ_i = a``, ``θ_j = b``, every other parameter held at fixed values), the MSE is

        L(u) = L_min + ½ (u − c)ᵀ H₂ (u − c),    u = (a, b),

    where ``H₂ = H[[i, j]][:, [i, j]]`` is the 2 × 2 block of the full Hessian (the same wherever the other
    parameters are held) and ``c`` is the slice's minimum (which does depend on them:
    :meth:`~engine.surface.QuadraticStats.slice_optimum`). The contour ``L = L_min + Δ`` is an ellipse
    centred on ``c`` whose axes point along the eigenvectors of ``H₂``, with semi-axes ``√(2Δ/μ_k)``: the long
    axis along the smaller eigenvalue. (On a plot whose axes have different scales, the drawn axes are still
    these directions in parameter units, and no longer look perpendicular.)

    Attributes
    ----------
    i, j : int
        The two parameters, in flat order (``a`` is ``θ_i``, ``b`` is ``θ_j``).
    hessian : ndarray of shape (2, 2)
    eigenvalues : ndarray of shape (2,)
        ``μ_0 ≤ μ_1``, from :func:`numpy.linalg.eigh`.
    eigenvectors : ndarray of shape (2, 2)
        Column ``k`` is the unit direction, in ``(a, b)``, of eigenvalue ``k``.
    """

    i: int
    j: int
    hessian: np.ndarray
    eigenvalues: np.ndarray
    eigenvectors: np.ndarray

    @property
    def condition(self) -> float:
        """``μ_1/μ_0``, the slice's own condition number (the ellipses' squared axis ratio); ``inf`` if flat."""
        lo, hi = float(self.eigenvalues[0]), float(self.eigenvalues[1])
        return math.inf if lo <= hi * _FLAT else hi / lo

    def semi_axes(self, delta: float) -> np.ndarray:
        """Half-lengths of the two axes of the contour ``Δ = delta`` above the slice's minimum, shape (2,).

        ``√(2Δ/μ_k)``, in eigenvalue order; ``inf`` along a flat direction.
        """
        with np.errstate(divide="ignore"):
            mu = np.where(self.eigenvalues > self.eigenvalues.max() * _FLAT, self.eigenvalues, 0.0)
            return np.sqrt(2.0 * float(delta) / mu)

    def segments(self, center: Sequence[float], delta: float) -> np.ndarray:
        """The two axes of the contour ``Δ = delta`` as line segments through ``center`` (the slice's minimum).

        Returns
        -------
        ndarray of shape (2, 2, 2)
            ``[k, end, (a, b)]``: axis ``k`` (in eigenvalue order: the long axis first) runs from
            ``center − s_k·v_k`` to ``center + s_k·v_k``. A flat direction's half-length is infinite.
        """
        c = np.asarray(center, dtype=np.float64)
        s = self.semi_axes(delta)
        out = np.empty((2, 2, 2))
        for k in range(2):
            v = self.eigenvectors[:, k]
            with np.errstate(invalid="ignore"):
                out[k, 0], out[k, 1] = c - s[k] * v, c + s[k] * v
        return out


#: An eigenvalue at most this fraction of the largest one counts as zero (rounding of an exact zero).
_FLAT = 1e-12


@dataclass(frozen=True)
class Curvature:
    """The Hessian of a linear model's MSE and what its eigenvalues say.

    Build one with :meth:`from_rows` or :func:`curvature_of`.

    Attributes
    ----------
    hessian : ndarray of shape (p, p)
        ``2/n · ZᵀZ``, ``p = n_features + 1``, flat parameter order ``[kernel…, bias]``.
    eigenvalues : ndarray of shape (p,)
        Ascending, from :func:`numpy.linalg.eigh`.
    eigenvectors : ndarray of shape (p, p)
        Column ``k`` is the unit eigenvector of ``eigenvalues[k]``.
    names : list of str
        One name per parameter (``kernel_<feature>…``, ``bias``).
    n_rows : int
        The rows the loss is taken over.
    """

    hessian: np.ndarray
    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    names: list[str]
    n_rows: int

    @classmethod
    def from_rows(cls, X: np.ndarray, names: Sequence[str] | None = None) -> Curvature:
        """The curvature of the MSE over the rows ``X`` (n, n_features)."""
        H = hessian(X)
        w, V = np.linalg.eigh(H)
        if names is None:
            names = ["kernel", "bias"] if X.shape[1] == 1 else [f"kernel_{k}" for k in range(X.shape[1])] + ["bias"]
        return cls(H, w, V, list(names), len(X))

    @property
    def lam_max(self) -> float:
        """λmax, the largest eigenvalue (the steepest curvature)."""
        return float(self.eigenvalues[-1])

    @property
    def lam_min(self) -> float:
        """λmin, the smallest eigenvalue (the flattest curvature; 0 when features are collinear)."""
        return float(self.eigenvalues[0])

    @property
    def flat(self) -> bool:
        """True when λmin is zero up to rounding: a constant or duplicated feature leaves a flat direction."""
        return self.lam_min <= self.lam_max * _FLAT

    @property
    def condition(self) -> float:
        """κ = λmax/λmin (``inf`` when :attr:`flat`)."""
        return math.inf if self.flat else self.lam_max / self.lam_min

    def limit(self, optimizer: str = "sgd", momentum: float = 0.0) -> float | None:
        """The stability limit of full-batch training with ``optimizer`` (see :func:`stability_limit`)."""
        return stability_limit(self.lam_max, optimizer, momentum)

    @property
    def stability_limit(self) -> float:
        """``2/λmax``: full-batch gradient descent converges below this learning rate and diverges above it."""
        return 2.0 / self.lam_max

    @property
    def best_rate(self) -> float:
        """``2/(λmax + λmin)``, the fixed rate at which gradient descent converges fastest."""
        return 2.0 / (self.lam_max + max(self.lam_min, 0.0))

    @property
    def steps_per_tenfold(self) -> float:
        """:func:`steps_per_tenfold` of :attr:`condition`."""
        return steps_per_tenfold(self.condition)

    def slice_axes(self, i: int, j: int) -> SliceAxes:
        """The eigen-directions of the 2 × 2 Hessian of the slice over parameters ``i`` and ``j``.

        See :class:`SliceAxes`: the block ``H[[i, j]][:, [i, j]]``, its eigenvalues (ascending) and its unit
        eigenvectors in ``(θ_i, θ_j)``, for drawing the axes of the contour ellipses on that slice.
        """
        if i == j:
            raise ValueError("a slice needs two different parameters")
        block = self.hessian[np.ix_([i, j], [i, j])].copy()
        mu, U = np.linalg.eigh(block)
        return SliceAxes(int(i), int(j), block, mu, U)

    def sentence(self) -> str:
        """One line tying κ to the steps gradient descent needs and to the largest stable rate (plain text)."""
        limit = ("full-batch gradient descent diverges at any learning rate above "
                 f"2/λmax = {prose(self.stability_limit)}")
        if self.flat:
            return (f"κ is infinite (λmin = 0): the loss is flat along some direction (a constant or repeated "
                    f"feature), gradient descent never moves along it, and {limit}.")
        steps = self.steps_per_tenfold
        pace = "one step reaches the minimum" if steps <= 1 else (
            f"gradient descent needs about {_count(steps)}, even at its best rate "
            f"2/(λmax + λmin) = {prose(self.best_rate)}, to get ten times closer to the minimum")
        return f"κ = λmax/λmin = {prose(self.condition)}: {pace}, and {limit}."


def _count(steps: float) -> str:
    """A number of steps: "1 step", "45 steps", "151,000 steps", "1.51e8 steps"."""
    if steps >= 1e5:
        return f"{prose(steps)} steps"
    text = f"{steps:,.0f}" if steps >= 10 else f"{steps:.1f}".rstrip("0").rstrip(".")
    return f"{text} step" if text == "1" else f"{text} steps"


_computed: weakref.WeakKeyDictionary[Experiment, Curvature] = weakref.WeakKeyDictionary()


def curvature_of(exp: Experiment) -> Curvature:
    """The curvature of ``exp``'s training loss: its training rows (validation rows taken off, normalized if
    the settings say so). Refuses anything but a linear model with MSE (:class:`ValueError`). Computed once per
    experiment (its rows do not change; a text that says it while training runs asks for it at every frame)."""
    if not exp.is_linear or exp.loss.name != "mse":
        raise ValueError("the Hessian is computed for a linear model with MSE only")
    found = _computed.get(exp)
    if found is None:
        found = _computed[exp] = Curvature.from_rows(exp.X, exp.param_names)
    return found


@dataclass(frozen=True)
class NormalizationEffect:
    """The curvature of a data set's linear MSE with raw and with normalized features."""

    raw: Curvature
    normalized: Curvature

    @property
    def factor(self) -> float:
        """How many times smaller κ is once the features are normalized."""
        return self.raw.condition / self.normalized.condition

    def sentence(self) -> str:
        """One line: κ before and after, the steps per tenfold and the largest stable rate, numbers filled in."""
        r, z = self.raw, self.normalized
        if r.flat or z.flat:
            return (f"Normalizing the features takes κ from {prose(r.condition)} to {prose(z.condition)}, and the "
                    f"largest stable learning rate 2/λmax from {prose(r.stability_limit)} to "
                    f"{prose(z.stability_limit)}.")
        return (f"Normalizing the features takes κ from {prose(r.condition)} to {prose(z.condition)}: gradient "
                f"descent needs about {_count(z.steps_per_tenfold)} instead of {_count(r.steps_per_tenfold)} "
                f"to get ten times closer to the minimum, and the largest stable learning rate 2/λmax goes from "
                f"{prose(r.stability_limit)} to {prose(z.stability_limit)}.")


def normalization_effect(dataset: Dataset, settings: FitSettings | None = None) -> NormalizationEffect:
    """κ of the linear MSE on ``dataset``'s training rows without and with normalized features.

    The rows are those an :class:`~engine.experiment.Experiment` with ``settings`` (default: the data set's)
    trains on — shuffled once and split as it says — for a linear model with MSE, whatever the settings'
    model and loss. The normalized features are z-scored with the training file's statistics.
    """
    from .experiment import Experiment

    settings = dataset.defaults if settings is None else settings
    base = replace(settings, model="linear", loss="mse", init=None)
    raw = Experiment(dataset, replace(base, normalize=False))
    norm = Experiment(dataset, replace(base, normalize=True))
    return NormalizationEffect(curvature_of(raw), curvature_of(norm))
