"""Distances between feature sets: Fréchet distance (FID) and kernel inception distance (KID)."""

from vptadvisor.distance.frechet import (
    frechet_distance,
    frechet_distance_between_features,
    frechet_distance_to_features,
    gaussian_stats,
)
from vptadvisor.distance.kid import kernel_inception_distance

__all__ = [
    "frechet_distance",
    "frechet_distance_between_features",
    "frechet_distance_to_features",
    "gaussian_stats",
    "kernel_inception_distance",
]
