"""Statistics of the pilot: accuracy intervals, the paired VPT-FT difference, the combined verdict.

Accuracies and margins are fractions (0.734, +0.021), margin = accuracy(VPT) - accuracy(FT).

Combining with the decision rule: the rule's prediction is read as a Gaussian prior on the
margin, N(m0, s0^2); the pilot's measured margin as a Gaussian likelihood N(m1, s1^2) with s1 the
standard deviation of its paired bootstrap distribution. The posterior is Gaussian with
precision-weighted mean and variance

    1/s^2 = 1/s0^2 + 1/s1^2,      m = s^2 (m0/s0^2 + m1/s1^2),

and p_vpt = P(margin > 0) = Phi(m / s). Choice, with the rule's own thresholds (`Rule.decide`, the
`decision` block of data/rule/vpt_ft_rule.json): "vpt" when p_vpt >= 0.7, "ft" when p_vpt <= 0.3, else
"uncertain" (too close to call). `confirms_rule` is true when that choice equals the rule's
decisive choice, false when it does not (the pilot overturned it, or left it too close to call),
and null when the rule made no call ("uncertain") or there is no rule prediction. The rule's margin is in accuracy
points and is divided by 100; its mixture distribution enters by its mean and sd.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats as sps

from vptadvisor.errors import UsageError
from vptadvisor.jsonfile import read_json

Z95 = 1.959963984540054


@dataclass(frozen=True)
class Prior:
    """The decision rule's prediction of the margin (fractions), from analyze or the rule API."""

    choice: str
    p_vpt: float
    margin: float
    margin_sd: float
    source: str
    units_read_as: str  # "points" or "fraction": how the source's margin was interpreted
    backbone: str | None = None  # the backbone the rule was asked about (None: the rule's own)


