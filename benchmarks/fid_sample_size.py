"""How FID against the 1,000-image ImageNet reference grows as the dataset shrinks, and how well
vptadvisor puts a small dataset's FID on the 1,000-image scale.

1. FID(n) on random subsets of four real and generated datasets. The offset b(n) = FID(n) − FID(1000)
   differs between datasets by a factor of about 3, and the ratio FID(n)/FID(1000) even more; but
   the shape b(n)/b(100) is nearly the same for all: that mean shape g(n) is what
   `vptadvisor.distance.size` uses (equation 4 there).
2. Leave-one-dataset-out validation of the estimator: for each dataset, g is taken from the other
   three; random subsets of N images are drawn, F = FID(1000) is estimated from them alone, and
   compared with the dataset's measured FID(1000). The RMS error by N is the sd the tool reports.

    python benchmarks/fid_sample_size.py [--shared ../shared] [--work /tmp/vpt-fid-size] [--write]

`--write` stores sizes, shape and validation error in data/fid_size_curve.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from vptadvisor.dataset.layout import open_dataset
from vptadvisor.distance.reference import load_reference
from vptadvisor.distance.size import SizeCurve, fit_fid_at_standard
from vptadvisor.features.extract import InceptionExtractor
from vptadvisor.synthetic import write_counting_dataset

SIZES = (50, 75, 100, 150, 200, 300, 400, 500, 600, 800, 1000)
REPO = Path(__file__).resolve().parents[1]


def _transformed_imagenet(shared: Path, out: Path) -> Path:
    """ImageNet sample, mirrored and centre-cropped to 60 %: near the reference, not identical."""
    if out.is_dir():
        return out
    out.mkdir(parents=True)
    for src in sorted((shared / "datasets" / "imagenet-sample-1000").iterdir()):
        im = ImageOps.mirror(Image.open(src).convert("RGB"))
        w, h = im.size
        im.crop((int(w * 0.2), int(h * 0.2), int(w * 0.8), int(h * 0.8))).save(out / f"{src.stem}.png")
    return out


def _gray_dtd(shared: Path, out: Path) -> Path:
    if out.is_dir():
        return out
    for src in sorted((shared / "datasets" / "dtd-10").rglob("*.jpg")):
        target = out / src.parent.name / f"{src.stem}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        ImageOps.posterize(Image.open(src).convert("L").convert("RGB"), 3).save(target)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    ap.add_argument("--work", type=Path, default=Path("/tmp/vpt-fid-size"))
    ap.add_argument("--repeats", type=int, default=8)
    ap.add_argument("--draws", type=int, default=5, help="validation subsets per dataset and size")
    ap.add_argument("--write", action="store_true", help="write data/fid_size_curve.json")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    counting = args.work / "counting"
    if not counting.is_dir():
        write_counting_dataset(counting, per_class=300, seed=1)
    datasets = {
        "dtd-10": args.shared / "datasets" / "dtd-10",
        "imagenet-mirror-crop": _transformed_imagenet(args.shared, args.work / "imagenet-mirror-crop"),
        "dtd-10-gray-posterized": _gray_dtd(args.shared, args.work / "dtd-gray"),
        "counting-scenes": counting,
    }
    reference = load_reference()
    extractor = InceptionExtractor(cache_root=args.work / "cache")
    rng = np.random.default_rng(0)
    feats, fid = {}, {}
    for name, path in datasets.items():
        x = extractor.extract([s.path for s in open_dataset(path).samples]).features["pool3"]
        feats[name] = x
        fid[name] = np.array(
            [
                np.mean(
                    [
                        reference.fid(x[rng.choice(len(x), n, replace=False)])
                        for _ in range(1 if n == len(x) else args.repeats)
                    ]
                )
                for n in SIZES
            ]
        )
        print(
            f"{name:24s} n={len(x):5d} "
            + " ".join(
                f"{n}:{v:.1f}(+{v - fid[name][-1]:.1f}, x{v / fid[name][-1]:.2f})" for n, v in zip(SIZES, fid[name])
            ),
            flush=True,
        )
    table = np.array(list(fid.values()))
    offsets = table - table[:, -1:]
    i100 = SIZES.index(100)
    shapes = offsets / offsets[:, i100 : i100 + 1]
    for label, arr in (("offset", offsets), ("ratio", table / table[:, -1:]), ("shape b(n)/b(100)", shapes)):
        cv = arr.std(0, ddof=1) / np.maximum(np.abs(arr.mean(0)), 1e-9)
        print(f"{label:18s} mean " + " ".join(f"{n}:{v:.3f}" for n, v in zip(SIZES, arr.mean(0))))
        print(f"{label:18s} cv   " + " ".join(f"{n}:{v:.3f}" for n, v in zip(SIZES, cv)))

    names = list(fid)
    errors: dict[int, list[float]] = {n: [] for n in SIZES[:-1]}
    for k, name in enumerate(names):
        others = [j for j in range(len(names)) if j != k]
        curve = SizeCurve(np.array(SIZES, float), shapes[others].mean(0), np.zeros(len(SIZES)))
        x, truth = feats[name], fid[name][-1]
        for n in SIZES[:-1]:
            for _ in range(args.draws):
                subset = x[np.sort(rng.choice(len(x), n, replace=False))]
                est = fit_fid_at_standard(
                    subset,
                    reference,
                    reference.fid(subset),
                    lambda m, curve=curve: curve.g(m)[0],
                    seed=int(rng.integers(1 << 31)),
                )
                errors[n].append(est - truth)
        print(
            f"held out {name:24s} error at N: "
            + " ".join(f"{n}:{np.mean(errors[n][-args.draws :]):+.1f}" for n in SIZES[:-1]),
            flush=True,
        )
    rmse = [float(np.sqrt(np.mean(np.square(errors[n])))) for n in SIZES[:-1]] + [0.0]
    bias = [float(np.mean(errors[n])) for n in SIZES[:-1]] + [0.0]
    raw = [float(np.sqrt(np.mean(np.square(offsets[:, i])))) for i in range(len(SIZES))]
    print("estimator RMS error " + " ".join(f"{n}:{v:.1f}" for n, v in zip(SIZES, rmse)))
    print("estimator mean error" + " ".join(f" {n}:{v:+.1f}" for n, v in zip(SIZES, bias)))
    print("uncorrected RMS error" + " ".join(f" {n}:{v:.1f}" for n, v in zip(SIZES, raw)))
    if args.write:
        from vptadvisor.atomic import write_text

        doc = {
            "what": "shape g(n) = mean over datasets of (FID(n) - FID(1000)) / (FID(100) - FID(1000)) against the "
            "shipped imagenet-sample-1000 reference, and the leave-one-dataset-out RMS error of the "
            "FID(1000) estimate from n images (equation 4 in vptadvisor/distance/size.py)",
            "made_by": "python benchmarks/fid_sample_size.py --write",
            "repeats_per_size": args.repeats,
            "draws_per_size": args.draws,
            "seed": 0,
            "sizes": list(SIZES),
            "shape": [round(float(v), 5) for v in shapes.mean(0)],
            "error_sd": [round(v, 3) for v in rmse],
            "error_mean": [round(v, 3) for v in bias],
            "uncorrected_rms_error": [round(v, 3) for v in raw],
            "datasets": {
                name: {"n_images": len(feats[name]), "fid": [round(float(v), 3) for v in fid[name]]} for name in names
            },
        }
        write_text(REPO / "data" / "fid_size_curve.json", json.dumps(doc, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
