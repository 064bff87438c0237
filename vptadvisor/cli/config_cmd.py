"""`vptadvisor config show`: the effective settings and where each one came from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from vptadvisor.cli import options as o
from vptadvisor.cli.app import app
from vptadvisor.cli.examples import example

config_app = typer.Typer(
    help="Settings: vptadvisor.yaml, [tool.vptadvisor] in pyproject.toml, the environment.",
    short_help="Show the effective settings and where each came from.",
    epilog=example("vptadvisor config show"),
    no_args_is_help=True,
)
app.add_typer(config_app, name="config")


MAX_SHOWN = 200  # characters of a value in the table; the rest is elided (JSON output is complete)


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _text(value: Any) -> str:
    """A value for the table, cut at MAX_SHOWN characters (the encoder stops early for big values)."""
    value = _plain(value)
    if value is None:
        return "null"
    if not isinstance(value, (list, dict, bool)):
        text = str(value)
        return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + "..."
    out = ""
    for chunk in json.JSONEncoder().iterencode(value):
        out += chunk
        if len(out) > MAX_SHOWN:
            return out[:MAX_SHOWN] + "..."
    return out


@config_app.command(
    "show",
    short_help="Every setting's value and where it came from.",
    epilog=example("vptadvisor config show", "vptadvisor config show --format json"),
)
def show(
    config_path: Optional[Path] = o.ConfigPath,
    output_format: o.OutputFormat = o.Format,
) -> None:
    """Print every setting's effective value, where it came from (command line, environment, file,
    default) and its environment variable."""
    from vptadvisor.config import all_settings, load_config

    cfg = load_config({}, config=config_path)
    rows = [(s.key, cfg.get(s.key), cfg.sources.get(s.key, "default"), s.env) for s in all_settings()]
    if output_format is o.OutputFormat.json:
        typer.echo(
            json.dumps(
                {
                    "file": str(cfg.file) if cfg.file else None,
                    "settings": {
                        key: {"value": _plain(value), "source": source, "env": env} for key, value, source, env in rows
                    },
                },
                indent=2,
            )
        )
        return
    console = Console()
    console.print(
        f"config file: {cfg.file}"
        if cfg.file
        else "config file: none (looked for vptadvisor.yaml, vptadvisor.yml and [tool.vptadvisor] in pyproject.toml "
        "in the working directory, and $VPTADVISOR_CONFIG)",
        markup=False,  # [tool.vptadvisor] is text, not Rich markup
        highlight=False,
    )
    table = Table(show_lines=False)
    for col in ("key", "value", "from"):
        table.add_column(col, overflow="fold")
    for key, value, source, _ in rows:
        style = "" if source == "default" else "bold"
        table.add_row(escape(key), escape(_text(value)), escape(str(source)), style=style)
    console.print(table)
    console.print(
        "Environment variable of a key: VPTADVISOR_ + the key in upper case, dots as underscores "
        "(gate.expect: VPTADVISOR_GATE_EXPECT). Precedence: command line > environment > file > default.",
        highlight=False,
    )
