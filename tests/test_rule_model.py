"""The Bayesian margin model: closed-form algebra against dense linear algebra, and recovery of
known parameters from data simulated from the model itself."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from vptadvisor.rule.model import MAIN_TERMS, _Problem, design, encode, fit_model


def _simulate(seed: int, n_tasks: int, beta: np.ndarray, tau: float, sigma: float):
    rng = np.random.default_rng(seed)
    sizes = np.array([400.0, 800.0, 5000.0, 10000.0])
    task, d, fid, n = [], [], [], []
    for t in range(n_tasks):
        dt, ft = float(rng.integers(0, 2)), float(rng.uniform(140, 250))
        for s in sizes:
            task.append(f"t{t}"), d.append(dt), fid.append(ft), n.append(s)
    task, d, fid, n = np.array(task), np.array(d), np.array(fid), np.array(n)
    X = design(encode(d, fid, n), MAIN_TERMS)
    u = rng.normal(0, tau, n_tasks)
    y = X @ beta + u[np.array([int(t[1:]) for t in task])] + rng.normal(0, sigma, len(task))
    return task, d, fid, n, y


def test_block_evidence_equals_dense_gaussian_marginal():
    task, d, fid, n, y = _simulate(0, 7, np.array([2.0, 3.0, -2.0, -1.5]), 2.0, 3.0)
    X = design(encode(d, fid, n), MAIN_TERMS)
    prior_sd = np.array([20.0, 10.0, 10.0, 10.0])
    prob = _Problem(X, y, task, prior_sd)
    for log_tau, log_sig in [(0.3, 1.1), (1.5, 0.2), (-1.0, 2.0)]:
        tau, sig = math.exp(log_tau), math.exp(log_sig)
        same = (task[:, None] == task[None, :]).astype(float)
        V = tau**2 * same + sig**2 * np.eye(len(y)) + X @ np.diag(prior_sd**2) @ X.T
        dense = stats.multivariate_normal(np.zeros(len(y)), V).logpdf(y)
        assert -prob.neg_log_evidence(np.array([log_tau, log_sig])) == pytest.approx(dense, rel=1e-10)


def test_posterior_equals_dense_formula():
    task, d, fid, n, y = _simulate(1, 9, np.array([1.0, 4.0, -3.0, -1.0]), 1.5, 2.5)
    fit = fit_model(MAIN_TERMS, d, fid, n, y, task)
    X = design(encode(d, fid, n), MAIN_TERMS)
    same = (task[:, None] == task[None, :]).astype(float)
    Vi = np.linalg.inv(fit.tau**2 * same + fit.sigma**2 * np.eye(len(y)))
    P0 = np.diag(1 / np.array([20.0, 10.0, 10.0, 10.0]) ** 2)
    cov = np.linalg.inv(X.T @ Vi @ X + P0)
    np.testing.assert_allclose(fit.coef_cov, cov, rtol=1e-9)
    np.testing.assert_allclose(fit.coef_mean, cov @ X.T @ Vi @ y, rtol=1e-9)


def test_recovers_known_parameters_from_simulated_tasks():
    beta = np.array([3.0, 3.5, -3.0, -1.7])
    task, d, fid, n, y = _simulate(42, 200, beta, tau=3.0, sigma=5.0)
    fit = fit_model(MAIN_TERMS, d, fid, n, y, task)
    sd = np.sqrt(np.diag(fit.coef_cov))
    assert np.all(np.abs(fit.coef_mean - beta) < 4 * sd), (fit.coef_mean, sd)
    assert fit.tau == pytest.approx(3.0, rel=0.3)
    assert fit.sigma == pytest.approx(5.0, rel=0.1)
    # predictive intervals for new tasks cover at the nominal rate
    t2, d2, f2, n2, y2 = _simulate(7, 300, beta, tau=3.0, sigma=5.0)
    mean, psd = fit.predict(encode(d2, f2, n2))
    cover = np.mean(np.abs(y2 - mean) <= stats.norm.ppf(0.9) * psd)
    assert cover == pytest.approx(0.8, abs=0.03)


def test_fit_is_deterministic():
    task, d, fid, n, y = _simulate(3, 12, np.array([1.0, 2.0, -1.0, -1.0]), 2.0, 3.0)
    a = fit_model(MAIN_TERMS, d, fid, n, y, task)
    b = fit_model(MAIN_TERMS, d, fid, n, y, task)
    assert a.coef_mean.tobytes() == b.coef_mean.tobytes() and a.tau == b.tau and a.sigma == b.sigma
