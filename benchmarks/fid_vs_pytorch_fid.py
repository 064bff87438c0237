"""vptadvisor analyze vs pytorch-fid on the same images, in one run: time, memory, FID agreement.

    python benchmarks/fid_vs_pytorch_fid.py [--dataset ../shared/datasets/dtd-10] [--engines auto,onnxruntime,torch]

pytorch-fid runs offline from a temporary torch hub cache holding the same Inception weights
(written from the resolved weights in pytorch-fid's checkpoint format). It gets a flat directory of
symlinks, because it only globs lower-case extensions in one folder. Its reference statistics are
the mean and covariance of the shipped reference's features (the same 1,000 ImageNet images,
untimed), so both tools are timed on the dataset's images only and meet the same reference:
  pytorch-fid --batch-size 1 DATASET ref_stats.npz      vs      vptadvisor analyze DATASET (cold cache)
Each engine (auto = the default: OpenVINO f32 on a CPU) is timed cold, with its own empty cache but the
converted model already made (conversion happens once per machine, untimed); bf16 runs too where the
CPU has native bf16. Also printed: warm-cache analyze time, each engine's Inception forward alone at
the analyze batch size (its compute limit), and peak memory (PSS of the whole process tree) at two
dataset sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _procmem import run_measured as _run_measured

CPU_SECONDS: dict[str, float] = {}


def run_measured(cmd: list[str], env: dict, label: str = ""):
    """_procmem.run_measured, plus the CPU seconds (user + system) of the whole process tree: on a
    machine shared with other jobs, wall time depends on their load, CPU time much less."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = _run_measured(cmd, env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU_SECONDS[label] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return out


REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def flat_links(src: Path, dst: Path, limit: int | None = None) -> Path:
    from vptadvisor.dataset.layout import open_dataset

    dst.mkdir(parents=True)
    for i, sample in enumerate(open_dataset(src).samples[:limit]):
        (dst / f"{i:05d}_{Path(sample.relpath).stem}.jpg").symlink_to(sample.path)
    return dst


