"""Run the controlled validation suite: generate the images, extract features, probe every task.

The images of a family are generated once (into the work directory, default
<cache>/probe-suite) and their Inception features are cached like analyze's, so a rerun only
probes. `run_suite` scores the shipped (frozen) probe model on every task; `fit_from_suite`
refits the model on the designed tasks only (`vptadvisor probe-suite --fit`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from tools.probe_suite.fit import FitRow, auroc, fit_model
from tools.probe_suite.suite_def import (
    FAMILIES,
    FIT_FAMILIES,
    NEW_FAMILIES,
    QUICK_FAMILIES,
    TASKS,
    SuiteTask,
    build_family,
    task_labels,
)
from vptadvisor.errors import MeasureError, UsageError
from vptadvisor.probe import probe_objective
from vptadvisor.probe.augment import augmentation_signals, pool3_function
from vptadvisor.probe.model import ProbeModel, load_model
from vptadvisor.probe.signals import EpisodeConfig, measure

Progress = Callable[[str], None]
FIT_SUBSETS = ((0.5, 0), (0.5, 1), (0.3, 0), (0.3, 1))  # (fraction of the images, seed)


@dataclass
class TaskResult:
    task: str
    disparity: str
    held_back: bool
    variant: bool
    n_images: int
    n_classes: int
    p_high_disparity: float
    signals: dict


@dataclass
class SuiteResult:
    tasks: list[TaskResult]
    auroc: dict  # designed / designed_with_variants / held_back / all: AUROC or null
    quick: bool
    seed: int
    probe_version: str
    n_images: int
    extraction_seconds: float
    n_computed: int
    probe_seconds: float
    work_dir: str
    families: list[str] = field(default_factory=list)
    prior_high: float = 0.5

    def to_dict(self) -> dict:
        return asdict(self)


REPO_ROOT = Path(__file__).resolve().parents[2]  # tools/probe_suite/suite.py -> the checkout
SHARED_ENV = "VPTADVISOR_SHARED"


def default_shared() -> Path | None:
    """$VPTADVISOR_SHARED, else ../shared beside the checkout; None when neither holds datasets/."""
    env = os.environ.get(SHARED_ENV)
    guess = Path(env).expanduser() if env else REPO_ROOT.parent / "shared"
    return guess if (guess / "datasets").is_dir() else None


def _extract_families(names, quick, seed, shared, work_dir, cache_dir, progress):
    from vptadvisor.features.extract import make_extractor

    extractor = make_extractor(cache_dir=cache_dir)
    out, seconds, computed = {}, 0.0, 0
    for name in names:
        fam = FAMILIES[name]
        if progress:
            progress(f"{name}: images")
        try:
            paths, attrs = build_family(fam, work_dir, seed, quick, shared)
        except FileNotFoundError as exc:
            raise UsageError(f"{exc}.") from None
        if progress:
            progress(f"{name}: features of {len(paths)} images")
        ext = extractor.extract(paths)
        if len(ext.kept) != len(paths):
            raise MeasureError(
                f"{len(paths) - len(ext.kept)} suite image(s) of {name} could not be read; delete {work_dir} and rerun."
            )
        out[name] = (ext.features, attrs, paths)
        seconds += ext.seconds
        computed += ext.n_computed
    return out, seconds, computed, extractor


def _select(quick: bool, held_back: bool, variants: bool, families: list[str] | None = None) -> list[SuiteTask]:
    unknown = sorted(set(families or ()) - set(FAMILIES))
    if unknown:
        raise UsageError(f"Unknown suite family {unknown[0]!r}; known: {', '.join(FAMILIES)}.")
    tasks = [
        t
        for t in TASKS
        if (variants or not t.variant) and (held_back or not t.held_back) and (not families or t.family in families)
    ]
    if quick:
        tasks = [t for t in tasks if t.family in QUICK_FAMILIES and not t.variant]
    return tasks


def _aurocs(results: list[TaskResult]) -> dict:
    def score(rs):
        return auroc([r.p_high_disparity for r in rs], [r.disparity == "high" for r in rs]) if rs else None

    out = {
        "designed": score([r for r in results if not r.held_back and not r.variant]),
        "designed_with_variants": score([r for r in results if not r.held_back]),
        "held_back": score([r for r in results if r.held_back]),
        "held_back_new": score([r for r in results if r.task.split("/")[0] in NEW_FAMILIES]),
        "all": score([r for r in results if not r.variant]),
    }
    return {k: (None if v is None or v != v else round(v, 4)) for k, v in out.items()}


def run_suite(
    quick: bool = False,
    seed: int = 0,
    shared: Path | None = None,
    work_dir: Path | None = None,
    cache_dir: Path | None = None,
    held_back: bool = True,
    variants: bool = True,
    model: ProbeModel | None = None,
    progress: Progress | None = None,
    augment: bool = True,
    families: list[str] | None = None,
) -> SuiteResult:
    """Probe every suite task with the frozen model; AUROC of low vs high disparity per task group.

    With `augment` the probe's augmentation signals are measured too (edited copies of a few images
    per task go to <work_dir>/edits and through the cached extractor), as analyze does."""
    from vptadvisor.paths import cache_dir as default_cache

    model = model or load_model()
    shared = shared or default_shared()
    work_dir = Path(work_dir) if work_dir else default_cache() / "probe-suite"
    tasks = _select(quick, held_back, variants, families)
    names = list(dict.fromkeys(t.family for t in tasks))
    if shared is None and any(FAMILIES[n].needs_shared for n in names):
        raise UsageError(
            "The full suite needs the shared datasets; pass --shared DIR (the folder holding datasets/) or use --quick."
        )
    feats, ext_seconds, computed, extractor = _extract_families(
        names, quick, seed, shared, work_dir, cache_dir, progress
    )
    extract = pool3_function(extractor, use_cache=True) if augment else None
    start = time.perf_counter()
    results = []
    for t in tasks:
        features, attrs, paths = feats[t.family]
        labels = task_labels(t, attrs)
        if progress:
            progress(f"probe {t.name}")
        res = probe_objective(
            features,
            labels,
            seed=seed,
            model=model,
            images=paths if augment else None,
            extract=extract,
            edits_dir=work_dir / "edits",
        )
        results.append(
            TaskResult(
                t.name,
                t.disparity,
                t.held_back,
                t.variant,
                len(labels),
                len(set(labels)),
                res.p_high_disparity,
                res.signals,
            )
        )
    return SuiteResult(
        tasks=results,
        auroc=_aurocs(results),
        quick=quick,
        seed=seed,
        probe_version=model.probe_version,
        n_images=sum(len(attrs) for _, attrs, _ in feats.values()),
        extraction_seconds=round(ext_seconds, 2),
        n_computed=computed,
        probe_seconds=round(time.perf_counter() - start, 3),
        work_dir=str(work_dir),
        families=names,
        prior_high=model.prior_high,
    )


def fitting_rows(
    feats: dict, seed: int, config: EpisodeConfig, extract=None, edits_dir: Path | None = None
) -> list[FitRow]:
    """Designed tasks and variants (of the families in `feats`) on the full image sets and on the
    FIT_SUBSETS subsets. The
    augmentation signals (with `extract`) are measured once per task on the full set and shared
    by its subset rows (edits cost forward passes; their spread over subsets is not modelled)."""
    rows = []
    for t in [t for t in TASKS if not t.held_back and t.family in feats]:
        features, attrs, paths = feats[t.family]
        labels = np.array(task_labels(t, attrs))
        aug: dict = {}
        if extract is not None:
            aug = augmentation_signals(features, labels.tolist(), paths, extract, edits_dir, seed, config.min_per_class)
            aug.pop("augmented_images")
        n = len(labels)
        for frac, s in ((1.0, 0),) + FIT_SUBSETS:
            keep = (
                np.arange(n)
                if frac == 1.0
                else np.sort(np.random.default_rng(100 + s).choice(n, int(n * frac), replace=False))
            )
            sig, notes = measure(
                {"pool3": features["pool3"][keep]}, labels[keep].tolist(), seed=seed + s, config=config
            )
            rows.append(
                FitRow(
                    t.name,
                    t.family,
                    int(t.high),
                    notes["episode_classes"],
                    {**sig, **aug},
                    "full" if frac == 1.0 else f"{frac}/seed{s}",
                    min(notes["smallest_class"], config.per_class),
                )
            )
    return rows


def fit_from_suite(
    seed: int = 0,
    shared: Path | None = None,
    work_dir: Path | None = None,
    cache_dir: Path | None = None,
    config: EpisodeConfig = EpisodeConfig(),
    progress: Progress | None = None,
) -> ProbeModel:
    """Refit the probe model on the designed suite (never the held-back variants)."""
    from vptadvisor.paths import cache_dir as default_cache

    shared = shared or default_shared()
    if shared is None:
        raise UsageError("Fitting needs the shared datasets; pass --shared DIR (the folder holding datasets/).")
    work_dir = Path(work_dir) if work_dir else default_cache() / "probe-suite"
    names = list(FIT_FAMILIES)
    feats, _, _, extractor = _extract_families(names, False, seed, shared, work_dir, cache_dir, progress)
    rows = fitting_rows(feats, seed, config, pool3_function(extractor, use_cache=True), work_dir / "edits")
    return fit_model(rows, config, {"suite_seed": seed, "subsets": [list(s) for s in FIT_SUBSETS]})
