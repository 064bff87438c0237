"""`vptadvisor predict`: the verdict for stated inputs, without a dataset (planning, what-if).

vptadvisor predict --fid F (--objective KIND | --p-high P) --train-size N [--backbone NAME] [--format json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Optional

import typer
from rich.console import Console

from vptadvisor.cli.app import app
from vptadvisor.cli.examples import example
from vptadvisor.cli.options import OutputFormat, check_backbone_name
from vptadvisor.errors import UsageError


@app.command(
    "predict",
    short_help="The verdict for stated inputs, without a dataset (planning).",
    epilog=example("vptadvisor predict --fid 160 --objective counting --train-size 2000"),
)
def predict(
    fid: float = typer.Option(
        ...,
        "--fid",
        min=0.0,
        help="FID of the task's training images to ImageNet, on the "
        "1,000-image scale `analyze` reports (distance.fid_matched).",
    ),
    objective: Optional[str] = typer.Option(
        None,
        "--objective",
        help="Declared task objective: classification, counting, distance, orientation, location or other.",
    ),
    p_high: Optional[float] = typer.Option(
        None,
        "--p-high",
        min=0.0,
        max=1.0,
        help="P(high task-objective disparity), e.g. the objective probe's p_high (instead of --objective).",
    ),
    train_size: int = typer.Option(..., "--train-size", min=1, help="Number of training images."),
    backbone: Optional[str] = typer.Option(
        None,
        "--backbone",
        help="timm name or study key of the backbone you will adapt (default: the study's ViT-B/16 ImageNet-21k).",
    ),
    fid_sd: float = typer.Option(0.0, "--fid-sd", min=0.0, help="Uncertainty (sd) of the FID itself, FID points."),
    rule: Optional[Path] = typer.Option(None, "--rule", help="Rule file (default: the shipped one)."),
    output_format: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="table or json."),
) -> None:
    """The verdict (VPT / FT / too close to call) for stated inputs: plan before collecting data.

    Prints the same verdict block as `analyze`; with --format json: {"verdict": {...}}."""
    check_backbone_name(backbone)
    if (objective is None) == (p_high is None):
        raise UsageError("give exactly one of --objective KIND or --p-high P.")
    from vptadvisor.report.console import render_verdict
    from vptadvisor.results import ObjectiveResult, VerdictResult
    from vptadvisor.rule import load_rule, objective_prior

    if objective is not None:
        prior = objective_prior(objective)
        p, source, declared = prior.p_high_disparity, prior.source, objective.strip().lower()
    else:
        assert p_high is not None
        p, source, declared = float(p_high), "given: --p-high", None
    decision_rule = load_rule(rule)
    pred = decision_rule.predict(
        fid=float(fid), p_high_disparity=p, n_train=int(train_size), backbone=backbone, fid_sd=float(fid_sd)
    )
    verdict = pred.to_dict()
    verdict["n_train_source"] = "--train-size"
    verdict["objective"] = {"p_high_disparity": p, "source": source}
    if output_format == OutputFormat.json:
        typer.echo(json.dumps({"verdict": verdict}, indent=2))
        return
    shown = SimpleNamespace(
        verdict=VerdictResult.from_dict({k: v for k, v in verdict.items() if k != "objective"}),
        objective=ObjectiveResult(p_high_disparity=p, source=source, declared=declared),
    )
    console = Console(file=sys.stdout, width=None if sys.stdout.isatty() else 120)
    render_verdict(shown, console)  # type: ignore[arg-type]
