"""What the dataset holds: images per class and split, sizes, modes, conversions, skipped files."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from vptadvisor.dataset.images import ImageInfo
from vptadvisor.dataset.layout import Dataset, Sample


@dataclass
class SkippedFile:
    path: str
    reason: str


@dataclass
class DatasetSummary:
    path: str
    layout: str
    n_images: int  # readable images
    n_classes: int
    n_train: int  # readable training images (the train split, else all)
    skipped: list[SkippedFile]
    per_class: dict[str, int]
    per_split: dict[str, dict[str, int]]  # split -> class -> readable images
    sizes: dict[str, float]  # width/height min, median, max (as stored, before EXIF rotation)
    modes: dict[str, int]
    formats: dict[str, int]
    conversions: dict[str, int]
    n_ignored: int = 0
    n_files: int = 0  # image files listed (readable or not)
    sample: dict[str, Any] | None = None  # when only a sample was decoded: max_images, seed, n_listed, n_sampled, note
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("extra")
        return d


def summarize(
    dataset: Dataset,
    kept: list[Sample],
    infos: list[ImageInfo],
    skipped: list[SkippedFile],
    sample: dict[str, Any] | None = None,
    n_train: int | None = None,
) -> DatasetSummary:
    """Counts are of the readable images decoded (the sample, when there is one); `n_train` overrides
    the training-set size (a sampled run counts every listed training file)."""
    per_class = Counter(s.label for s in kept if s.label is not None)
    per_split: dict[str, Counter[str]] = {}
    for s in kept:
        per_split.setdefault(s.split or "all", Counter())[s.label or ""] += 1
    widths = np.array([i.width for i in infos]) if infos else np.zeros(0)
    heights = np.array([i.height for i in infos]) if infos else np.zeros(0)
    sizes = (
        {
            "min_width": int(widths.min()),
            "median_width": float(np.median(widths)),
            "max_width": int(widths.max()),
            "min_height": int(heights.min()),
            "median_height": float(np.median(heights)),
            "max_height": int(heights.max()),
        }
        if infos
        else {}
    )
    has_train = any(s.split == "train" for s in kept)
    return DatasetSummary(
        path=str(dataset.root),
        layout=dataset.layout,
        n_images=len(kept),
        n_classes=len(per_class),
        n_train=n_train
        if n_train is not None
        else (sum(1 for s in kept if s.split == "train") if has_train else len(kept)),
        skipped=skipped,
        per_class=dict(sorted(per_class.items())),
        per_split={k: dict(sorted(v.items())) for k, v in sorted(per_split.items())},
        sizes=sizes,
        modes=dict(Counter(i.mode for i in infos).most_common()),
        formats=dict(Counter(i.format for i in infos).most_common()),
        conversions=dict(Counter(c for i in infos for c in i.conversions).most_common()),
        n_ignored=dataset.n_ignored,
        n_files=len(dataset.samples) + len(dataset.missing),
        sample=sample,
    )
