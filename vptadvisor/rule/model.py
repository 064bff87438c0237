"""Bayesian linear regression of the VPT-FT margin with a task random effect (numpy/scipy only).

Model (one row j of task i; margin y in accuracy points, VPT - FT):

    y_ij = x_ij' beta + u_i + e_ij,   u_i ~ N(0, tau^2)  (task effect),  e_ij ~ N(0, sigma^2)
    beta ~ N(0, Lambda),  Lambda = diag(prior_sd^2)  (weak: 20 points intercept, 10 points others)

Features (fixed transforms, so coefficients read in natural units):
    d = 1 for high task-objective disparity, 0 for low
    f = (FID - 200) / 50                       (per 50 FID points)
    l = log2(n_train / 800)                    (per doubling of the training set)
    x = [1, d, f, l] plus optional interactions d*l, f*l (chosen by leave-one-task-out).
    d*f is not identifiable: every high-disparity row has the same (group-mean) FID.

Rows of one task share u_i, so with V = cov(y | beta) block-diagonal (one block per task):
    V_i = tau^2 11' + sigma^2 I   (m_i rows)
    V_i^-1 = sigma^-2 (I - c_i 11'),   c_i = tau^2 / (sigma^2 + m_i tau^2)
    log|V_i| = (m_i - 1) log sigma^2 + log(sigma^2 + m_i tau^2)
Posterior (conjugate, given theta = (tau, sigma)):
    Sigma_post = (X' V^-1 X + Lambda^-1)^-1,  mu_post = Sigma_post X' V^-1 y
Evidence (beta integrated out), maximised over theta (type-II maximum likelihood):
    log p(y|theta) = -1/2 [n log 2pi + log|V| + log|Lambda| + log|A| + y'V^-1 y - b'A^-1 b],
    A = X'V^-1 X + Lambda^-1,  b = X'V^-1 y
Predictive for a row x* of a task not in the table (a fresh u):
    y* ~ N(x*' mu_post,  x*' Sigma_post x* + tau^2 + sigma^2)
Hyperparameter uncertainty is not propagated (empirical Bayes); leave-one-task-out calibration
(``vptadvisor study validate``) is the check that the intervals are not too narrow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize

FID_CENTER, FID_SCALE = 200.0, 50.0
N_CENTER = 800.0
MAIN_TERMS = ("intercept", "disparity", "fid", "log2_n")
INTERACTIONS = ("disparity:log2_n", "fid:log2_n")
SIZE_ONLY_TERMS = ("intercept", "log2_n")
PRIOR_SD = {"intercept": 20.0}  # every other coefficient: DEFAULT_PRIOR_SD
DEFAULT_PRIOR_SD = 10.0
LOG_BOUNDS = (math.log(0.05), math.log(50.0))  # tau and sigma between 0.05 and 50 points


def encode(disparity, fid, n_train) -> dict[str, np.ndarray]:
    """Raw inputs -> the named model features (see module docstring)."""
    d = np.asarray(disparity, dtype=np.float64)
    f = (np.asarray(fid, dtype=np.float64) - FID_CENTER) / FID_SCALE
    l = np.log2(np.asarray(n_train, dtype=np.float64) / N_CENTER)
    return {"intercept": np.ones_like(l), "disparity": d, "fid": f, "log2_n": l,
            "disparity:log2_n": d * l, "fid:log2_n": f * l}


def design(feats: dict[str, np.ndarray], terms: tuple[str, ...]) -> np.ndarray:
    return np.column_stack([feats[t] for t in terms])


def candidate_terms() -> list[tuple[str, ...]]:
    """The family searched by leave-one-task-out, simplest first (exact ties go to the simpler)."""
    out = [MAIN_TERMS]
    for inter in (("disparity:log2_n",), ("fid:log2_n",), INTERACTIONS):
        out.append(MAIN_TERMS + inter)
    return out


@dataclass(frozen=True)
class Fit:
    """A fitted model: Gaussian posterior of the coefficients and the two noise scales."""

    terms: tuple[str, ...]
    coef_mean: np.ndarray
    coef_cov: np.ndarray
    tau: float  # sd of the task effect (points)
    sigma: float  # sd of the within-task residual (points)
    log_evidence: float
    n_rows: int
    n_tasks: int

    def predict(self, feats: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Predictive mean and sd of the margin for rows of tasks not in the fit."""
        X = design(feats, self.terms)
        mean = X @ self.coef_mean
        var = np.einsum("ij,jk,ik->i", X, self.coef_cov, X) + self.tau**2 + self.sigma**2
        return mean, np.sqrt(var)


class _Problem:
    """Per-task sums of one data set, so an evidence evaluation is a few p x p matrix ops."""

    def __init__(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray, prior_sd: np.ndarray):
        _, inv = np.unique(groups, return_inverse=True)
        T = np.zeros((len(y), int(inv.max()) + 1))
        T[np.arange(len(y)), inv] = 1.0
        self.n = len(y)
        self.m = T.sum(axis=0)
        self.SX, self.Sy = T.T @ X, T.T @ y  # per-task sums of rows and margins
        self.XX, self.Xy, self.yy = X.T @ X, X.T @ y, float(y @ y)
        self.prior_prec = np.diag(1.0 / prior_sd**2)
        self.log_det_prior = float(np.sum(np.log(prior_sd**2)))

    def pieces(self, theta: np.ndarray):
        tau2, sig2 = math.exp(2 * theta[0]), math.exp(2 * theta[1])
        c = tau2 / (sig2 + self.m * tau2)
        A = (self.XX - (self.SX * c[:, None]).T @ self.SX) / sig2 + self.prior_prec
        b = (self.Xy - self.SX.T @ (c * self.Sy)) / sig2
        yVy = (self.yy - float(np.sum(c * self.Sy**2))) / sig2
        logdetV = float(np.sum((self.m - 1) * math.log(sig2) + np.log(sig2 + self.m * tau2)))
        return A, b, yVy, logdetV

    def neg_log_evidence(self, theta: np.ndarray) -> float:
        A, b, yVy, logdetV = self.pieces(theta)
        L = np.linalg.cholesky(A)
        z = np.linalg.solve(L, b)
        logdetA = 2.0 * float(np.sum(np.log(np.diag(L))))
        return 0.5 * (self.n * math.log(2 * math.pi) + logdetV + self.log_det_prior + logdetA + yVy - z @ z)


def fit_model(terms: tuple[str, ...], disparity, fid, n_train, margin, task) -> Fit:
    """Type-II maximum likelihood for (tau, sigma), then the conjugate posterior. Deterministic."""
    X = design(encode(disparity, fid, n_train), terms)
    prior_sd = np.array([PRIOR_SD.get(t, DEFAULT_PRIOR_SD) for t in terms])
    prob = _Problem(X, np.asarray(margin, dtype=np.float64), np.asarray(task), prior_sd)
    res = optimize.minimize(prob.neg_log_evidence, np.array([math.log(3.0), math.log(3.0)]),
                            method="SLSQP", bounds=(LOG_BOUNDS, LOG_BOUNDS),
                            options={"ftol": 1e-12, "maxiter": 500})
    A, b, _, _ = prob.pieces(res.x)
    cov = np.linalg.inv(A)
    cov = 0.5 * (cov + cov.T)
    return Fit(terms=tuple(terms), coef_mean=cov @ b, coef_cov=cov, tau=math.exp(res.x[0]),
               sigma=math.exp(res.x[1]), log_evidence=-float(res.fun), n_rows=prob.n,
               n_tasks=len(prob.m))
