"""`vptadvisor pilot DATASET --budget 2h`: train VPT and full fine-tuning briefly and compare them."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from vptadvisor.cli import app
from vptadvisor.errors import UsageError


def _floats(text: Optional[str], option: str) -> Optional[list[float]]:
    if text is None:
        return None
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UsageError(f"{option} takes comma-separated numbers, e.g. 25,5,1,0.25; got {text!r}.") from None
    if not values:
        raise UsageError(f"{option} needs at least one learning rate.")
    return values


def _kwargs(text: Optional[str]) -> Optional[dict]:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--backbone-kwargs must be a JSON object, e.g. '{{\"depth\": 6}}' ({exc.msg}).") from None
    if not isinstance(value, dict):
        raise UsageError("--backbone-kwargs must be a JSON object, e.g. '{\"dynamic_img_size\": true}'.")
    return value


def _mb(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


def _bytes(n: int) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} B"


def _ci(lo_hi) -> str:
    return f"[{lo_hi[0]:+.3f}, {lo_hi[1]:+.3f}]"


def render(result, console: Console) -> None:
    from vptadvisor.results import confirmation

    table = Table(title=f"Pilot: {Path(result.dataset).name} on {result.backbone}, {result.device} "
                        f"({result.split['n_train']} train / {result.split['n_val']} val images)")
    for col in ("arm", "val acc", "95% CI", "trainable", "bytes/task", "peak mem", "img/s", "s (share)", "lr",
                "status"):
        table.add_column(col, justify="left" if col in ("arm", "status") else "right")
    for name, a in result.arms.items():
        ci = "-" if a.val_accuracy_interval is None else (
            f"{a.val_accuracy_interval[0]:.3f}-{a.val_accuracy_interval[1]:.3f}")
        share = f"{a.seconds:.0f} ({a.share_seconds:.0f})" if a.share_seconds else f"{a.seconds:.0f}"
        table.add_row(
            name, "-" if a.val_accuracy is None else f"{a.val_accuracy:.3f}", ci,
            f"{a.trainable_params:,} ({100 * a.trainable_fraction:.3g}%)", _bytes(a.bytes_per_task),
            _mb(a.peak_memory_bytes), "-" if a.images_per_second is None else f"{a.images_per_second:.1f}", share,
            "-" if a.lr is None else f"{a.lr:.3g}", a.status,
        )
    console.print(table)
    for name, a in result.arms.items():
        parts = ", ".join(f"{k} {v:.1f}s" for k, v in a.seconds_breakdown.items() if v >= 0.05)
        cands = ", ".join(f"{c.base_lr:g}:{c.status}" for c in a.candidates)
        console.print(f"{name}: {a.steps} steps ({a.epochs:.1f} epochs); time {parts}; base lrs {cands}; "
                      f"params {a.trainable_params:,} (paper formula {a.paper_params:,}: {a.paper_formula})")
    for r in result.halving:
        stops = ", ".join(f"{n} ({result.arms[n].stopped['reason']})" for n in r["stopped"] if result.arms[n].stopped)
        console.print(f"arm halving round {r['round']} at {r['elapsed_seconds']:.0f}s: leader {r['leader']}; "
                      f"stopped: {stops or 'none'}")
    budget = f" of a {result.budget_seconds:.0f}s budget" if result.budget_seconds else ""
    console.print(f"elapsed {result.elapsed_seconds:.0f}s{budget} (setup {result.setup_seconds:.0f}s), "
                  f"{result.sessions} session(s)")
    c = result.complementarity
    if c:
        pairs = sorted(c["disagreement"].items(), key=lambda kv: -kv[1])
        console.print("disagreement (most different first): " + ", ".join(
            f"{k} {v:.2f} (error overlap {c['error_overlap'][k]:.2f})" for k, v in pairs[:6]))
        e = c["ensemble"]
        console.print(f"best ensemble {' + '.join(e['members'])}: {e['val_accuracy']:.3f} "
                      f"[{e['ci'][0]:.3f}, {e['ci'][1]:.3f}] vs best arm {e['best_arm']} {e['best_arm_accuracy']:.3f}: "
                      f"{e['vs_best_arm']['margin']:+.3f} {_ci(e['vs_best_arm']['interval'])}, "
                      f"McNemar p = {e['vs_best_arm']['mcnemar_p']:.3g} ({e['ensembles_tried']} tried)")
        if c.get("wise_ft"):
            console.print("WiSE-FT (alpha: val acc): " + ", ".join(
                f"{w['alpha']:g}: {w['val_accuracy']:.3f}" for w in c["wise_ft"]))
        console.print(f"advice: {c['advice']}")
    d, v = result.difference, result.verdict
    if d is not None:
        console.print(f"{d.vpt_arm} - ft: {d.margin:+.3f} [{d.interval[0]:+.3f}, {d.interval[1]:+.3f}] "
                      f"(paired bootstrap, {d.n_val} val images), McNemar p = {d.mcnemar_p:.3g}")
    if v is not None:
        if v.prior is None:
            rule = "the pilot alone: no rule prediction given (--analysis)"
        elif v.confirms_rule is None:
            rule = (f"the rule made no call ({v.rule_choice}, P(VPT) {v.prior['p_vpt']:.2f}); "
                    f"combined with its prior margin {v.prior['margin']:+.3f}")
        else:
            rule = confirmation(v.confirms_rule, v.choice, v.rule_choice)
        choice = "TOO CLOSE TO CALL" if v.choice == "uncertain" else v.choice.upper()
        console.print(f"verdict: [bold]{choice}[/bold] (P(VPT better) = {v.p_vpt:.3f}, margin "
                      f"{v.posterior_margin:+.3f} [{v.posterior_interval[0]:+.3f}, {v.posterior_interval[1]:+.3f}]; "
                      f"{rule})")
    rk = result.ranking
    if rk:
        order = " > ".join(f"{r['arm']} ({r['val_accuracy']:.3f}, {_bytes(r['bytes_per_task'])})" for r in rk["arms"])
        best = next(r for r in rk["arms"] if r["arm"] == rk["best_per_byte"])
        vs = best["vs_most_accurate"]
        why = "" if vs is None else (f"; vs the most accurate {rk['most_accurate']}: {-vs['margin']:+.3f} "
                                     f"{_ci([-vs['interval'][1], -vs['interval'][0]])}, McNemar p = {vs['mcnemar_p']:.3g}")
        console.print(f"per stored byte: [bold]{rk['best_per_byte']}[/bold] is the smallest arm not clearly worse than "
                      f"the most accurate{why}. Ranked by accuracy per MB: {order}")
    for note in result.notes:
        console.print(f"note: {note}")
    console.print(f"run directory: {result.run_dir}")


@app.command("pilot")
def pilot(
    dataset: Optional[Path] = typer.Argument(None, help="Dataset directory (root/<class>/*, root/{train,val}/<class>/*) or manifest."),
    budget: Optional[str] = typer.Option(None, "--budget", help="Wall-clock budget for the whole pilot: 90s, 30m, 2h, 1h30m."),
    steps: Optional[int] = typer.Option(None, "--steps", help="Training steps per arm instead of (or capped by) a budget: reproducible runs."),
    arms: str = typer.Option("vpt-deep,ft", "--arms", help="Comma-separated arms: vpt-deep, vpt-shallow, vapt, lora, adapter, bitfit, linear, ft, mixed, ft-then-pt."),
    backbone: str = typer.Option("vit_base_patch16_224.augreg_in21k", "--backbone", help="timm ViT name."),
    weights: Optional[Path] = typer.Option(None, "--weights", help="Local checkpoint (.safetensors, .pth/.bin weights-only, .npz)."),
    random_init: bool = typer.Option(False, "--random-init", help="Random backbone weights (smoke tests only)."),
    backbone_kwargs: Optional[str] = typer.Option(None, "--backbone-kwargs", help="JSON object of extra timm.create_model arguments."),
    img_size: int = typer.Option(224, "--img-size", help="Training resolution."),
    batch_size: int = typer.Option(32, "--batch-size", help="Global batch size (split across processes)."),
    val_fraction: float = typer.Option(0.2, "--val-fraction", help="Stratified val share when the dataset has no val split."),
    seed: int = typer.Option(0, "--seed"),
    prompt_length: Optional[int] = typer.Option(None, "--prompt-length", help="Prompt tokens of every prompted arm (default: deep 10, shallow 50, vapt 10)."),
    vpt_lrs: Optional[str] = typer.Option(None, "--vpt-lrs", help="Base learning rates to search for the SGD arms (vpt-*, vapt, linear, ft-then-pt), e.g. 25,5,1,0.25."),
    ft_lrs: Optional[str] = typer.Option(None, "--ft-lrs", help="Base learning rates to search for ft and mixed."),
    petl_lrs: Optional[str] = typer.Option(None, "--petl-lrs", help="Base learning rates to search for lora, adapter and bitfit."),
    layout: str = typer.Option("auto", "--layout", help="Dataset layout: auto, folder, split, manifest."),
    evals: int = typer.Option(4, "--evals", help="Val evaluations of the continued training in a --steps run (budget runs fit them to the time)."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or mps."),
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads per process."),
    out: Optional[Path] = typer.Option(None, "--out", help="Run directory, never inside the dataset (default ./runs/pilot-<time>, or the cache dir's runs/ when . is inside the dataset)."),
    resume: Optional[Path] = typer.Option(None, "--resume", help="Continue an interrupted run from its directory."),
    analysis: Optional[Path] = typer.Option(None, "--analysis", help="JSON of `vptadvisor analyze --format json`: the rule's prior."),
    save_backbone: bool = typer.Option(False, "--save-backbone", help="Also save the fine-tuned model (large)."),
    checkpoint_every: float = typer.Option(120.0, "--checkpoint-every", help="Seconds between checkpoints."),
    compile_: bool = typer.Option(False, "--compile", help="Wrap each model in torch.compile (pays off on GPUs for long runs)."),
    fmt: str = typer.Option("table", "--format", help="table or json."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress messages."),
) -> None:
    """Train VPT, full fine-tuning and other arms on DATASET within a budget; report which is ahead and how sure."""
    started = time.perf_counter()  # the budget counts importing torch too
    from vptadvisor.pilot import run_pilot

    if fmt not in ("table", "json"):
        raise UsageError(f"--format {fmt!r} is not one of table, json.")
    err = Console(stderr=True)
    show = not quiet and sys.stderr.isatty()
    from vptadvisor.pilot.arms import ARMS, family

    lrs = {}
    for text, fam, option in ((vpt_lrs, "vpt", "--vpt-lrs"), (ft_lrs, "ft", "--ft-lrs"), (petl_lrs, "petl", "--petl-lrs")):
        if text is not None:
            lrs.update(dict.fromkeys([a for a in ARMS if family(a) == fam], _floats(text, option)))
    result = run_pilot(
        dataset, budget=budget, steps=steps, arms=arms, backbone=backbone, weights=weights, random_init=random_init,
        backbone_kwargs=_kwargs(backbone_kwargs), img_size=img_size, batch_size=batch_size, val_fraction=val_fraction,
        seed=seed, prompt_length=prompt_length, lrs=lrs or None, layout=layout, evals=evals, device=device,
        threads=threads, run_dir=out, resume=resume, analysis=analysis, save_backbone=save_backbone,
        checkpoint_every=checkpoint_every, compile=compile_, progress=(lambda m: err.print(f"[dim]{m}[/dim]")) if show else None,
        started=started,
    )
    if int(os.environ.get("RANK", "0")) != 0:
        return
    if fmt == "json":
        typer.echo(json.dumps(result.to_dict(), indent=2))
    else:
        render(result, Console() if sys.stdout.isatty() else Console(width=120))
