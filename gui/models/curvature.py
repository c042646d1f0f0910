"""What a tab shows of the curvature of a linear model's MSE: its numbers, its sentence, the axes to draw.

The numbers are the engine's (:mod:`fitscope.engine.curvature`): the Hessian ``2/n·ZᵀZ`` of the training
rows, its eigenvalues λmin … λmax, κ = λmax/λmin, and the eigen-directions of the 2 × 2 block of the two
parameters a map or a slice is drawn over. :class:`CurvatureModel` computes them once per experiment (and
the κ of the data with and without normalization once per data set and split) and says, in one line, why
there is nothing to show for MAE or a network.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fitscope.engine.curvature import Curvature, NormalizationEffect, curvature_of, normalization_effect
from fitscope.engine.experiment import Experiment
from fitscope.engine.numbers import prose

#: The note shown instead of the numbers for anything but a linear model with MSE.
LINEAR_MSE_ONLY = "The curvature is shown for a linear model with MSE only."
#: Each drawn axis reaches at most this fraction of the plot's width or height from the centre.
AXIS_REACH = 0.38


def short(x: float) -> str:
    """A number in three significant digits: ``43.1``, ``0.0464``, ``1.3e+08`` is written ``1.3e8``."""
    return prose(x, 2 if x != 0 and (abs(x) >= 1e6 or abs(x) < 1e-3) else 3)


@dataclass(frozen=True)
class CurvatureReadout:
    """What the tab's curvature box says.

    Attributes
    ----------
    curvature : Curvature or None
        None for MAE or a network (then :attr:`numbers` is :data:`LINEAR_MSE_ONLY` and the rest empty).
    numbers : str
        ``"λmax 43.1, λmin 1.1, κ 39.2"`` (the sentence says κ = λmax/λmin).
    sentence : str
        κ tied to the steps gradient descent needs and to the largest stable rate 2/λmax.
    normalization : str
        ``"κ without normalization 1.3e8; with 85"`` (the data's numbers), or empty.
    """

    curvature: Curvature | None
    numbers: str
    sentence: str = ""
    normalization: str = ""

    @property
    def kappa(self) -> float | None:
        return None if self.curvature is None else self.curvature.condition


class CurvatureModel:
    """The curvature of a tab's experiment, computed when the experiment (or its data split) changes."""

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._curvature: Curvature | None = None
        self._effect_key: tuple | None = None
        self._effect: NormalizationEffect | None = None

    def curvature(self, exp: Experiment) -> Curvature | None:
        """The Hessian of ``exp``'s training MSE and its eigenvalues, or None for MAE or a network."""
        if self._key is None or self._key[0] is not exp or self._key[1] != exp.loss.name:
            self._key = (exp, exp.loss.name)  # the loss changes on the fly, in the same experiment
            linear_mse = exp.is_linear and exp.loss.name == "mse"
            self._curvature = curvature_of(exp) if linear_mse else None
        return self._curvature

    def normalization_effect(self, exp: Experiment) -> NormalizationEffect:
        """κ of ``exp``'s data and split without and with normalized features (the engine's numbers)."""
        s = exp.settings
        key = (s.validation_split, s.shuffle_data, s.seed)
        if self._effect_key is None or self._effect_key[0] is not exp.dataset or self._effect_key[1:] != key:
            self._effect_key, self._effect = (exp.dataset, *key), normalization_effect(exp.dataset, s)
        return self._effect

    def readout(self, exp: Experiment, compare_normalization: bool = False) -> CurvatureReadout:
        """The numbers, the sentence and (``compare_normalization``) κ without and with normalization."""
        c = self.curvature(exp)
        if c is None:
            return CurvatureReadout(None, LINEAR_MSE_ONLY)
        numbers = f"λmax {short(c.lam_max)}, λmin {short(c.lam_min)}, κ {short(c.condition)}"
        pair = ""
        if compare_normalization:
            e = self.normalization_effect(exp)
            pair = f"κ without normalization {short(e.raw.condition)}; with {short(e.normalized.condition)}"
        return CurvatureReadout(c, numbers, c.sentence(), pair)

    def axes(self, exp: Experiment, i: int, j: int, center: Sequence[float],
             view: tuple[float, float, float, float]) -> np.ndarray | None:
        """The two axes of the contour ellipses of the slice over parameters ``i`` (x) and ``j`` (y), through
        ``center`` (the slice's minimum), scaled together to fit ``view`` = (x0, x1, y0, y1).

        Returns
        -------
        ndarray of shape (2, 2, 2) or None
            ``[k, end, (x, y)]``, the long axis first (:meth:`~engine.curvature.SliceAxes.segments`): both end
            on one contour ``L_min + Δ``, so their half-lengths are ``√(2Δ/μ_k)``, in proportion to
            ``1/√μ_k``. A flat direction is drawn across the view. None for MAE or a network.
        """
        c = self.curvature(exp)
        if c is None:
            return None
        axes = c.slice_axes(i, j)
        span = np.array([view[1] - view[0], view[3] - view[2]], dtype=float)
        if not (np.all(span > 0) and np.all(np.isfinite(span))):
            return None
        unit = axes.semi_axes(1.0)  # half-lengths on the contour Δ = 1
        reach = [np.max(np.abs(unit[k] * axes.eigenvectors[:, k]) / span) for k in range(2)]
        finite = [r for r in reach if math.isfinite(r) and r > 0]
        delta = (AXIS_REACH / max(finite)) ** 2 if finite else 1.0  # s ∝ √Δ: the longer axis reaches AXIS_REACH
        segments = axes.segments(center, delta)
        for k in range(2):
            if not np.all(np.isfinite(segments[k])):  # flat: across the view
                v = axes.eigenvectors[:, k]
                half = AXIS_REACH / max(np.max(np.abs(v) / span), 1e-300)
                segments[k, 0], segments[k, 1] = np.asarray(center) - half * v, np.asarray(center) + half * v
        return segments
