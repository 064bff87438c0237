"""`analyze`: dataset -> images -> Inception features -> distance to the reference -> result."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

# Only what the cheap checks need is imported here; the network, the rule (scipy) and the result
# models are imported after the dataset has been listed and its headers counted (a trivial error
# must not wait for them).
from vptadvisor.dataset.headers import count_readable, header_ok
from vptadvisor.dataset.images import DEFAULT_MAX_PIXELS
from vptadvisor.dataset.layout import open_dataset
from vptadvisor.distance.reference import DEFAULT_REFERENCE
from vptadvisor.errors import MeasureError, UsageError
from vptadvisor.features import DEFAULT_BATCH_SIZE, DEFAULT_MAX_IMAGES
from vptadvisor.limits import check_run_settings

if TYPE_CHECKING:
    from vptadvisor.results import AnalyzeResult

DEFAULT_MIN_IMAGES = 50


def analyze(
    dataset: str | os.PathLike,
    *,
    layout: str = "auto",
    reference: str = DEFAULT_REFERENCE,
    inception_weights: str | os.PathLike | None = None,
    resize: str = "pytorch-fid",
    device: str = "auto",
    batch_size: int = DEFAULT_BATCH_SIZE,
    workers: int | None = None,
    cache: bool = True,
    cache_dir: str | os.PathLike | None = None,
    strict: bool = False,
    min_images: int = DEFAULT_MIN_IMAGES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    seed: int = 0,
    objective: str | None = None,
    train_size: int | None = None,
    backbone: str | None = None,
    rule: str | os.PathLike | None = None,
    progress: Callable[[int, int], None] | None = None,
    engine: str = "auto",
    precision: str = "exact",
    max_images: int | None = DEFAULT_MAX_IMAGES,
    offline: bool = False,
) -> AnalyzeResult:
    """Measure how far `dataset` is from the pretraining data (FID and KID against `reference`),
    and decide VPT vs FT from it, the task objective and the training-set size.

    `objective` declares the task objective (classification, counting, distance, orientation,
    location, other); `engine` (auto, torch, openvino, onnxruntime) and `precision` (exact, bf16) say
    how the Inception runs; `max_images` bounds the images decoded (a seeded stratified sample; None:
    all); `offline` forbids downloads; `train_size` overrides the number of training images (planning: "what if I
    had 10k images"); `backbone` names the ViT to adapt (the verdict uses its study family, see docs/rule.md)."""
    start = time.perf_counter()
    if min_images < 2:
        raise UsageError("--min-images must be at least 2 (a covariance needs two images).")
    if kid_subsets < 1 or kid_subset_size < 2:
        raise UsageError("--kid-subsets must be >= 1 and --kid-subset-size >= 2.")
    if train_size is not None and train_size < 1:
        raise UsageError("--train-size must be at least 1.")
    check_run_settings(seed=seed, batch_size=batch_size, workers=workers)
    if max_images == 0:
        max_images = None  # 0: every image
    if max_images is not None and max_images < min_images:
        raise UsageError(f"--max-images must be at least --min-images ({min_images}), or 0 for every image.")
    data = open_dataset(dataset, layout=layout)
    if objective is not None:
        from vptadvisor.rule import objective_prior

        objective_prior(objective)  # validate a declared objective before any expensive work
    chosen = list(range(len(data.samples)))
    if max_images is not None and len(data.samples) > max_images:
        from vptadvisor.dataset.sample import stratified_sample

        chosen = stratified_sample(data.samples, max_images, seed)
    paths = [data.samples[i].path for i in chosen]
    _check_enough(data.root, paths, min_images, max_pixels, strict)

    from vptadvisor.dataset.images import SKIP_REASONS
    from vptadvisor.dataset.summary import SkippedFile, summarize
    from vptadvisor.distance.kid import kernel_inception_distance
    from vptadvisor.distance.reference import check_compatible, load_reference
    from vptadvisor.distance.size import size_matched_fid
    from vptadvisor.distance.stats import fid_to_reference
    from vptadvisor.features.extract import make_extractor
    from vptadvisor.objective import decide_objective
    from vptadvisor.results import AnalyzeResult, DistanceResult, Timing, versions
    from vptadvisor.rule import load_rule

    decision_rule = load_rule(rule)
    ref = load_reference(reference)
    extractor = make_extractor(
        inception_weights=inception_weights,
        resize=resize,
        device=device,
        batch_size=batch_size,
        workers=workers,
        cache=cache,
        cache_dir=cache_dir,
        max_pixels=max_pixels,
        engine=engine,
        precision=precision,
        offline=offline,
    )
    check_compatible(ref, extractor.identity)

    extraction, stats = _extract(extractor, paths, progress)
    skipped = [SkippedFile(rel, SKIP_REASONS["missing"]) for rel in data.missing]
    skipped += [SkippedFile(rel, reason) for rel, reason in data.skipped]  # links not followed
    skipped += [SkippedFile(data.samples[chosen[i]].relpath, reason) for i, _, reason in extraction.skipped]
    skipped.sort(key=lambda s: s.path)
    if strict and skipped:
        first = skipped[0]
        raise MeasureError(
            f"{len(skipped)} file(s) could not be used (first: {first.path}: {first.reason}); "
            "fix or remove them, or run without --strict to skip them."
        )
    kept = [data.samples[chosen[i]] for i in extraction.kept]
    sample = None
    n_train_listed = None
    if len(chosen) < len(data.samples):
        sample = _sample_block(data, chosen, max_images, seed)
        bad_train = {chosen[i] for i, _, _ in extraction.skipped}
        train_split = "train" in data.splits
        n_train_listed = sum(
            1 for j, s in enumerate(data.samples) if (s.split == "train" or not train_split) and j not in bad_train
        )
    summary = summarize(data, kept, extraction.infos, skipped, sample=sample, n_train=n_train_listed)
    if len(kept) < min_images:
        raise MeasureError(
            f"Only {len(kept)} readable image(s) in {data.root} (minimum {min_images}); "
            "add images or lower --min-images."
        )

    pool3 = extraction.features["pool3"]
    fid = fid_to_reference(ref, stats, pool3)
    kid, kid_std, subset = kernel_inception_distance(pool3, ref.kid_features, kid_subsets, kid_subset_size, seed)
    matched = size_matched_fid(pool3, ref, fid, seed=seed)
    distance = DistanceResult(
        fid=fid,
        kid=kid,
        kid_std=kid_std,
        reference=ref.name,
        n_reference=ref.n_images,
        n_images=len(kept),
        kid_subset_size=subset,
        kid_subsets=kid_subsets,
        preprocessing=resize,
        network=extractor.source.network,
        weights_source=extractor.source.source,
        fid_matched=matched.to_dict(),
        engine=extraction.engine,
        precision=extractor.choice.precision,
        note=(
            f"FID depends on sample size: measured with {len(kept)} dataset images against {ref.n_images} "
            f"reference images; on the {matched.n_standard}-image scale the rule uses it is "
            f"{matched.value:.1f} ± {matched.sd:.1f} ({matched.method}). Compare only FIDs measured with similar sizes."
        ),
    )
    n_train = train_size if train_size is not None else summary.n_train
    train = [i for i, s in enumerate(kept) if s.split == "train"] or list(range(len(kept)))
    objective_block = decide_objective(
        objective,
        {k: v[train] for k, v in extraction.features.items()},
        [kept[i].label for i in train],
        seed=seed,
        images=[kept[i].path for i in train],
        extractor=extractor,
    )
    prediction = decision_rule.predict(
        fid=matched.value,
        fid_sd=matched.sd,
        p_high_disparity=objective_block["p_high_disparity"],
        n_train=n_train,
        backbone=backbone,
        n_fid_images=matched.n_standard,
        n_ref_images=ref.n_images,
        fid_note=f"FID depends on sample size: {fid:.1f} from your {len(kept):,} images is "
        f"{matched.value:.1f} ± {matched.sd:.1f} on the study's {matched.n_standard:,}-image scale, which the "
        "verdict uses.",
    )
    verdict = prediction.to_dict()
    verdict["n_train_source"] = "--train-size" if train_size is not None else "dataset"
    timing = Timing(
        seconds=time.perf_counter() - start,
        feature_seconds=extraction.seconds,
        n_cached=extraction.n_cached,
        n_computed=extraction.n_computed,
        device=extraction.device,
    )
    return AnalyzeResult(
        dataset=summary,
        distance=distance,
        seed=seed,
        timing=timing,
        versions=versions(),
        objective=objective_block,
        verdict=verdict,
    )


def _check_enough(root, paths: list, min_images: int, max_pixels: int, strict: bool) -> None:
    """Exit 3 before any network work when fewer than `min_images` files even open as images
    (headers only; the count after decoding is checked again later)."""
    found = count_readable(paths, min_images, max_pixels)
    if found < min_images:
        bad = [p for p in paths if not header_ok(p, max_pixels)] if strict else []
        if bad:  # --strict: name the first bad file, as the full check would
            first = os.path.relpath(bad[0], root)
            raise MeasureError(
                f"{len(bad)} file(s) could not be used (first: {first}: not readable as an image); "
                "fix or remove them, or run without --strict to skip them."
            )
        raise MeasureError(
            f"Only {found} readable image(s) in {root} (minimum {min_images}); add images or lower --min-images."
        )


def _extract(extractor, paths, progress):
    """Features of `paths` and their float64 sums; under torchrun each rank embeds every K-th image,
    the sums are all-reduced and the per-image results gathered (features/distributed.py)."""
    from vptadvisor.distance.stats import FeatureStats
    from vptadvisor.features import distributed

    rank, size = distributed.world()
    if size == 1:
        extraction = extractor.extract(paths, progress=progress)
        return extraction, FeatureStats.of(extraction.features["pool3"])
    distributed.init(extractor.device)
    shard = list(range(rank, len(paths), size))
    local = extractor.extract([paths[i] for i in shard], progress=progress)
    stats = distributed.all_reduce_stats(FeatureStats.of(local.features["pool3"]))
    extraction = distributed.gather_extraction(local, shard, len(paths))
    distributed.finish()
    if rank != 0:
        raise distributed.NotReportingRank(rank)
    return extraction, stats


def _sample_block(data, chosen: list[int], max_images: int | None, seed: int) -> dict:
    from collections import Counter

    listed = Counter(s.label for s in data.samples if s.label is not None)
    return {
        "max_images": max_images,
        "seed": seed,
        "n_listed": len(data.samples),
        "n_sampled": len(chosen),
        "stratified_by": "split and class",
        "per_class_listed": dict(sorted(listed.items())),
        "note": (
            f"{len(chosen):,} of {len(data.samples):,} listed images were decoded and embedded (a seeded, "
            "class-stratified sample); bad files are only detected in the sample, and the training-set "
            "size counts every listed file."
        ),
    }
