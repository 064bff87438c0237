"""Sufficient statistics of a feature set, exact to merge: n, Σx and Σxxᵀ in float64.

Shards embedded on different processes (or machines) add up to the statistics of the whole set,
so the Fréchet distance of the union needs no feature to travel; the mean is Σx/n and the unbiased
covariance (Σxxᵀ − n μμᵀ)/(n − 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from vptadvisor.distance.reference import Reference


@dataclass
class FeatureStats:
    n: int
    sum: np.ndarray  # (d,) float64
    outer: np.ndarray  # (d, d) float64

    @classmethod
    def of(cls, features: np.ndarray) -> FeatureStats:
        x = np.asarray(features, dtype=np.float64)
        return cls(int(x.shape[0]), x.sum(axis=0), x.T @ x)

    @classmethod
    def empty(cls, d: int) -> FeatureStats:
        return cls(0, np.zeros(d), np.zeros((d, d)))

    def __add__(self, other: FeatureStats) -> FeatureStats:
        return FeatureStats(self.n + other.n, self.sum + other.sum, self.outer + other.outer)

    @property
    def mu(self) -> npt.NDArray[np.float64]:
        mu: npt.NDArray[np.float64] = self.sum / self.n
        return mu

    @property
    def sigma(self) -> npt.NDArray[np.float64]:
        if self.n < 2:
            raise ValueError("need at least two feature vectors")
        mu = self.mu
        sigma: npt.NDArray[np.float64] = (self.outer - self.n * np.outer(mu, mu)) / (self.n - 1)
        return sigma


def fid_to_reference(reference: Reference, stats: FeatureStats, features: np.ndarray) -> float:
    """FID of the dataset (its sums `stats`; `features` the same rows) against a reference.

    A reference that stores N ≤ d features is the sample side of equation (2) in frechet.py, exact
    for the dataset's covariance of any rank; a reference of N > d features or of statistics meets
    the dataset's (μ, Σ) in equation (1) when the dataset has more than d images, else the features."""
    from vptadvisor.distance.frechet import (
        frechet_distance,
        frechet_distance_to_features,
    )

    d = stats.sum.shape[0]
    if reference.features is not None and reference.features.shape[0] <= d:
        return frechet_distance_to_features(reference.features, stats.mu, stats.sigma)
    if stats.n > d:
        if reference.features is not None:
            return frechet_distance_to_features(reference.features, stats.mu, stats.sigma)
        # a reference without features has statistics (load_reference refuses one with neither)
        return frechet_distance(
            cast(np.ndarray, reference.mu), cast(np.ndarray, reference.sigma), stats.mu, stats.sigma
        )
    return reference.fid(features)
