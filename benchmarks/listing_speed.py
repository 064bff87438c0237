"""How fast `open_dataset` lists a large folder-layout dataset, side by side with torchvision's
ImageFolder listing (`torchvision.datasets.folder.make_dataset`) and a bare `os.walk`.

    python benchmarks/listing_speed.py [--files 200000] [--classes 1000] [--repeat 3]

Generates the tree (empty *.jpg files: listing reads names only) in a temporary directory, lists it
`--repeat` times with each method (warm page cache), and prints the best time of each and the
ratios. The tree is removed afterwards.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path


def make_tree(root: Path, n_files: int, n_classes: int) -> None:
    per_class = n_files // n_classes
    for c in range(n_classes):
        d = root / f"class_{c:04d}"
        d.mkdir(parents=True)
        for i in range(per_class):
            os.close(os.open(d / f"img_{i:06d}.jpg", os.O_CREAT | os.O_WRONLY, 0o644))


def ours(root: Path) -> int:
    from vptadvisor.dataset import open_dataset

    return len(open_dataset(root).samples)


def torchvision_imagefolder(root: Path) -> int:
    from torchvision.datasets.folder import IMG_EXTENSIONS, find_classes, make_dataset

    _, class_to_idx = find_classes(str(root))
    return len(make_dataset(str(root), class_to_idx, extensions=IMG_EXTENSIONS))


def bare_os_walk(root: Path) -> int:
    n = 0
    for _, _, files in os.walk(root, followlinks=True):
        n += sum(1 for f in files if f.endswith(".jpg"))
    return n


def best_of(fn, root: Path, repeat: int) -> tuple[float, int]:
    times, n = [], 0
    for _ in range(repeat):
        t = time.perf_counter()
        n = fn(root)
        times.append(time.perf_counter() - t)
    return min(times), n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=200_000)
    ap.add_argument("--classes", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="listing-speed-"))
    try:
        t = time.perf_counter()
        make_tree(tmp / "data", args.files, args.classes)
        print(
            f"generated {args.files:,} files in {args.classes:,} classes in {time.perf_counter() - t:.1f}s "
            f"(CPUs: {os.cpu_count()})"
        )
        results = {}
        for name, fn in (
            ("vptadvisor open_dataset", ours),
            ("torchvision ImageFolder listing", torchvision_imagefolder),
            ("bare os.walk (names only)", bare_os_walk),
        ):
            seconds, n = best_of(fn, tmp / "data", args.repeat)
            results[name] = seconds
            print(f"{name:34s} {seconds:7.3f}s  {n:,} images  {n / seconds:,.0f} files/s")
        base = results["vptadvisor open_dataset"]
        for name, seconds in results.items():
            if name != "vptadvisor open_dataset":
                print(f"ratio {name} / vptadvisor: {seconds / base:.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
