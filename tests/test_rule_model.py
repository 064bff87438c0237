"""The hierarchical margin model: the sampler recovers what generated the data, is deterministic,
and its predictive behaves as the docstring says."""

from __future__ import annotations

import numpy as np
import pytest

from vptadvisor.rule import model


def simulate(seed: int = 1, n_tasks: int = 40) -> tuple[model.ModelData, dict]:
    rng = np.random.default_rng(seed)
    truth = {
        "theta": np.array([[3.0, 4.0, -3.0], [-2.0, -5.0, -2.0]]),
        "lam": np.array([-1.5, -1.0, 0.0, 0.0]),
        "tau": 2.0,
        "sigma": np.array([2.0, 4.0]),
    }
    task, fam, d, n, y = [], [], [], [], []
    fid_mean = rng.choice([150.0, 240.0], size=n_tasks)
    fid_true = fid_mean + rng.normal(0, 20.0, n_tasks)
    disp = (rng.random(n_tasks) < 0.4).astype(float)
    u = rng.normal(0, truth["tau"], n_tasks)
    for i in range(n_tasks):
        for b, sizes in ((0, (400, 800, 5000, 10000)), (1, (800,))):
            for size in sizes:
                l, lo = model.size_features(size)
                th = truth["theta"][b]
                mu = (
                    th[0]
                    + th[1] * disp[i]
                    + th[2] * (fid_true[i] - 200) / 50
                    + truth["lam"] @ [l, disp[i] * l, lo, disp[i] * lo]
                )
                task.append(i), fam.append(b), d.append(disp[i]), n.append(size)
                y.append(mu + u[i] + rng.normal(0, truth["sigma"][b]))
    data = model.ModelData(
        task=np.array(task),
        family=np.array(fam),
        disparity=np.array(d),
        n_train=np.array(n, float),
        margin=np.array(y),
        fid_prior_mean=fid_mean,
        fid_prior_sd=np.full(n_tasks, 20.0),
        n_families=2,
    )
    return data, truth


@pytest.fixture(scope="module")
def fitted():
    data, truth = simulate()
    return model.gibbs(data, seed=3, n_iter=700, n_burn=200, thin=1), truth, data


def test_gibbs_recovers_known_parameters(fitted):
    draws, truth, _ = fitted
    for b in range(2):
        for k in range(3):
            est, sd = draws.theta[:, b, k].mean(), draws.theta[:, b, k].std()
            assert abs(est - truth["theta"][b, k]) < 3.5 * sd + 0.5, (b, k, est, sd)
    assert abs(draws.lam[:, 0].mean() - truth["lam"][0]) < 0.6
    assert draws.sigma[:, 1].mean() > draws.sigma[:, 0].mean()  # family-specific noise is seen
    assert 1.0 < draws.tau.mean() < 3.5


def test_gibbs_is_deterministic_for_a_seed():
    data, _ = simulate(seed=2, n_tasks=12)
    a = model.gibbs(data, seed=5, n_iter=60, n_burn=10, thin=1)
    b = model.gibbs(data, seed=5, n_iter=60, n_burn=10, thin=1)
    c = model.gibbs(data, seed=6, n_iter=60, n_burn=10, thin=1)
    assert np.array_equal(a.theta, b.theta) and np.array_equal(a.kappa, b.kappa)
    assert not np.array_equal(a.theta, c.theta)


def test_predictive_spread_grows_with_fid_uncertainty_and_for_an_unknown_family(fitted):
    draws, _, _ = fitted
    noise = model.Noise.make(draws.n)
    mu0, sd0 = model.predictive(draws, noise, 0, 0.0, 180.0, 800.0)
    mu1, sd1 = model.predictive(draws, noise, 0, 0.0, 180.0, 800.0, fid_sd=40.0, scale_sd=0.2)
    assert np.all(sd1 == sd0)  # FID draws move the means, not the per-draw sd
    assert np.var(mu1) > np.var(mu0)
    mu_u, sd_u = model.predictive(draws, noise, None, 0.0, 180.0, 800.0)
    spread = lambda m, s: np.sqrt(np.mean(s**2) + np.var(m))
    assert spread(mu_u, sd_u) > spread(mu0, sd0)
    _, wide = model.predictive(draws, noise, 0, 0.0, 180.0, 800.0, extra_sd=10.0)
    assert np.allclose(wide**2, sd0**2 + 100.0)


def test_mixture_helpers_by_hand():
    mu, sd = np.array([0.0, 0.0]), np.array([1.0, 1.0])
    assert model.mixture_p_positive(mu, sd) == pytest.approx(0.5)
    assert model.mixture_quantile(mu, sd, 0.8413447) == pytest.approx(1.0, abs=1e-5)
    assert model.mixture_quantile(
        np.array([-10.0, 10.0]), np.array([1.0, 1.0]), 0.75, np.array([0.0, 1.0])
    ) == pytest.approx(10.0 + 0.6744898, abs=1e-4)
