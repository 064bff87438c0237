"""analyze cost bounded in dataset size: a generated 40,000-image dataset against 4,000 of the same
images, both cold, side by side: wall time, their ratio, peak memory, files in the feature cache.

    python benchmarks/scale_dataset.py [--images 40000] [--subset 4000] [--work /tmp/vpt-scale]

The dataset: 10 classes of small JPEG textures (seeded), ImageFolder layout; the subset holds hard
links to the first images of each class (the same files). Each run gets an empty feature cache; the
converted Inception model is made once beforehand (untimed), as on any machine after its first run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _procmem import run_measured


def generate(root: Path, n: int, classes: int = 10, seed: int = 0) -> Path:
    if (root / "done").is_file():
        return root
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:48, 0:64]
    for c in range(classes):
        (root / f"class_{c:02d}").mkdir(parents=True, exist_ok=True)
        freq = 0.1 + 0.08 * c
        for i in range(n // classes):
            phase = rng.uniform(0, 2 * np.pi)
            wave = np.sin(freq * (xx * np.cos(c) + yy * np.sin(c)) + phase)[..., None]
            img = np.clip(128 + 80 * wave + rng.normal(0, 30, (48, 64, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(img).save(root / f"class_{c:02d}" / f"{i:05d}.jpg", quality=90)
    (root / "done").write_text("")
    return root


def subset(src: Path, dst: Path, n: int, classes: int = 10) -> Path:
    if dst.is_dir():
        return dst
    for class_dir in sorted(p for p in src.iterdir() if p.is_dir()):
        (dst / class_dir.name).mkdir(parents=True)
        for f in sorted(class_dir.iterdir())[: n // classes]:
            os.link(f, dst / class_dir.name / f.name)
    return dst


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=40_000)
    ap.add_argument("--subset", type=int, default=4_000)
    ap.add_argument("--work", type=Path, default=Path("/tmp/vpt-scale"))
    ap.add_argument(
        "--max-images",
        type=int,
        default=None,
        help="pass --max-images to analyze (default: analyze's own default, 5000)",
    )
    args = ap.parse_args()
    t0 = time.perf_counter()
    big = generate(args.work / f"data{args.images}", args.images)
    small = subset(big, args.work / f"data{args.subset}", args.subset)
    print(f"datasets ready in {time.perf_counter() - t0:.0f} s: {big} and {small}", flush=True)

    from vptadvisor.dataset.layout import open_dataset

    t0 = time.perf_counter()
    listed = len(open_dataset(big).samples)
    print(f"listing {listed} files: {time.perf_counter() - t0:.2f} s", flush=True)

    py = sys.executable
    engines = args.work / "engines-shared"
    engines.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "VPTADVISOR_CACHE_DIR": str(args.work)}
    warm = subprocess.run(
        [
            py,
            "-m",
            "vptadvisor",
            "analyze",
            str(small),
            "--format",
            "json",
            "--no-cache",
            "--max-images",
            "20",
            "--min-images",
            "10",
            "--objective",
            "classification",
        ],
        env={**env, "VPTADVISOR_CACHE_DIR": str(args.work / "convert")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert warm.returncode == 0, warm.stderr[-2000:]
    rows = []
    for data in (small, big):
        cache = args.work / f"cache-{data.name}-{time.time_ns()}"
        cache.mkdir()
        (cache / "engines").symlink_to(args.work / "convert" / "engines")
        cmd = [py, "-m", "vptadvisor", "analyze", str(data), "--format", "json", "--device", "cpu"]
        if args.max_images is not None:
            cmd += ["--max-images", str(args.max_images)]
        import resource

        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        seconds, peak, done = run_measured(cmd, {**env, "VPTADVISOR_CACHE_DIR": str(cache)})
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        assert done.returncode == 0, done.stderr[-2000:]
        out = json.loads(done.stdout)
        files = [p for p in (cache / "features").rglob("*") if p.is_file()]
        rows.append((data.name, out, seconds, peak, len(files), cpu))
        print(f"{data.name}: {seconds:.1f} s, {cpu:.1f} CPU s, FID {out['distance']['fid']:.2f}", flush=True)
    print()
    print(
        f"{'dataset':14s}{'files':>8s}{'embedded':>10s}{'n_train':>9s}{'seconds':>9s}{'CPU s':>8s}{'peak GiB':>10s}"
        f"{'cache files':>12s}{'FID':>9s}{'FID@1000':>10s}"
    )
    for name, out, seconds, peak, n_files, cpu in rows:
        d = out["dataset"]
        print(
            f"{name:14s}{d['n_files']:8d}{out['timing']['n_computed']:10d}{d['n_train']:9d}{seconds:9.1f}{cpu:8.1f}"
            f"{peak / 1024**3:10.2f}{n_files:12d}{out['distance']['fid']:9.2f}"
            f"{out['distance']['fid_matched']['value']:10.2f}"
        )
    print(
        f"ratio {rows[1][0]} / {rows[0][0]}: wall time {rows[1][2] / rows[0][2]:.2f}, CPU time "
        f"{rows[1][5] / rows[0][5]:.2f} (the machine was shared: CPU time is the steadier measure)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
