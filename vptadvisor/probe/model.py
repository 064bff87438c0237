"""From signals to p_high_disparity: a two-signal logistic model, fitted on the designed suite.

    z = b0 + b1 · clip(non_semantic, -0.5, 2) + b2 · (excess_one_dimensional - 0.5)
    p_high_disparity = 1 / (1 + exp(-z))

excess_one_dimensional = (s - 1/(K-1)) / (1 - 1/(K-1)) rescales the first-axis share s of K
episode classes to [0, 1] (0: as spread as K classes can be, 1: on one line); with two classes it is
undefined and that term is 0. The coefficients live in data/probe/probe_model.json, written by
`vptadvisor probe-suite --fit` (see `vptadvisor.probe.fit`).
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


def model_path() -> Path:
    return data_dir() / "probe" / MODEL_FILE


def design_row(signals: dict[str, float], episode_classes: int) -> list[float]:
    """The model's inputs from the signals: [non_semantic (clipped), one_dimensional excess - 0.5]."""
    ns = min(max(signals["non_semantic"], NS_CLIP[0]), NS_CLIP[1])
    k = episode_classes
    od = 0.0
    if k >= 3 and "one_dimensional" in signals:
        base = 1.0 / (k - 1)
        od = (signals["one_dimensional"] - base) / (1.0 - base) - 0.5
    return [ns, od]


@dataclass(frozen=True)
class ProbeModel:
    probe_version: str
    intercept: float
    coef_non_semantic: float
    coef_one_dimensional: float
    episode: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)

    def logit(self, signals: dict[str, float], episode_classes: int) -> float:
        ns, od = design_row(signals, episode_classes)
        return self.intercept + self.coef_non_semantic * ns + self.coef_one_dimensional * od

    def probability(self, signals: dict[str, float], episode_classes: int) -> float:
        z = self.logit(signals, episode_classes)
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0

    def to_dict(self) -> dict:
        return {
            "probe_version": self.probe_version,
            "model": "p_high_disparity = 1 / (1 + exp(-(intercept + coef_non_semantic * clip(non_semantic, -0.5, 2) "
                     "+ coef_one_dimensional * (excess_one_dimensional - 0.5))))",
            "coefficients": {"intercept": self.intercept, "non_semantic": self.coef_non_semantic,
                             "one_dimensional": self.coef_one_dimensional},
            "episode": self.episode,
            **self.meta,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "ProbeModel":
        c = d["coefficients"]
        meta = {k: v for k, v in d.items() if k not in ("probe_version", "model", "coefficients", "episode")}
        return cls(str(d["probe_version"]), float(c["intercept"]), float(c["non_semantic"]),
                   float(c["one_dimensional"]), dict(d.get("episode", {})), meta)


@lru_cache(maxsize=4)
def _load(path: str) -> ProbeModel:
    doc = read_json(path, what="probe model file", hint="reinstall vptadvisor or run `vptadvisor probe-suite --fit`")
    try:
        return ProbeModel.from_dict(doc)
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"The probe model file {path} is damaged ({exc}); run `vptadvisor probe-suite --fit` to rewrite it.")


def load_model(path: str | Path | None = None) -> ProbeModel:
    return _load(str(Path(path) if path else model_path()))
