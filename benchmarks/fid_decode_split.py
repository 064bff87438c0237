"""Where a cold analyze spends its CPU: JPEG decode vs resize vs the network, per image, one thread;
and whether PIL's JPEG `draft` mode (decode at 1/2, 1/4, 1/8 scale) could be used exactly.

    python benchmarks/fid_decode_split.py [--images 120]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from vptadvisor.dataset.images import load_rgb
from vptadvisor.dataset.layout import open_dataset
from vptadvisor.features.preprocess import INCEPTION_SIZE, to_inception_input

SHARED = Path(__file__).resolve().parents[2] / "shared"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", type=Path, default=SHARED / "datasets" / "dtd-10")
    ap.add_argument("--images", type=int, default=120)
    args = ap.parse_args()
    torch.set_num_threads(1)
    samples = open_dataset(args.dataset).samples
    samples = samples[:: max(1, len(samples) // args.images)][: args.images]
    t_decode = t_resize = 0.0
    sizes = []
    for s in samples:
        t0 = time.perf_counter()
        rgb, _ = load_rgb(s.path)
        t1 = time.perf_counter()
        to_inception_input(rgb)
        t2 = time.perf_counter()
        t_decode += t1 - t0
        t_resize += t2 - t1
        sizes.append(rgb.shape[:2])
    n = len(samples)
    print(f"{n} images, median size {np.median([h for h, _ in sizes]):.0f}x{np.median([w for _, w in sizes]):.0f}")
    print(f"decode (PIL, checks, EXIF, RGB): {1000 * t_decode / n:6.1f} ms/image, one thread")
    print(f"resize to 299 (torch bilinear):  {1000 * t_resize / n:6.1f} ms/image, one thread")
    # draft: JPEG DCT scaling before the bilinear resize. Exact only if it changed nothing.
    worst = 0.0
    used = 0
    for s in samples[:40]:
        with Image.open(s.path) as im:
            full = np.asarray(im.convert("RGB"))
        with Image.open(s.path) as im:
            im.draft("RGB", (INCEPTION_SIZE, INCEPTION_SIZE))
            drafted = np.asarray(im.convert("RGB"))
        if drafted.shape != full.shape:
            used += 1
            a = to_inception_input(full).numpy()
            b = to_inception_input(drafted).numpy()
            worst = max(worst, float(np.abs(a - b).max()))
    print(
        f"PIL draft changed the decode of {used}/40 images; largest input difference after resize: {worst:.3f} "
        "(inputs lie in [-1, 1]): not exact"
        if used
        else "PIL draft never applied"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