def wilson_interval(correct: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (95 %: scipy's binomtest proportion_ci)."""
    if n <= 0:
        return (0.0, 1.0)
    level = float(2 * sps.norm.cdf(z) - 1)
    ci = sps.binomtest(int(correct), int(n)).proportion_ci(confidence_level=level, method="wilson")
    p = correct / n
    return (max(0.0, min(p, float(ci.low))), min(1.0, max(p, float(ci.high))))  # exact at p = 0 or 1


def paired_difference(correct_a: np.ndarray, correct_b: np.ndarray, *, n_boot: int = 10000, seed: int = 0) -> dict:
    """accuracy(a) - accuracy(b) on the same images: percentile bootstrap 95 % interval over images
    (scipy.stats.bootstrap on the per-image differences, i.e. paired resampling), its standard
    error, and the exact McNemar test on the discordant pairs."""
    a = np.asarray(correct_a, dtype=bool)
    b = np.asarray(correct_b, dtype=bool)
    if a.shape != b.shape or a.ndim != 1 or a.size == 0:
        raise ValueError("paired_difference needs two equally long, non-empty 1-d arrays")
    n = a.size
    diff = a.astype(np.float64) - b.astype(np.float64)
    margin = float(diff.mean())
    if np.all(diff == diff[0]):  # every resample gives the same mean
        lo = hi = margin
        se = 0.0
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = sps.bootstrap(
                (diff,),
                np.mean,
                n_resamples=n_boot,
                method="percentile",
                vectorized=True,
                batch=max(1, 2_000_000 // n),
                random_state=np.random.default_rng(seed),
            )
        lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
        se = float(res.standard_error)
    only_a = int(np.sum(a & ~b))
    only_b = int(np.sum(~a & b))
    p = 1.0 if only_a + only_b == 0 else float(sps.binomtest(only_a, only_a + only_b, 0.5).pvalue)
    return {
        "margin": margin,
        "interval": [lo, hi],
        "se": se,
        "mcnemar_p": p,
        "n_val": int(n),
        "discordant": {"a_only": only_a, "b_only": only_b},
        "bootstrap_samples": int(n_boot),
    }


def combine(prior: Prior | None, margin: float, se: float, rule: Any = None) -> dict:
    """Posterior on the margin from the rule's prior and the measured margin (module docstring);
    `rule` (default: the shipped one) supplies the decision thresholds."""
    se = max(float(se), 1e-6)  # a zero-variance bootstrap (identical predictions) still has some noise
    if prior is None:
        m, s = float(margin), se
    else:
        w0, w1 = 1.0 / prior.margin_sd**2, 1.0 / se**2
        s = math.sqrt(1.0 / (w0 + w1))
        m = s * s * (prior.margin * w0 + margin * w1)
    p_vpt = float(sps.norm.cdf(m / s))
    if rule is None:
        from vptadvisor.rule import load_rule

        rule = load_rule()
    choice = rule.decide(p_vpt)
    return {
        "choice": choice,
        "p_vpt": p_vpt,
        "confirms_rule": None if prior is None or prior.choice not in ("vpt", "ft") else choice == prior.choice,
        "rule_choice": None if prior is None else prior.choice,
        "posterior_margin": m,
        "posterior_sd": s,
        "posterior_interval": [m - Z95 * s, m + Z95 * s],
        "prior": None if prior is None else asdict(prior),
        "measured": {"margin": float(margin), "se": float(se)},
        "source": "pilot" if prior is None else "pilot+rule",
    }


def _as_fraction(margin: float, sd: float, units: str | None, source: str) -> tuple[float, float, str]:
    """The rule's margins are in accuracy points (like the study's tables), the pilot's in
    fractions. An explicit `margin_units` ("points" or "fraction") wins; the default is points."""
    units = "points" if units is None else str(units).lower()
    if units in ("points", "percent", "pp"):
        margin, sd, units = margin / 100.0, sd / 100.0, "points"
    elif units != "fraction":
        raise UsageError(f"{source}: margin_units {units!r} is neither 'points' nor 'fraction'.")
    if sd < 0.002:
        raise UsageError(
            f"{source}: a margin sd of {sd:.4f} (as a fraction) is implausibly small; "
            "set margin_units to 'fraction' or 'points' to say how the margin is written."
        )
    return margin, sd, units


def prior_from_verdict(verdict: Any, source: str = "rule") -> Prior:
    """A Prior from a rule prediction (`vptadvisor.rule` RulePrediction: .choice, .p_vpt, .margin,
    .margin_sd, .margin_interval, .interval_level) or the `verdict` mapping of
    `vptadvisor analyze --format json`. The rule's predictive distribution (a two-component
    mixture) enters as the Gaussian with its mean and sd."""
    get: Callable[..., Any] = verdict.get if isinstance(verdict, dict) else (lambda k, d=None: getattr(verdict, k, d))
    try:
        choice = str(get("choice")).lower()
        p_vpt = float(get("p_vpt"))
        margin = float(get("margin"))
        sd = get("margin_sd")
        if sd is None:
            lo, hi = get("margin_interval")
            level = float(get("interval_level", 0.95) or 0.95)
            sd = (float(hi) - float(lo)) / (2 * float(sps.norm.ppf(0.5 + level / 2)))
        sd = float(sd)
    except (TypeError, ValueError) as exc:
        raise UsageError(
            f"{source} has no usable verdict (choice, p_vpt, margin, margin_sd or margin_interval): {exc}."
        ) from None
    if choice not in ("vpt", "ft", "uncertain") or not sd > 0 or not math.isfinite(margin):
        raise UsageError(f"{source}: the verdict needs choice vpt|ft|uncertain, a finite margin and margin_sd > 0.")
    margin, sd, units = _as_fraction(margin, sd, get("margin_units"), source)
    inputs = get("inputs")
    backbone = inputs.get("backbone") if isinstance(inputs, dict) else getattr(inputs, "backbone", None)
    return Prior(
        choice=choice,
        p_vpt=p_vpt,
        margin=margin,
        margin_sd=sd,
        source=source,
        units_read_as=units,
        backbone=None if backbone is None else str(backbone),
    )


def load_prior(path: str | Path) -> Prior:
    """The prior in an analyze JSON file (`vptadvisor analyze --format json`): its `verdict`."""
    path = Path(path).expanduser()
    data = read_json(path, what="analysis file", hint="pass the JSON of `vptadvisor analyze --format json`")
    verdict = data.get("verdict") if isinstance(data, dict) else None
    if not isinstance(verdict, dict):
        raise UsageError(f"{path} has no 'verdict' object: pass the JSON of `vptadvisor analyze --format json`.")
    return prior_from_verdict(verdict, str(path))
