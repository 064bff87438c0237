"""Which VPT learning rates can a linear head on a real backbone's class token take?

The VPT protocol's SGD grid (base 0.05..50, x batch/256) was tuned on a supervised ViT-B/16. The
head's stable step size depends on the readout's scale (|f|^2), which differs between backbones.
This probe extracts the frozen class-token features of ViT-S/14 (../shared/weights) on dtd-10 and
trains only the linear head with SGD (momentum 0.9, cosine, warm-up) at each base lr, batch 32,
for a fixed number of steps; it prints the largest loss seen and the val accuracy.

    python benchmarks/pilot_head_lr.py [--img-size 112] [--steps 60]
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch
import torch.nn.functional as F

from vptadvisor.backbone import create_backbone
from vptadvisor.pilot.budget import lr_at
from vptadvisor.pilot.data import cache_size_for, decode_images, make_split

SHARED = Path(__file__).resolve().parents[2] / "shared"


def features(model, x_uint8, img, mean, std, bs=64):
    top = (x_uint8.shape[1] - img) // 2
    out = []
    with torch.inference_mode():
        for i in range(0, len(x_uint8), bs):
            x = x_uint8[i : i + bs, top : top + img, top : top + img].permute(0, 3, 1, 2).float()
            x = (x - mean) / std
            out.append(model.forward_head(model.forward_features(x), pre_logits=True))
    return torch.cat(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--img-size", type=int, default=112)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model, info = create_backbone(
        "vit_small_patch14_dinov2",
        SHARED / "weights" / "vit_small_patch14_dinov2.imgfocus.f16.safetensors",
        img_size=args.img_size,
    )
    root = SHARED / "datasets" / "dtd-10"
    split = make_split(root, seed=0)
    size = cache_size_for(args.img_size)
    xtr, _ = decode_images(root, [p for p, _ in split.train], size, args.threads)
    xva, _ = decode_images(root, [p for p, _ in split.val], size, args.threads)
    mean = torch.tensor(info.mean).view(1, 3, 1, 1) * 255
    std = torch.tensor(info.std).view(1, 3, 1, 1) * 255
    ftr = features(model, xtr, args.img_size, mean, std)
    fva = features(model, xva, args.img_size, mean, std)
    ytr = torch.tensor([y for _, y in split.train])
    yva = torch.tensor([y for _, y in split.val])
    print(f"readout |f|^2 = {ftr.pow(2).sum(1).mean():.0f} (dim {ftr.shape[1]})")
    batch, warm = 32, max(1, round(0.1 * args.steps))
    for opt_name, grid in (
        ("sgd", [50, 25, 10, 5, 2.5, 1, 0.5, 0.25, 0.1, 0.05, 0.01, 0.005]),
        ("adamw", [0.01, 0.001]),
    ):
        for base in grid:
            torch.manual_seed(0)
            head = torch.nn.Linear(ftr.shape[1], 10)
            with torch.no_grad():
                head.weight.mul_(0).add_(torch.randn_like(head.weight) * 0.01)
                head.bias.zero_()
            opt = (
                torch.optim.SGD(head.parameters(), lr=0, momentum=0.9, weight_decay=1e-4)
                if opt_name == "sgd"
                else torch.optim.AdamW(head.parameters(), lr=0, weight_decay=1e-4)
            )
            worst = 0.0
            g = torch.Generator().manual_seed(0)
            for step in range(args.steps):
                idx = torch.randint(0, len(ytr), (batch,), generator=g)
                lr = (
                    lr_at(base, batch, step, warm, step / args.steps)
                    if opt_name == "sgd"
                    else base * 0.5 * (1 + math.cos(math.pi * step / args.steps)) * min(1.0, (step + 1) / warm)
                )
                for grp in opt.param_groups:
                    grp["lr"] = lr
                loss = F.cross_entropy(head(ftr[idx]), ytr[idx])
                worst = max(worst, float(loss))
                opt.zero_grad()
                loss.backward()
                opt.step()
            acc = float((head(fva).argmax(1) == yva).float().mean())
            print(
                f"{opt_name:5s} base lr {base:<6g} actual {base * batch / 256 if opt_name == 'sgd' else base:<9.4g}"
                f" max loss {worst:9.3g}  val acc {acc:.3f}"
            )


if __name__ == "__main__":
    main()
