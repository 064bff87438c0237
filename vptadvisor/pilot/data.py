"""The pilot's data: one seeded split shared by every arm, decoded once into memory.

Every image is decoded once (``load_rgb``; unreadable files are skipped and listed), resized so
its short side is ``cache_size`` = img_size / 0.875 and centre-cropped to a square, and kept as
uint8. Training batches then cost no decoding: random-resized-crop + horizontal flip on tensors,
with crop parameters drawn for the whole global batch from a generator seeded by (seed, step), so
every arm, candidate and process sees exactly the same images with the same augmentation.
Evaluation uses the centre img_size crop (timm's usual crop_pct 0.875).
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from vptadvisor.dataset import open_dataset
from vptadvisor.dataset.images import BadImage, load_rgb
from vptadvisor.errors import MeasureError, UsageError

CROP_PCT = 0.875
RRC_SCALE = (0.35, 1.0)
RRC_RATIO = (3 / 4, 4 / 3)


@dataclass
class Split:
    """Which images train and which validate; identical for all arms."""

    classes: list[str]
    train: list[tuple[str, int]]  # (relpath, label index)
    val: list[tuple[str, int]]
    source: str  # "dataset-val-split" or "stratified"
    val_fraction: float
    seed: int
    skipped: list[dict] = field(default_factory=list)  # {"path", "reason"}
    subsampled_from: dict[str, int] | None = None

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "val_fraction": self.val_fraction,
            "seed": self.seed,
            "classes": self.classes,
            "train": [list(t) for t in self.train],
            "val": [list(t) for t in self.val],
            "skipped": self.skipped,
            "subsampled_from": self.subsampled_from,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Split:
        return cls(
            classes=list(d["classes"]),
            train=[(str(a), int(b)) for a, b in d["train"]],
            val=[(str(a), int(b)) for a, b in d["val"]],
            source=d["source"],
            val_fraction=float(d["val_fraction"]),
            seed=int(d["seed"]),
            skipped=list(d["skipped"]),
            subsampled_from=d.get("subsampled_from"),
        )


def _stratified(items: list[tuple[str, int]], n_keep: int, rng: np.random.Generator) -> tuple[list, list]:
    """Split items into (kept, rest) with n_keep kept, every class in proportion (largest remainder)."""
    by_class: dict[int, list] = defaultdict(list)
    for it in items:
        by_class[it[1]].append(it)
    total = len(items)
    quotas = {c: n_keep * len(v) / total for c, v in by_class.items()}
    take = {c: int(math.floor(q)) for c, q in quotas.items()}
    for c in sorted(quotas, key=lambda c: (-(quotas[c] - take[c]), c))[: n_keep - sum(take.values())]:
        take[c] += 1
    kept, rest = [], []
    for c in sorted(by_class):
        members = sorted(by_class[c])
        order = rng.permutation(len(members))
        kept += [members[i] for i in order[: take[c]]]
        rest += [members[i] for i in order[take[c] :]]
    return sorted(kept), sorted(rest)


def make_split(
    dataset_path: str | os.PathLike,
    *,
    val_fraction: float = 0.2,
    seed: int = 0,
    layout: str = "auto",
    max_train: int = 10000,
    max_val: int = 2000,
) -> Split:
    """Use the dataset's own val split if it has one, else a seeded stratified split of its
    training images (at least one val image per class). Big datasets are stratified-subsampled
    to max_train / max_val images: a time-budgeted pilot sees only so many."""
    if not 0.0 < val_fraction < 1.0:
        raise UsageError(f"--val-fraction must be between 0 and 1, got {val_fraction}.")
    ds = open_dataset(dataset_path, layout=layout)
    if any(s.label is None for s in ds.samples):
        raise UsageError(f"{ds.root} has no class labels: use root/<class>/*.jpg or a manifest with labels.")
    classes = ds.classes
    if len(classes) < 2:
        raise MeasureError(f"{ds.root} has {len(classes)} class; the pilot needs at least 2 classes.")
    index = {c: i for i, c in enumerate(classes)}
    rng = np.random.default_rng(seed)
    train = [(s.relpath, index[cast(str, s.label)]) for s in ds.train_samples()]
    if "val" in ds.splits:
        val = [(s.relpath, index[cast(str, s.label)]) for s in ds.samples if s.split == "val"]
        source = "dataset-val-split"
    else:
        per_class: dict[int, int] = defaultdict(int)
        for _, y in train:
            per_class[y] += 1
        few = [classes[c] for c, n in per_class.items() if n < 2]
        if few:
            raise MeasureError(f"Class {few[0]!r} has fewer than 2 images: add images or remove the class.")
        n_val = max(len(classes), int(round(val_fraction * len(train))))
        val, train = _stratified(train, n_val, rng)
        source = "stratified"
    subsampled = None
    if len(train) > max_train or len(val) > max_val:
        subsampled = {"train": len(train), "val": len(val)}
        if len(train) > max_train:
            train, _ = _stratified(train, max_train, rng)
        if len(val) > max_val:
            val, _ = _stratified(val, max_val, rng)
    return Split(
        classes=classes,
        train=train,
        val=val,
        source=source,
        val_fraction=val_fraction,
        seed=seed,
        subsampled_from=subsampled,
    )


def cache_size_for(img_size: int) -> int:
    return int(round(img_size / CROP_PCT))


def decode_one(path: Path, size: int) -> np.ndarray:
    """Decode, resize (short side = size, bicubic with antialias) and centre-crop to size x size."""
    arr, _ = load_rgb(path)
    im = Image.fromarray(arr)
    w, h = im.size
    scale = size / min(w, h)
    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    im = im.resize((nw, nh), Image.Resampling.BICUBIC, reducing_gap=3.0)
    left, top = (nw - size) // 2, (nh - size) // 2
    return np.array(im.crop((left, top, left + size, top + size)), dtype=np.uint8)


def decode_images(root: Path, relpaths: list[str], size: int, workers: int = 2) -> tuple[torch.Tensor, list[dict]]:
    """(n, size, size, 3) uint8 tensor (bad images left zero) and the list of bad files."""
    out = torch.zeros((len(relpaths), size, size, 3), dtype=torch.uint8)
    bad: list[dict] = []

    def work(i: int) -> None:
        try:
            out[i] = torch.from_numpy(decode_one(root / relpaths[i], size))
        except BadImage as exc:
            bad.append({"path": relpaths[i], "reason": exc.reason})

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        list(pool.map(work, range(len(relpaths))))
    bad.sort(key=lambda b: b["path"])
    return out, bad


class ImageBank:
    """Decoded train and val images plus labels, with batch makers for training and evaluation."""

    def __init__(
        self,
        train_x: torch.Tensor,
        train_y: torch.Tensor,
        val_x: torch.Tensor,
        val_y: torch.Tensor,
        img_size: int,
        mean: tuple[float, ...],
        std: tuple[float, ...],
        seed: int,
    ):
        self.train_x, self.train_y = train_x, train_y
        self.val_x, self.val_y = val_x, val_y
        self.img_size = int(img_size)
        self.mean = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1) * 255.0
        self.std = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1) * 255.0
        self.seed = int(seed)

    @property
    def n_train(self) -> int:
        return int(self.train_y.numel())

    def batches_per_epoch(self, global_batch: int) -> int:
        return max(1, self.n_train // global_batch)

    def _normalise(self, x_nchw: torch.Tensor) -> torch.Tensor:
        return (x_nchw.float() - self.mean) / self.std

    def train_indices(self, step: int, global_batch: int) -> torch.Tensor:
        """Global batch `step`: epochs are seeded permutations (drop-last; a batch larger than the
        training set draws with the permutation repeated)."""
        per_epoch = self.batches_per_epoch(global_batch)
        epoch, pos = divmod(int(step), per_epoch)
        gen = torch.Generator().manual_seed(self.seed * 100003 + epoch)
        perm = torch.randperm(self.n_train, generator=gen)
        if global_batch > self.n_train:
            perm = perm.repeat(math.ceil(global_batch / self.n_train))
        return perm[pos * global_batch : (pos + 1) * global_batch]

    def train_batch(
        self, step: int, global_batch: int, offset: int, local_batch: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """This process's rows [offset, offset+local_batch) of global batch `step`, augmented."""
        idx = self.train_indices(step, global_batch)
        gen = torch.Generator().manual_seed(self.seed * 7919 + int(step) + 1)
        params = torch.rand(global_batch, 5, generator=gen, dtype=torch.float64)
        rows = range(offset, offset + local_batch)
        src = self.train_x[idx[offset : offset + local_batch]].permute(0, 3, 1, 2)
        out = torch.empty((local_batch, 3, self.img_size, self.img_size), dtype=torch.float32)
        size = src.shape[-1]
        for j, r in enumerate(rows):
            u_area, u_ratio, u_x, u_y, u_flip = params[r].tolist()
            area = size * size * (RRC_SCALE[0] + u_area * (RRC_SCALE[1] - RRC_SCALE[0]))
            log_r = math.log(RRC_RATIO[0]) + u_ratio * (math.log(RRC_RATIO[1]) - math.log(RRC_RATIO[0]))
            ratio = math.exp(log_r)
            w = min(size, max(1, int(round(math.sqrt(area * ratio)))))
            h = min(size, max(1, int(round(math.sqrt(area / ratio)))))
            x0 = int(u_x * (size - w + 1)) if size > w else 0
            y0 = int(u_y * (size - h + 1)) if size > h else 0
            crop = src[j : j + 1, :, y0 : y0 + h, x0 : x0 + w].float()
            crop = F.interpolate(
                crop, size=(self.img_size, self.img_size), mode="bilinear", align_corners=False, antialias=True
            )
            out[j] = crop[0].flip(-1) if u_flip < 0.5 else crop[0]
        out = out.clamp_(0, 255)
        return self._normalise(out), self.train_y[idx[offset : offset + local_batch]]

    def val_batch(self, indices: torch.Tensor) -> torch.Tensor:
        size = self.val_x.shape[1]
        top = (size - self.img_size) // 2
        x = self.val_x[indices, top : top + self.img_size, top : top + self.img_size].permute(0, 3, 1, 2)
        return self._normalise(x)
