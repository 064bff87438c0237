"""`vptadvisor probe-suite`: the objective probe on controlled tasks (images fixed, objective varied).

    vptadvisor probe-suite            all families: designed, their variants, held back (minutes)
    vptadvisor probe-suite --quick    two small procedural families, no shared data (a test runs it)
    vptadvisor probe-suite --fit      refit data/probe/probe_model.json on the designed tasks
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from vptadvisor.cli import app
from vptadvisor.cli import options as o
from vptadvisor.cli.examples import example
from vptadvisor.errors import UsageError


def _progress(quiet: bool):
    err = Console(stderr=True)
    if quiet or not err.is_terminal:
        return None
    return lambda msg: err.print(f"[dim]{msg}[/dim]")


def _render(result, console: Console) -> None:
    table = Table(title=f"objective probe on the controlled suite (probe {result.probe_version}, seed {result.seed})")
    for col, just in (("task", "left"), ("set", "left"), ("true disparity", "left"), ("images", "right"),
                      ("classes", "right"), ("P(high)", "right"), ("non-semantic", "right"), ("1-D share", "right")):
        table.add_column(col, justify=just)
    for r in result.tasks:
        group = "held back" if r.held_back else ("variant" if r.variant else "designed")
        od = r.signals.get("one_dimensional")
        table.add_row(r.task, group, r.disparity, str(r.n_images), str(r.n_classes), f"{r.p_high_disparity:.2f}",
                      f"{r.signals['non_semantic']:.2f}", "-" if od is None else f"{od:.2f}")
    console.print(table)
    a = result.auroc
    fmt = lambda v: "n/a" if v is None else f"{v:.3f}"
    console.print(f"AUROC low vs high disparity: designed {fmt(a['designed'])}, designed + variants "
                  f"{fmt(a['designed_with_variants'])}, held back {fmt(a['held_back'])}, all tasks {fmt(a['all'])}")
    console.print(f"{result.n_images} images ({result.n_computed} newly extracted, {result.extraction_seconds:.1f} s); "
                  f"probe {result.probe_seconds:.2f} s for {len(result.tasks)} tasks")


@app.command(
    "probe-suite",
    short_help="Score the objective probe on controlled tasks.",
    epilog=example("vptadvisor probe-suite --quick"),
)
def probe_suite(
    quick: bool = typer.Option(False, "--quick", help="Two small procedural families only (about 200 images; no shared data needed)."),
    fit: bool = typer.Option(False, "--fit", help="Refit the probe model on the designed tasks and write it (see --out), instead of scoring."),
    out: Optional[Path] = typer.Option(None, "--out", metavar="FILE", help="With --fit: where to write the model (default: the shipped data/probe/probe_model.json)."),
    held_back: bool = typer.Option(True, "--held-back/--no-held-back", help="Score the held-back variants too."),
    variants: bool = typer.Option(True, "--variants/--no-variants", help="Score the designed label variants too."),
    shared: Optional[Path] = typer.Option(None, "--shared", envvar="VPTADVISOR_SHARED", metavar="DIR", help="Folder holding datasets/imagenet-sample-1000 and datasets/dtd-10 (default: <repo>/../shared)."),
    work_dir: Optional[Path] = typer.Option(None, "--work-dir", metavar="DIR", help="Where the generated suite images go (default: <cache>/probe-suite)."),
    cache_dir: Optional[Path] = o.CacheDir,
    seed: int = typer.Option(0, "--seed", help="Seed for the generated images and the probe's episodes."),
    fmt: o.OutputFormat = o.Format,
    quiet: bool = o.Quiet,
) -> None:
    """Score the objective probe on controlled tasks where the images stay fixed and only the labels change."""
    from vptadvisor.probe.fit import write_model
    from vptadvisor.probe.model import model_path
    from vptadvisor.probe.suite import fit_from_suite, run_suite

    progress = _progress(quiet)
    if fit:
        if quick:
            raise UsageError("--fit uses the full designed suite; drop --quick.")
        model = fit_from_suite(seed=seed, shared=shared, work_dir=work_dir, cache_dir=o.cache_root(cache_dir), progress=progress)
        target = out or model_path()
        write_model(model, target)
        if fmt is o.OutputFormat.json:
            typer.echo(json.dumps(model.to_dict(), indent=2))
        else:
            lofo = model.meta["leave_one_family_out"]
            typer.echo(f"wrote {target}: probe {model.probe_version}, intercept {model.intercept:.3f}, "
                       f"non_semantic {model.coef_non_semantic:.3f}, one_dimensional {model.coef_one_dimensional:.3f}; "
                       f"leave-one-family-out AUROC {lofo['auroc_all_rows']:.3f}, log loss {lofo['log_loss']:.3f}")
        return
    if out is not None:
        raise UsageError("--out only goes with --fit.")
    result = run_suite(quick=quick, seed=seed, shared=shared, work_dir=work_dir, cache_dir=o.cache_root(cache_dir),
                       held_back=held_back, variants=variants, progress=progress)
    if fmt is o.OutputFormat.json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
    elif quiet:
        a = result.auroc
        typer.echo(f"probe-suite: {len(result.tasks)} tasks, AUROC designed={a['designed']} held_back={a['held_back']} all={a['all']}")
    else:
        _render(result, Console(file=sys.stdout, width=None if sys.stdout.isatty() else 160))
