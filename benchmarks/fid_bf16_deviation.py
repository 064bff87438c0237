"""How far bf16 moves the FID: the same images embedded exact (float32) and in bfloat16, each
against the shipped (exact) reference, on the engines this machine offers.

    python benchmarks/fid_bf16_deviation.py [--images 400] [--dataset ../shared/datasets/dtd-10]

bf16 engines: OpenVINO bf16 where the CPU has native bf16 (AVX512-BF16/AMX), torch autocast on CUDA,
and torch's CPU bf16 autocast (oneDNN emulates bf16 where the CPU lacks it: slow, but the same
bfloat16 rounding of activations and weights as CUDA autocast).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from vptadvisor.dataset.images import load_rgb
from vptadvisor.dataset.layout import open_dataset
from vptadvisor.distance.frechet import frechet_distance_between_features
from vptadvisor.distance.reference import load_reference
from vptadvisor.features.engine import EngineChoice, build_runner, cpu_has_bf16
from vptadvisor.features.inception_weights import locate_inception_weights
from vptadvisor.features.preprocess import to_inception_input
from vptadvisor.paths import cache_dir

SHARED = Path(__file__).resolve().parents[2] / "shared"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", type=Path, default=SHARED / "datasets" / "dtd-10")
    ap.add_argument("--images", type=int, default=400)
    ap.add_argument("--batch", type=int, default=16)
    args = ap.parse_args()
    import torch

    samples = open_dataset(args.dataset).samples
    samples = samples[:: max(1, len(samples) // args.images)][: args.images]
    src = locate_inception_weights()
    ref = load_reference()
    choices = [("exact", EngineChoice("openvino", "cpu", "exact"))]
    if cpu_has_bf16():
        choices.append(("bf16", EngineChoice("openvino", "cpu", "bf16")))
    if torch.cuda.is_available():
        choices += [("exact", EngineChoice("torch", "cuda", "exact")), ("bf16", EngineChoice("torch", "cuda", "bf16"))]
    choices.append(("bf16", EngineChoice("torch", "cpu", "bf16")))
    runners = {
        c.label: build_runner(c, src.load_state_dict, (), ["pool3"], cache_dir(), src.sha256) for _, c in choices
    }
    feats: dict[str, list[np.ndarray]] = {label: [] for label in runners}
    seconds = dict.fromkeys(runners, 0.0)
    for start in range(0, len(samples), args.batch):
        x = np.stack([to_inception_input(load_rgb(s.path)[0]).numpy() for s in samples[start : start + args.batch]])
        for label, run in runners.items():
            t0 = time.perf_counter()
            feats[label].append(run(x)["pool3"])
            seconds[label] += time.perf_counter() - t0
    base = np.concatenate(feats["openvino/cpu/exact"])
    fid0 = frechet_distance_between_features(base, ref.features)
    print(f"{len(samples)} images of {args.dataset.name} against {ref.name} ({ref.n_images} exact features)")
    print(f"{'engine':22s}{'FID':>10s}{'vs exact':>10s}{'max feat diff':>15s}{'img/s':>8s}")
    for label in runners:
        f = np.concatenate(feats[label])
        fid = frechet_distance_between_features(f, ref.features)
        rel = float(np.abs(f - base).max() / np.abs(base).max())
        print(
            f"{label:22s}{fid:10.3f}{100 * (fid - fid0) / fid0:+9.3f}%{rel:15.2e}{len(samples) / seconds[label]:8.1f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
