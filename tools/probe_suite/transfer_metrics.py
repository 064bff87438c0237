"""Transferability scores compared with the probe's signals and not adopted (benchmarks only).

- `knn_loo`: leave-one-out k-NN accuracy (cosine).
- `logme`: LogME (You et al., ICML 2021).
- `h_score`: H-score (Bao et al., ICIP 2019), with a shrinkage covariance (Ibrahim et al., 2022).
- `nce` / `leep`: NCE (Tran et al., ICCV 2019) and LEEP (Nguyen et al., ICML 2020) with
  pseudo source labels from k-means clusters of the features (as in N-LEEP, Li et al., CVPR 2021),
  since the FID Inception weights carry no ImageNet classifier head.
"""

from __future__ import annotations

import numpy as np

from vptadvisor.probe.metrics import (
    balanced_accuracy,
    cosine_neighbours,
    kappa,
    one_hot,
)


def knn_loo(F: np.ndarray, y: np.ndarray, k: int, neighbours: int = 10) -> tuple[float, float]:
    """Leave-one-out k-NN majority vote (cosine): (balanced accuracy, kappa); vote ties go to the
    class of the nearer neighbour."""
    n = len(y)
    idx = cosine_neighbours(F, min(neighbours, n - 1))
    m = idx.shape[1]
    votes = np.zeros((n, k))
    rows = np.repeat(np.arange(n), m)
    np.add.at(votes, (rows, y[idx].ravel()), 1.0 + 1e-6 * np.tile(np.arange(m, 0, -1), n))
    b = balanced_accuracy(y, votes.argmax(axis=1), k)
    return b, kappa(b, k)


def logme(gram: np.ndarray, D: int, y: np.ndarray, k: int, iters: int = 30) -> float:
    """LogME: mean over classes of the maximised log evidence per image (You et al., 2021, Eq. 2-5).

    For each one-hot target column t: prior w ~ N(0, α⁻¹I), t | F, w ~ N(Fw, β⁻¹I). With
    F'F = V diag(σ) V', the evidence L(α, β) = n/2 log β + D/2 log α - n/2 log 2π - β/2 ||Fm - t||²
    - α/2 m'm - 1/2 Σ log(α + βσ_i), m = β (α I + β F'F)⁻¹ F't, is maximised by the fixed point
    γ = Σ βσ_i/(α + βσ_i), α = γ / m'm, β = (n - γ) / ||Fm - t||² (their Algorithm 1).
    Computed in the n-dimensional dual from the centred gram F F' = U diag(σ) U' (the D - n or n - D
    extra eigenvalues are zeros), valid for D > n as for D <= n.
    """
    n = len(y)
    sigma, U = np.linalg.eigh(gram)
    sigma = np.clip(sigma, 0.0, None)
    T = one_hot(y, k) - one_hot(y, k).mean(axis=0)
    total = 0.0
    for c in range(k):
        t = T[:, c]
        z = U.T @ t  # coordinates of t in the eigenbasis of F F'
        alpha, beta = 1.0, 1.0
        for _ in range(iters):
            g = beta * sigma / (alpha + beta * sigma)
            gamma = g.sum()
            # m'm = Σ β²σ z² / (α + βσ)²;  ||Fm - t||² = Σ (α z / (α + βσ))² (+ the part of t outside span)
            mm = np.sum(beta**2 * sigma * z**2 / (alpha + beta * sigma) ** 2)
            res = np.sum((alpha * z / (alpha + beta * sigma)) ** 2)
            alpha_new = gamma / max(mm, 1e-12)
            beta_new = (n - gamma) / max(res, 1e-12)
            done = abs(alpha_new - alpha) / alpha < 1e-5 and abs(beta_new - beta) / beta < 1e-5
            alpha, beta = alpha_new, beta_new
            if done:
                break
        mm = np.sum(beta**2 * sigma * z**2 / (alpha + beta * sigma) ** 2)
        res = np.sum((alpha * z / (alpha + beta * sigma)) ** 2)
        evidence = (
            n / 2 * np.log(beta)
            + D / 2 * np.log(alpha)
            - n / 2 * np.log(2 * np.pi)
            - beta / 2 * res
            - alpha / 2 * mm
            - 0.5 * (np.sum(np.log(alpha + beta * sigma)) + (D - n) * np.log(alpha))
        )
        total += evidence / n
    return float(total / k)


