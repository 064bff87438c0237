"""`vptadvisor analyze DATASET`: distance to the pretraining data (and, as they land, the verdict)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from vptadvisor.cli import app
from vptadvisor.cli import options as o
from vptadvisor.errors import UsageError


@app.command()
def analyze(
    dataset: Optional[Path] = typer.Argument(None, help="Dataset directory (root/<class>/*, root/{train,val,test}/<class>/*) or a CSV/JSONL manifest of path,label.", show_default=False),
    demo: bool = typer.Option(False, "--demo", help="Analyze the embedded demo dataset (a generated counting task) instead of DATASET."),
    layout: str = typer.Option("auto", "--layout", help="auto, folder, split, manifest or flat."),
    reference: str = typer.Option("imagenet-sample-1000", "--reference", metavar="NAME|PATH", help="Reference statistics of the pretraining data (see `vptadvisor reference list`)."),
    strict: bool = typer.Option(False, "--strict", help="Fail (exit 3) when any file has to be skipped."),
    kid_subsets: int = typer.Option(100, "--kid-subsets", min=1, help="Random subsets KID is averaged over."),
    kid_subset_size: int = typer.Option(1000, "--kid-subset-size", min=2, help="Images per KID subset (capped by the smaller side)."),
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
    output: Optional[Path] = o.Output,
) -> None:
    """Measure how far a dataset is from the pretraining data: FID and KID against a reference of ImageNet."""
    from vptadvisor.analyze import analyze as run_analyze
    from vptadvisor.atomic import write_text
    from vptadvisor.report.console import one_line, progress_bar, render_analyze

    if demo == (dataset is not None):
        raise UsageError("Give a DATASET path, or --demo to analyze the embedded demo dataset (not both).")
    if demo:
        from vptadvisor.demo import demo_dataset

        dataset = demo_dataset(o.cache_root(cache_dir))
    with progress_bar("Inception features", enabled=not quiet) as progress:
        result = run_analyze(
            dataset, layout=layout, reference=reference, inception_weights=inception_weights, resize=resize.value,
            device=device.value, batch_size=batch_size, workers=workers, cache=not no_cache, cache_dir=cache_dir,
            strict=strict, min_images=min_images, kid_subsets=kid_subsets, kid_subset_size=kid_subset_size,
            seed=seed, progress=progress,
        )
    payload = json.dumps(result.to_dict(), indent=2)
    if output is not None:
        write_text(output, payload + "\n")
    if output_format is o.OutputFormat.json:
        typer.echo(payload)
    elif quiet:
        typer.echo(one_line(result))
    else:
        render_analyze(result, Console())