def folder_subset(src: Path, dst: Path, n: int) -> Path:
    """Copies of every k-th image of `src` in an ImageFolder layout."""
    import shutil

    from vptadvisor.dataset.layout import open_dataset

    ds = open_dataset(src)
    for s in ds.samples[:: max(1, len(ds.samples) // n)][:n]:
        (dst / (s.label or "all")).mkdir(parents=True, exist_ok=True)
        shutil.copy2(s.path, dst / (s.label or "all") / Path(s.relpath).name)
    return dst


def forward_speed(engine: str, precision: str = "exact", batch: int = 16, repeats: int = 3) -> float:
    import numpy as np

    from vptadvisor.features.engine import build_runner, choose_engine
    from vptadvisor.features.inception_weights import locate_inception_weights
    from vptadvisor.paths import cache_dir

    src = locate_inception_weights()
    run = build_runner(
        choose_engine(engine, "cpu", precision), src.load_state_dict, (), ["pool3"], cache_dir(), src.sha256
    )
    x = np.random.default_rng(0).uniform(-1, 1, (batch, 3, 299, 299)).astype(np.float32)
    run(x)
    start = time.perf_counter()
    for _ in range(repeats):
        run(x)
    return batch * repeats / (time.perf_counter() - start)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", type=Path, default=SHARED / "datasets" / "dtd-10")
    ap.add_argument("--small", type=int, default=300, help="images in the small run of the memory check (0: skip)")
    ap.add_argument("--engines", default="auto,onnxruntime,torch", help="engines to time (comma-separated)")
    args = ap.parse_args()
    from vptadvisor.features.inception_weights import (
        locate_inception_weights,
        write_pytorch_fid_checkpoint,
    )

    work = Path(tempfile.mkdtemp(prefix="vpt-bench-"))
    env = {**os.environ, "TORCH_HOME": str(work / "torch"), "VPTADVISOR_CACHE_DIR": str(work / "cache-cold")}
    write_pytorch_fid_checkpoint(
        locate_inception_weights().load_state_dict(),
        work / "torch" / "hub" / "checkpoints" / "pt_inception-2015-12-05-6726825d.pth",
    )
    os.environ.update(TORCH_HOME=env["TORCH_HOME"], VPTADVISOR_CACHE_DIR=str(work))  # forward_speed's conversions
    data_flat = flat_links(args.dataset, work / "data-flat")
    py = sys.executable
    print(f"work dir {work}; dataset {args.dataset} ({len(list(data_flat.iterdir()))} images)", flush=True)

    import numpy as np

    from vptadvisor.distance.frechet import gaussian_stats
    from vptadvisor.distance.reference import load_reference

    mu, sigma = gaussian_stats(load_reference().features)
    np.savez(work / "ref_stats.npz", mu=mu, sigma=sigma)

    t_pf, mem_pf, done = run_measured(
        [py, "-m", "pytorch_fid", "--batch-size", "1", "--device", "cpu", str(data_flat), str(work / "ref_stats.npz")],
        env,
        "pytorch-fid",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    fid_pf = float(re.search(r"FID:\s+([0-9.]+)", done.stdout).group(1))
    print(f"pytorch-fid --batch-size 1: FID {fid_pf:.4f} in {t_pf:.1f} s", flush=True)
    small_set = folder_subset(args.dataset, work / "warmup", 12)
    (work / "engines").mkdir()

    from vptadvisor.features.engine import cpu_has_bf16

    runs = [(e, "exact") for e in args.engines.split(",")] + ([("auto", "bf16")] if cpu_has_bf16() else [])
    rows = []
    for engine, precision in runs:
        env_run = {**env, "VPTADVISOR_CACHE_DIR": str(work / f"cache-{engine}-{precision}")}
        (work / f"cache-{engine}-{precision}").mkdir()
        (work / f"cache-{engine}-{precision}" / "engines").symlink_to(work / "engines")  # conversions: made once
        cmd = [
            py,
            "-m",
            "vptadvisor",
            "analyze",
            str(args.dataset),
            "--format",
            "json",
            "--device",
            "cpu",
            "--engine",
            engine,
            "--precision",
            precision,
        ]
        if not rows:  # untimed: convert the models once (what a first run on a machine does)
            for e in {e for e, _ in runs}:
                done = subprocess.run(
                    [
                        *cmd[:3],
                        "analyze",
                        str(small_set),
                        "--format",
                        "json",
                        "--device",
                        "cpu",
                        "--engine",
                        e,
                        "--no-cache",
                        "--min-images",
                        "10",
                    ],
                    env={**env, "VPTADVISOR_CACHE_DIR": str(work)},
                    capture_output=True,
                    text=True,
                    check=False,
                )
                assert done.returncode == 0, done.stderr[-2000:]
        t_cold, mem_cold, done = run_measured(cmd, env_run, f"{engine}-{precision}")
        assert done.returncode == 0, done.stderr[-2000:]
        ours = json.loads(done.stdout)
        t_warm, mem_warm, done = run_measured(cmd, env_run)
        assert done.returncode == 0 and json.loads(done.stdout)["timing"]["n_computed"] == 0
        fid, n = ours["distance"]["fid"], ours["dataset"]["n_images"]
        label = ours["distance"]["engine"]
        print(f"vptadvisor analyze {label} (cold): FID {fid:.4f} in {t_cold:.1f} s; warm {t_warm:.2f} s", flush=True)
        rows.append((label, engine, precision, fid, n, t_cold, t_warm, mem_cold, mem_warm))

    n_small = mem_small = 0
    if args.small:
        env_small = {**env, "VPTADVISOR_CACHE_DIR": str(work / "cache-small")}
        (work / "cache-small").mkdir()
        (work / "cache-small" / "engines").symlink_to(work / "engines")
        small = folder_subset(args.dataset, work / "small", args.small)
        _, mem_small, done = run_measured(
            [py, "-m", "vptadvisor", "analyze", str(small), "--format", "json", "--device", "cpu"], env_small
        )
        assert done.returncode == 0, done.stderr[-2000:]
        n_small = json.loads(done.stdout)["dataset"]["n_images"]

    gib = 1024**3
    print()
    cpu_pf = CPU_SECONDS["pytorch-fid"]
    print(
        f"pytorch-fid --batch-size 1: FID {fid_pf:.4f}, {t_pf:.1f} s wall, {cpu_pf:.1f} CPU s, "
        f"{n / t_pf:.1f} img/s, peak {mem_pf / gib:.2f} GiB"
    )
    print(
        f"{'engine':26s}{'cold s':>8s}{'img/s':>8s}{'speed-up':>9s}{'CPU s':>8s}{'CPU ratio':>10s}{'FID':>11s}"
        f"{'rel. diff':>11s}{'fwd img/s':>10s}{'e2e/fwd':>8s}{'warm s':>8s}{'peak GiB':>9s}"
    )
    for label, engine, precision, fid, n, t_cold, t_warm, mem_cold, _ in rows:
        speed = forward_speed(engine, precision)
        cpu = CPU_SECONDS[f"{engine}-{precision}"]
        print(
            f"{label:26s}{t_cold:8.1f}{n / t_cold:8.1f}{t_pf / t_cold:8.2f}x{cpu:8.1f}{cpu_pf / cpu:9.2f}x"
            f"{fid:11.4f}{abs(fid - fid_pf) / fid_pf:11.2e}{speed:10.1f}{n / t_cold / speed:8.2f}{t_warm:8.2f}"
            f"{mem_cold / gib:9.2f}"
        )
    if n_small:
        print(f"peak memory vptadvisor (default engine), {n_small} images: {mem_small / gib:.2f} GiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
