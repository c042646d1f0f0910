"""Z-score normalization with the training file's statistics.

As tfjs-examples' Boston Housing: the mean and the population standard deviation of each feature over
the whole training file (before any validation split); the test set is scaled with the same numbers.
A constant column (std 0) is centred but not divided, and listed in :attr:`Standardizer.constant`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: The most column names a notice lists (the rest are counted).
_LISTED = 12


@dataclass(frozen=True)
class Standardizer:
    """Per-feature ``(x − mean) / std``; ``std`` is 1 where a column is constant."""

    mean: np.ndarray
    std: np.ndarray
    constant: tuple[int, ...]

    @classmethod
    def fit(cls, X: np.ndarray) -> Standardizer:
        """Statistics of ``X`` (n, n_features): mean, population std (ddof 0).

        A column is constant when all its values are equal (its computed std need not be exactly 0: the mean
        of 0.1 repeated is not exactly 0.1); its mean is that value and its std 1, so it becomes exactly 0.
        """
        mean = X.mean(axis=0)
        std = X.std(axis=0)
        is_constant = (X == X[:1]).all(axis=0)
        mean = np.where(is_constant, X[0], mean)
        std = np.where(is_constant, 1.0, std)
        constant = tuple(int(i) for i in np.flatnonzero(is_constant))
        return cls(mean=mean, std=std, constant=constant)

    def transform(self, X: np.ndarray) -> np.ndarray:
        """``X`` scaled with these statistics (a new array)."""
        return (X - self.mean) / self.std

    def describe_constant(self, feature_names: Sequence[str]) -> str:
        """A one-line notice for the user, or ``""`` when no column is constant."""
        if not self.constant:
            return ""
        names = ", ".join(feature_names[i] for i in self.constant[:_LISTED])
        if len(self.constant) > _LISTED:
            names += f", …and {len(self.constant) - _LISTED:,} more"
        return f"constant column(s) {names}: centred, not divided (their standard deviation is 0)"
