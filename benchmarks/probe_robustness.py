"""Is the probe robust to dataset size, class balance and class count? Subsample the suite tasks.

    python benchmarks/probe_robustness.py [--work-dir DIR] [--cache-dir DIR] [--json FILE]

For every suite task that is not a variant (designed and held back, the frozen probe), probe:
the full task; random 50 %, 25 % and 12.5 % subsets; an imbalanced version (every other class cut
to a quarter); and two classes only (the first two labels). Prints p_high_disparity per condition
and the AUROC of each condition over the tasks. Uses the cached features of `vptadvisor probe-suite`.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tools/ of the checkout

import argparse
import json
from pathlib import Path

import numpy as np

from tools.probe_suite.fit import auroc
from tools.probe_suite.suite import default_shared
from tools.probe_suite.suite_def import FAMILIES, TASKS, build_family, task_labels
from vptadvisor.errors import MeasureError
from vptadvisor.features.extract import make_extractor
from vptadvisor.paths import cache_dir
from vptadvisor.probe import probe_objective


def conditions(labels: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    n = len(labels)
    classes = sorted(set(labels))
    out = {"full": np.arange(n)}
    for frac in (0.5, 0.25, 0.125):
        out[f"{frac:g}"] = np.sort(rng.choice(n, int(n * frac), replace=False))
    keep = []
    for j, c in enumerate(classes):
        idx = np.flatnonzero(labels == c)
        keep.append(idx if j % 2 == 0 else np.sort(rng.choice(idx, max(10, len(idx) // 4), replace=False)))
    out["imbalanced"] = np.sort(np.concatenate(keep))
    out["two_classes"] = np.flatnonzero(np.isin(labels, classes[:2]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work-dir", type=Path, default=None)
    ap.add_argument("--cache-dir", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    work = args.work_dir or cache_dir() / "probe-suite"
    ext = make_extractor(cache_dir=args.cache_dir)
    feats, rows = {}, []
    for t in [t for t in TASKS if not t.variant]:
        if t.family not in feats:
            paths, attrs = build_family(FAMILIES[t.family], work, 0, False, default_shared())
            feats[t.family] = (ext.extract(paths).features["pool3"], attrs)
        pool, attrs = feats[t.family]
        labels = np.array(task_labels(t, attrs))
        row = {"task": t.name, "high": t.high, "held_back": t.held_back}
        for name, idx in conditions(labels, np.random.default_rng(0)).items():
            try:
                row[name] = probe_objective({"pool3": pool[idx]}, labels[idx].tolist(), seed=0).p_high_disparity
                row[f"n_{name}"] = len(idx)
            except MeasureError as exc:
                row[name] = None
                row[f"why_{name}"] = exc.message
        rows.append(row)
    conds = ["full", "0.5", "0.25", "0.125", "imbalanced", "two_classes"]
    print("| task | set | true | " + " | ".join(conds) + " |\n|" + "---|" * (len(conds) + 3))
    for r in rows:
        cells = ["err" if r[c] is None else f"{r[c]:.2f} ({r['n_' + c]})" for c in conds]
        print(
            f"| {r['task']} | {'held back' if r['held_back'] else 'designed'} | {'high' if r['high'] else 'low'} | "
            + " | ".join(cells)
            + " |"
        )
    for group, sel in (
        ("designed", lambda r: not r["held_back"]),
        ("held back", lambda r: r["held_back"]),
        ("all", lambda r: True),
    ):
        aucs = []
        for c in conds:
            rr = [r for r in rows if sel(r) and r[c] is not None]
            aucs.append(f"{c} {auroc([r[c] for r in rr], [r['high'] for r in rr]):.3f}")
        print(f"AUROC {group}: " + ", ".join(aucs))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
