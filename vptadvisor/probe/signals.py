"""The probe's signals, measured on class-balanced episodes of pool3 features and labels.

Every signal is computed on *episodes*: random subsets with at most `k_max` classes and
`per_class` images per class (fewer only where a class has fewer), then averaged over episodes.
Fixing the episode size makes the signals comparable across data sets of different size, class
count and class balance: each estimator has the same finite-sample bias for a 10,000-image data
set as for a 300-image one.

Signals of one episode (pool3 features F, centred and scaled to unit mean squared norm):

- ``r2_linear``: leave-one-out R² of a ridge regression of the one-hot labels on F (closed form,
  λ by PRESS; `metrics.loo_r2_ridge`): how much label information a trained linear read-out finds.
- ``r2_neighbours``: leave-one-out R² of the labels averaged over each image's 8 nearest
  neighbours under the pretrained network's own cosine similarity (`metrics.knn_r2`): how much of
  the label the pretrained notion of "these images look alike" already carries.
- ``non_semantic`` = (r2_linear - r2_neighbours) / max(r2_linear, 0.05): the share of the
  decodable label information that the pretrained similarity does not carry. Object, texture and
  scene labels follow the similarity the network was trained for (near 0); position, count and
  orientation labels live in directions that similarity ignores (0.3 to 3).
- ``one_dimensional``: the share of the between-class spread of the out-of-sample ridge
  predictions on their first principal axis (`metrics.top_axis_share`, K >= 3 only): near 1 when
  the classes line up along one axis, as counts, distances and sizes do; lower for categories.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from vptadvisor.blas import single_thread_blas
from vptadvisor.errors import MeasureError
from vptadvisor.probe import metrics as M

POOL = "pool3"
R2_FLOOR = 0.05  # ratios of R² use at least this denominator


@dataclass(frozen=True)
class EpisodeConfig:
    per_class: int = 24
    k_max: int = 10
    episodes: int = 16
    neighbours: int = 8
    min_per_class: int = 10

    def to_dict(self) -> dict:
        return asdict(self)


def encode_labels(labels: Sequence, min_per_class: int) -> tuple[np.ndarray, list[str], dict]:
    """Integer labels (-1 for rows of classes that are too small), the used class names, notes."""
    names = ["" if x is None else str(x) for x in labels]
    if any(n.strip() == "" or n.lower() == "nan" for n in names):
        raise MeasureError("Some images have no label; the objective probe needs every image labelled.")
    classes, inverse, counts = np.unique(names, return_inverse=True, return_counts=True)
    if len(classes) < 2:
        raise MeasureError("All images have the same label; the objective probe needs at least two classes.")
    keep = counts >= min_per_class
    if keep.sum() < 2:
        raise MeasureError(
            f"Fewer than two classes have {min_per_class} or more images (largest: {int(counts.max())}); "
            f"add images so that at least two classes have {min_per_class} each."
        )
    remap = -np.ones(len(classes), dtype=int)
    remap[keep] = np.arange(int(keep.sum()))
    y = remap[inverse]
    notes = {
        "n_images": len(names),
        "n_classes": len(classes),
        "n_classes_used": int(keep.sum()),
        "n_images_used": int(np.sum(y >= 0)),
        "smallest_class": int(counts[keep].min()),
        "largest_class": int(counts[keep].max()),
    }
    return y, [str(c) for c in classes[keep]], notes


def block_gram(F: np.ndarray) -> np.ndarray:
    """Centred gram of a feature block, scaled so its trace is n (unit mean squared norm)."""
    G = M.centered_gram(F)
    tr = float(np.trace(G))
    return G * (len(F) / tr) if tr > 0 else G


def episode_signals(pool: np.ndarray, y: np.ndarray, neighbours: int) -> dict[str, float]:
    k = int(y.max()) + 1
    lin = M.loo_r2_ridge(block_gram(pool), y, k)
    r2n = M.knn_r2(pool, y, k, neighbours)
    out = {
        "r2_linear": lin.r2,
        "r2_neighbours": r2n,
        "non_semantic": (lin.r2 - r2n) / max(lin.r2, R2_FLOOR),
    }
    if k >= 3:
        out["one_dimensional"] = M.top_axis_share(lin.loo_predictions, y, k)
    return out


def episodes(y: np.ndarray, k_all: int, config: EpisodeConfig, rng: np.random.Generator):
    """Yield (row indices, episode labels 0..k-1) for each episode."""
    members = [np.flatnonzero(y == c) for c in range(k_all)]
    whole = k_all <= config.k_max and all(len(m) <= config.per_class for m in members)
    for _ in range(1 if whole else config.episodes):  # when every episode is the whole data set, one is enough
        chosen = np.sort(rng.choice(k_all, size=min(k_all, config.k_max), replace=False))
        idx, ye = [], []
        for j, c in enumerate(chosen):
            take = np.sort(rng.choice(members[c], size=min(config.per_class, len(members[c])), replace=False))
            idx.append(take)
            ye.append(np.full(len(take), j))
        yield np.concatenate(idx), np.concatenate(ye)


def measure(
    features: dict[str, np.ndarray], labels: Sequence, seed: int = 0, config: EpisodeConfig = EpisodeConfig()
) -> tuple[dict[str, float], dict]:
    """Average episode signals for row-aligned `features` (needs "pool3") and `labels`.

    Returns (signals, notes); notes hold the class counts, the episode settings and each signal's
    standard deviation over episodes (`spread`)."""
    if POOL not in features:
        raise MeasureError("The objective probe needs pool3 features; rerun the feature extraction.")
    pool = np.asarray(features[POOL], dtype=np.float64)
    if pool.ndim != 2 or len(labels) != len(pool):
        raise MeasureError(f"{len(labels)} labels for {len(pool)} feature rows; the probe needs one label per image.")
    if not np.isfinite(pool).all():
        raise MeasureError("Some pool3 features are not finite; re-extract the features.")
    y, classes, notes = encode_labels(labels, config.min_per_class)
    rng = np.random.default_rng(seed)
    with single_thread_blas():
        rows = [episode_signals(pool[idx], ye, config.neighbours) for idx, ye in episodes(y, len(classes), config, rng)]
    keys = sorted({k for r in rows for k in r})
    signals = {k: float(np.mean([r[k] for r in rows if k in r])) for k in keys}
    notes["spread"] = {k: float(np.std([r[k] for r in rows if k in r])) for k in keys}
    notes["episodes"] = len(rows)
    notes["episode_classes"] = min(len(classes), config.k_max)
    notes["config"] = config.to_dict()
    return signals, notes
