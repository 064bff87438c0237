"""Batched, cached Inception feature extraction over a list of image files.

Images of any size are decoded and resized one by one in worker processes (exactly pytorch-fid's
per-image preprocessing) while the main process runs the network on batches on the chosen engine
(vptadvisor/features/engine.py). Features already in the cache are read back without opening the
image or loading the network (a warm run on a CPU-only machine does not even import torch).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

from vptadvisor.dataset.images import DEFAULT_MAX_PIXELS, BadImage, ImageInfo, load_rgb
from vptadvisor.errors import UsageError
from vptadvisor.features import DEFAULT_BATCH_SIZE
from vptadvisor.features.cache import FeatureCache, FileKey
from vptadvisor.features.engine import (
    EngineChoice,
    Runner,
    build_runner,
    choose_engine,
)
from vptadvisor.features.inception_weights import (
    WeightsSource,
    locate_inception_weights,
)
from vptadvisor.features.preprocess import PREPROCESSINGS
from vptadvisor.features.taps import Tap
from vptadvisor.heap import release_freed_memory

FEATURE_VERSION = 1  # bump when the extraction code changes its numbers
# Bad-file verdicts that depend only on the file's bytes (and the pixel limit, part of the
# extractor identity) are cached; "unreadable" is re-checked every run.
CACHEABLE_BAD = ("empty", "not_an_image", "corrupt", "truncated", "too_large")

Progress = Callable[[int, int], None]  # (done, total)
__all__ = ["Extraction", "InceptionExtractor", "make_extractor"]

# The spatial taps analyze records beside pool3 (the probe reads them; see docs/probe.md).
DEFAULT_TAPS: tuple[Tap, ...] = ()


@dataclass
class Extraction:
    """Features of the readable images, in the order of the input paths that survived."""

    features: dict[str, np.ndarray]  # name -> (n_valid, dim) float32
    kept: list[int]  # indices into the input list
    infos: list[ImageInfo]  # one per kept image
    skipped: list[tuple[int, str, str]]  # (index, kind, reason)
    n_cached: int = 0
    n_computed: int = 0
    seconds: float = 0.0
    device: str = "cpu"
    weights: dict = field(default_factory=dict)
    engine: str = "torch/cpu/exact"


class _DecodeDataset:
    """Map-style dataset for the DataLoader workers: decode, check, resize one image."""

    def __init__(self, paths: Sequence[Path], preprocessing: str, max_pixels: int):
        self.paths = list(paths)
        self.preprocessing = preprocessing
        self.max_pixels = max_pixels

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        from vptadvisor.features.preprocess import to_inception_input

        try:
            rgb, info = load_rgb(self.paths[i], self.max_pixels)
        except BadImage as bad:
            return i, None, None, bad.kind, bad.reason
        return i, to_inception_input(rgb, self.preprocessing), info, None, None


def _collate(items):
    return items  # the main process stacks the good ones; bad ones pass through with their reason


class InceptionExtractor:
    """FID Inception features of image files, on the chosen engine, with a feature cache."""

    def __init__(
        self,
        weights: str | os.PathLike | None = None,
        preprocessing: str = "pytorch-fid",
        taps: Sequence[Tap] = DEFAULT_TAPS,
        device: str = "auto",
        batch_size: int = DEFAULT_BATCH_SIZE,
        workers: int | None = None,
        cache_root: Path | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        engine: str = "auto",
        precision: str = "exact",
        offline: bool | None = None,
        engine_dir: Path | None = None,
    ):
        if preprocessing not in PREPROCESSINGS:
            raise UsageError(f"Unknown resize {preprocessing!r}: choose one of {', '.join(PREPROCESSINGS)}.")
        if batch_size < 1:
            raise UsageError("--batch-size must be at least 1.")
        self.choice: EngineChoice = choose_engine(engine, device, precision)
        self.source: WeightsSource = locate_inception_weights(weights, offline=offline)
        self.preprocessing = preprocessing
        self.taps = tuple(taps)
        self.device = self.choice.device
        self.batch_size = batch_size
        self.workers = max(1, (os.cpu_count() or 2) - 1) if workers is None else workers
        self.max_pixels = max_pixels
        self.dims = {"pool3": 2048, **{t.name: t.dim for t in self.taps}}
        self.cache = FeatureCache(cache_root, self.key, self.dims) if cache_root is not None else None
        self.engine_dir = engine_dir if engine_dir is not None else cache_root
        self._runner: Runner | None = None

    @property
    def identity(self) -> dict:
        """What determines the numbers: network, exact weights, preprocessing, taps, engine, precision."""
        return {
            "network": self.source.network,
            "weights_sha256": self.source.sha256,
            "preprocessing": self.preprocessing,
            "taps": [t.name for t in self.taps],
            "max_pixels": self.max_pixels,
            "feature_version": FEATURE_VERSION,
            **self.choice.identity,
        }

    @property
    def key(self) -> str:
        return hashlib.sha256(json.dumps(self.identity, sort_keys=True).encode()).hexdigest()[:20]

    def runner(self) -> Runner:
        if self._runner is None:
            self._runner = build_runner(
                self.choice,
                self.source.load_state_dict,
                self.taps,
                list(self.dims),
                self.engine_dir,
                self.source.sha256,
            )
        return self._runner

    def extract(self, paths: Sequence[Path], progress: Progress | None = None) -> Extraction:
        start = time.perf_counter()
        n = len(paths)
        feats: dict[int, dict[str, np.ndarray]] = {}
        infos: dict[int, ImageInfo] = {}
        bad: dict[int, tuple[str, str]] = {}
        keys: dict[int, FileKey] = {}
        for i, path in enumerate(paths):
            try:
                keys[i] = FileKey.of(path)
            except OSError:
                bad[i] = ("unreadable", "file cannot be read (it vanished or cannot be stat-ed)")
        order = sorted(keys)
        found = self.cache.get_many([keys[i] for i in order]) if self.cache is not None else {}
        n_cached = 0
        for j, entry in found.items():
            i = order[j]
            if entry.bad_reason is not None:
                kind, _, reason = entry.bad_reason.partition("|")
                bad[i] = (kind, reason)
            else:
                feats[i], infos[i] = entry.features, cast(ImageInfo, entry.info)  # a good entry has its info
            n_cached += 1
        todo = [i for i in order if i not in feats and i not in bad]
        done = n - len(todo)
        if progress:
            progress(done, n)
        if todo:
            self._compute(paths, todo, keys, feats, infos, bad, progress, done, n)
        kept = [i for i in range(n) if i in feats]
        stacked = {
            name: np.stack([feats[i][name] for i in kept]).astype(np.float32) if kept else np.zeros((0, d), np.float32)
            for name, d in self.dims.items()
        }
        return Extraction(
            features=stacked,
            kept=kept,
            infos=[infos[i] for i in kept],
            skipped=sorted((i, k, r) for i, (k, r) in bad.items()),
            n_cached=n_cached,
            n_computed=len(todo),
            seconds=time.perf_counter() - start,
            device=self.device,
            weights={"source": self.source.source, "path": str(self.source.path), "sha256": self.source.sha256},
            engine=self.choice.label,
        )

    def _compute(self, paths, todo, keys, feats, infos, bad, progress, done, n) -> None:
        import torch
        from torch.utils.data import DataLoader

        run = self.runner()
        loader: DataLoader[Any] = DataLoader(
            # DataLoader takes any map-style object (__getitem__, __len__); torch annotates it as Dataset
            _DecodeDataset([paths[i] for i in todo], self.preprocessing, self.max_pixels),  # type: ignore[arg-type]
            batch_size=self.batch_size,
            num_workers=self.workers,
            collate_fn=_collate,
            prefetch_factor=4 if self.workers > 0 else None,
            persistent_workers=False,
        )
        for items in loader:
            rows: list = []
            good = [(todo[j], x, info) for j, x, info, _, _ in items if x is not None]
            for j, _, _, kind, reason in items:
                if kind is not None:
                    i = todo[j]
                    bad[i] = (kind, reason)
                    if kind in CACHEABLE_BAD:
                        rows.append((keys[i], None, None, f"{kind}|{reason}"))
            if good:
                arrays = run(torch.stack([x for _, x, _ in good]).numpy())
                for row, (i, _, info) in enumerate(good):
                    feats[i] = {name: arrays[name][row] for name in self.dims}
                    infos[i] = info
                    rows.append((keys[i], feats[i], info, None))
            if self.cache is not None:
                self.cache.put_many(rows)
            done += len(items)
            del items, good
            # decoding images of many sizes fragments glibc's heap: without this the main process
            # grew by about 0.4 MB per image (dtd-10: +500 MB over 1,200 images); with it, it stays flat
            release_freed_memory()
            if progress:
                progress(done, n)


def make_extractor(
    *,
    inception_weights=None,
    resize: str = "pytorch-fid",
    device: str = "auto",
    batch_size: int = DEFAULT_BATCH_SIZE,
    workers: int | None = None,
    cache: bool = True,
    cache_dir: str | os.PathLike | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    taps: Sequence[Tap] = DEFAULT_TAPS,
    engine: str = "auto",
    precision: str = "exact",
    offline: bool | None = None,
) -> InceptionExtractor:
    """The extractor for a run's settings (the API's keyword arguments), with the cache resolved.
    Converted engine models live in the cache directory even with `cache=False` (they are not features)."""
    from vptadvisor.paths import cache_dir as default_cache_dir

    root = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    return InceptionExtractor(
        weights=inception_weights,
        preprocessing=resize,
        taps=taps,
        device=device,
        batch_size=batch_size,
        workers=workers,
        cache_root=root if cache else None,
        max_pixels=max_pixels,
        engine=engine,
        precision=precision,
        offline=offline,
        engine_dir=root,
    )
