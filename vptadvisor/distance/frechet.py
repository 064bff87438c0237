"""Fréchet distance between Gaussians, in float64, without ``scipy.linalg.sqrtm``.

    d² = ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁^½ Σ₂ Σ₁^½)^½                           (1)

(Dowson & Landau 1982; Heusel et al. 2017 for FID). The trace term only needs eigenvalues:
Σ₁^½ Σ₂ Σ₁^½ is symmetric positive semi-definite, so tr(·)^½ = Σᵢ √λᵢ with λᵢ its eigenvalues,
computed by ``eigvalsh`` — no matrix square root of a non-symmetric product, no complex parts, and
exact for rank-deficient covariances (fewer samples than dimensions, N < 2048 for Inception).

When one side is given by its N×d samples with centred rows A (Σ₁ = AᵀA/(N−1)), the non-zero
eigenvalues of Σ₁Σ₂ equal those of the N×N matrix A Σ₂ Aᵀ/(N−1) (XY and YX share them), which is
cheaper when N < d:

    tr (Σ₁^½ Σ₂ Σ₁^½)^½ = Σᵢ √λᵢ(A Σ₂ Aᵀ / (N−1))                                    (2)

When both sides are samples (Σ₂ = BᵀB/(M−1)), A Σ₂ Aᵀ = C Cᵀ/(M−1) with C = A Bᵀ (N×M), whose
non-zero eigenvalues are those of CᵀC, so the smaller of the two is decomposed:

    tr (Σ₁^½ Σ₂ Σ₁^½)^½ = Σᵢ √λᵢ(CᵀC) / √((N−1)(M−1))                               (3)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import numpy.typing as npt

_F = TypeVar("_F", bound=Callable[..., Any])

if TYPE_CHECKING:
    # vptadvisor.blas is untyped; its decorator keeps the signature (functools.wraps).
    def on_one_blas_thread(function: _F) -> _F: ...
else:
    from vptadvisor.blas import on_one_blas_thread

_Array = npt.NDArray[np.float64]


def gaussian_stats(features: npt.ArrayLike) -> tuple[_Array, _Array]:
    """Mean and unbiased covariance (rows are samples), in float64."""
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError("need at least two feature vectors")
    mu = x.mean(axis=0)
    a = x - mu
    return mu, (a.T @ a) / (x.shape[0] - 1)


def _sqrt_eig_sum(sym: _Array) -> float:
    """Σ √λ over the eigenvalues of a symmetric PSD matrix (tiny negative round-off clipped to 0)."""
    lam = np.linalg.eigvalsh((sym + sym.T) / 2)
    return float(np.sqrt(np.clip(lam, 0.0, None)).sum())


def _psd_sqrt(sigma: _Array) -> _Array:
    w, v = np.linalg.eigh((sigma + sigma.T) / 2)
    root: _Array = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    return root


def _check(
    mu1: npt.ArrayLike, sigma1: npt.ArrayLike, mu2: npt.ArrayLike, sigma2: npt.ArrayLike
) -> tuple[_Array, _Array, _Array, _Array]:
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (mu1.size, mu1.size):
        raise ValueError("means and covariances must have matching dimensions")
    return mu1, sigma1, mu2, sigma2


@on_one_blas_thread
def frechet_distance(mu1: npt.ArrayLike, sigma1: npt.ArrayLike, mu2: npt.ArrayLike, sigma2: npt.ArrayLike) -> float:
    """Equation (1) from the two Gaussians' parameters."""
    mu1, sigma1, mu2, sigma2 = _check(mu1, sigma1, mu2, sigma2)
    root = _psd_sqrt(sigma1)
    cross = _sqrt_eig_sum(root @ sigma2 @ root)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * cross)


@on_one_blas_thread
def frechet_distance_to_features(features: npt.ArrayLike, mu2: npt.ArrayLike, sigma2: npt.ArrayLike) -> float:
    """Equation (1) between the Gaussian fitted to `features` (N×d) and (mu2, sigma2), via (2)
    when N ≤ d, else via (1)."""
    x = np.asarray(features, dtype=np.float64)
    n, d = x.shape
    if n < 2:
        raise ValueError("need at least two feature vectors")
    if n > d:
        mu1, sigma1 = gaussian_stats(x)
        return frechet_distance(mu1, sigma1, mu2, sigma2)
    mu1 = x.mean(axis=0)
    a = x - mu1
    mu2, sigma2 = np.asarray(mu2, np.float64), np.asarray(sigma2, np.float64)
    _check(mu1, np.eye(d), mu2, sigma2)
    cross = _sqrt_eig_sum(a @ sigma2 @ a.T / (n - 1))
    trace1 = float(np.einsum("ij,ij->", a, a)) / (n - 1)
    diff = mu1 - mu2
    return float(diff @ diff + trace1 + np.trace(sigma2) - 2.0 * cross)


@on_one_blas_thread
def frechet_distance_between_features(x: npt.ArrayLike, y: npt.ArrayLike) -> float:
    """Equation (1) between the Gaussians fitted to samples `x` (N×d) and `y` (M×d), via (3)
    when both are smaller than d, else via (2) or (1)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    (n, d), (m, d2) = x.shape, y.shape
    if d != d2:
        raise ValueError("feature dimensions differ")
    if n < 2 or m < 2:
        raise ValueError("need at least two feature vectors on each side")
    if max(n, m) > d:
        big, small = (x, y) if n >= m else (y, x)
        mu, sigma = gaussian_stats(big)
        return frechet_distance_to_features(small, mu, sigma)
    mu1, mu2 = x.mean(axis=0), y.mean(axis=0)
    a, b = x - mu1, y - mu2
    c = a @ b.T
    gram = c.T @ c if m <= n else c @ c.T
    cross = _sqrt_eig_sum(gram) / np.sqrt((n - 1) * (m - 1))
    diff = mu1 - mu2
    trace1 = float(np.einsum("ij,ij->", a, a)) / (n - 1)
    trace2 = float(np.einsum("ij,ij->", b, b)) / (m - 1)
    return float(diff @ diff + trace1 + trace2 - 2.0 * cross)
