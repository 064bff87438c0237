"""The objective probe: how likely a labelled data set asks something other than "what is this?".

    from vptadvisor.probe import probe_objective, ProbeResult
    res = probe_objective({"pool3": feats}, labels, seed=0)
    res.p_high_disparity, res.signals, res.evidence, res.to_dict()

It needs the FID Inception pool3 features that analyze already computes and, for the augmentation
signals, one extra forward pass on each of at most 32 sampled images (turned a quarter turn or
with a mirrored half). See docs/probe.md for the signals, the prior, the controlled validation suite and its numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from vptadvisor.errors import MeasureError, UsageError
from vptadvisor.probe import augment as A
from vptadvisor.probe.model import (
    TERMS,
    ProbeModel,
    design_row,
    evidence_weight,
    load_model,
)
from vptadvisor.probe.signals import EpisodeConfig, measure

# One sentence per signal, as the result prints it.
MEANINGS = {
    "non_semantic": "Share of the label information a trained linear read-out finds in the frozen features that the "
    "network's own image similarity does not carry (near 0 for what-is-it labels).",
    "one_dimensional": "Share of the classes' spread that lies on one axis (near 1 when classes line up as counts, "
    "distances or sizes do).",
    "retention_rotate90": "Share of the label evidence that survives turning the images a quarter turn (near 1 for object, "
    "texture or grade labels, near 0 or below for orientation, position or depth labels).",
    "retention_mirror_half": "Share of the label evidence that survives mirroring each image's left half onto its right "
    "half, which keeps every local look but changes how many things there are and where "
    "(near 1 for categories, low for counts and positions).",
}

__all__ = ["EpisodeConfig", "ProbeResult", "load_model", "probe_objective"]


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
    prior_high: float = 0.5  # the prior P(high disparity) the probability assumes
    evidence_weight: dict[str, float] = field(default_factory=dict)  # size, information, weight (their product)
    weak_evidence: bool = False  # few images per class, unbalanced or barely decodable labels: P pulled to the prior
    augmented_images: int = 0  # images edited for the augmentation signals (0: pool3 only)
    meanings: dict[str, str] = field(default_factory=dict)  # one sentence per signal

    def to_dict(self) -> dict:
        return asdict(self)


def _evidence(signals: dict[str, float], p: float, k: int) -> str:
    lin, nb = signals["r2_linear"], signals["r2_neighbours"]
    if lin < 0.02:
        head = (
            "The labels are barely predictable from the frozen ImageNet features "
            f"(out-of-sample R² {lin:.2f}), so the probe has little to go on."
        )
    else:
        share = min(max(nb / lin, 0.0), 1.0) if lin > 0 else 0.0
        kind = (
            "as object, texture or scene labels do"
            if share >= 0.75
            else "so the labels are partly about something other than what is shown"
            if share >= 0.4
            else "as labels about position, count or orientation do, not about what is shown"
        )
        head = (
            f"Nearest neighbours under the pretrained network's own similarity recover {share:.0%} of the "
            f"label information a trained linear read-out finds, {kind}."
        )
    tail = ""
    if k >= 3 and "one_dimensional" in signals:
        od = signals["one_dimensional"]
        if od >= 0.85:
            tail = f" The classes line up along one axis ({od:.0%} of their spread), as counts, distances or sizes do."
        elif od <= 0.65:
            tail = f" The classes do not line up along one axis ({od:.0%} of their spread on the first), as categories do not."
    return f"{head}{tail} P(high disparity) = {p:.2f}."


def _weak_note(notes: dict, w: dict, prior: float, config: EpisodeConfig) -> str | None:
    small, largest = notes["smallest_class"], notes["largest_class"]
    parts = []
    if small < config.per_class:
        parts.append(f"the smallest class used has {small} images (the probe's episodes take {config.per_class})")
    if largest >= 2 * small:
        parts.append(f"the classes are unbalanced ({largest} vs {small} images)")
    if w["information"] < 0.6:
        parts.append("the labels are barely predictable from the frozen features")
    if not parts:
        return None
    return (
        f"Weak evidence: {'; '.join(parts)}. The probe's reading counts for {w['weight']:.0%} of its full weight, "
        f"so P(high disparity) is pulled toward its prior of {prior:.2f}."
    )


def probe_objective(
    features: dict[str, np.ndarray],
    labels: Sequence[str],
    seed: int = 0,
    model: ProbeModel | str | Path | None = None,
    images: Sequence[Path] | None = None,
    extract: Callable[[list[Path]], np.ndarray] | None = None,
    edits_dir: Path | None = None,
    prior_high: float | None = None,
) -> ProbeResult:
    """P(the labels ask something other than the pretraining objective) under the stated prior.

    `features` needs "pool3" (N x 2048), rows aligned with `labels`; other keys are ignored. With
    `images` (the N files) and `extract` (files -> their pool3 rows, e.g. `augment.pool3_function`),
    the augmentation signals are measured on a small class-balanced sample (one extra forward pass per
    sampled image; edited copies go to `edits_dir` or a temporary folder). `prior_high` overrides the
    model's stated prior. Raises vptadvisor.errors.MeasureError when it cannot measure (unlabelled
    images, one class, fewer than two classes with 10 images). Deterministic for a given seed.
    """
    m = model if isinstance(model, ProbeModel) else load_model(model)
    prior = m.prior_high if prior_high is None else float(prior_high)
    if not 0.0 < prior < 1.0:
        raise UsageError(f"The probe's prior P(high disparity) must be between 0 and 1, not {prior}.")
    config = EpisodeConfig(**{k: v for k, v in m.episode.items() if k in EpisodeConfig.__dataclass_fields__})
    raw, notes = measure(features, labels, seed=seed, config=config)
    if images is not None and extract is not None:
        if len(images) != len(labels):
            raise MeasureError(
                f"{len(images)} image files for {len(labels)} labels; the probe needs one file per label."
            )
        aug = A.augmentation_signals(features, labels, images, extract, edits_dir, seed, config.min_per_class)
        notes["augmented_images"] = int(aug.pop("augmented_images"))
        raw.update(aug)
    k = notes["episode_classes"]
    w = evidence_weight(raw, min(notes["smallest_class"], config.per_class))
    p = m.probability(raw, k, w["weight"], prior)
    x = dict(zip(TERMS, design_row(raw, k)))
    signals = {key: round(v, 6) for key, v in raw.items()}
    signals["non_semantic_clipped"] = round(x["non_semantic"], 6)
    if k >= 3 and "one_dimensional" in raw:
        signals["one_dimensional_excess"] = round(x["one_dimensional"] + 0.5, 6)
    signals["log_likelihood_ratio"] = round(m.llr(raw, k), 6)
    signals["logit"] = round(m.logit(raw, k, w["weight"], prior), 6)
    weak = _weak_note(notes, w, prior, config)
    evidence = _evidence(raw, p, k) + (f" {weak}" if weak else "")
    return ProbeResult(
        p_high_disparity=round(p, 6),
        signals=signals,
        evidence=evidence,
        probe_version=m.probe_version,
        n_images=notes["n_images"],
        n_classes=notes["n_classes"],
        n_classes_used=notes["n_classes_used"],
        episodes=notes["episodes"],
        spread={key: round(v, 6) for key, v in notes["spread"].items()},
        prior_high=prior,
        evidence_weight={k2: round(v, 6) for k2, v in w.items()},
        weak_evidence=weak is not None,
        augmented_images=int(notes.get("augmented_images", 0)),
        meanings={key: MEANINGS[key] for key in MEANINGS if key in raw},
    )
