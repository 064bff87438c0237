"""Shared helpers of the pilot tests: a tiny generated dataset and tiny random ViT checkpoints.

Imported by the other tests/test_pilot_*.py files (pytest puts tests/ on sys.path).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DTD = SHARED / "datasets" / "dtd-10"
VITS_WEIGHTS = SHARED / "weights" / "vit_small_patch14_dinov2.imgfocus.f16.safetensors"
TINY_NAME = "vit_tiny_patch16_224"
TINY_KWARGS = {"patch_size": 8, "embed_dim": 32, "depth": 2, "num_heads": 2}
TINY_IMG = 32


def make_dataset(
    root: Path, n_classes: int = 4, per_class: int = 16, size: int = 40, seed: int = 0, bad_files: bool = False
) -> Path:
    """root/<class>/*.png: each class a colour with a class-specific stripe pattern, plus noise."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:size, 0:size]
    for c in range(n_classes):
        d = root / f"class_{c}"
        d.mkdir(exist_ok=True)
        base = np.array([(60 * c) % 256, (255 - 50 * c) % 256, (120 + 70 * c) % 256], dtype=np.float64)
        stripes = (np.sin((xx * (c + 1) + yy * (n_classes - c)) / 3.0) > 0).astype(np.float64)
        for i in range(per_class):
            img = base[None, None, :] * (0.6 + 0.4 * stripes[..., None]) + rng.normal(0, 25, (size, size, 3))
            Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(d / f"img_{i:03d}.png")
    if bad_files:
        (root / "class_0" / "empty.jpg").write_bytes(b"")
        (root / "class_1" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    return root


def make_tiny_weights(path: Path, seed: int = 0) -> Path:
    """A randomly initialised tiny ViT saved as safetensors (stands in for a real checkpoint)."""
    import timm
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(seed)
    model = timm.create_model(TINY_NAME, pretrained=False, num_classes=0, img_size=TINY_IMG, **TINY_KWARGS)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return path


def tiny_cli_args(data: Path, weights: Path, out: Path, steps: int, extra: list[str] | None = None) -> list[str]:
    return [
        str(data),
        "--backbone",
        TINY_NAME,
        "--weights",
        str(weights),
        "--backbone-kwargs",
        json.dumps(TINY_KWARGS),
        "--img-size",
        str(TINY_IMG),
        "--steps",
        str(steps),
        "--batch-size",
        "8",
        "--out",
        str(out),
        "--device",
        "cpu",
        "--threads",
        "1",
        "--format",
        "json",
        "--quiet",
    ] + (extra or [])


def test_generated_dataset_has_the_layout_the_pilot_reads(tmp_path):
    from vptadvisor.dataset import open_dataset

    ds = open_dataset(make_dataset(tmp_path / "d", n_classes=3, per_class=5))
    assert ds.layout == "folder" and ds.classes == ["class_0", "class_1", "class_2"] and len(ds.samples) == 15
