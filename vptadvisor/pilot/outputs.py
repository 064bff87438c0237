"""What a finished pilot leaves in its run directory: result.json, curves.png, trained weights."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from vptadvisor.backbone import BackboneInfo
from vptadvisor.pilot.arms import spec
from vptadvisor.pilot.checkpoint import RESULT, RunDir
from vptadvisor.pilot.complement import complementarity, ranking, wise_ft
from vptadvisor.pilot.data import ImageBank, Split
from vptadvisor.pilot.dist import Dist
from vptadvisor.pilot.export import save_weights
from vptadvisor.pilot.result import SCHEMA, PilotResult, arm_result, compare
from vptadvisor.pilot.state import ArmState, RunState
from vptadvisor.pilot.stats import Prior


def export_arm(
    run: RunDir, ctx: Any, runner: Any, st: ArmState, info: BackboneInfo, opts: Any, split: Split
) -> str | None:
    """Save an arm's trained parameters of its best evaluation (rank 0) as ``<arm>.safetensors``
    plus ``<arm>.json`` (the same metadata): what a task stores beside the pretrained backbone.
    Arms that train the whole backbone (ft, mixed) are as large as the backbone and are written
    only with --save-backbone, as their final model (evaluated at its last step)."""
    best = st.best
    if best is None:
        return None
    s = spec(st.name)
    meta = {
        "arm": st.name,
        "backbone": info.name,
        "weights": info.weights,
        "backbone_kwargs": opts.backbone_kwargs,
        "img_size": info.img_size,
        "prompt_length": int(st.prompt_length or 0),
        "prompts": s.prompts,
        "backbone_mode": s.backbone,
        "after": s.after,
        "classes": split.classes,
        "mean": list(info.mean),
        "std": list(info.std),
        "val_accuracy": best.accuracy,
        "step": best.step,
        "readout_scale": ctx.readout_scale,
        "trainable_params": st.trainable_params,
    }
    name = f"{st.name}.safetensors"
    if not s.trains_backbone:
        if not best.file:
            return None
        tensors = run.load_tensors(best.file)["model"]
    elif opts.save_backbone:  # the final model: the one ft-then-pt and WiSE-FT build on
        latest = st.final_file or (st.candidates[st.winner].file if st.winner is not None else None)
        if latest is None or not st.evals:
            return None
        tensors = run.load_tensors(latest)["model"]
        meta["val_accuracy"], meta["step"] = st.evals[-1].accuracy, st.evals[-1].step
    else:
        return None
    save_weights(run.path / name, tensors, meta)
    return name


def _other_backbone(asked: str | None, trained: str) -> bool:
    """Whether the rule's prediction was about another backbone than the one the pilot trained."""
    from vptadvisor.rule import load_rule

    rule = load_rule()
    if rule.covers(asked) or rule.covers(trained):
        return rule.covers(asked) != rule.covers(trained)
    return (asked or "").strip().lower() != trained.strip().lower()


def _wise(run: RunDir, state: RunState, ctx: Any, val_y: np.ndarray, time_left: Any) -> list[dict[str, Any]] | None:
    ft = state.arms.get("ft")
    if ft is None or ctx is None or ctx.pristine is None:
        return None
    name = ft.final_file or (ft.candidates[ft.winner].file if ft.winner is not None else None)
    if name is None:
        return None
    model = run.load_tensors(name)["model"]
    known: dict[float, float] = {}
    if ft.phase == "done" and ft.evals:  # ft's final model was evaluated at its last step
        known[1.0] = ft.evals[-1].accuracy
    head = None
    lin = state.arms.get("linear")
    if lin is not None and lin.best is not None and lin.best.file:
        saved = run.load_tensors(lin.best.file)["model"]
        head = {k[len("head.") :]: v for k, v in saved.items() if k.startswith("head.")}
        known[0.0] = lin.best.accuracy  # the pretrained backbone with the linear probe's head
    return wise_ft(ctx, model, head, val_y, known, time_left)


def finish(
    run: RunDir,
    state: RunState,
    opts: Any,
    info: BackboneInfo,
    split: Split,
    bank: ImageBank,
    prior: Prior | None,
    d: Dist,
    dev: torch.device,
    elapsed_before: float,
    t_session: float,
    ctx: Any = None,
) -> PilotResult:
    from vptadvisor.pilot.plot import plot_curves

    states = state.arms
    n_val = len(split.val)
    val_y = bank.val_y.numpy()
    arms = {
        name: arm_result(states[name], len(split.train), opts.batch_size, n_val, states[name].weights_file)
        for name in opts.arms
    }
    difference, verdict = compare(states, val_y, prior, opts.seed)
    comp = complementarity({n: states[n] for n in opts.arms}, val_y, opts.seed)
    if comp is not None:

        def time_left() -> float | None:  # keep a few seconds for the figure and the files
            if not opts.budget_seconds:
                return None
            spent = elapsed_before + time.perf_counter() - t_session
            return opts.budget_seconds - spent - 2 * min(3.0 + 0.01 * opts.budget_seconds, 0.05 * opts.budget_seconds)

        comp["wise_ft"] = _wise(run, state, ctx, val_y, time_left)
    preds = {n: best.preds for n in opts.arms if (best := states[n].best) is not None}
    rank = ranking(arms, val_y, preds, opts.seed)
    notes: list[str] = []
    if prior is not None and prior.units_read_as == "points":
        notes.append("the rule's margin was read in accuracy points and converted to a fraction")
    if prior is not None and _other_backbone(prior.backbone, info.name):
        asked = f"backbone {prior.backbone}" if prior.backbone else "the rule's own backbone"
        notes.append(
            f"the rule's prediction was made for {asked}, this pilot trained {info.name}: "
            f"run analyze with --backbone {info.name} for a prior about this backbone"
        )
    if split.subsampled_from:
        notes.append(f"dataset subsampled (stratified) from {split.subsampled_from} images")
    result = PilotResult(
        arms=arms,
        budget_seconds=opts.budget_seconds,
        elapsed_seconds=0.0,
        difference=difference,
        verdict=verdict,
        schema=SCHEMA,
        dataset=opts.dataset,
        backbone=info.name,
        weights=info.weights,
        device=str(dev),
        world_size=d.world,
        img_size=info.img_size,
        batch_size=opts.batch_size,
        seed=opts.seed,
        split={
            "source": split.source,
            "n_train": len(split.train),
            "n_val": n_val,
            "classes": split.classes,
            "val_fraction": split.val_fraction,
            "skipped": split.skipped,
        },
        setup_seconds=round(float(state.setup_seconds), 3),
        sessions=len(state.sessions),
        run_dir=str(run.path),
        curves_png=None,
        notes=notes,
        halving=[r.model_dump() for r in state.rounds],
        complementarity=comp,
        ranking=rank,
    )
    if d.main:
        result.curves_png = str(plot_curves(result, run.path / "curves.png"))
    result.elapsed_seconds = round(elapsed_before + time.perf_counter() - t_session, 3)
    if opts.budget_seconds and result.elapsed_seconds > 1.1 * opts.budget_seconds:
        result.notes.append(f"the run took {result.elapsed_seconds / opts.budget_seconds:.0%} of its budget")
    if d.main:
        run.write_json(RESULT, result.to_dict())
        run.drop_checkpoints()
    d.barrier()
    return result
