"""The pilot's result: dataclasses with exactly the fields of result.json.

Contract (issue 5): ``arms`` {name: {val_accuracy, val_accuracy_interval, trainable_params,
peak_memory_bytes, seconds}}, ``budget_seconds``, ``elapsed_seconds``, ``difference`` {margin,
interval, mcnemar_p}, ``verdict`` {choice, p_vpt, confirms_rule}; everything else is extra.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from vptadvisor.pilot.state import ArmState
from vptadvisor.pilot.stats import Prior, combine, paired_difference, wilson_interval

SCHEMA = "vptadvisor.pilot/2"
BYTES_PER_PARAM = 4  # float32, as the pilot saves them


@dataclass
class Candidate:
    base_lr: float
    lr: float
    status: str  # winner | dropped | diverged | alive
    steps: int
    scores: list[float]  # mean pre-update loss per rung survived
    reason: str | None
    losses: list[float]  # pre-update training loss of every step it trained


@dataclass
class ArmResult:
    name: str
    val_accuracy: float | None  # best over the evaluations of the continued training
    val_accuracy_interval: list[float] | None  # Wilson 95 %
    trainable_params: int
    peak_memory_bytes: int
    seconds: float
    status: str  # ok | truncated | stopped | failed | skipped (share too short for a step and an evaluation)
    bytes_per_task: int  # what a task stores beside the shared pretrained backbone (float32)
    stored_params: int
    paper_params: int  # trainable parameters by the arm's paper formula
    paper_formula: str
    stopped: dict[str, Any] | None  # arm halving: round, elapsed_seconds, arm_seconds, reason
    total_params: int
    trainable_fraction: float
    final_val_accuracy: float | None
    best_step: int | None
    steps: int
    epochs: float
    share_seconds: float | None
    seconds_breakdown: dict[str, float]
    images_per_second: float | None
    eval_images_per_second: float | None
    memory_method: str | None
    memory_baseline_bytes: int
    lr: float | None
    base_lr: float | None
    prompt_length: int
    plan: dict[str, Any]
    candidates: list[Candidate]
    curve: dict[str, list[list[float]]]  # train: [step, loss], val: [step, seconds, accuracy]
    weights_file: str | None
    steps_by_session: dict[str, int]  # training steps run in each session (resumed runs have several)
    notes: list[str] = field(default_factory=list)


@dataclass
class Difference:
    vpt_arm: str
    ft_arm: str
    margin: float  # accuracy(vpt_arm) - accuracy(ft_arm), fraction
    interval: list[float]  # paired bootstrap 95 %
    mcnemar_p: float
    se: float
    n_val: int
    discordant: dict[str, int]
    bootstrap_samples: int


@dataclass
class Verdict:
    choice: str  # vpt | ft | uncertain (the rule's thresholds, see stats.combine)
    p_vpt: float
    confirms_rule: bool | None
    rule_choice: str | None
    posterior_margin: float
    posterior_sd: float
    posterior_interval: list[float]
    source: str
    prior: dict | None
    measured: dict


@dataclass
class PilotResult:
    arms: dict[str, ArmResult]
    budget_seconds: float | None
    elapsed_seconds: float
    difference: Difference | None
    verdict: Verdict | None
    schema: str
    dataset: str
    backbone: str
    weights: str
    device: str
    world_size: int
    img_size: int
    batch_size: int
    seed: int
    split: dict[str, Any]
    setup_seconds: float
    sessions: int
    run_dir: str
    curves_png: str | None
    notes: list[str]
    halving: list[dict[str, Any]] = field(default_factory=list)  # one entry per comparison round
    complementarity: dict[str, Any] | None = None
    ranking: dict[str, Any] | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> PilotResult:
        """Rebuild the dataclasses from a result.json mapping."""
        d = dict(data)
        d["arms"] = {name: ArmResult(**{**a, "candidates": [Candidate(**c) for c in a["candidates"]]})
                     for name, a in d["arms"].items()}
        d["difference"] = Difference(**d["difference"]) if d.get("difference") else None
        d["verdict"] = Verdict(**d["verdict"]) if d.get("verdict") else None
        return cls(**d)


def _finite(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def arm_result(st: ArmState, n_train: int, global_batch: int, n_val: int, weights_file: str | None) -> ArmResult:
    best = st.best
    acc = best.accuracy if best else None
    winner = st.candidates[st.winner] if st.winner is not None else None
    steps = sum(c.steps for c in st.candidates)
    skipped = (st.final_reason or "").startswith("skipped")
    status = ("skipped" if skipped else "failed" if acc is None else "stopped" if st.phase == "stopped"
              else "truncated" if st.truncated else "ok")
    curve_train = [[i, float(v)] for i, v in enumerate(winner.losses)] if winner else []
    busy = sum(st.time.values())
    breakdown = {k: round(v, 3) for k, v in st.time.items()}
    breakdown["other"] = round(max(0.0, st.used - busy), 3)
    notes = list(st.notes)
    if st.final_reason == "diverged":
        notes.append("the continued training diverged; the best evaluation before it is reported")
    if st.phase == "failed":
        notes.append(st.final_reason or "failed")
    trainable, total = int(st.trainable_params or 0), int(st.total_params or 1)
    stored = int(st.stored_params or trainable)
    return ArmResult(
        name=st.name,
        val_accuracy=acc,
        val_accuracy_interval=list(wilson_interval(round(acc * n_val), n_val)) if acc is not None else None,
        trainable_params=trainable,
        peak_memory_bytes=int(st.peak_memory_bytes),
        seconds=round(float(st.used), 3),
        status=status,
        bytes_per_task=stored * BYTES_PER_PARAM,
        stored_params=stored,
        paper_params=int(st.paper_params or 0),
        paper_formula=st.paper_formula or "",
        stopped=st.stopped.model_dump() if st.stopped else None,
        total_params=total,
        trainable_fraction=trainable / total,
        final_val_accuracy=st.evals[-1].accuracy if st.evals else None,
        best_step=best.step if best else None,
        steps=steps,
        epochs=steps * global_batch / max(1, n_train),
        share_seconds=None if st.share is None else round(float(st.share), 3),
        seconds_breakdown=breakdown,
        images_per_second=_finite(st.train_images / st.train_seconds) if st.train_seconds else None,
        eval_images_per_second=_finite(st.eval_images / st.eval_seconds) if st.eval_seconds else None,
        memory_method=st.memory_method,
        memory_baseline_bytes=int(st.baseline_bytes),
        lr=winner.lr if winner else None,
        base_lr=winner.base_lr if winner else None,
        prompt_length=int(st.prompt_length),
        plan=st.plan.model_dump() if st.plan else {},
        candidates=[Candidate(c.base_lr, c.lr, c.status, c.steps, c.scores, c.reason, c.losses) for c in st.candidates],
        curve={"train": curve_train, "val": [[e.step, e.seconds, e.accuracy] for e in st.evals]},
        weights_file=weights_file,
        steps_by_session=dict(st.steps_by_session),
        notes=notes,
    )


def compare(states: dict[str, ArmState], val_y: np.ndarray, prior: Prior | None,
            seed: int) -> tuple[Difference | None, Verdict | None]:
    """VPT (deep if present, else shallow) against FT on the same val images, and the verdict."""
    vpt = next((a for a in ("vpt-deep", "vpt-shallow") if a in states and states[a].best), None)
    vb, fb = (states[vpt].best if vpt else None), (states["ft"].best if "ft" in states else None)
    if vpt is None or vb is None or fb is None:
        return None, None
    a = np.asarray(vb.preds) == val_y
    b = np.asarray(fb.preds) == val_y
    d = paired_difference(a, b, seed=seed)
    diff = Difference(vpt_arm=vpt, ft_arm="ft", margin=d["margin"], interval=d["interval"],
                      mcnemar_p=d["mcnemar_p"], se=d["se"], n_val=d["n_val"],
                      discordant={"vpt_only": d["discordant"]["a_only"], "ft_only": d["discordant"]["b_only"]},
                      bootstrap_samples=d["bootstrap_samples"])
    return diff, Verdict(**combine(prior, d["margin"], d["se"]))
