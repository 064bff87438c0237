"""The pilot's result, built from the arms' states. The typed models (the fields of result.json)
live in vptadvisor/results/pilot.py, so that reading a result needs no torch."""

from __future__ import annotations

import math

import numpy as np

from vptadvisor.pilot.state import ArmState
from vptadvisor.pilot.stats import Prior, combine, paired_difference, wilson_interval
from vptadvisor.results.pilot import BYTES_PER_PARAM, SCHEMA, ArmResult, Candidate, Difference, PilotResult, Verdict

__all__ = [
    "BYTES_PER_PARAM",
    "SCHEMA",
    "ArmResult",
    "Candidate",
    "Difference",
    "PilotResult",
    "Verdict",
    "arm_result",
    "compare",
]


def _finite(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def arm_result(st: ArmState, n_train: int, global_batch: int, n_val: int, weights_file: str | None) -> ArmResult:
    best = st.best
    acc = best.accuracy if best else None
    winner = st.candidates[st.winner] if st.winner is not None else None
    steps = sum(c.steps for c in st.candidates)
    skipped = (st.final_reason or "").startswith("skipped")
    status = (
        "skipped"
        if skipped
        else "failed"
        if acc is None
        else "stopped"
        if st.phase == "stopped"
        else "truncated"
        if st.truncated
        else "ok"
    )
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
        candidates=[
            Candidate(
                base_lr=c.base_lr,
                lr=c.lr,
                status=c.status,
                steps=c.steps,
                scores=c.scores,
                reason=c.reason,
                losses=c.losses,
            )
            for c in st.candidates
        ],
        curve={"train": curve_train, "val": [[e.step, e.seconds, e.accuracy] for e in st.evals]},
        weights_file=weights_file,
        steps_by_session=dict(st.steps_by_session),
        notes=notes,
    )


def compare(
    states: dict[str, ArmState], val_y: np.ndarray, prior: Prior | None, seed: int
) -> tuple[Difference | None, Verdict | None]:
    """VPT (deep if present, else shallow) against FT on the same val images, and the verdict."""
    vpt = next((a for a in ("vpt-deep", "vpt-shallow") if a in states and states[a].best), None)
    vb, fb = (states[vpt].best if vpt else None), (states["ft"].best if "ft" in states else None)
    if vpt is None or vb is None or fb is None:
        return None, None
    a = np.asarray(vb.preds) == val_y
    b = np.asarray(fb.preds) == val_y
    d = paired_difference(a, b, seed=seed)
    diff = Difference(
        vpt_arm=vpt,
        ft_arm="ft",
        margin=d["margin"],
        interval=d["interval"],
        mcnemar_p=d["mcnemar_p"],
        se=d["se"],
        n_val=d["n_val"],
        discordant={"vpt_only": d["discordant"]["a_only"], "ft_only": d["discordant"]["b_only"]},
        bootstrap_samples=d["bootstrap_samples"],
    )
    return diff, Verdict(**combine(prior, d["margin"], d["se"]))
