"""`vptadvisor check`: the CI gate, driven by vptadvisor.yaml (or [tool.vptadvisor] in pyproject.toml).

Exit 0 when the verdict is the expected method with at least the minimum confidence, 1 when it is
not (one line on stderr: expected, got, probability, the input that moved it), 2 on a usage or
configuration error, 3 when the dataset could not be measured. Its options are analyze's (from the
same settings model) plus --weights and --run-pilot.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

import typer

from vptadvisor.cli import options as o
from vptadvisor.cli.analyze_cmd import GATE_KEYS, check_outputs, emit
from vptadvisor.cli.app import app
from vptadvisor.cli.examples import example
from vptadvisor.settings import AnalyzeSettings


@app.command(
    "check",
    short_help="CI gate: exit 1 when the verdict no longer matches gate.expect.",
    epilog=example("vptadvisor check", "vptadvisor check ./data --expect vpt --min-confidence 0.7"),
)
@o.settings_options(AnalyzeSettings, "analyze", keys=(*GATE_KEYS, "weights", "pilot.run"))
def check(
    dataset: Optional[Path] = typer.Argument(
        None, help="Dataset to check (default: `dataset` in the config file).", show_default=False
    ),
    config_path: Optional[Path] = o.ConfigPath,
    output_format: o.OutputFormat = o.Format,
    quiet: bool = o.Quiet,
    output: Optional[Path] = o.Output,
    settings: dict[str, Any] | None = None,
) -> None:
    """Gate a pull request on the tuning decision: does the verdict still match `gate.expect`?

    Reads the settings from vptadvisor.yaml (or --config); options override them. Exit codes:
    0 the verdict matches with at least gate.min_confidence, 1 it does not (reason on stderr),
    2 usage or configuration error, 3 could not measure."""
    from vptadvisor.check import run_check
    from vptadvisor.config import load_config
    from vptadvisor.report.console import progress_bar

    cfg = load_config({"dataset": dataset, **(settings or {})}, config=config_path)
    check_outputs(output, cfg)
    from rich.console import Console

    err = Console(stderr=True)
    talk = not quiet and sys.stderr.isatty()
    with progress_bar("Inception features", enabled=not quiet) as progress:
        result = run_check(
            cfg,
            require_expect=True,
            progress=progress,
            pilot_progress=(lambda m: err.print(f"[dim]{m}[/dim]")) if talk else None,
        )
    emit(result, output_format, quiet, output)
    sys.stdout.flush()
    result.raise_for_gate()
