"""Baselines the rule must beat, each refitted inside every leave-one-task-out fold.

All see only (task, disparity, FID, training images, margin) of the training rows:
- always-vpt / always-ft: a constant hard call; P(VPT better) = the training rows' VPT-win
  frequency (ties half), margin = their mean.
- size-only: Gaussian linear model margin = a + b log2(n/800) + task effect + noise (type-II
  maximum likelihood for the two noise sds, conjugate posterior for a, b); call = P >= 0.5.
- size-threshold: "VPT if n < c", c learned on the training rows (the midpoint between adjacent
  training sizes with the best sign accuracy; the smallest such c on ties). P(VPT better) =
  Laplace-smoothed VPT-win frequency (k + 1) / (m + 2) of the training rows on the same side.
- paper-qualitative (Han et al.): VPT if high disparity or FID below a cut learned the same way;
  P and margin as for size-threshold.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import numpy as np
import numpy.typing as npt
from scipy import optimize, stats

from vptadvisor.rule import metrics

BASELINES = ("always-vpt", "always-ft", "size-only", "size-threshold", "paper-qualitative")


@dataclass(frozen=True)
class Rows:
    task: np.ndarray
    disparity: np.ndarray
    fid: np.ndarray
    n_train: np.ndarray
    margin: np.ndarray

    def subset(self, mask: np.ndarray) -> Rows:
        return Rows(self.task[mask], self.disparity[mask], self.fid[mask], self.n_train[mask], self.margin[mask])


@dataclass
class Forecast:
    p: np.ndarray
    call_vpt: np.ndarray
    margin: np.ndarray


def _size_only(train: Rows, test: Rows) -> Forecast:
    X = np.column_stack([np.ones(len(train.margin)), np.log2(train.n_train / 800.0)])
    Xt = np.column_stack([np.ones(len(test.margin)), np.log2(test.n_train / 800.0)])
    y = train.margin
    _, inv = np.unique(train.task, return_inverse=True)
    T = np.zeros((len(y), int(inv.max()) + 1))
    T[np.arange(len(y)), inv] = 1.0
    m = T.sum(axis=0)
    SX, Sy = T.T @ X, T.T @ y
    prior_prec = np.diag([1 / 20.0**2, 1 / 10.0**2])

    def pieces(
        theta: npt.NDArray[np.float64],
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], float, float]:
        tau2, sig2 = math.exp(2 * theta[0]), math.exp(2 * theta[1])
        c = tau2 / (sig2 + m * tau2)
        A = (X.T @ X - (SX * c[:, None]).T @ SX) / sig2 + prior_prec
        b = (X.T @ y - SX.T @ (c * Sy)) / sig2
        yVy = (float(y @ y) - float(np.sum(c * Sy**2))) / sig2
        logdetV = float(np.sum((m - 1) * math.log(sig2) + np.log(sig2 + m * tau2)))
        return A, b, yVy, logdetV

    def nle(theta: npt.NDArray[np.float64]) -> float:
        A, b, yVy, logdetV = pieces(theta)
        L = np.linalg.cholesky(A)
        z = np.linalg.solve(L, b)
        # z @ z of a 1-d z is a scalar; numpy's stubs type it as an array
        return cast(float, 0.5 * (logdetV + 2 * float(np.sum(np.log(np.diag(L)))) + yVy - z @ z))

    bounds = (math.log(0.05), math.log(50.0))
    res = optimize.minimize(
        nle,
        np.array([math.log(3.0), math.log(3.0)]),
        method="SLSQP",
        bounds=(bounds, bounds),
        options={"ftol": 1e-12, "maxiter": 500},
    )
    A, b, _, _ = pieces(res.x)
    cov = np.linalg.inv(A)
    mean = Xt @ (cov @ b)
    sd = np.sqrt(np.einsum("ij,jk,ik->i", Xt, cov, Xt) + math.exp(2 * res.x[0]) + math.exp(2 * res.x[1]))
    p = stats.norm.cdf(mean / sd)
    return Forecast(p=p, call_vpt=p >= 0.5, margin=mean)


def _best_cut(values: np.ndarray, call: Callable[[float], np.ndarray], y: np.ndarray) -> float:
    u = np.unique(values)
    cuts = np.concatenate([[u[0] - 1.0], (u[:-1] + u[1:]) / 2, [u[-1] + 1.0]])
    accs = [metrics.sign_accuracy(call(c), y) for c in cuts]
    return float(cuts[int(np.argmax(accs))])


def _two_sided(call_tr: np.ndarray, call_te: np.ndarray, train: Rows) -> Forecast:
    y = metrics.outcome(train.margin)
    p = np.empty(len(call_te))
    m = np.empty(len(call_te))
    for side in (True, False):
        k = call_tr == side
        p[call_te == side] = (y[k].sum() + 1.0) / (k.sum() + 2.0)
        m[call_te == side] = train.margin[k].mean() if k.any() else train.margin.mean()
    return Forecast(p=p, call_vpt=call_te, margin=m)


def size_threshold(train: Rows, test: Rows) -> tuple[Forecast, float]:
    y = metrics.outcome(train.margin)
    cut = _best_cut(train.n_train, lambda c: train.n_train < c, y)
    return _two_sided(train.n_train < cut, test.n_train < cut, train), cut


def paper_forecast(train: Rows, test: Rows) -> Forecast:
    y = metrics.outcome(train.margin)
    hi_tr, hi_te = train.disparity == 1, test.disparity == 1
    cut = _best_cut(train.fid, lambda c: hi_tr | (train.fid < c), y)
    return _two_sided(hi_tr | (train.fid < cut), hi_te | (test.fid < cut), train)


def forecast(name: str, train: Rows, test: Rows) -> Forecast:
    n = len(test.margin)
    if name in ("always-vpt", "always-ft"):
        base = float(np.mean(metrics.outcome(train.margin)))
        return Forecast(
            p=np.full(n, base), call_vpt=np.full(n, name == "always-vpt"), margin=np.full(n, train.margin.mean())
        )
    if name == "size-only":
        return _size_only(train, test)
    if name == "size-threshold":
        return size_threshold(train, test)[0]
    if name == "paper-qualitative":
        return paper_forecast(train, test)
    raise ValueError(name)
