"""Forward-only speed and exactness of the FID Inception on each CPU engine, on the same real inputs.

    python benchmarks/fid_engines.py [--batch 16] [--images 64] [--threads N]

Inputs are real dtd-10 images preprocessed exactly as analyze does. For each engine: img/s of the
network alone (after one warm-up batch) and the largest feature difference to torch float32 (eager),
absolute and relative to the largest feature. bf16 engines are only run where the CPU has bf16.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from vptadvisor.dataset.images import load_rgb
from vptadvisor.dataset.layout import open_dataset
from vptadvisor.features.engine import (
    EngineChoice,
    build_runner,
    cpu_has_bf16,
    engine_versions,
)
from vptadvisor.features.inception_weights import locate_inception_weights
from vptadvisor.features.preprocess import to_inception_input
from vptadvisor.paths import cache_dir

SHARED = Path(__file__).resolve().parents[2] / "shared"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", type=Path, default=SHARED / "datasets" / "dtd-10")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    samples = open_dataset(args.dataset).samples[:: max(1, len(open_dataset(args.dataset).samples) // args.images)]
    x = np.stack([to_inception_input(load_rgb(s.path)[0]).numpy() for s in samples[: args.images]])
    src = locate_inception_weights()
    engines = [("torch", "exact"), ("openvino", "exact"), ("onnxruntime", "exact")]
    if cpu_has_bf16():
        engines += [("openvino", "bf16"), ("torch", "bf16")]
    base = None
    print(f"{len(x)} real images, batch {args.batch}, versions {engine_versions()}; cpu bf16: {cpu_has_bf16()}")
    print(f"{'engine':24s}{'img/s':>8s}{'max abs diff':>14s}{'max rel diff':>14s}{'load s':>8s}")
    for engine, precision in engines:
        t0 = time.perf_counter()
        run = build_runner(
            EngineChoice(engine, "cpu", precision),
            src.load_state_dict,
            (),
            ["pool3"],
            cache_dir(),
            src.sha256,
            args.threads,
        )
        load = time.perf_counter() - t0
        run(x[: args.batch])
        start = time.perf_counter()
        feats = np.concatenate([run(x[i : i + args.batch])["pool3"] for i in range(0, len(x), args.batch)])
        speed = len(x) / (time.perf_counter() - start)
        if base is None:
            base = feats
        diff = float(np.abs(feats - base).max())
        print(
            f"{engine + '/' + precision:24s}{speed:8.1f}{diff:14.2e}{diff / float(np.abs(base).max()):14.2e}{load:8.1f}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
