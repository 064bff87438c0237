"""The probe's metrics against brute-force or textbook forms of the same equations."""

from __future__ import annotations

import sys
from pathlib import Path

_REPO = str(Path(__file__).resolve().parents[1])
if _REPO not in sys.path:  # tools/ (dev tooling) is importable from the source checkout
    sys.path.insert(0, _REPO)

import numpy as np
import pytest

from tools.probe_suite import transfer_metrics as TM
from vptadvisor.probe import metrics as M
from vptadvisor.probe.signals import block_gram


def _data(n=60, d=12, k=3, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    F = rng.normal(size=(n, d)) + 1.5 * np.eye(k, d)[y]
    return F, y, k


def test_loo_ridge_equals_refitting_without_each_image():
    F, y, k = _data()
    G = block_gram(F)
    res = M.loo_r2_ridge(G, y, k, rel_lambdas=(0.1,))
    # brute force: kernel ridge with unpenalised intercept, refitted n times
    Fs = (F - F.mean(0)) * np.sqrt(len(F) / np.sum((F - F.mean(0)) ** 2))
    lam = 0.1 * np.linalg.eigvalsh(Fs @ Fs.T).clip(0).mean()
    Y = M.one_hot(y, k)
    loo = np.zeros_like(Y)
    for i in range(len(y)):
        m = np.arange(len(y)) != i
        X, T = Fs[m], Y[m]
        xm, tm = X.mean(0), T.mean(0)
        W = np.linalg.solve((X - xm).T @ (X - xm) + lam * np.eye(X.shape[1]), (X - xm).T @ (T - tm))
        loo[i] = tm + (Fs[i] - xm) @ W
    Yc = Y - Y.mean(0)
    press = np.sum((Y - loo) ** 2)
    null = np.sum(Yc**2) * (len(y) / (len(y) - 1)) ** 2
    assert res.r2 == pytest.approx(1 - press / null, rel=1e-8)
    assert np.allclose(res.loo_predictions, loo - Y.mean(0), atol=1e-8)
    assert res.bacc == pytest.approx(M.balanced_accuracy(y, loo.argmax(1), k))


def test_knn_r2_and_vote_by_brute_force():
    F, y, k = _data(n=30)
    Fc = F - F.mean(0)
    Fn = Fc / np.linalg.norm(Fc, axis=1, keepdims=True)
    Y = M.one_hot(y, k)
    P = np.zeros_like(Y)
    for i in range(len(y)):
        s = Fn @ Fn[i]
        s[i] = -np.inf
        P[i] = Y[np.argsort(-s, kind="stable")[:5]].mean(0)
    null = np.sum((Y - Y.mean(0)) ** 2) * (30 / 29) ** 2
    assert M.knn_r2(F, y, k, 5) == pytest.approx(1 - np.sum((Y - P) ** 2) / null)
    bacc, kap = TM.knn_loo(F, y, k, 5)
    assert 0.5 < bacc <= 1 and kap == pytest.approx((bacc - 1 / 3) / (2 / 3))


def test_top_axis_share_separates_a_line_from_a_simplex():
    y = np.repeat(np.arange(4), 10)
    line = np.outer(y, [1.0, 2.0, 0.5, 0.0]) + 1e-3 * np.random.default_rng(0).normal(size=(40, 4))
    simplex = np.eye(4)[y]
    assert M.top_axis_share(line, y, 4) > 0.99
    assert M.top_axis_share(simplex, y, 4) == pytest.approx(1 / 3, abs=1e-9)


def _logme_primal(F, y, k, iters=100):
    """LogME by You et al.'s Algorithm 1 in the D-dimensional primal (for D < n)."""
    n, D = F.shape
    Fc = F - F.mean(0)
    sigma, V = np.linalg.eigh(Fc.T @ Fc)
    T = M.one_hot(y, k) - M.one_hot(y, k).mean(0)
    total = 0.0
    for c in range(k):
        t = T[:, c]
        alpha, beta = 1.0, 1.0
        for _ in range(iters):
            A = alpha * np.eye(D) + beta * Fc.T @ Fc
            m = beta * np.linalg.solve(A, Fc.T @ t)
            gamma = np.sum(beta * sigma / (alpha + beta * sigma))
            alpha, beta = gamma / (m @ m), (n - gamma) / np.sum((Fc @ m - t) ** 2)
        A = alpha * np.eye(D) + beta * Fc.T @ Fc
        m = beta * np.linalg.solve(A, Fc.T @ t)
        ev = (
            n / 2 * np.log(beta)
            + D / 2 * np.log(alpha)
            - n / 2 * np.log(2 * np.pi)
            - beta / 2 * np.sum((Fc @ m - t) ** 2)
            - alpha / 2 * m @ m
            - 0.5 * np.linalg.slogdet(A)[1]
        )
        total += ev / n
    return total / k


def test_logme_dual_matches_the_primal_algorithm():
    F, y, k = _data(n=80, d=6)
    Fc = F - F.mean(0)
    assert TM.logme(Fc @ Fc.T, F.shape[1], y, k, iters=200) == pytest.approx(_logme_primal(F, y, k), rel=1e-5)


def test_logme_and_h_score_prefer_real_labels_over_shuffled():
    F, y, k = _data(n=90, d=20)
    Fc = F - F.mean(0)
    G = Fc @ Fc.T
    shuffled = np.random.default_rng(1).permutation(y)
    assert TM.logme(G, 20, y, k) > TM.logme(G, 20, shuffled, k)
    assert TM.h_score(G, 20, y, k) > TM.h_score(G, 20, shuffled, k)


def test_h_score_matches_the_direct_shrinkage_formula():
    F, y, k = _data(n=50, d=8)
    Fc = F - F.mean(0)
    n, d = Fc.shape
    S = Fc.T @ Fc / n
    mu = np.trace(S) / d
    delta = np.sum((S - mu * np.eye(d)) ** 2)
    beta = min(sum(np.sum((np.outer(f, f) - S) ** 2) for f in Fc) / n**2, delta)
    rho = beta / delta
    A = (1 - rho) * S + rho * mu * np.eye(d)
    means = np.stack([Fc[y == c].mean(0) for c in range(k)])
    B = means[y].T @ means[y] / n
    assert TM.h_score(Fc @ Fc.T, d, y, k) == pytest.approx(np.trace(np.linalg.solve(A, B)) / (k - 1), rel=1e-8)


def test_nce_and_leep_limits():
    y = np.repeat(np.arange(3), 20)
    assert TM.nce(y.copy(), y, 3, 3) == pytest.approx(1.0)
    assert TM.nce(np.zeros(60, dtype=int), y, 3, 3) == pytest.approx(0.0)
    assert TM.leep(np.eye(3)[y], y, 3) == pytest.approx(0.0)
    assert TM.leep(np.full((60, 3), 1 / 3), y, 3) == pytest.approx(np.log(1 / 3))


def test_kmeans_is_deterministic_and_finds_separated_clusters():
    rng = np.random.default_rng(0)
    F = np.concatenate([rng.normal(size=(20, 2)) + c for c in ([0, 0], [20, 0], [0, 20])])
    z1, z2 = TM.kmeans(F, 3, seed=5), TM.kmeans(F, 3, seed=5)
    assert np.array_equal(z1, z2)
    assert TM.nce(z1, np.repeat(np.arange(3), 20), 3, 3) == pytest.approx(1.0)
