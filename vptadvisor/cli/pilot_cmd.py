"""`vptadvisor pilot DATASET --budget 2h`: train VPT and full fine-tuning briefly and compare them."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from vptadvisor.cli import options as o
from vptadvisor.cli.app import app
from vptadvisor.cli.examples import example
from vptadvisor.errors import UsageError
from vptadvisor.results.pilot import PilotResult
from vptadvisor.settings import PilotSettings


def _mb(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


def _bytes(n: int) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} B"


def _ci(lo_hi) -> str:
    return f"[{lo_hi[0]:+.3f}, {lo_hi[1]:+.3f}]"


def render(result: PilotResult, console: Console) -> None:
    from vptadvisor.results import confirmation

    table = Table(
        title=f"Pilot: {Path(result.dataset).name} on {result.backbone}, {result.device} "
        f"({result.split['n_train']} train / {result.split['n_val']} val images)"
    )
    for col in (
        "arm",
        "val acc",
        "95% CI",
        "trainable",
        "bytes/task",
        "peak mem",
        "img/s",
        "s (share)",
        "lr",
        "status",
    ):
        table.add_column(col, justify="left" if col in ("arm", "status") else "right")
    for name, a in result.arms.items():
        ci = (
            "-"
            if a.val_accuracy_interval is None
            else (f"{a.val_accuracy_interval[0]:.3f}-{a.val_accuracy_interval[1]:.3f}")
        )
        share = f"{a.seconds:.0f} ({a.share_seconds:.0f})" if a.share_seconds else f"{a.seconds:.0f}"
        table.add_row(
            name,
            "-" if a.val_accuracy is None else f"{a.val_accuracy:.3f}",
            ci,
            f"{a.trainable_params:,} ({100 * a.trainable_fraction:.3g}%)",
            _bytes(a.bytes_per_task),
            _mb(a.peak_memory_bytes),
            "-" if a.images_per_second is None else f"{a.images_per_second:.1f}",
            share,
            "-" if a.lr is None else f"{a.lr:.3g}",
            a.status,
        )
    console.print(table)
    for name, a in result.arms.items():
        parts = ", ".join(f"{k} {v:.1f}s" for k, v in a.seconds_breakdown.items() if v >= 0.05)
        cands = ", ".join(f"{c.base_lr:g}:{c.status}" for c in a.candidates)
        console.print(
            f"{name}: {a.steps} steps ({a.epochs:.1f} epochs); time {parts}; base lrs {cands}; "
            f"params {a.trainable_params:,} (paper formula {a.paper_params:,}: {a.paper_formula})"
        )
    for r in result.halving:
        stops = ", ".join(f"{n} ({st['reason']})" for n in r["stopped"] if (st := result.arms[n].stopped))
        console.print(
            f"arm halving round {r['round']} at {r['elapsed_seconds']:.0f}s: leader {r['leader']}; "
            f"stopped: {stops or 'none'}"
        )
    budget = f" of a {result.budget_seconds:.0f}s budget" if result.budget_seconds else ""
    console.print(
        f"elapsed {result.elapsed_seconds:.0f}s{budget} (setup {result.setup_seconds:.0f}s), "
        f"{result.sessions} session(s)"
    )
    c = result.complementarity
    if c:
        pairs = sorted(c["disagreement"].items(), key=lambda kv: -kv[1])
        console.print(
            "disagreement (most different first): "
            + ", ".join(f"{k} {v:.2f} (error overlap {c['error_overlap'][k]:.2f})" for k, v in pairs[:6])
        )
        e = c["ensemble"]
        console.print(
            f"best ensemble {' + '.join(e['members'])}: {e['val_accuracy']:.3f} "
            f"[{e['ci'][0]:.3f}, {e['ci'][1]:.3f}] vs best arm {e['best_arm']} {e['best_arm_accuracy']:.3f}: "
            f"{e['vs_best_arm']['margin']:+.3f} {_ci(e['vs_best_arm']['interval'])}, "
            f"McNemar p = {e['vs_best_arm']['mcnemar_p']:.3g} ({e['ensembles_tried']} tried)"
        )
        if c.get("wise_ft"):
            console.print(
                "WiSE-FT (alpha: val acc): "
                + ", ".join(f"{w['alpha']:g}: {w['val_accuracy']:.3f}" for w in c["wise_ft"])
            )
        console.print(f"advice: {c['advice']}")
    d, v = result.difference, result.verdict
    if d is not None:
        console.print(
            f"{d.vpt_arm} - ft: {d.margin:+.3f} [{d.interval[0]:+.3f}, {d.interval[1]:+.3f}] "
            f"(paired bootstrap, {d.n_val} val images), McNemar p = {d.mcnemar_p:.3g}"
        )
    if v is not None:
        if v.prior is None:
            rule = "the pilot alone: no rule prediction given (--analysis)"
        elif v.confirms_rule is None:
            rule = (
                f"the rule made no call ({v.rule_choice}, P(VPT) {v.prior['p_vpt']:.2f}); "
                f"combined with its prior margin {v.prior['margin']:+.3f}"
            )
        else:
            rule = confirmation(v.confirms_rule, v.choice, v.rule_choice)
        choice = "TOO CLOSE TO CALL" if v.choice == "uncertain" else v.choice.upper()
        console.print(
            f"verdict: [bold]{choice}[/bold] (P(VPT better) = {v.p_vpt:.3f}, margin "
            f"{v.posterior_margin:+.3f} [{v.posterior_interval[0]:+.3f}, {v.posterior_interval[1]:+.3f}]; "
            f"{rule})"
        )
    rk = result.ranking
    if rk:
        order = " > ".join(f"{r['arm']} ({r['val_accuracy']:.3f}, {_bytes(r['bytes_per_task'])})" for r in rk["arms"])
        best = next(r for r in rk["arms"] if r["arm"] == rk["best_per_byte"])
        vs = best["vs_most_accurate"]
        why = (
            ""
            if vs is None
            else (
                f"; vs the most accurate {rk['most_accurate']}: {-vs['margin']:+.3f} "
                f"{_ci([-vs['interval'][1], -vs['interval'][0]])}, McNemar p = {vs['mcnemar_p']:.3g}"
            )
        )
        console.print(
            f"per stored byte: [bold]{rk['best_per_byte']}[/bold] is the smallest arm not clearly worse than "
            f"the most accurate{why}. Ranked by accuracy per MB: {order}"
        )
    for note in result.notes:
        console.print(f"note: {note}")
    console.print(f"run directory: {result.run_dir}")


@app.command(
    "pilot",
    short_help="Train VPT and full fine-tuning within a budget and compare.",
    epilog=example("vptadvisor pilot ./my_dataset --budget 30m --analysis analyze.json"),
)
@o.settings_options(PilotSettings, "pilot")
def pilot(
    dataset: Optional[Path] = typer.Argument(
        None,
        help="Dataset directory (root/<class>/*, root/{train,val}/<class>/*) or manifest (default: `dataset` in the config file).",
        show_default=False,
    ),
    config_path: Optional[Path] = o.ConfigPath,
    fmt: o.OutputFormat = o.Format,
    quiet: bool = typer.Option(False, "--quiet", help="No progress messages."),
    settings: dict[str, Any] | None = None,
) -> None:
    """Train VPT, full fine-tuning and other arms on DATASET within a budget; report which is ahead and how sure.

    Options left out come from the environment, then the config file (`dataset` and the `pilot`
    section), then the defaults; the options are the fields of vptadvisor.settings.PilotSettings."""
    started = time.perf_counter()  # the budget counts importing torch too
    from vptadvisor.api import pilot as run_pilot
    from vptadvisor.config import load_config, pilot_settings

    given = dict(settings or {})
    resume = given.pop("resume", None)
    cfg = load_config({"dataset": dataset, **given}, config=config_path)
    chosen = pilot_settings(cfg)
    if resume is None and chosen.dataset is None:
        raise UsageError(
            "Pass a DATASET directory, set `dataset` in vptadvisor.yaml (or --resume RUN_DIR to continue a run)."
        )
    if resume is None and cfg.sources.get("pilot.budget") == "default" and cfg.sources.get("pilot.steps") == "default":
        raise UsageError(
            "Give the pilot a --budget (e.g. 30m, or pilot.budget in vptadvisor.yaml) or a fixed number of --steps per arm."
        )
    err = Console(stderr=True)
    show = not quiet and sys.stderr.isatty()
    result = run_pilot(
        started=started,
        progress=(lambda m: err.print(f"[dim]{m}[/dim]")) if show else None,
        **{**dict(chosen), "resume": resume},
    )
    if int(os.environ.get("RANK", "0")) != 0:
        return
    if fmt is o.OutputFormat.json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
    else:
        render(result, Console() if sys.stdout.isatty() else Console(width=120))
