"""`vptadvisor schema analyze|pilot|config`: the JSON Schema of a result (or of the config file)."""

from __future__ import annotations

import json
from enum import Enum

import typer

from vptadvisor.cli.app import app
from vptadvisor.cli.examples import example


class SchemaName(str, Enum):
    analyze = "analyze"
    pilot = "pilot"
    config = "config"


def json_schema(name: str) -> dict[str, object]:
    """The JSON Schema of `analyze`'s JSON, a pilot's result.json, or the config file."""
    if name == "analyze":
        from vptadvisor.results import AnalyzeResult

        return AnalyzeResult.model_json_schema(by_alias=True)
    if name == "pilot":
        from vptadvisor.results.pilot import PilotResult

        return PilotResult.model_json_schema(by_alias=True)
    from vptadvisor.settings import CheckSettings

    return CheckSettings.model_json_schema()


@app.command("schema", epilog=example("vptadvisor schema analyze > analyze.schema.json"))
def schema(
    name: SchemaName = typer.Argument(
        ...,
        help="analyze (the JSON of `analyze --format json`), pilot (a run's result.json) or config (vptadvisor.yaml).",
    ),
) -> None:
    """Print the JSON Schema of a result or of the config file."""
    typer.echo(json.dumps(json_schema(name.value), indent=2))