def h_score(gram: np.ndarray, d: int, y: np.ndarray, k: int) -> float:
    """H-score / (K - 1): tr(cov(f)⁻¹ cov(E[f | y])) (Bao et al., 2019, Def. 2), normalised.

    The feature covariance S = F'F/n is replaced by the Ledoit-Wolf (2004) shrinkage estimate
    A = (1 - ρ) S + ρ μ I (the shrinkage H-score of Ibrahim et al., 2022), so the score stays finite
    when d >= n. Everything is computed from the centred gram G = F F' (n x n): with class mean
    m_c = F' a_c (a_c = indicator of class c / n_c) and G = U diag(s) U', w = U' a_c,
    m_c' A⁻¹ m_c = n/(1 - ρ) Σ_i w_i² s_i / (c + s_i), c = ρ μ n / (1 - ρ) (Woodbury).
    Divided by K - 1 (the rank of the between-class covariance) it lies in [0, 1].
    """
    n = len(y)
    s, U = np.linalg.eigh(gram)
    s = np.clip(s, 0.0, None)
    mu = float(np.trace(gram)) / (n * d)  # tr(S) / d
    norm_s2 = float(np.sum(gram**2)) / n**2  # ||S||_F^2
    delta = norm_s2 - 2 * mu * mu * d + mu * mu * d  # ||S - mu I||_F^2
    sq = np.diag(gram)
    beta = float(np.sum(sq**2 - 2 * np.sum(gram**2, axis=1) / n + norm_s2)) / n**2
    rho = float(np.clip(beta / max(delta, 1e-300), 1e-6, 1 - 1e-6))
    c = rho * mu * n / (1 - rho)
    total = 0.0
    for cls in range(k):
        members = y == cls
        if not np.any(members):
            continue
        a = members / members.sum()
        w = U.T @ a
        total += members.mean() * n / (1 - rho) * float(np.sum(w**2 * s / (c + s)))
    return total / (k - 1)


def kmeans(F: np.ndarray, m: int, seed: int, iters: int = 50) -> np.ndarray:
    """k-means cluster index of each row (scipy's kmeans2, k-means++ start, seeded)."""
    from scipy.cluster.vq import kmeans2

    _, z = kmeans2(np.asarray(F, dtype=np.float64), m, iter=iters, minit="++", seed=seed)
    return z.astype(int)


def nce(z: np.ndarray, y: np.ndarray, m: int, k: int) -> float:
    """Normalised NCE: 1 - H(Y|Z)/H(Y) = I(Y;Z)/H(Y) from the empirical joint of source labels z
    and target labels y (NCE = -H(Y|Z), Tran et al., 2019, Eq. 3), divided by H(Y) so that data
    sets with different class counts compare."""
    joint = np.zeros((m, k))
    np.add.at(joint, (z, y), 1.0)
    joint /= joint.sum()
    pz = joint.sum(axis=1, keepdims=True)
    py = joint.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        h_y_given_z = -np.nansum(joint * np.log(joint / pz))
        h_y = -np.nansum(py * np.log(py))
    return float(1.0 - h_y_given_z / h_y) if h_y > 0 else 0.0


def leep(theta: np.ndarray, y: np.ndarray, k: int) -> float:
    """LEEP (Nguyen et al., 2020, Eq. 2): (1/n) Σ_i log Σ_z P̂(y_i | z) θ(x_i)_z, with the empirical
    conditional P̂(y | z) = P̂(y, z) / P̂(z), P̂(y, z) = (1/n) Σ_{i: y_i = y} θ(x_i)_z."""
    n = len(y)
    joint = np.zeros((theta.shape[1], k))
    for c in range(k):
        joint[:, c] = theta[y == c].sum(axis=0) / n
    cond = joint / np.maximum(joint.sum(axis=1, keepdims=True), 1e-300)
    return float(np.mean(np.log(np.maximum(np.sum(theta * cond[:, y].T, axis=1), 1e-300))))
