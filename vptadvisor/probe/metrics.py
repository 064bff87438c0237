"""Label-information metrics of frozen features, written from the papers' equations (float64).

All functions take features F (n x d) and integer labels y in range(K) and are deterministic.

- `loo_r2_ridge`: leave-one-out R² (and accuracy) of ridge regression on one-hot labels, exact.
- `knn_r2` / `knn_loo`: leave-one-out k-nearest-neighbour R² / accuracy (cosine).
- `top_axis_share`: how one-dimensional the class means of predictions are.
- `logme`: LogME (You et al., ICML 2021).
- `h_score`: H-score (Bao et al., ICIP 2019), with a shrinkage covariance (Ibrahim et al., 2022).
- `nce` / `leep`: NCE (Tran et al., ICCV 2019) and LEEP (Nguyen et al., ICML 2020) with
  pseudo source labels from k-means clusters of the features (as in N-LEEP, Li et al., CVPR 2021),
  since the FID Inception weights carry no ImageNet classifier head.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def one_hot(y: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros((len(y), k))
    out[np.arange(len(y)), y] = 1.0
    return out


def balanced_accuracy(y: np.ndarray, pred: np.ndarray, k: int) -> float:
    """Mean over classes of the per-class recall (classes absent from y are skipped)."""
    recalls = [np.mean(pred[y == c] == c) for c in range(k) if np.any(y == c)]
    return float(np.mean(recalls))


def kappa(bacc: float, k: int) -> float:
    """Chance-corrected balanced accuracy: 0 at chance (1/K), 1 when perfect."""
    return (bacc - 1.0 / k) / (1.0 - 1.0 / k)


def centered_gram(F: np.ndarray) -> np.ndarray:
    """Gram matrix of the column-centred features (n x n)."""
    Fc = F - F.mean(axis=0, keepdims=True)
    return Fc @ Fc.T


RIDGE_LAMBDAS = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 0.3, 1.0, 3.0, 10.0)  # x mean eigenvalue of the gram


@dataclass(frozen=True)
class RidgeLOO:
    r2: float  # leave-one-out R² of the one-hot targets (1 - PRESS / total sum of squares)
    bacc: float  # leave-one-out balanced accuracy of the arg-max class
    kappa: float
    lam: float  # chosen ridge penalty, relative to the mean eigenvalue of the centred gram
    loo_predictions: np.ndarray  # (n, K) leave-one-out predictions of the centred one-hot targets


def loo_r2_ridge(gram: np.ndarray, y: np.ndarray, k: int, rel_lambdas=RIDGE_LAMBDAS) -> RidgeLOO:
    """Exact leave-one-out ridge regression of one-hot labels from a centred gram matrix.

    Ridge with an unpenalised intercept has hat matrix H = 11'/n + Q diag(e/(e+λ)) Q', where
    Q diag(e) Q' is the centred gram (kernel ridge: the same for d > n). Leave-one-out residuals
    follow from the hat matrix alone (Allen 1974, PRESS): r_(-i) = (y_i - ŷ_i) / (1 - h_ii). λ is
    the grid value with the smallest PRESS; R² = 1 - PRESS / Σ_i ||y_i - ȳ_(-i)||², where the
    denominator is the PRESS of the intercept-only model (ȳ_(-i): mean without image i), so that
    R² = 0 means "no better than the class frequencies" also out of sample.
    """
    n = len(y)
    Y = one_hot(y, k)
    Yc = Y - Y.mean(axis=0)
    e, Q = np.linalg.eigh(gram)
    e = np.clip(e, 0.0, None)
    QtY = Q.T @ Yc
    scale = float(e.mean()) if e.mean() > 0 else 1.0
    null = float(np.sum(Yc**2)) * (n / (n - 1)) ** 2
    best = None
    for rel in rel_lambdas:
        shrink = e / (e + rel * scale)
        fit = Q @ (shrink[:, None] * QtY)
        h = np.minimum(1.0 / n + np.einsum("ij,j,ij->i", Q, shrink, Q), 1 - 1e-9)
        resid = (Yc - fit) / (1 - h[:, None])
        press = float(np.sum(resid**2))
        if best is None or press < best[0] - 1e-12 * null:
            best = (press, rel, Yc - resid)
    press, rel, loo = best
    b = balanced_accuracy(y, loo.argmax(axis=1), k)
    return RidgeLOO(r2=1.0 - press / null, bacc=b, kappa=kappa(b, k), lam=rel, loo_predictions=loo)


def cosine_neighbours(F: np.ndarray, m: int) -> np.ndarray:
    """Indices (n x m) of each row's m most cosine-similar other rows (features centred first);
    ties broken by index, so the result is deterministic."""
    Fc = F - F.mean(axis=0, keepdims=True)
    Fn = Fc / np.maximum(np.linalg.norm(Fc, axis=1, keepdims=True), 1e-12)
    S = Fn @ Fn.T
    np.fill_diagonal(S, -np.inf)
    return np.argsort(-S, axis=1, kind="stable")[:, :m]


def knn_r2(F: np.ndarray, y: np.ndarray, k: int, neighbours: int) -> float:
    """Leave-one-out R² of the k-nearest-neighbour average of one-hot labels (cosine similarity):
    ŷ_i = (1/m) Σ_{j ∈ N_m(i)} onehot(y_j), R² = 1 - Σ||y_i - ŷ_i||² / Σ||y_i - ȳ_(-i)||²."""
    n = len(y)
    Y = one_hot(y, k)
    P = Y[cosine_neighbours(F, min(neighbours, n - 1))].mean(axis=1)
    null = float(np.sum((Y - Y.mean(axis=0)) ** 2)) * (n / (n - 1)) ** 2
    return 1.0 - float(np.sum((Y - P) ** 2)) / null


def top_axis_share(P: np.ndarray, y: np.ndarray, k: int) -> float:
    """Share of the between-class spread of predictions P (n x K) on its first principal axis:
    λ_1 / Σ λ of the centred K x K matrix of class-mean predictions (needs K >= 3)."""
    means = np.stack([P[y == c].mean(axis=0) for c in range(k)])
    means -= means.mean(axis=0)
    ev = np.clip(np.linalg.eigvalsh(means @ means.T), 0.0, None)
    return float(ev.max() / ev.sum()) if ev.sum() > 0 else 1.0 / (k - 1)


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
        evidence = (n / 2 * np.log(beta) + D / 2 * np.log(alpha) - n / 2 * np.log(2 * np.pi)
                    - beta / 2 * res - alpha / 2 * mm
                    - 0.5 * (np.sum(np.log(alpha + beta * sigma)) + (D - n) * np.log(alpha)))
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
    """Plain Lloyd k-means with k-means++ seeding; returns the cluster index of each row."""
    rng = np.random.default_rng(seed)
    n = len(F)
    centres = [F[rng.integers(n)]]
    d2 = np.sum((F - centres[0]) ** 2, axis=1)
    for _ in range(1, m):
        centres.append(F[rng.choice(n, p=d2 / d2.sum()) if d2.sum() > 0 else rng.integers(n)])
        d2 = np.minimum(d2, np.sum((F - centres[-1]) ** 2, axis=1))
    C = np.stack(centres)
    sq = np.sum(F**2, axis=1)
    z = np.zeros(n, dtype=int)
    for _ in range(iters):
        dist = sq[:, None] - 2 * F @ C.T + np.sum(C**2, axis=1)[None]
        z_new = dist.argmin(axis=1)
        if _ and np.array_equal(z_new, z):
            break
        z = z_new
        for j in range(m):
            if np.any(z == j):
                C[j] = F[z == j].mean(axis=0)
    return z


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
