"""vptadvisor analyze vs pytorch-fid on the same images, in one run: time, memory, FID agreement.

    python benchmarks/fid_vs_pytorch_fid.py [--dataset ../shared/datasets/dtd-10]

pytorch-fid runs offline from a temporary torch hub cache holding the same Inception weights
(written from the resolved weights in pytorch-fid's checkpoint format). It gets flat directories of
symlinks, because it only globs lower-case extensions in one folder. Its reference statistics are
precomputed (untimed), so both tools are timed on the dataset's images only:
  pytorch-fid --batch-size 1 DATASET ref_stats.npz      vs      vptadvisor analyze DATASET (cold cache)
Also printed: warm-cache analyze time, the Inception forward alone at batch 32 in channels_last (the
machine's compute limit), and peak memory (PSS of the whole process tree) at two dataset sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _procmem import run_measured  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def flat_links(src: Path, dst: Path, limit: int | None = None) -> Path:
    from vptadvisor.dataset.layout import open_dataset

    dst.mkdir(parents=True)
    for i, sample in enumerate(open_dataset(src).samples[:limit]):
        (dst / f"{i:05d}_{Path(sample.relpath).stem}.jpg").symlink_to(sample.path)
    return dst


def folder_subset(src: Path, dst: Path, n: int) -> Path:
    """Every k-th image of `src` as symlinks in an ImageFolder layout."""
    from vptadvisor.dataset.layout import open_dataset

    ds = open_dataset(src)
    for s in ds.samples[:: max(1, len(ds.samples) // n)][:n]:
        (dst / (s.label or "all")).mkdir(parents=True, exist_ok=True)
        (dst / (s.label or "all") / Path(s.relpath).name).symlink_to(s.path)
    return dst


def forward_speed(batch: int = 32, repeats: int = 3) -> float:
    import torch

    from vptadvisor.features.inception import FIDInception
    from vptadvisor.features.inception_weights import locate_inception_weights

    model = FIDInception(locate_inception_weights().load_state_dict()).to(memory_format=torch.channels_last)
    x = torch.rand(batch, 3, 299, 299).contiguous(memory_format=torch.channels_last) * 2 - 1
    with torch.inference_mode():
        model(x)
        start = time.perf_counter()
        for _ in range(repeats):
            model(x)
    return batch * repeats / (time.perf_counter() - start)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", type=Path, default=SHARED / "datasets" / "dtd-10")
    ap.add_argument("--reference-images", type=Path, default=SHARED / "datasets" / "imagenet-sample-1000")
    ap.add_argument("--small", type=int, default=300, help="images in the small run of the memory check")
    args = ap.parse_args()
    from vptadvisor.features.inception_weights import locate_inception_weights, write_pytorch_fid_checkpoint

    work = Path(tempfile.mkdtemp(prefix="vpt-bench-"))
    env = {**os.environ, "TORCH_HOME": str(work / "torch"), "VPTADVISOR_CACHE_DIR": str(work / "cache-cold")}
    write_pytorch_fid_checkpoint(locate_inception_weights().load_state_dict(),
                                 work / "torch" / "hub" / "checkpoints" / "pt_inception-2015-12-05-6726825d.pth")
    data_flat = flat_links(args.dataset, work / "data-flat")
    ref_flat = flat_links(args.reference_images, work / "ref-flat")
    py = sys.executable
    print(f"work dir {work}; dataset {args.dataset} ({len(list(data_flat.iterdir()))} images)", flush=True)

    t, _, done = run_measured([py, "-m", "pytorch_fid", "--batch-size", "1", "--device", "cpu", "--save-stats",
                               str(ref_flat), str(work / "ref_stats.npz")], env)
    assert done.returncode == 0, done.stderr[-2000:]
    print(f"(untimed) pytorch-fid reference statistics: {t:.0f} s", flush=True)

    t_pf, mem_pf, done = run_measured([py, "-m", "pytorch_fid", "--batch-size", "1", "--device", "cpu",
                                       str(data_flat), str(work / "ref_stats.npz")], env)
    assert done.returncode == 0, done.stderr[-2000:]
    fid_pf = float(re.search(r"FID:\s+([0-9.]+)", done.stdout).group(1))
    print(f"pytorch-fid --batch-size 1: FID {fid_pf:.4f} in {t_pf:.1f} s", flush=True)

    cmd = [py, "-m", "vptadvisor", "analyze", str(args.dataset), "--format", "json", "--device", "cpu"]
    t_cold, mem_cold, done = run_measured(cmd, env)
    assert done.returncode == 0, done.stderr[-2000:]
    ours = json.loads(done.stdout)
    t_warm, mem_warm, done = run_measured(cmd, env)
    assert done.returncode == 0 and json.loads(done.stdout)["timing"]["n_computed"] == 0
    fid = ours["distance"]["fid"]
    n = ours["dataset"]["n_images"]
    print(f"vptadvisor analyze (cold): FID {fid:.4f} in {t_cold:.1f} s; warm {t_warm:.2f} s", flush=True)

    env_small = {**env, "VPTADVISOR_CACHE_DIR": str(work / "cache-small")}
    small = folder_subset(args.dataset, work / "small", args.small)
    t_small, mem_small, done = run_measured([py, "-m", "vptadvisor", "analyze", str(small), "--format", "json",
                                             "--device", "cpu"], env_small)
    assert done.returncode == 0, done.stderr[-2000:]
    n_small = json.loads(done.stdout)["dataset"]["n_images"]

    speed = forward_speed()
    gib = 1024**3
    print()
    print(f"{'':44s}{'value':>12s}")
    print(f"{'FID pytorch-fid (batch 1)':44s}{fid_pf:12.4f}")
    print(f"{'FID vptadvisor':44s}{fid:12.4f}")
    print(f"{'relative difference':44s}{abs(fid - fid_pf) / fid_pf:12.2e}")
    print(f"{'pytorch-fid seconds':44s}{t_pf:12.1f}")
    print(f"{'vptadvisor cold seconds':44s}{t_cold:12.1f}")
    print(f"{'speed-up (pytorch-fid / vptadvisor cold)':44s}{t_pf / t_cold:11.2f}x")
    print(f"{'vptadvisor warm seconds':44s}{t_warm:12.2f}")
    print(f"{'vptadvisor images/s (cold, end to end)':44s}{n / t_cold:12.1f}")
    print(f"{'Inception forward alone, batch 32, CL, img/s':44s}{speed:12.1f}")
    print(f"{'ours / forward-alone throughput':44s}{n / t_cold / speed:12.2f}")
    print(f"{'peak memory pytorch-fid (GiB)':44s}{mem_pf / gib:12.2f}")
    print(f"{f'peak memory vptadvisor, {n} images (GiB)':44s}{mem_cold / gib:12.2f}")
    print(f"{f'peak memory vptadvisor, {n_small} images (GiB)':44s}{mem_small / gib:12.2f}")
    print(f"{'peak memory vptadvisor warm (GiB)':44s}{mem_warm / gib:12.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
