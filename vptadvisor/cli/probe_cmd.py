"""`vptadvisor probe-suite`: the objective probe on controlled tasks (images fixed, objective varied).

    vptadvisor probe-suite            all families: designed, their variants, held back (minutes)
    vptadvisor probe-suite --quick    two small procedural families, no shared data (a test runs it)
    vptadvisor probe-suite --fit      refit data/probe/probe_model.json on the designed tasks

The suite (generators, runner, fitting harness) is dev tooling in tools/probe_suite/ of a source
checkout, not part of the installed package: the command finds it beside the package and, when it
runs from an installed wheel without it, says so and exits 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import cast

import typer
from rich.console import Console, JustifyMethod
from rich.table import Table

from vptadvisor.cli import options as o
from vptadvisor.cli.app import app
from vptadvisor.cli.examples import example
from vptadvisor.errors import UsageError


def _suite_modules():
    """(suite runner module, fitting module) from tools/probe_suite of the source checkout."""
    import importlib

    root = Path(__file__).resolve().parents[2]
    if not (root / "tools" / "probe_suite" / "suite.py").is_file():
        raise UsageError(
            "`vptadvisor probe-suite` needs tools/probe_suite from a source checkout of vptadvisor "
            "(it is dev tooling, not part of the installed package); run it from a clone of the repository."
        )
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return importlib.import_module("tools.probe_suite.suite"), importlib.import_module("tools.probe_suite.fit")


def _progress(quiet: bool):
    err = Console(stderr=True)
    if quiet or not err.is_terminal:
        return None
    return lambda msg: err.print(f"[dim]{msg}[/dim]")


def _render(result, console: Console) -> None:
    table = Table(
        title=f"objective probe on the controlled suite (probe {result.probe_version}, seed {result.seed}, "
        f"prior P(high) {result.prior_high:.2f})"
    )
    for col, just in (
        ("task", "left"),
        ("set", "left"),
        ("true disparity", "left"),
        ("images", "right"),
        ("classes", "right"),
        ("P(high)", "right"),
        ("non-semantic", "right"),
        ("1-D share", "right"),
        ("kept: turn", "right"),
        ("kept: mirror", "right"),
    ):
        table.add_column(col, justify=cast(JustifyMethod, just))
    for r in result.tasks:
        group = "held back" if r.held_back else ("variant" if r.variant else "designed")
        cells = [
            ("-" if r.signals.get(key) is None else f"{r.signals[key]:.2f}")
            for key in ("non_semantic", "one_dimensional", "retention_rotate90", "retention_mirror_half")
        ]
        table.add_row(
            r.task, group, r.disparity, str(r.n_images), str(r.n_classes), f"{r.p_high_disparity:.2f}", *cells
        )
    console.print(table)
    a = result.auroc
    fmt = lambda v: "n/a" if v is None else f"{v:.3f}"
    console.print(
        f"AUROC low vs high disparity: designed {fmt(a['designed'])}, designed + variants "
        f"{fmt(a['designed_with_variants'])}, held back {fmt(a['held_back'])}, held back (new families) "
        f"{fmt(a.get('held_back_new'))}, all tasks {fmt(a['all'])}"
    )
    console.print(
        "kept: turn / mirror = share of the label evidence that survives a quarter turn / mirroring the left half "
        "of the images onto the right (near 1: a category; low: count, position or orientation)."
    )
    console.print(
        f"{result.n_images} images ({result.n_computed} newly extracted, {result.extraction_seconds:.1f} s); "
        f"probe {result.probe_seconds:.2f} s for {len(result.tasks)} tasks"
    )


@app.command(
    "probe-suite",
    short_help="Score the objective probe on controlled tasks.",
    epilog=example("vptadvisor probe-suite --quick"),
)
def probe_suite(
    quick: bool = typer.Option(
        False, "--quick", help="Two small procedural families only (about 200 images; no shared data needed)."
    ),
    family: list[str] | None = typer.Option(
        None, "--family", metavar="NAME", help="Score only this suite family (repeatable; default: all)."
    ),
    augment: bool = typer.Option(
        True,
        "--augment/--no-augment",
        help="Measure the augmentation signals too (edited copies of a few images per task).",
    ),
    fit: bool = typer.Option(
        False, "--fit", help="Refit the probe model on the designed tasks and write it (see --out), instead of scoring."
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        metavar="FILE",
        help="With --fit: where to write the model (default: the shipped data/probe/probe_model.json).",
    ),
    held_back: bool = typer.Option(True, "--held-back/--no-held-back", help="Score the held-back variants too."),
    variants: bool = typer.Option(True, "--variants/--no-variants", help="Score the designed label variants too."),
    shared: Path | None = typer.Option(
        None,
        "--shared",
        envvar="VPTADVISOR_SHARED",
        metavar="DIR",
        help="Folder holding datasets/imagenet-sample-1000 and datasets/dtd-10 (default: <repo>/../shared).",
    ),
    work_dir: Path | None = typer.Option(
        None, "--work-dir", metavar="DIR", help="Where the generated suite images go (default: <cache>/probe-suite)."
    ),
    cache_dir: Path | None = o.CacheDir,
    seed: int = typer.Option(0, "--seed", help="Seed for the generated images and the probe's episodes."),
    fmt: o.OutputFormat = o.Format,
    quiet: bool = o.Quiet,
) -> None:
    """Score the objective probe on controlled tasks where the images stay fixed and only the labels change."""
    from vptadvisor.probe.model import model_path

    suite, fitting = _suite_modules()
    fit_from_suite, run_suite, write_model = suite.fit_from_suite, suite.run_suite, fitting.write_model

    progress = _progress(quiet)
    if fit:
        if quick:
            raise UsageError("--fit uses the full designed suite; drop --quick.")
        model = fit_from_suite(
            seed=seed, shared=shared, work_dir=work_dir, cache_dir=o.cache_root(cache_dir), progress=progress
        )
        target = out or model_path()
        write_model(model, target)
        if fmt is o.OutputFormat.json:
            typer.echo(json.dumps(model.to_dict(), indent=2))
        else:
            lofo = model.meta["leave_one_family_out"]
            coef = ", ".join(f"{k} {v:.3f}" for k, v in model.coef.items())
            typer.echo(
                f"wrote {target}: probe {model.probe_version}, prior P(high) {model.prior_high:.2f}, intercept "
                f"{model.intercept:.3f}, {coef}; leave-one-family-out AUROC {lofo['auroc_all_rows']:.3f}, "
                f"log loss {lofo['log_loss']:.3f}"
            )
        return
    if out is not None:
        raise UsageError("--out only goes with --fit.")
    result = run_suite(
        quick=quick,
        seed=seed,
        shared=shared,
        work_dir=work_dir,
        cache_dir=o.cache_root(cache_dir),
        held_back=held_back,
        variants=variants,
        progress=progress,
        augment=augment,
        families=family or None,
    )
    if fmt is o.OutputFormat.json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
    elif quiet:
        a = result.auroc
        typer.echo(
            f"probe-suite: {len(result.tasks)} tasks, AUROC designed={a['designed']} held_back={a['held_back']} all={a['all']}"
        )
    else:
        _render(result, Console(file=sys.stdout, width=None if sys.stdout.isatty() else 160))
