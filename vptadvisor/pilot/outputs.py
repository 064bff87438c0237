"""What a finished pilot leaves in its run directory: result.json, curves.png, trained weights."""

from __future__ import annotations

import time

import torch

from vptadvisor.backbone import BackboneInfo
from vptadvisor.pilot.checkpoint import RESULT, RunDir
from vptadvisor.pilot.data import ImageBank, Split
from vptadvisor.pilot.dist import Dist
from vptadvisor.pilot.export import save_weights
from vptadvisor.pilot.result import SCHEMA, PilotResult, arm_result, compare
from vptadvisor.pilot.stats import Prior


def export_arm(run: RunDir, ctx, runner, st: dict, info: BackboneInfo, opts, split: Split) -> str | None:
    """Save an arm's trained weights (rank 0): prompts + head of the best evaluation for VPT arms;
    for full fine-tuning the whole model, only when --save-backbone asks for it."""
    best = st.get("best")
    if best is None:
        return None
    meta = {
        "arm": st["name"], "backbone": info.name, "weights": info.weights, "backbone_kwargs": opts.backbone_kwargs,
        "img_size": info.img_size, "prompt_length": int(st.get("prompt_length") or 0),
        "classes": split.classes, "mean": list(info.mean), "std": list(info.std),
        "val_accuracy": best["accuracy"], "step": best["step"], "readout_scale": ctx.readout_scale,
    }
    name = f"{st['name']}.safetensors"
    if st["name"] != "ft":
        if not best.get("file"):
            return None
        tensors = run.load_tensors(best["file"])["model"]
    elif opts.save_backbone:
        tensors = runner.best_full_state
        if tensors is None:  # the best evaluation happened in an earlier session: keep the final model
            tensors = {k: v.detach().cpu() for k, v in runner.live.model.state_dict().items()}
            meta["val_accuracy"], meta["step"] = st["evals"][-1]["accuracy"], st["evals"][-1]["step"]
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
    return asked.strip().lower() != trained.strip().lower()


def finish(run: RunDir, state: dict, opts, info: BackboneInfo, split: Split, bank: ImageBank, prior: Prior | None,
           d: Dist, dev: torch.device, elapsed_before: float, t_session: float) -> PilotResult:
    from vptadvisor.pilot.plot import plot_curves

    states = state["arms"]
    n_val = len(split.val)
    arms = {name: arm_result(states[name], len(split.train), opts.batch_size, n_val, states[name].get("weights_file"))
            for name in opts.arms}
    difference, verdict = compare(states, bank.val_y.numpy(), prior, opts.seed)
    notes: list[str] = []
    if prior is not None and prior.units_read_as == "points":
        notes.append("the rule's margin was read in accuracy points and converted to a fraction")
    if prior is not None and _other_backbone(prior.backbone, info.name):
        asked = f"backbone {prior.backbone}" if prior.backbone else "the rule's own backbone"
        notes.append(f"the rule's prediction was made for {asked}, this pilot trained {info.name}: "
                     f"run analyze with --backbone {info.name} for a prior about this backbone")
    if split.subsampled_from:
        notes.append(f"dataset subsampled (stratified) from {split.subsampled_from} images")
    result = PilotResult(
        arms=arms, budget_seconds=opts.budget_seconds, elapsed_seconds=0.0, difference=difference, verdict=verdict,
        schema=SCHEMA, dataset=opts.dataset, backbone=info.name, weights=info.weights, device=str(dev),
        world_size=d.world, img_size=info.img_size, batch_size=opts.batch_size, seed=opts.seed,
        split={"source": split.source, "n_train": len(split.train), "n_val": n_val, "classes": split.classes,
               "val_fraction": split.val_fraction, "skipped": split.skipped},
        setup_seconds=round(float(state["setup_seconds"]), 3), sessions=len(state["sessions"]),
        run_dir=str(run.path), curves_png=None, notes=notes,
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

