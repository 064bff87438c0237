"""Fréchet distance and KID against closed forms, scipy, and each other's code paths."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from vptadvisor.distance import (
    frechet_distance,
    frechet_distance_between_features,
    frechet_distance_to_features,
    gaussian_stats,
    kernel_inception_distance,
)


def _spd(rng, d, jitter=0.1):
    a = rng.normal(size=(d, d))
    return a @ a.T / d + jitter * np.eye(d)


def test_closed_form_diagonal():
    # Diagonal covariances commute: d² = |Δμ|² + Σ (√a − √b)².
    a = np.array([1.0, 4.0, 9.0, 0.25])
    b = np.array([4.0, 1.0, 9.0, 1.0])
    mu1, mu2 = np.array([0.0, 1.0, 2.0, 3.0]), np.array([1.0, 1.0, 0.0, 3.0])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-12)


def test_identical_gaussians_are_at_zero():
    rng = np.random.default_rng(1)
    s = _spd(rng, 20)
    mu = rng.normal(size=20)
    assert abs(frechet_distance(mu, s, mu, s)) < 1e-9


@pytest.mark.parametrize("d", [5, 30, 64])
def test_matches_scipy_sqrtm_on_well_conditioned_matrices(d):
    rng = np.random.default_rng(d)
    s1, s2 = _spd(rng, d), _spd(rng, d)
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("n,m", [(10, 15), (15, 10), (12, 80), (80, 12), (70, 90)])
def test_rank_deficient_paths_agree(n, m):
    """N < d: the sample-based equations (2) and (3) equal the covariance equation (1)."""
    d = 50
    rng = np.random.default_rng(n * 100 + m)
    x = rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) * 0.3
    y = rng.normal(loc=0.5, size=(m, d))
    mu1, s1 = gaussian_stats(x)
    mu2, s2 = gaussian_stats(y)
    direct = frechet_distance(mu1, s1, mu2, s2)
    # (1) takes square roots of round-off-sized eigenvalues of a singular Σ (√1e-16 = 1e-8 each),
    # so it agrees to ~1e-8 relative; the sample-based (2) and (3) avoid that floor.
    via_2 = frechet_distance_to_features(x, mu2, s2)
    via_3 = frechet_distance_between_features(x, y)
    assert via_2 == pytest.approx(direct, rel=1e-7)
    assert via_3 == pytest.approx(direct, rel=1e-7)
    assert frechet_distance_between_features(y, x) == pytest.approx(via_3, rel=1e-9)  # 5e-11 seen
    if n < m:
        assert via_2 == pytest.approx(via_3, rel=1e-9)


def test_rank_deficient_result_is_finite_where_sqrtm_struggles():
    rng = np.random.default_rng(3)
    x, y = rng.random((40, 300)), rng.random((30, 300)) + 0.05
    value = frechet_distance_between_features(x, y)
    assert np.isfinite(value) and value > 0


def test_input_checks():
    with pytest.raises(ValueError):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))
    with pytest.raises(ValueError):
        gaussian_stats(np.zeros((1, 5)))


def _naive_kid(x, y, ix, iy):
    d = x.shape[1]
    vals = []
    for a, b in zip(ix, iy):
        xs, ys = x[a], y[b]
        m = len(a)
        kxx = (xs @ xs.T / d + 1) ** 3
        kyy = (ys @ ys.T / d + 1) ** 3
        kxy = (xs @ ys.T / d + 1) ** 3
        vals.append(
            (kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.mean()
        )
    return np.mean(vals), np.std(vals, ddof=1)


def test_kid_matches_naive_subset_computation():
    rng = np.random.default_rng(4)
    x, y = rng.random((60, 16)), rng.random((50, 16)) * 1.2
    kid, std, m = kernel_inception_distance(x, y, n_subsets=7, subset_size=30, seed=11)
    # replay the same subset draws
    r = np.random.default_rng(11)
    ix = [np.flatnonzero(np.isin(np.arange(60), r.choice(60, 30, replace=False))) for _ in range(7)]
    iy = [np.flatnonzero(np.isin(np.arange(50), r.choice(50, 30, replace=False))) for _ in range(7)]
    expected, expected_std = _naive_kid(x, y, ix, iy)
    assert m == 30
    assert kid == pytest.approx(expected, rel=1e-10)
    assert std == pytest.approx(expected_std, rel=1e-8)


def test_kid_per_subset_path_equals_gram_path(monkeypatch):
    from vptadvisor.distance import kid as kid_module

    rng = np.random.default_rng(5)
    x, y = rng.random((40, 8)), rng.random((45, 8))
    full = kernel_inception_distance(x, y, n_subsets=5, subset_size=20, seed=2)
    monkeypatch.setattr(kid_module, "_GRAM_LIMIT", 10)
    per_subset = kernel_inception_distance(x, y, n_subsets=5, subset_size=20, seed=2)
    assert full == pytest.approx(per_subset, rel=1e-10)


def test_kid_is_unbiased_near_zero_for_same_distribution_and_seeded():
    rng = np.random.default_rng(6)
    x, y = rng.random((400, 32)), rng.random((400, 32))
    kid, std, _ = kernel_inception_distance(x, y, n_subsets=20, subset_size=100, seed=0)
    assert abs(kid) < 3 * std / np.sqrt(20) + 1e-6
    far, _, _ = kernel_inception_distance(x, y + 0.5, n_subsets=20, subset_size=100, seed=0)
    assert far > 10 * abs(kid)
    assert kernel_inception_distance(x, y, 5, 50, seed=3) == kernel_inception_distance(x, y, 5, 50, seed=3)
