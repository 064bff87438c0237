"""The objective probe: how likely a labelled data set asks something other than "what is this?".

    from vptadvisor.probe import probe_objective, ProbeResult
    res = probe_objective({"pool3": feats}, labels, seed=0)
    res.p_high_disparity, res.signals, res.evidence, res.to_dict()

It needs only the FID Inception pool3 features that analyze already computes (no other network,
no extra forward pass) and runs in well under a second. See docs/probe.md for the signals, the
controlled validation suite and its numbers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from vptadvisor.probe.model import ProbeModel, design_row, load_model
from vptadvisor.probe.signals import EpisodeConfig, measure

__all__ = ["ProbeResult", "probe_objective", "load_model", "EpisodeConfig"]


@dataclass
class ProbeResult:
    p_high_disparity: float
    signals: dict[str, float]  # raw signals (episode means) and the model's normalised inputs
    evidence: str
    probe_version: str
    n_images: int
    n_classes: int
    n_classes_used: int
    episodes: int
    spread: dict[str, float] = field(default_factory=dict)  # sd of each raw signal over episodes

    def to_dict(self) -> dict:
        return asdict(self)


def _evidence(signals: dict[str, float], p: float, k: int) -> str:
    lin, nb = signals["r2_linear"], signals["r2_neighbours"]
    if lin < 0.02:
        head = ("The labels are barely predictable from the frozen ImageNet features "
                f"(out-of-sample R² {lin:.2f}), so the probe has little to go on.")
    else:
        share = min(max(nb / lin, 0.0), 1.0) if lin > 0 else 0.0
        kind = ("as object, texture or scene labels do" if share >= 0.75 else
                "so the labels are partly about something other than what is shown" if share >= 0.4 else
                "as labels about position, count or orientation do, not about what is shown")
        head = (f"Nearest neighbours under the pretrained network's own similarity recover {share:.0%} of the "
                f"label information a trained linear read-out finds, {kind}.")
    tail = ""
    if k >= 3 and "one_dimensional" in signals:
        od = signals["one_dimensional"]
        if od >= 0.85:
            tail = f" The classes line up along one axis ({od:.0%} of their spread), as counts, distances or sizes do."
        elif od <= 0.65:
            tail = f" The classes do not line up along one axis ({od:.0%} of their spread on the first), as categories do not."
    return f"{head}{tail} P(high disparity) = {p:.2f}."


def probe_objective(features: dict[str, np.ndarray], labels: Sequence[str], seed: int = 0,
                    model: ProbeModel | str | Path | None = None) -> ProbeResult:
    """P(the labels ask something other than the pretraining objective), from pool3 features.

    `features` needs "pool3" (N x 2048), rows aligned with `labels`; other keys are ignored. Raises
    vptadvisor.errors.MeasureError when it cannot measure (unlabelled images, one class, fewer than
    two classes with 10 images). Deterministic for a given seed.
    """
    m = model if isinstance(model, ProbeModel) else load_model(model)
    config = EpisodeConfig(**{k: v for k, v in m.episode.items() if k in EpisodeConfig.__dataclass_fields__})
    raw, notes = measure(features, labels, seed=seed, config=config)
    k = notes["episode_classes"]
    p = m.probability(raw, k)
    ns, od = design_row(raw, k)
    signals = {key: round(v, 6) for key, v in raw.items()}
    signals["non_semantic_clipped"] = round(ns, 6)
    if k >= 3 and "one_dimensional" in raw:
        signals["one_dimensional_excess"] = round(od + 0.5, 6)
    signals["logit"] = round(m.logit(raw, k), 6)
    return ProbeResult(
        p_high_disparity=round(p, 6), signals=signals, evidence=_evidence(raw, p, k),
        probe_version=m.probe_version, n_images=notes["n_images"], n_classes=notes["n_classes"],
        n_classes_used=notes["n_classes_used"], episodes=notes["episodes"],
        spread={key: round(v, 6) for key, v in notes["spread"].items()},
    )
