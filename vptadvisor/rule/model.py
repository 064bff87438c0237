"""Hierarchical Bayesian model of the VPT-FT margin over the study's backbones (numpy/scipy only).

Data: row r is a published comparison of task i(r) with backbone family b(r), n training images,
margin y in accuracy points (VPT - FT). Model:

    y_r = x_r' theta_b + z_r' lam + h_r (u_i + e_r)
    x_r = [1, d, f_i]            family-specific: intercept, disparity (1 = high), FID per 50 points
    z_r = [l, d l, lo, d lo]     shared size terms: l = log2(n/800), lo = min(log2(n/400), 0)
    h_r = exp(kappa l_r)         size-dependent scale of the task effect and the residual
    u_i ~ N(0, tau^2)            task effect (shared by a task's rows, every family and size)
    e_r ~ Student-t_nu(0, sigma_b^2)  heavy-tailed residual, family-specific scale

- Backbone level (hierarchy): theta_b ~ N(theta_0, diag(s^2)) for the four families;
  theta_0 ~ N(0, diag(20, 10, 10)^2); s_k^2 ~ InvGamma(2, S0_k^2), S0 = (8, 6, 3) points.
  A backbone outside the families is a new draw theta_new ~ N(theta_0, diag(s^2)).
- Shared size terms: lam ~ N(0, 10^2 I). ``lo`` is the slope change below 400 images, the smallest
  size of the data-size study; only the one-shot rows (n = number of classes) inform it, per
  disparity kind (``d lo``).
- Noise: tau^2 ~ InvGamma(2, 3^2), sigma_b^2 ~ InvGamma(2, 4^2); nu on the grid NU_GRID and kappa
  on KAPPA_GRID, uniform priors. (A separate scale slope below 400 images was tried: it scored
  worse leave-one-task-out on every size band and on log loss, so the scale is one log-linear law.)
- FID measured with error: f_i = (F_i - 200) / 50 where F_i is the task's latent FID. Tasks with a
  published per-task FID (FGVC) have F_i fixed at it; a VTAB task only has its group's mean, so
  F_i ~ N(group mean, FID_WITHIN_SD^2) is sampled with the rest (errors in variables: the FID slope
  is not attenuated by the group-mean coding, and its uncertainty is honest).

Fit: Gibbs sampling with the Student-t as a scale mixture (e_r | w_r ~ N(0, sigma_b^2 / w_r),
w_r ~ Gamma(nu/2, rate nu/2)). Blocks, each an exact conditional draw:
    (theta, lam, u) jointly Gaussian  (precision Z' Pi Z + prior precision; Pi_r = w_r / (h_r^2 sigma_b^2))
    theta_0 | theta Gaussian;  s_k^2, tau^2, sigma_b^2 inverse gamma;  w_r gamma;
    F_i Gaussian;  nu and kappa by griddy Gibbs (the conditional evaluated on the grid).
Seeded PCG64, float64, fixed iteration counts: the same data give the same draws.

Predictive for a task not in the fit (family b, disparity d, FID F, n images), per posterior draw s:
    y* | s ~ N(x*' theta_b,s + z*' lam_s,  h*^2 (tau_s^2 + sigma_b,s^2 / w*_s)),  w*_s ~ Gamma(nu_s/2, nu_s/2)
so the predictive is a mixture of S Gaussians (t-mixture drawn once per posterior draw, from a
fixed seed), and P(VPT better) = mean_s Phi(mu_s / sd_s). FID uncertainty enters the same way:
F*_s = F exp(scale_sd z1_s) + fid_sd z2_s (scale mapping between the user's FID protocol and the
published one, and the measurement itself), so mu_s uses each draw's own F*_s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from scipy import special, stats

FID_CENTER, FID_SCALE = 200.0, 50.0
N_CENTER, N_LOW = 800.0, 400.0
FAMILY_TERMS = ("intercept", "disparity", "fid")
SHARED_TERMS = ("log2_n", "log2_n:disparity", "below_400", "below_400:disparity")
THETA0_PRIOR_SD = np.array([20.0, 10.0, 10.0])
S0 = np.array([8.0, 6.0, 3.0])  # prior scale of the between-family sd of each family term
LAM_PRIOR_SD = 10.0
TAU0, SIGMA0 = 3.0, 4.0  # prior scales (inverse gamma, shape 2: prior mean of the variance = scale^2)
IG_SHAPE = 2.0
NU_GRID = np.array([1.5, 2.0, 3.0, 4.0, 6.0, 10.0, 20.0, 50.0])
KAPPA_GRID = np.linspace(-0.6, 0.3, 31)
FID_WITHIN_SD = 40.0  # sd of a VTAB task's FID around its group mean (docs/rule.md, "FID as measured")
N_ITER, N_BURN, THIN = 1100, 300, 2  # 400 kept draws


def size_features(n_train: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    n = np.asarray(n_train, dtype=np.float64)
    return np.log2(n / N_CENTER), np.minimum(np.log2(n / N_LOW), 0.0)


def size_scale(kappa: float | npt.NDArray[np.float64], n_train: npt.ArrayLike) -> np.ndarray:
    """h = exp(kappa log2(n / 800)): the noise scale factor at n training images."""
    return np.exp(kappa * size_features(n_train)[0])


@dataclass(frozen=True)
class ModelData:
    """Rows as model inputs. ``fid_prior_mean`` / ``fid_prior_sd`` are per task, in FID points
    (sd 0: the task's FID is published per task and fixed)."""

    task: np.ndarray  # (R,) int task index
    family: np.ndarray  # (R,) int family index
    disparity: np.ndarray  # (R,) 0/1
    n_train: np.ndarray  # (R,)
    margin: np.ndarray  # (R,)
    fid_prior_mean: np.ndarray  # (T,)
    fid_prior_sd: np.ndarray  # (T,)
    n_families: int


@dataclass(frozen=True)
class Draws:
    """Posterior draws (S of them) of everything a prediction needs."""

    theta: np.ndarray  # (S, B, 3) family terms
    theta0: np.ndarray  # (S, 3)
    s: np.ndarray  # (S, 3) between-family sd
    lam: np.ndarray  # (S, 4) shared size terms
    tau: np.ndarray  # (S,)
    sigma: np.ndarray  # (S, B)
    nu: np.ndarray  # (S,)
    kappa: np.ndarray  # (S,)

    @property
    def n(self) -> int:
        return len(self.tau)


def _ig(
    rng: np.random.Generator,
    shape: float | npt.NDArray[np.float64],
    scale: float | npt.NDArray[np.floating[Any]],
) -> npt.NDArray[np.floating[Any]]:
    """Draw from InvGamma(shape, scale) (density proportional to x^(-shape-1) exp(-scale/x))."""
    return scale / rng.gamma(shape, 1.0, size=np.shape(scale))


def gibbs(data: ModelData, seed: int = 0, n_iter: int = N_ITER, n_burn: int = N_BURN, thin: int = THIN) -> Draws:
    """Run the Gibbs sampler of the module docstring; returns the kept draws."""
    rng = np.random.default_rng(seed)
    R, B, T = len(data.margin), data.n_families, len(data.fid_prior_mean)
    y, d, fam, task = data.margin, data.disparity.astype(np.float64), data.family, data.task
    l, lo = size_features(data.n_train)
    Zs = np.column_stack([l, d * l, lo, d * lo])
    P = 3 * B + 4 + T  # unknowns of the joint Gaussian block: theta (B x 3), lam (3), u (T)
    cols_f = 3 * fam  # first family column of each row
    f_latent = ~(data.fid_prior_sd == 0)
    f0 = (data.fid_prior_mean - FID_CENTER) / FID_SCALE
    v0 = np.where(f_latent, (data.fid_prior_sd / FID_SCALE) ** 2, 1.0)
    f = f0.copy()
    theta0 = np.zeros(3)
    s2 = S0**2
    tau2, sig2 = TAU0**2, np.full(B, SIGMA0**2)
    w = np.ones(R)
    nu, kappa = 4.0, 0.0
    rows = np.arange(R)
    keep: dict[str, list[npt.NDArray[np.float64] | float]] = {
        k: [] for k in ("theta", "theta0", "s", "lam", "tau", "sigma", "nu", "kappa")
    }
    Z = np.zeros((R, P))
    Z[rows, cols_f] = 1.0
    Z[rows, cols_f + 1] = d
    Z[:, 3 * B : 3 * B + 4] = Zs
    X1 = np.column_stack([np.ones(R), d, np.zeros(R)])
    for it in range(n_iter):
        h = np.exp(kappa * l)
        # (theta, lam, u) | rest
        Z[rows, cols_f + 2] = f[task]
        Z[rows, 3 * B + 4 + task] = h
        pi = w / (h**2 * sig2[fam])
        prior_prec = np.concatenate([np.tile(1.0 / s2, B), np.full(4, LAM_PRIOR_SD**-2), np.full(T, 1.0 / tau2)])
        prior_mean = np.concatenate([np.tile(theta0, B), np.zeros(4 + T)])
        A = (Z * pi[:, None]).T @ Z + np.diag(prior_prec)
        b = Z.T @ (pi * y) + prior_prec * prior_mean
        L = np.linalg.cholesky(A)
        mean = np.linalg.solve(L.T, np.linalg.solve(L, b))
        coef = mean + np.linalg.solve(L.T, rng.standard_normal(P))
        theta = coef[: 3 * B].reshape(B, 3)
        lam = coef[3 * B : 3 * B + 4]
        u = coef[3 * B + 4 :]
        # theta0 | theta, s ;  s^2 | theta, theta0 ;  tau^2 | u
        prec0 = THETA0_PRIOR_SD**-2 + B / s2
        theta0 = theta.sum(axis=0) / s2 / prec0 + rng.standard_normal(3) / np.sqrt(prec0)
        s2 = _ig(rng, IG_SHAPE + B / 2, S0**2 + 0.5 * np.sum((theta - theta0) ** 2, axis=0))
        tau2 = float(_ig(rng, IG_SHAPE + T / 2, TAU0**2 + 0.5 * float(u @ u)))
        # residuals on the unit (h = 1) scale
        X1[:, 2] = f[task]
        mu = np.sum(theta[fam] * X1, axis=1) + Zs @ lam
        r = y - mu  # = h (u + e)
        e = r / h - u[task]
        sse = np.bincount(fam, weights=w * e**2, minlength=B)
        cnt = np.bincount(fam, minlength=B)
        sig2 = _ig(rng, IG_SHAPE + cnt / 2, SIGMA0**2 + 0.5 * sse)
        # w | rest ; nu | w (griddy)
        w = rng.gamma((nu + 1) / 2, 1.0, size=R) / ((nu + e**2 / sig2[fam]) / 2)
        logw, sw = float(np.sum(np.log(w))), float(np.sum(w))
        half = NU_GRID / 2
        logp = R * (half * np.log(half) - special.gammaln(half)) + (half - 1) * logw - half * sw
        nu = float(NU_GRID[_grid_draw(rng, logp)])
        # kappa | rest (griddy): y - mu = h (u + e), e ~ N(0, sigma_b^2 / w)
        logH = np.outer(KAPPA_GRID, l)
        E = r[None, :] * np.exp(-logH) - u[task][None, :]
        logp = np.sum(-logH - 0.5 * E**2 * (w / sig2[fam])[None, :], axis=1)
        kappa = float(KAPPA_GRID[_grid_draw(rng, logp)])
        # latent FIDs | rest
        h = np.exp(kappa * l)
        phi = theta[fam, 2]
        pi = w / (h**2 * sig2[fam])
        c = y - (mu - phi * f[task]) - h * u[task]
        prec = 1.0 / v0 + np.bincount(task, weights=phi**2 * pi, minlength=T)
        num = f0 / v0 + np.bincount(task, weights=phi * pi * c, minlength=T)
        draw = num / prec + rng.standard_normal(T) / np.sqrt(prec)
        f = np.where(f_latent, draw, f0)
        if it >= n_burn and (it - n_burn) % thin == 0:
            keep["theta"].append(theta.copy())
            keep["theta0"].append(theta0.copy())
            keep["s"].append(np.sqrt(s2))
            keep["lam"].append(lam.copy())
            keep["tau"].append(np.sqrt(tau2))
            keep["sigma"].append(np.sqrt(sig2))
            keep["nu"].append(nu)
            keep["kappa"].append(kappa)
    return Draws(**{k: np.array(v, dtype=np.float64) for k, v in keep.items()})


def _grid_draw(rng: np.random.Generator, logp: np.ndarray) -> int:
    p = np.exp(logp - logp.max())
    return int(np.searchsorted(np.cumsum(p / p.sum()), rng.random(), side="right").clip(0, len(p) - 1))


@dataclass(frozen=True)
class Noise:
    """Fixed standard draws that turn the posterior into a predictive mixture (one per draw)."""

    z_scale: np.ndarray  # (S,) N(0, 1): FID scale mapping
    z_fid: np.ndarray  # (S,) N(0, 1): FID measurement
    u_w: np.ndarray  # (S,) U(0, 1): Student-t mixing weight via the gamma quantile
    z_family: np.ndarray  # (S, 3) N(0, 1): a new family's terms (unknown backbone)

    @staticmethod
    def make(n: int, seed: int = 12345) -> Noise:
        rng = np.random.default_rng(seed)
        return Noise(rng.standard_normal(n), rng.standard_normal(n), rng.random(n), rng.standard_normal((n, 3)))


def predictive(
    draws: Draws,
    noise: Noise,
    family: int | None,
    disparity: float,
    fid: float,
    n_train: float,
    fid_sd: float = 0.0,
    scale_sd: float = 0.0,
    extra_sd: float = 0.0,
    fid_fixed: np.ndarray | None = None,
    w: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-draw predictive (mean, sd) of a new task's margin: a mixture of S Gaussians.

    ``family`` None = a backbone outside the study (a new family from the hierarchy; its noise
    scale is one of the study families' in turn). ``extra_sd`` adds independent spread (support).
    ``fid_fixed`` (S,) replaces the FID draws (used for the Shapley reference, where F is exact)."""
    S = draws.n
    if fid_fixed is None:
        F = fid * np.exp(scale_sd * noise.z_scale) + fid_sd * noise.z_fid
    else:
        F = fid_fixed
    f = (F - FID_CENTER) / FID_SCALE
    if family is None:
        theta = draws.theta0 + draws.s * noise.z_family
        sigma = draws.sigma[np.arange(S), np.arange(S) % draws.sigma.shape[1]]
    else:
        theta = draws.theta[:, family, :]
        sigma = draws.sigma[:, family]
    l, lo = size_features(n_train)
    mu = (
        theta[:, 0]
        + theta[:, 1] * disparity
        + theta[:, 2] * f
        + draws.lam @ np.array([l, disparity * l, lo, disparity * lo])
    )
    if w is None:
        w = t_weights(draws, noise)
    h = size_scale(draws.kappa, n_train)
    sd = np.sqrt(h**2 * (draws.tau**2 + sigma**2 / w) + extra_sd**2)
    return mu, sd


def t_weights(draws: Draws, noise: Noise) -> np.ndarray:
    """The Student-t mixing weight of each draw's predictive: Gamma(nu/2, rate nu/2) quantile of u_w."""
    # scipy's distribution methods are untyped (Any)
    return cast("npt.NDArray[np.float64]", stats.gamma.ppf(noise.u_w, draws.nu / 2) / (draws.nu / 2))


def mixture_p_positive(mu: np.ndarray, sd: np.ndarray) -> float:
    return float(np.mean(special.ndtr(mu / sd)))


def mixture_quantile(mu: np.ndarray, sd: np.ndarray, q: float, weights: np.ndarray | None = None) -> float:
    """Quantile of the equal- (or ``weights``-) weighted Gaussian mixture, by bisection on its cdf."""
    w = np.full(len(mu), 1.0 / len(mu)) if weights is None else weights / weights.sum()
    lo, hi = float(np.min(mu - 12 * sd)), float(np.max(mu + 12 * sd))
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if float(np.sum(w * special.ndtr((mid - mu) / sd))) < q:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)
