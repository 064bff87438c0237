"""How do fixed learning rates do in a short pilot on the real ViT-S/14 and dtd-10?

Runs `run_pilot` with one learning-rate candidate per run (no search) for a fixed number of
steps and prints the val accuracy and the mean training loss of the last steps, for the VPT-deep
SGD grid and (optionally) the FT AdamW grid. Evidence for the candidate sets in
vptadvisor/pilot/budget.py; the numbers are quoted in docs/pilot.md.

    python benchmarks/pilot_lr_probe.py --arm vpt-deep --lrs 10,1,0.25,0.05 --steps 30 --img-size 112
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from vptadvisor.pilot import run_pilot

SHARED = Path(__file__).resolve().parents[2] / "shared"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--arm", default="vpt-deep")
    ap.add_argument("--lrs", default="10,1,0.25,0.05")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--img-size", type=int, default=112)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    for lr in [float(v) for v in args.lrs.split(",")]:
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            r = run_pilot(
                SHARED / "datasets" / "dtd-10",
                steps=args.steps,
                arms=args.arm,
                lrs={args.arm: [lr]},
                backbone="vit_small_patch14_dinov2",
                weights=SHARED / "weights" / "vit_small_patch14_dinov2.imgfocus.f16.safetensors",
                img_size=args.img_size,
                batch_size=args.batch_size,
                evals=1,
                device="cpu",
                threads=args.threads,
                run_dir=Path(tmp) / "run",
            )
            arm = r.arms[args.arm]
            losses = [v for _, v in arm.curve["train"]]
            tail = losses[-max(1, len(losses) // 4) :]
            acc = "failed" if arm.val_accuracy is None else f"{arm.val_accuracy:.3f}"
            print(
                f"{args.arm} base lr {lr:<8g} steps {arm.steps:3d}  val acc {acc}  "
                f"max loss {max(losses) if losses else float('nan'):9.3g}  last-quarter loss "
                f"{sum(tail) / max(1, len(tail)):7.3f}  ({time.perf_counter() - t:.0f}s)",
                flush=True,
            )


if __name__ == "__main__":
    main()
