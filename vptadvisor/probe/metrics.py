"""Label-information metrics of frozen features, written from the papers' equations (float64).

All functions take features F (n x d) and integer labels y in range(K) and are deterministic.

- `loo_r2_ridge`: leave-one-out R² (and accuracy) of ridge regression on one-hot labels, exact.
- `knn_r2`: leave-one-out k-nearest-neighbour R² (cosine).
- `top_axis_share`: how one-dimensional the class means of predictions are.

The transferability scores that were compared and not adopted (LogME, H-score, NCE, LEEP, k-NN
accuracy) live in tools/probe_suite/transfer_metrics.py (dev tooling, not the runtime package).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

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
    best: tuple[float, float, np.ndarray] | None = None
    for rel in rel_lambdas:
        shrink = e / (e + rel * scale)
        fit = Q @ (shrink[:, None] * QtY)
        h = np.minimum(1.0 / n + np.einsum("ij,j,ij->i", Q, shrink, Q), 1 - 1e-9)
        resid = (Yc - fit) / (1 - h[:, None])
        press = float(np.sum(resid**2))
        if best is None or press < best[0] - 1e-12 * null:
            best = (press, rel, Yc - resid)
    press, rel, loo = cast("tuple[float, float, np.ndarray]", best)
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
