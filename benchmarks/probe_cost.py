"""What the objective probe costs on a real dataset (default: ../shared/datasets/dtd-10).

    python benchmarks/probe_cost.py [DATASET] [--cache-dir DIR] [--repeats 5]

Prints: the cold feature extraction (if the cache is cold, otherwise the warm read), the warm read
of the cached features, and the probe's own computation (median of --repeats runs). The probe
uses pool3 only, which analyze computes anyway, so it adds no forward-pass cost.
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
    out = {
        "dataset": str(args.dataset), "n_images": len(warm.kept), "n_classes": len(set(labels)),
        "first_extraction_seconds": round(first.seconds, 2), "first_extraction_computed": first.n_computed,
        "warm_feature_read_seconds": round(warm_s, 3),
        "probe_seconds_median": round(statistics.median(times), 3), "probe_seconds_all": [round(x, 3) for x in times],
        "taps": [t.name for t in DEFAULT_TAPS], "p_high_disparity": res.p_high_disparity, "evidence": res.evidence,
    }
    if first.n_computed:
        out["probe_share_of_cold_extraction"] = round(out["probe_seconds_median"] / first.seconds, 4)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
