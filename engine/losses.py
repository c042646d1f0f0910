"""Loss functions as ``loss``/``grad`` pairs.

The batch loss is the mean over the batch, as in TensorFlow.js (``tf.losses.meanSquaredError`` and
``meanAbsoluteError`` with the default reduction).
"""

from __future__ import annotations

import numpy as np


class MSE:
    """Mean squared error, ``mean((ŷ − y)²)``."""

    name = "mse"
    label = "mean squared error"

    @staticmethod
    def loss(y_pred: np.ndarray, y: np.ndarray) -> float:
        """Loss of a batch.

        Parameters
        ----------
        y_pred, y : ndarray of shape (n,)

        Returns
        -------
        float
        """
        r = y_pred - y
        return float(r @ r) / r.size

    @staticmethod
    def grad(y_pred: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Gradient of :meth:`loss` with respect to ``y_pred``: ``2 (ŷ − y) / n``, shape (n,)."""
        return (2.0 / y.size) * (y_pred - y)

    @staticmethod
    def loss_and_grad(y_pred: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        """:meth:`loss` and :meth:`grad` together, computing ``ŷ − y`` once."""
        r = y_pred - y
        return float(r @ r) / r.size, (2.0 / r.size) * r


class MAE:
    """Mean absolute error, ``mean(|ŷ − y|)``."""

    name = "mae"
    label = "mean absolute error"

    @staticmethod
    def loss(y_pred: np.ndarray, y: np.ndarray) -> float:
        """Loss of a batch; ``y_pred`` and ``y`` have shape (n,)."""
        return float(np.abs(y_pred - y).sum()) / y.size

    @staticmethod
    def grad(y_pred: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Gradient of :meth:`loss` with respect to ``y_pred``: ``sign(ŷ − y) / n`` (sign(0) = 0), shape (n,)."""
        return np.sign(y_pred - y) / y.size

    @staticmethod
    def loss_and_grad(y_pred: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        """:meth:`loss` and :meth:`grad` together, computing ``ŷ − y`` once."""
        r = y_pred - y
        return float(np.abs(r).sum()) / r.size, np.sign(r) / r.size


LOSSES: dict[str, type[MSE] | type[MAE]] = {"mse": MSE, "mae": MAE}


def get_loss(name: str) -> type[MSE] | type[MAE]:
    """The loss class called ``name`` (``"mse"`` or ``"mae"``)."""
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r} (choose {', '.join(LOSSES)})") from None
