"""`analyze`: dataset -> images -> Inception features -> distance to the reference -> result."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

from vptadvisor.dataset.images import DEFAULT_MAX_PIXELS, SKIP_REASONS
from vptadvisor.dataset.layout import open_dataset
from vptadvisor.dataset.summary import SkippedFile, summarize
from vptadvisor.distance.frechet import frechet_distance_between_features, frechet_distance_to_features
from vptadvisor.distance.kid import kernel_inception_distance
from vptadvisor.distance.reference import DEFAULT_REFERENCE, check_compatible, load_reference
from vptadvisor.errors import MeasureError, UsageError
from vptadvisor.features.extract import DEFAULT_TAPS, InceptionExtractor
from vptadvisor.paths import cache_dir as default_cache_dir
from vptadvisor.results import AnalyzeResult, DistanceResult, Timing, versions

DEFAULT_MIN_IMAGES = 50


def analyze(
    dataset: str | os.PathLike,
    *,
    layout: str = "auto",
    reference: str = DEFAULT_REFERENCE,
    inception_weights: str | os.PathLike | None = None,
    resize: str = "pytorch-fid",
    device: str = "auto",
    batch_size: int = 32,
    workers: int | None = None,
    cache: bool = True,
    cache_dir: str | os.PathLike | None = None,
    strict: bool = False,
    min_images: int = DEFAULT_MIN_IMAGES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> AnalyzeResult:
    """Measure how far `dataset` is from the pretraining data (FID and KID against `reference`)."""
    start = time.perf_counter()
    if min_images < 2:
        raise UsageError("--min-images must be at least 2 (a covariance needs two images).")
    if kid_subsets < 1 or kid_subset_size < 2:
        raise UsageError("--kid-subsets must be >= 1 and --kid-subset-size >= 2.")
    data = open_dataset(dataset, layout=layout)
    ref = load_reference(reference)
    root = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    extractor = InceptionExtractor(
        weights=inception_weights, preprocessing=resize, taps=DEFAULT_TAPS, device=device,
        batch_size=batch_size, workers=workers, cache_root=root if cache else None, max_pixels=max_pixels,
    )
    check_compatible(ref, extractor.identity)

    extraction = extractor.extract([s.path for s in data.samples], progress=progress)
    skipped = [SkippedFile(rel, SKIP_REASONS["missing"]) for rel in data.missing]
    skipped += [SkippedFile(data.samples[i].relpath, reason) for i, _, reason in extraction.skipped]
    skipped.sort(key=lambda s: s.path)
    if strict and skipped:
        first = skipped[0]
        raise MeasureError(
            f"{len(skipped)} file(s) could not be used (first: {first.path}: {first.reason}); "
            "fix or remove them, or run without --strict to skip them."
        )
    kept = [data.samples[i] for i in extraction.kept]
    summary = summarize(data, kept, extraction.infos, skipped)
    if len(kept) < min_images:
        raise MeasureError(
            f"Only {len(kept)} readable image(s) in {data.root} (minimum {min_images}); "
            "add images or lower --min-images."
        )

    pool3 = extraction.features["pool3"]
    if ref.features is not None:
        fid = frechet_distance_between_features(pool3, ref.features)
    else:
        fid = frechet_distance_to_features(pool3, ref.mu, ref.sigma)
    kid, kid_std, subset = kernel_inception_distance(pool3, ref.kid_features, kid_subsets, kid_subset_size, seed)
    distance = DistanceResult(
        fid=fid, kid=kid, kid_std=kid_std, reference=ref.name, n_reference=ref.n_images, n_images=len(kept),
        kid_subset_size=subset, kid_subsets=kid_subsets, preprocessing=resize, network=extractor.source.network,
        weights_source=extractor.source.source,
        note=(
            f"FID depends on sample size: measured with {len(kept)} dataset images against {ref.n_images} "
            f"reference images; compare only FIDs measured with similar sizes."
        ),
    )
    timing = Timing(
        seconds=time.perf_counter() - start, feature_seconds=extraction.seconds, n_cached=extraction.n_cached,
        n_computed=extraction.n_computed, device=extraction.device,
    )
    return AnalyzeResult(dataset=summary, distance=distance, seed=seed, timing=timing, versions=versions())
