"""Which signals separate low from high task-objective disparity? Evidence on the designed suite.

For every designed task and label variant (never the held-back ones), on the full image set and on
random 50 % / 30 % subsets (two seeds), compute each candidate signal on the probe's episodes and
report its AUROC for high vs low disparity (a signal that is *lower* for high disparity shows an
AUROC below 0.5; 1 - AUROC is its separating power).

    python benchmarks/probe_signals.py [--work-dir DIR] [--cache-dir DIR] [--taps] [--json FILE]

--taps also extracts a 4x4 grid of Inception mixed_6e (12,288 values per image) and scores the
"spatial" candidate: the share of the linear label R² that needs the grid.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tools/ of the checkout

import argparse
import json
import time
from pathlib import Path

import numpy as np

from tools.probe_suite import transfer_metrics as TM
from tools.probe_suite.fit import auroc
from tools.probe_suite.suite import FIT_SUBSETS, default_shared
from tools.probe_suite.suite_def import FAMILIES, TASKS, build_family, task_labels
from vptadvisor.probe import metrics as M
from vptadvisor.probe.signals import EpisodeConfig, block_gram, encode_labels, episode_signals, episodes


def candidates(pool: np.ndarray, grid: np.ndarray | None, y: np.ndarray, seed: int) -> dict[str, float]:
    k = int(y.max()) + 1
    out = episode_signals(pool, y, 8)
    G = M.centered_gram(pool)
    rng = np.random.default_rng(seed)
    out["logme_excess"] = TM.logme(G, pool.shape[1], y, k) - TM.logme(G, pool.shape[1], rng.permutation(y), k)
    out["h_score"] = TM.h_score(G, pool.shape[1], y, k)
    e, Q = np.linalg.eigh(block_gram(pool))
    P = Q[:, -32:] * np.sqrt(np.clip(e[-32:], 0, None))
    z = TM.kmeans(P, 32, seed)
    out["nce_normalised"] = TM.nce(z, y, 32, k)
    d2 = np.stack(
        [
            np.sum((P - P[z == j].mean(axis=0)) ** 2, axis=1) if np.any(z == j) else np.full(len(P), np.inf)
            for j in range(32)
        ],
        axis=1,
    )
    t = np.median(d2.min(axis=1)) + 1e-12
    theta = np.exp(-(d2 - d2.min(axis=1, keepdims=True)) / t)
    theta /= theta.sum(axis=1, keepdims=True)
    out["leep_excess"] = TM.leep(theta, y, k) - float(np.sum(np.bincount(y) / len(y) * np.log(np.bincount(y) / len(y))))
    kr = M.loo_r2_ridge(block_gram(pool), y, k).kappa
    out["knn_kappa_gap"] = kr - TM.knn_loo(pool, y, k, 8)[1]
    if grid is not None:
        lin = out["r2_linear"]
        both = M.loo_r2_ridge(block_gram(pool) + block_gram(grid), y, k).r2
        out["spatial"] = (both - lin) / max(both, 0.05)
    return out


def measure_all(features: dict, labels, seed: int, config: EpisodeConfig, tap: str | None) -> dict[str, float]:
    y, classes, _ = encode_labels(labels, config.min_per_class)
    pool = features["pool3"].astype(np.float64)
    grid = features[tap].astype(np.float64) if tap else None
    rows = [
        candidates(pool[i], grid[i] if grid is not None else None, ye, seed)
        for i, ye in episodes(y, len(classes), config, np.random.default_rng(seed))
    ]
    return {k: float(np.mean([r[k] for r in rows if k in r])) for k in rows[0]}


def main() -> None:
    from vptadvisor.features.extract import InceptionExtractor
    from vptadvisor.features.taps import Tap
    from vptadvisor.paths import cache_dir

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work-dir", type=Path, default=None)
    ap.add_argument("--cache-dir", type=Path, default=None)
    ap.add_argument("--taps", action="store_true")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    taps = (Tap("mixed_6e", 4), Tap("mixed_7c", 4)) if args.taps else ()
    tap = "mixed_6e_g4" if args.taps else None
    work = args.work_dir or cache_dir() / "probe-suite"
    ext = InceptionExtractor(taps=taps, cache_root=args.cache_dir or cache_dir())
    config = EpisodeConfig()
    rows = []
    t0 = time.perf_counter()
    feats = {}
    for t in [t for t in TASKS if not t.held_back]:
        if t.family not in feats:
            paths, attrs = build_family(FAMILIES[t.family], work, 0, False, default_shared())
            feats[t.family] = (ext.extract(paths).features, attrs)
        f, attrs = feats[t.family]
        labels = np.array(task_labels(t, attrs))
        n = len(labels)
        for frac, s in ((1.0, 0),) + FIT_SUBSETS:
            keep = (
                np.arange(n)
                if frac == 1.0
                else np.sort(np.random.default_rng(100 + s).choice(n, int(n * frac), replace=False))
            )
            sig = measure_all({k: v[keep] for k, v in f.items()}, labels[keep].tolist(), s, config, tap)
            rows.append({"task": t.name, "high": t.high, "frac": frac, "seed": s, **sig})
    names = [k for k in rows[0] if k not in ("task", "high", "frac", "seed")]
    print(
        f"{len(rows)} rows ({len({r['task'] for r in rows})} designed tasks and variants x 5 subsets), "
        f"{time.perf_counter() - t0:.0f} s\n"
    )
    print("| signal | AUROC all rows | AUROC full-size rows | mean low | mean high |\n|---|---|---|---|---|")
    summary = {}
    for name in names:
        rr = [r for r in rows if name in r]
        full = [r for r in rr if r["frac"] == 1.0]
        a_all = auroc([r[name] for r in rr], [r["high"] for r in rr])
        a_full = auroc([r[name] for r in full], [r["high"] for r in full])
        lo = np.mean([r[name] for r in full if not r["high"]])
        hi = np.mean([r[name] for r in full if r["high"]])
        summary[name] = {"auroc_all": a_all, "auroc_full": a_full, "mean_low": lo, "mean_high": hi}
        print(f"| {name} | {a_all:.3f} | {a_full:.3f} | {lo:.3f} | {hi:.3f} |")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "summary": summary}, indent=1))


if __name__ == "__main__":
    main()
