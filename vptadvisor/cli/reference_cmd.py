"""`vptadvisor reference build|list`: the pretraining-data statistics FID is measured against."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from vptadvisor.cli import app
from vptadvisor.cli import options as o

reference_app = typer.Typer(help="Build and list reference statistics of pretraining data.", no_args_is_help=True)
app.add_typer(reference_app, name="reference")


@reference_app.command("build")
def build(
    directory: Path = typer.Argument(..., help="Directory of pretraining-like images (any layout analyze reads; labels are not needed)."),
    name: str = typer.Option(..., "--name", help="Name to select it by later (--reference NAME)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write here instead of the cache's references/ folder."),
    source: Optional[str] = typer.Option(None, "--source", help="Where the images come from (stored in the metadata)."),
    inception_weights: Optional[Path] = o.InceptionWeights,
    resize: o.Resize = o.ResizeOpt,
    device: o.Device = o.DeviceOpt,
    batch_size: int = o.BatchSize,
    workers: Optional[int] = o.Workers,
    no_cache: bool = o.NoCache,
    cache_dir: Optional[Path] = o.CacheDir,
    min_images: int = o.MinImages,
    seed: int = o.Seed,
    output_format: o.OutputFormat = o.Format,
    quiet: bool = o.Quiet,
) -> None:
    """Compute Inception features of DIRECTORY and save them as a reference."""
    from vptadvisor.reference_build import build_reference
    from vptadvisor.report.console import progress_bar

    with progress_bar("Inception features", enabled=not quiet) as progress:
        built = build_reference(
            directory, name, output=output, source=source, inception_weights=inception_weights, resize=resize.value,
            device=device.value, batch_size=batch_size, workers=workers, cache=not no_cache, cache_dir=cache_dir,
            min_images=min_images, seed=seed, progress=progress,
        )
    if output_format is o.OutputFormat.json:
        typer.echo(json.dumps(built.__dict__, indent=2))
    else:
        typer.echo(f"Reference {built.name!r}: {built.n_images} images ({built.n_skipped} skipped) -> {built.path}")


@reference_app.command("list")
def list_(output_format: o.OutputFormat = o.Format) -> None:
    """List the shipped and user-built references."""
    from vptadvisor.distance.reference import list_references, load_reference

    rows = []
    for name, path in sorted(list_references().items()):
        ref = load_reference(str(path))
        ex = ref.meta.get("extractor", {})
        rows.append({"name": name, "n_images": ref.n_images, "network": ex.get("network"),
                     "preprocessing": ex.get("preprocessing"), "source": ref.meta.get("source"), "path": str(path)})
    if output_format is o.OutputFormat.json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("name", "images", "resize", "source", title="References", title_justify="left")
    for r in rows:
        table.add_row(r["name"], str(r["n_images"]), r["preprocessing"], r["source"])
    Console().print(table)
