"""`vptadvisor check`: the CI gate, driven by vptadvisor.yaml (or [tool.vptadvisor] in pyproject.toml).

Exit 0 when the verdict is the expected method with at least the minimum confidence, 1 when it is
not (one line on stderr: expected, got, probability, the input that moved it), 2 on a usage or
configuration error, 3 when the dataset could not be measured.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from vptadvisor.cli import app
from vptadvisor.cli import options as o
from vptadvisor.cli.analyze_cmd import (
    AllowUncertainOpt, BackboneOpt, CacheDirOpt, ConfigOpt, DeviceOpt, ExpectOpt, MinConfidenceOpt, MinImagesOpt,
    ObjectiveOpt, PilotResultOpt, ReferenceOpt, ReportOpt, SeedOpt, StrictOpt, TrainSizeOpt, check_outputs, common_settings,
    emit,
)


@app.command("check")
def check(
    dataset: Optional[Path] = typer.Argument(None, help="Dataset to check (default: `dataset` in the config file).", show_default=False),
    config_path: Optional[Path] = ConfigOpt,
    expect: Optional[str] = ExpectOpt,
    min_confidence: Optional[float] = MinConfidenceOpt,
    allow_uncertain: Optional[bool] = AllowUncertainOpt,
    report: Optional[Path] = ReportOpt,
    pilot_result: Optional[Path] = PilotResultOpt,
    run_pilot: Optional[str] = typer.Option(None, "--run-pilot", metavar="never|uncertain|always", help="Train the pilot (settings: the `pilot` section) never, when the rule is uncertain, or always; a pilot that ran decides the gate (default: never)."),
    objective: Optional[str] = ObjectiveOpt,
    train_size: Optional[int] = TrainSizeOpt,
    backbone: Optional[str] = BackboneOpt,
    weights: Optional[Path] = typer.Option(None, "--weights", metavar="PATH", help="Local backbone checkpoint for the pilot."),
    reference: Optional[str] = ReferenceOpt,
    strict: Optional[bool] = StrictOpt,
    device: Optional[o.Device] = DeviceOpt,
    cache_dir: Optional[Path] = CacheDirOpt,
    min_images: Optional[int] = MinImagesOpt,
    seed: Optional[int] = SeedOpt,
    output_format: o.OutputFormat = o.Format,
    quiet: bool = o.Quiet,
    output: Optional[Path] = o.Output,
) -> None:
    """Gate a pull request on the tuning decision: does the verdict still match `gate.expect`?

    Reads the settings from vptadvisor.yaml (or --config); options override them. Exit codes:
    0 the verdict matches with at least gate.min_confidence, 1 it does not (reason on stderr),
    2 usage or configuration error, 3 could not measure."""
    from vptadvisor.config import load_config
    from vptadvisor.gate import run_check
    from vptadvisor.report.console import progress_bar

    cli = common_settings(
        dataset=dataset, reference=reference, objective=objective, train_size=train_size,
        backbone=backbone, weights=weights, strict=strict, device=device, cache_dir=cache_dir, min_images=min_images,
        seed=seed, expect=expect, min_confidence=min_confidence, allow_uncertain=allow_uncertain, report=report,
        pilot_result=pilot_result,
    )
    cli["pilot.run"] = run_pilot
    cfg = load_config(cli, config=config_path)
    check_outputs(output, cfg)
    err = Console(stderr=True)
    talk = not quiet and sys.stderr.isatty()
    with progress_bar("Inception features", enabled=not quiet) as progress:
        result = run_check(cfg, require_expect=True, progress=progress,
                           pilot_progress=(lambda m: err.print(f"[dim]{m}[/dim]")) if talk else None)
    emit(result, output_format, quiet, output)
    sys.stdout.flush()
    result.raise_for_gate()
