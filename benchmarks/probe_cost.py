"""What the objective probe costs on a real dataset (default: ../shared/datasets/dtd-10).

    python benchmarks/probe_cost.py [DATASET] [--cache-dir DIR] [--repeats 5]

Prints: the cold feature extraction (if the cache is cold, otherwise the warm read), the warm read
of the cached features, the probe's pool3 computation (median of --repeats runs), and its
augmentation part as analyze runs it: the edited copies of at most 32 images written to a temporary
folder and passed through a fresh extractor without cache (network load included), so it is cold.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from vptadvisor.dataset.layout import open_dataset
from vptadvisor.features.extract import DEFAULT_TAPS, make_extractor
from vptadvisor.probe import probe_objective
from vptadvisor.probe.augment import pool3_function


def main() -> None:
    here = Path(__file__).resolve().parents[1]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", nargs="?", type=Path, default=here.parent / "shared" / "datasets" / "dtd-10")
    ap.add_argument("--cache-dir", type=Path, default=None)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    data = open_dataset(args.dataset)
    paths = [s.path for s in data.samples]
    ext = make_extractor(cache_dir=args.cache_dir)
    first = ext.extract(paths)
    t = time.perf_counter()
    warm = make_extractor(cache_dir=args.cache_dir).extract(paths)
    warm_s = time.perf_counter() - t
    labels = [data.samples[i].label for i in warm.kept]
    times = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        res = probe_objective(warm.features, labels, seed=0)
        times.append(time.perf_counter() - t)
    kept_paths = [paths[i] for i in warm.kept]
    t = time.perf_counter()
    fresh = make_extractor(cache=False)
    aug = probe_objective(warm.features, labels, seed=0, images=kept_paths, extract=pool3_function(fresh))
    aug_s = time.perf_counter() - t
    out = {
        "dataset": str(args.dataset),
        "n_images": len(warm.kept),
        "n_classes": len(set(labels)),
        "probe_with_augmentation_cold_seconds": round(aug_s, 2),
        "augmented_images": aug.augmented_images,
        "p_high_disparity_with_augmentation": aug.p_high_disparity,
        "evidence_with_augmentation": aug.evidence,
        "first_extraction_seconds": round(first.seconds, 2),
        "first_extraction_computed": first.n_computed,
        "warm_feature_read_seconds": round(warm_s, 3),
        "probe_seconds_median": round(statistics.median(times), 3),
        "probe_seconds_all": [round(x, 3) for x in times],
        "taps": [t.name for t in DEFAULT_TAPS],
        "p_high_disparity": res.p_high_disparity,
        "evidence": res.evidence,
    }
    if first.n_computed:
        out["probe_share_of_cold_extraction"] = round(out["probe_seconds_median"] / first.seconds, 4)
        out["probe_with_augmentation_share_of_cold_extraction"] = round(aug_s / first.seconds, 4)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
