"""Augmentation signals: does the label survive a quarter turn, or a mirrored half, of the image?

pool3 of the original images says how labels relate to what the pretrained network sees; it cannot
say whether the label is *about* the image's layout. Two cheap edits of a small, class-balanced
sample of images answer that, with one extra Inception pass per sampled image (the edits alternate
over the sample, so each is measured on half of it):

- ``rotate90``: the image turned a quarter turn. Object, texture, scene, grade and quality labels
  stay what they were; orientation, position and depth labels change.
- ``mirror_half``: the right half replaced by the mirror image of the left half. Every local
  appearance (texture, blur, grain, colour, scale) stays; how many things there are and where they
  are changes.

A ridge read-out of the labels is trained on the other images' original pool3 features and applied
to the sample's originals and edited copies. ``retention_<edit>`` = mean label margin on the images
given that edit / mean label margin on the same images unedited (margin: the read-out's score for the true class minus its
mean score for the others). Near 1: the edit kept the label; near 0 or below: the label was about
what the edit changed. ``augment_retention`` is the smaller of the two.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vptadvisor.probe import metrics as M

EDITS = ("rotate90", "mirror_half")
MAX_SIDE = 1024  # larger images are shrunk before the edit (the extractor resizes to 299 anyway)
MARGIN_FLOOR = 0.02  # retention divides by at least this original margin


@dataclass(frozen=True)
class AugmentConfig:
    per_class: int = 8  # sampled images per class
    max_images: int = 32  # sampled images in all (each costs len(EDITS) forward passes)
    train_per_class: int = 24  # read-out training images per class (the episode size)
    k_max: int = 8  # classes used


def edit_image(img: Any, edit: str) -> Any:
    """The edited copy of a PIL RGB image."""
    from PIL import Image

    if max(img.size) > MAX_SIDE:
        s = MAX_SIDE / max(img.size)
        img = img.resize((max(1, round(img.size[0] * s)), max(1, round(img.size[1] * s))), Image.Resampling.BICUBIC)
    if edit == "rotate90":
        return img.transpose(Image.Transpose.ROTATE_90)
    if edit == "mirror_half":
        w, h = img.size
        half = w // 2
        out = img.copy()
        left = img.crop((0, 0, half, h)).transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        out.paste(left, (w - half, 0))
        return out
    raise ValueError(f"unknown edit {edit!r}")


def sample_rows(y: np.ndarray, config: AugmentConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(sampled rows, read-out training rows), class-balanced and disjoint, over at most k_max classes.

    Rows are taken in one label-independent random order: the first `per` rows of each class are
    sampled, the next `train_per_class` train the read-out. Different labellings of the same images
    therefore edit (nearly) the same images, which a cached extractor computes once."""
    order = rng.permutation(len(y))
    order = order[y[order] >= 0]
    first_seen = list(dict.fromkeys(int(c) for c in y[order]))
    sizes = np.bincount(y[y >= 0])
    classes = [c for c in first_seen if sizes[c] >= 4][: config.k_max]
    per = max(2, min(config.per_class, config.max_images // max(len(classes), 1)))
    test, train = [], []
    for c in classes:
        rows = order[y[order] == c]
        take = min(per, len(rows) // 2)
        test.append(rows[:take])
        train.append(rows[take : take + config.train_per_class])
    return np.concatenate(test), np.concatenate(train)


def edit_plan(n: int) -> list[str]:
    """Which edit each of n sampled images gets: the edits alternate, one forward pass per image."""
    return [EDITS[i % len(EDITS)] for i in range(n)]


def edited_features(
    paths: Sequence[Path], extract: Callable[[list[Path]], np.ndarray], folder: Path | None = None
) -> np.ndarray:
    """pool3 of the edited copy of every image (edits as `edit_plan`), (len(paths), 2048). Edited
    copies go to `folder` (kept, so a cached extractor reuses them) or to a temporary folder."""
    from PIL import Image

    from vptadvisor.dataset.images import load_rgb

    def run(root: Path) -> np.ndarray:
        files: list[Path] = []
        for p, edit in zip(paths, edit_plan(len(paths))):
            target = root / f"{hashlib.sha1(str(Path(p).resolve()).encode()).hexdigest()[:16]}-{edit}.png"
            if not target.is_file():
                edit_image(Image.fromarray(load_rgb(Path(p))[0]), edit).save(target)
            files.append(target)
        return extract(files)

    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        return run(folder)
    with tempfile.TemporaryDirectory(prefix="vptadvisor-probe-") as tmp:
        return run(Path(tmp))


def _margins(P: np.ndarray, y: np.ndarray) -> np.ndarray:
    k = P.shape[1]
    true = P[np.arange(len(y)), y]
    return true - (P.sum(axis=1) - true) / (k - 1)


def retention(
    pool: np.ndarray, y: np.ndarray, test: np.ndarray, train: np.ndarray, edited: np.ndarray, plan: Sequence[str]
) -> dict[str, float]:
    """retention_<edit> for each edit (over the sampled images that got it), their minimum
    (`augment_retention`) and the mean label margin of the originals."""
    classes, yt = np.unique(y[train], return_inverse=True)
    k = len(classes)
    ys = np.searchsorted(classes, y[test])
    F = np.asarray(pool[train], dtype=np.float64)
    mu = F.mean(axis=0)
    Fc = F - mu
    scale = float(np.sqrt(np.mean(np.sum(Fc**2, axis=1)))) or 1.0
    Fc /= scale
    G = Fc @ Fc.T
    lam = M.loo_r2_ridge(G, yt, k).lam * max(float(np.trace(G)) / len(G), 1e-12)
    Y = M.one_hot(yt, k)
    ybar = Y.mean(axis=0)
    alpha = np.linalg.solve(G + lam * np.eye(len(G)), Y - ybar)

    def predict(X: np.ndarray) -> np.ndarray:
        return ((np.asarray(X, dtype=np.float64) - mu) / scale) @ Fc.T @ alpha + ybar

    m0 = _margins(predict(pool[test]), ys)
    me = _margins(predict(edited), ys)
    plan_arr = np.asarray(plan)
    out = {"label_margin": float(np.mean(m0))}
    for edit in dict.fromkeys(plan):
        sel = plan_arr == edit
        out[f"retention_{edit}"] = float(np.mean(me[sel])) / max(float(np.mean(m0[sel])), MARGIN_FLOOR)
    out["augment_retention"] = min(out[f"retention_{e}"] for e in dict.fromkeys(plan))
    return out


def pool3_function(extractor: Any, use_cache: bool = False) -> Callable[[list[Path]], np.ndarray]:
    """files -> pool3 rows, through an InceptionExtractor's public `extract` (a network it has already
    loaded is reused). Without `use_cache` a shallow copy without the cache is used, so the edited copies in a
    temporary folder leave no entries in the user's feature cache."""
    import copy

    from vptadvisor.errors import MeasureError

    ext = extractor
    if not use_cache:
        ext = copy.copy(extractor)
        ext.cache = None

    def run(files: list[Path]) -> np.ndarray:
        out = ext.extract(files)
        if len(out.kept) != len(files):
            raise MeasureError("The probe could not read back its edited copies of the images; rerun analyze.")
        return out.features["pool3"]

    return run


def augmentation_signals(
    features: dict[str, np.ndarray],
    labels: Sequence,
    images: Sequence[Path],
    extract: Callable[[list[Path]], np.ndarray],
    edits_dir: Path | None = None,
    seed: int = 0,
    min_per_class: int = 10,
    config: AugmentConfig = AugmentConfig(),
) -> dict[str, float]:
    """retention_<edit>, augment_retention, label_margin and augmented_images for row-aligned
    features (needs "pool3"), labels and image files; deterministic for a given seed."""
    from vptadvisor.blas import single_thread_blas
    from vptadvisor.probe.signals import encode_labels

    y, _, _ = encode_labels(labels, min_per_class)
    test, train = sample_rows(y, config, np.random.default_rng(seed + 7919))
    edited = edited_features([Path(images[i]) for i in test], extract, edits_dir)
    with single_thread_blas():
        out = retention(np.asarray(features["pool3"], dtype=np.float64), y, test, train, edited, edit_plan(len(test)))
    out["augmented_images"] = float(len(test))
    return out
