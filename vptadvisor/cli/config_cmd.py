"""`vptadvisor config show`: the effective settings and where each one came from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from vptadvisor.cli import app
from vptadvisor.cli import options as o

config_app = typer.Typer(help="Settings: vptadvisor.yaml, [tool.vptadvisor] in pyproject.toml, the environment.",
                         no_args_is_help=True)
app.add_typer(config_app, name="config")


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _text(value: Any) -> str:
    value = _plain(value)
    if value is None:
        return "null"
    if isinstance(value, (list, dict, bool)):
        return json.dumps(value)
    return str(value)


@config_app.command("show")
def show(
    config_path: Optional[Path] = typer.Option(None, "--config", metavar="PATH", help="Config file to read instead of ./vptadvisor.yaml or ./pyproject.toml."),
    output_format: o.OutputFormat = o.Format,
) -> None:
    """Print every setting's effective value, where it came from (command line, environment, file,
    default) and its environment variable."""
    from vptadvisor.config import all_settings, load_config

    cfg = load_config({}, config=config_path)
    infos = all_settings()
    rows = [(s.key, cfg.get(s.key) if not s.key.startswith("analyze.") or s.key.split(".", 1)[1] in cfg.analyze
             else s.default, cfg.sources.get(s.key, "default"), s.env, s.help) for s in infos]
    if output_format is o.OutputFormat.json:
        typer.echo(json.dumps({
            "file": str(cfg.file) if cfg.file else None,
            "settings": {key: {"value": _plain(value), "source": source, "env": env} for key, value, source, env, _ in rows},
        }, indent=2))
        return
    console = Console()
    console.print(f"config file: {cfg.file}" if cfg.file else
                  "config file: none (looked for vptadvisor.yaml, vptadvisor.yml and [tool.vptadvisor] in pyproject.toml "
                  "in the working directory, and $VPTADVISOR_CONFIG)")
    table = Table(show_lines=False)
    for col in ("key", "value", "from"):
        table.add_column(col, overflow="fold")
    for key, value, source, _, _ in rows:
        style = "" if source == "default" else "bold"
        table.add_row(key, _text(value), source, style=style)
    console.print(table)
    console.print("Environment variable of a key: VPTADVISOR_ + the key in upper case, dots as underscores "
                  "(gate.expect: VPTADVISOR_GATE_EXPECT). Precedence: command line > environment > file > default.",
                  highlight=False)
