"""How the measured objective changes the verdict, compared with `--objective classification`.

    python benchmarks/probe_verdicts.py [DATASET ...] [--cache-dir DIR]

Default datasets: ../shared/datasets/dtd-10 and the demo counting dataset (`vptadvisor.demo`).
For each: analyze() with the declared default (classification), then the probe on the same cached
pool3 features, then the rule's verdict with the probe's P(high disparity) at the same FID and size.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from vptadvisor.analyze import analyze
from vptadvisor.dataset.layout import open_dataset
from vptadvisor.demo import demo_dataset
from vptadvisor.features.extract import make_extractor
from vptadvisor.probe import probe_objective
from vptadvisor.rule import load_rule


def verdicts(dataset: Path, cache: Path | None) -> dict:
    declared = analyze(dataset, objective="classification", cache_dir=cache)
    data = open_dataset(dataset)
    ext = make_extractor(cache_dir=cache).extract([s.path for s in data.samples])
    probe = probe_objective(ext.features, [data.samples[i].label for i in ext.kept], seed=0)
    m = declared.distance.fid_matched
    n_train = declared.verdict.inputs["n_train"]
    rule = load_rule()
    measured = rule.predict(
        fid=m["value"],
        fid_sd=m["sd"],
        p_high_disparity=probe.p_high_disparity,
        n_train=n_train,
        n_fid_images=m["n_standard"],
        n_ref_images=declared.distance.n_reference,
    )
    d = declared.verdict.to_dict()
    return {
        "dataset": str(dataset),
        "fid_matched": round(m["value"], 2),
        "n_train": n_train,
        "probe": {
            "p_high_disparity": probe.p_high_disparity,
            "evidence": probe.evidence,
            "non_semantic": probe.signals["non_semantic"],
            "one_dimensional": probe.signals.get("one_dimensional"),
        },
        "declared_classification": {
            "p_high_disparity": declared.objective.to_dict()["p_high_disparity"],
            "choice": d["choice"],
            "p_vpt": round(d["p_vpt"], 3),
            "margin": round(d["margin"], 2),
        },
        "probe_objective": {
            "choice": measured.choice,
            "p_vpt": round(measured.p_vpt, 3),
            "margin": round(measured.margin, 2),
        },
    }


def main() -> None:
    here = Path(__file__).resolve().parents[1]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("datasets", nargs="*", type=Path)
    ap.add_argument("--cache-dir", type=Path, default=None)
    args = ap.parse_args()
    sets = args.datasets or [here.parent / "shared" / "datasets" / "dtd-10", demo_dataset(args.cache_dir)]
    print(json.dumps([verdicts(p, args.cache_dir) for p in sets], indent=2))


if __name__ == "__main__":
    main()
