"""`vptadvisor reference build|list`: the pretraining-data statistics FID is measured against."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console

from vptadvisor.cli import options as o
from vptadvisor.cli.app import app
from vptadvisor.cli.examples import example
from vptadvisor.settings import ReferenceSettings

reference_app = typer.Typer(
    help="Build and list reference statistics of pretraining data.",
    epilog=example("vptadvisor reference list"),
    no_args_is_help=True,
)
app.add_typer(reference_app, name="reference")


@reference_app.command(
    "build",
    short_help="Save Inception statistics of a folder as a reference.",
    epilog=example(
        "vptadvisor reference build ./my_pretraining_sample --name my-pretraining",
        "vptadvisor analyze ./my_dataset --reference my-pretraining",
    ),
)
@o.settings_options(ReferenceSettings, "analyze")
def build(
    directory: Path = typer.Argument(
        ..., help="Directory of pretraining-like images (any layout analyze reads; labels are not needed)."
    ),
    name: str = typer.Option(..., "--name", help="Name to select it by later (--reference NAME)."),
    output: Optional[Path] = typer.Option(
        None, "--output", "-o", help="Write here instead of the cache's references/ folder."
    ),
    config_path: Optional[Path] = o.ConfigPath,
    output_format: o.OutputFormat = o.Format,
    quiet: bool = o.Quiet,
    settings: dict[str, Any] | None = None,
) -> None:
    """Compute Inception features of DIRECTORY and save them as a reference (options: the fields of
    vptadvisor.settings.ReferenceSettings; left out, the environment and the config file's)."""
    from vptadvisor.config import load_config
    from vptadvisor.config.load import command_settings
    from vptadvisor.reference_build import build_reference
    from vptadvisor.report.console import progress_bar

    given = dict(settings or {})
    source = given.pop("source", None)
    chosen = command_settings(load_config(given, config=config_path), ReferenceSettings, "analyze", source=source)
    with progress_bar("Inception features", enabled=not quiet) as progress:
        built = build_reference(directory, name, output=output, progress=progress, **dict(chosen))
    if output_format is o.OutputFormat.json:
        typer.echo(json.dumps(built.__dict__, indent=2))
    else:
        typer.echo(f"Reference {built.name!r}: {built.n_images} images ({built.n_skipped} skipped) -> {built.path}")


@reference_app.command("list", epilog=example("vptadvisor reference list"))
def list_(output_format: o.OutputFormat = o.Format) -> None:
    """List the shipped and user-built references."""
    from vptadvisor.distance.reference import list_references, load_reference

    rows = []
    for name, path in sorted(list_references().items()):
        ref = load_reference(str(path))
        ex = ref.meta.get("extractor", {})
        rows.append(
            {
                "name": name,
                "n_images": ref.n_images,
                "network": ex.get("network"),
                "preprocessing": ex.get("preprocessing"),
                "source": ref.meta.get("source"),
                "path": str(path),
            }
        )
    if output_format is o.OutputFormat.json:
        typer.echo(json.dumps(rows, indent=2))
        return
    # One block per reference: a table column would cut the source (a repository URL and commit) at 80
    # columns; plain lines wrap, and nothing is elided.
    console = Console(highlight=False)
    for i, r in enumerate(rows):
        if i:
            console.print()
        console.print(
            f"[bold]{r['name']}[/bold]: {r['n_images']} images, resize {r['preprocessing']}, network {r['network']}"
        )
        console.print(f"  source: {r['source']}", markup=False, overflow="fold")
        console.print(f"  path: {r['path']}", markup=False, overflow="fold")
