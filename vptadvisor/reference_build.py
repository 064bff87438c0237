"""`reference build`: features of a directory of pretraining-like images -> a reference file."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vptadvisor.atomic import check_output, is_stdout
from vptadvisor.dataset.images import DEFAULT_MAX_PIXELS
from vptadvisor.dataset.layout import open_dataset
from vptadvisor.distance.reference import check_name, save_reference, user_reference_dir
from vptadvisor.errors import MeasureError, UsageError
from vptadvisor.features import DEFAULT_BATCH_SIZE
from vptadvisor.features.extract import make_extractor
from vptadvisor.limits import check_run_settings


@dataclass
class ReferenceBuild:
    name: str
    path: str
    n_images: int
    n_skipped: int
    skipped: list[tuple[str, str]]
    extractor: dict
    seconds: float
    n_cached: int
    n_computed: int


def build_reference(
    directory: str | os.PathLike,
    name: str,
    *,
    output: str | os.PathLike | None = None,
    source: str | None = None,
    inception_weights: str | os.PathLike | None = None,
    resize: str = "pytorch-fid",
    device: str = "auto",
    batch_size: int = DEFAULT_BATCH_SIZE,
    workers: int | None = None,
    cache: bool = True,
    cache_dir: str | os.PathLike | None = None,
    min_images: int = 50,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> ReferenceBuild:
    check_name(name)
    check_run_settings(seed=seed, batch_size=batch_size, workers=workers)
    if output is not None:
        if is_stdout(output):
            raise UsageError("reference build writes a binary .safetensors file: give -o a file path, not '-'.")
        check_output(output, "-o")
    data = open_dataset(directory)
    extractor = make_extractor(
        inception_weights=inception_weights,
        resize=resize,
        device=device,
        batch_size=batch_size,
        workers=workers,
        cache=cache,
        cache_dir=cache_dir,
        max_pixels=max_pixels,
    )
    extraction = extractor.extract([s.path for s in data.samples], progress=progress)
    n = len(extraction.kept)
    if n < min_images:
        raise MeasureError(
            f"Only {n} readable image(s) in {data.root} (minimum {min_images}); add images or lower --min-images."
        )
    target = Path(output).expanduser() if output else user_reference_dir() / f"{name}.safetensors"
    save_reference(
        target,
        name,
        extraction.features["pool3"],
        extractor.identity,
        source or f"{n} images under {data.root.name}/",
        seed=seed,
    )
    skipped = [(data.samples[i].relpath, reason) for i, _, reason in extraction.skipped]
    return ReferenceBuild(
        name,
        str(target),
        n,
        len(skipped),
        skipped,
        extractor.identity,
        extraction.seconds,
        extraction.n_cached,
        extraction.n_computed,
    )
