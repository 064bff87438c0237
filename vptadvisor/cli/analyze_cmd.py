"""`vptadvisor analyze DATASET`: distance to the pretraining data, the verdict, and optionally a gate and a report.

Every option left out falls back to the environment, then the config file (`--config`, else
./vptadvisor.yaml or [tool.vptadvisor] in ./pyproject.toml), then the default (docs/ci.md). The
setting options come from the settings model (vptadvisor/settings/models.py), shared with `check`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer

from vptadvisor.cli import options as o
from vptadvisor.cli.app import app
from vptadvisor.cli.examples import example
from vptadvisor.errors import UsageError
from vptadvisor.settings import AnalyzeSettings

if TYPE_CHECKING:
    from vptadvisor.check import CheckResult

GATE_KEYS = ("gate.expect", "gate.min_confidence", "gate.allow_uncertain", "report.path", "pilot.result")


def check_outputs(output: Optional[Path], cfg: Any) -> None:
    """Refuse unwritable -o / --report paths before any work (exit 2, naming the path)."""
    from vptadvisor.atomic import check_output

    check_output(output, "-o")
    check_output(cfg.report.path, "--report")


def emit(check: CheckResult, output_format: o.OutputFormat, quiet: bool, output: Optional[Path]) -> None:
    """Print the result (JSON, one line, or tables) and write `-o FILE`; the gate's verdict last.
    `-o -` writes the JSON to stdout instead of the table."""
    from vptadvisor.atomic import is_stdout, write_output
    from vptadvisor.report.console import one_line, render_analyze

    payload = json.dumps(check.to_dict(), indent=2)
    if output is not None:
        write_output(output, payload + "\n", "-o")
    gate = check.gate
    if is_stdout(output):
        return
    if output_format is o.OutputFormat.json:
        typer.echo(payload)
    elif quiet:
        line = one_line(check.analysis)
        if gate is not None:
            line += f"  gate={'passed' if gate.passed else 'failed'}"
        if check.report is not None:
            line += f"  report={check.report}"
        typer.echo(line)
    else:
        from rich.console import Console

        console = Console()
        render_analyze(check.analysis, console)
        if check.pilot is not None and check.pilot_ran:
            d, pv = check.pilot.difference, check.pilot.verdict
            measured = f"{d.vpt_arm} - ft {100 * d.margin:+.1f} points, " if d else ""
            decided = f"{pv.choice.upper()} (P(VPT better) {pv.p_vpt:.2f})" if pv else "no verdict"
            console.print(f"pilot: {measured}{decided}; run directory {check.pilot.run_dir}")
        if check.report is not None:
            console.print(f"report: {check.report}")
        if gate is not None and gate.passed:
            console.print(f"[green]{gate.reason}[/green]")


@app.command(
    short_help="Measure a dataset and decide VPT or FT (the verdict).",
    epilog=example(
        "vptadvisor analyze ./my_dataset",
        "vptadvisor analyze ./my_dataset --format json -o result.json",
        "vptadvisor analyze --demo",
    ),
)
@o.settings_options(AnalyzeSettings, "analyze", keys=GATE_KEYS)
def analyze(
    dataset: Optional[Path] = typer.Argument(
        None,
        help="Dataset directory (root/<class>/*, root/{train,val,test}/<class>/*) or a CSV/JSONL manifest of path,label (default: `dataset` in the config file).",
        show_default=False,
    ),
    demo: bool = typer.Option(
        False, "--demo", help="Analyze the embedded demo dataset (a generated counting task) instead of DATASET."
    ),
    config_path: Optional[Path] = o.ConfigPath,
    output_format: o.OutputFormat = o.Format,
    quiet: bool = o.Quiet,
    output: Optional[Path] = o.Output,
    settings: dict[str, Any] | None = None,
) -> None:
    """Measure a dataset's distance to the pretraining data (FID, KID against ImageNet) and decide VPT or FT.

    The verdict (VPT / FT / too close to call) comes from a rule fitted on the published study
    (see `vptadvisor study`), fed with the FID, the task objective and the number of training images.
    With --expect it is a CI gate: exit 1 when the verdict is not the expected method with at least
    --min-confidence (see `vptadvisor check`)."""
    from vptadvisor.check import run_check
    from vptadvisor.config import load_config
    from vptadvisor.report.console import progress_bar

    cli = dict(settings or {})
    if demo and dataset is not None:
        raise UsageError("Give a DATASET path, or --demo to analyze the embedded demo dataset (not both).")
    if cli["gate.expect"] is None and (
        cli["gate.min_confidence"] is not None or cli["gate.allow_uncertain"] is not None
    ):
        raise UsageError(
            "--min-confidence and --allow-uncertain set up a gate: add --expect vpt|ft (or use `vptadvisor check`)."
        )
    cfg = load_config({"dataset": dataset, **cli}, config=config_path)
    check_outputs(output, cfg)
    if cli["gate.expect"] is None:
        cfg.gate.expect = None  # analyze gates only when asked on its command line; `check` always gates
    cfg.pilot.run = "never"  # analyze never trains; `check` can
    if demo:
        from vptadvisor.demo import demo_dataset

        cfg.dataset = demo_dataset(o.cache_root(cfg.cache_dir))
    elif cfg.dataset is None:
        raise UsageError(
            "Give a DATASET path (or set `dataset` in vptadvisor.yaml), or --demo to analyze the embedded demo dataset."
        )
    from vptadvisor.features.distributed import NotReportingRank, world

    try:
        with progress_bar("Inception features", enabled=not quiet and world()[0] == 0) as progress:
            check = run_check(cfg, require_expect=False, progress=progress)
    except NotReportingRank:
        return  # under torchrun only rank 0 reports
    emit(check, output_format, quiet, output)
    sys.stdout.flush()
    check.raise_for_gate()
