"""From signals to p_high_disparity: a logistic model fitted on the designed suite, put on a stated prior.

    x = [clip(non_semantic, -0.5, 2), excess_one_dimensional - 0.5, clip(augment_retention, -0.5, 1.5) - 1]
    z = b0 + b · x                      (fitted on the designed suite, low and high tasks weighted 50/50)
    w = evidence weight in (0, 1]       (smaller with few images per class or barely decodable labels)
    logit P(high) = logit(prior_high) + w · z

The fit weighs low- and high-disparity tasks equally, so z is the log likelihood ratio of the
signals for "high" vs "low"; adding logit(prior_high) makes P(high) the posterior under the stated
prior (`prior_high` in data/probe/probe_model.json). With little evidence (w small) P moves to the
prior instead of to 0 or 1. The augmentation term needs the images (`vptadvisor.probe.augment`); without
them the pool3-only coefficients are used. excess_one_dimensional = (s - 1/(K-1)) / (1 - 1/(K-1))
rescales the first-axis share s of K episode classes to [0, 1]; with two classes that term is 0.
The coefficients are written by `vptadvisor probe-suite --fit` (tools/probe_suite/fit.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from vptadvisor.errors import UsageError
from vptadvisor.jsonfile import read_json
from vptadvisor.paths import data_dir

MODEL_FILE = "probe_model.json"
NS_CLIP = (-0.5, 2.0)
AUG_CLIP = (-0.5, 1.5)
FULL_PER_CLASS = 24  # images per class at which the size weight reaches 1 (the episode size)
SIZE_FLOOR = 5  # images per class at which it is 0
R2_HALF = 0.05  # out-of-sample label R² at which the information weight is 1/2
TERMS = ("non_semantic", "one_dimensional", "augment_retention")


def design_row(signals: dict[str, float], episode_classes: int) -> list[float]:
    """The model's inputs: [non_semantic (clipped), one_dimensional excess - 0.5, retention - 1 (clipped)]."""
    ns = min(max(signals["non_semantic"], NS_CLIP[0]), NS_CLIP[1])
    k = episode_classes
    od = 0.0
    if k >= 3 and "one_dimensional" in signals:
        base = 1.0 / (k - 1)
        od = (signals["one_dimensional"] - base) / (1.0 - base) - 0.5
    aug = min(max(signals.get("augment_retention", 1.0), AUG_CLIP[0]), AUG_CLIP[1]) - 1.0
    return [ns, od, aug]


def evidence_weight(signals: dict[str, float], per_class: float) -> dict[str, float]:
    """How much of the signals' log likelihood ratio to trust: size weight x information weight."""
    size = min(max((per_class - SIZE_FLOOR) / (FULL_PER_CLASS - SIZE_FLOOR), 0.0), 1.0)
    r2 = max(signals.get("r2_linear", 0.0), 0.0)
    info = r2 / (r2 + R2_HALF)
    return {"size": size, "information": info, "weight": size * info}


@dataclass(frozen=True)
class ProbeModel:
    probe_version: str
    intercept: float
    coef: dict  # term -> slope, with the augmentation signal
    prior_high: float
    coef_pool3_only: dict = field(default_factory=dict)  # {"intercept", "non_semantic", "one_dimensional"}
    episode: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)

    def llr(self, signals: dict[str, float], episode_classes: int) -> float:
        """z: the signals' log likelihood ratio for high vs low disparity (50/50 fit)."""
        x = dict(zip(TERMS, design_row(signals, episode_classes)))
        if "augment_retention" in signals or not self.coef_pool3_only:
            return self.intercept + sum(self.coef[t] * x[t] for t in TERMS)
        c = self.coef_pool3_only
        return c["intercept"] + c["non_semantic"] * x["non_semantic"] + c["one_dimensional"] * x["one_dimensional"]

    def logit(
        self, signals: dict[str, float], episode_classes: int, weight: float = 1.0, prior_high: float | None = None
    ) -> float:
        prior = self.prior_high if prior_high is None else prior_high
        return math.log(prior / (1.0 - prior)) + weight * self.llr(signals, episode_classes)

    def probability(
        self, signals: dict[str, float], episode_classes: int, weight: float = 1.0, prior_high: float | None = None
    ) -> float:
        z = self.logit(signals, episode_classes, weight, prior_high)
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0

    def to_dict(self) -> dict:
        return {
            "probe_version": self.probe_version,
            "model": "logit p_high_disparity = logit(prior_high) + weight * (intercept + coef . [clip(non_semantic, -0.5, 2), "
            "excess_one_dimensional - 0.5, clip(augment_retention, -0.5, 1.5) - 1])",
            "prior_high": self.prior_high,
            "coefficients": {"intercept": self.intercept, **self.coef},
            "coefficients_pool3_only": self.coef_pool3_only,
            "episode": self.episode,
            **self.meta,
        }

    @classmethod
    def from_dict(cls, d: dict) -> ProbeModel:
        c = d["coefficients"]
        prior = float(d["prior_high"])
        if not 0.0 < prior < 1.0:
            raise ValueError(f"prior_high {prior} is not in (0, 1)")
        meta = {
            k: v
            for k, v in d.items()
            if k not in ("probe_version", "model", "coefficients", "coefficients_pool3_only", "episode", "prior_high")
        }
        return cls(
            str(d["probe_version"]),
            float(c["intercept"]),
            {t: float(c[t]) for t in TERMS},
            prior,
            {k: float(v) for k, v in d.get("coefficients_pool3_only", {}).items()},
            dict(d.get("episode", {})),
            meta,
        )


def model_path() -> Path:
    return data_dir() / "probe" / MODEL_FILE


@lru_cache(maxsize=4)
def _load(path: str) -> ProbeModel:
    doc = read_json(path, what="probe model file", hint="reinstall vptadvisor or run `vptadvisor probe-suite --fit`")
    try:
        return ProbeModel.from_dict(doc)
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(
            f"The probe model file {path} is damaged ({exc}); run `vptadvisor probe-suite --fit` to rewrite it."
        ) from None


def load_model(path: str | Path | None = None) -> ProbeModel:
    return _load(str(Path(path) if path else model_path()))
