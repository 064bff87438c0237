"""The trained prompts + head a user keeps (safetensors, a few hundred KB), and loading them back.

A VPT file holds ``prompts`` (sets x length x dim), ``head.weight``, ``head.bias`` and, as
metadata, what is needed to rebuild the model: backbone name and weights, image size, prompt
length, deep or shallow, class names, normalisation. Full fine-tuning writes a model file only
with ``--save-backbone`` (it is the size of the backbone).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from vptadvisor.atomic import atomic_path
from vptadvisor.errors import UsageError


def save_weights(path: str | Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> Path:
    path = Path(path)
    data = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(data, str(tmp), metadata={"vptadvisor": json.dumps(meta, sort_keys=True)})
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # an ordinary file, like the other results
    return path


def read_meta(path: str | Path) -> dict[str, Any]:
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
    except (OSError, Exception) as exc:  # safetensors raises its own error type for bad headers
        raise UsageError(f"Cannot read {path} ({exc}); pass a file written by `vptadvisor pilot`.") from None
    if "vptadvisor" not in meta:
        raise UsageError(f"{path} was not written by `vptadvisor pilot`: it has no vptadvisor metadata.")
    return json.loads(meta["vptadvisor"])


def load_pilot_model(path: str | Path, weights: str | Path | None = None):
    """Rebuild a pilot's trained model: (PromptedViT in eval mode, class names, metadata).
    `weights` overrides the backbone checkpoint path stored in the file."""
    from safetensors.torch import load_file

    from vptadvisor.backbone import create_backbone
    from vptadvisor.pilot.vpt import PromptedViT

    meta = read_meta(path)
    tensors = load_file(str(path))
    src = weights or meta.get("weights")
    backbone, _ = create_backbone(meta["backbone"], None if src == "random" else src, img_size=meta["img_size"],
                                  pretrained=src != "random", model_kwargs=meta.get("backbone_kwargs") or None)
    arm = meta["arm"]
    model = PromptedViT(backbone, len(meta["classes"]), prompt_length=meta["prompt_length"],
                        deep=arm == "vpt-deep", train_backbone=arm == "ft")
    tensors = {k: v for k, v in tensors.items() if k != "readout_scale"}
    missing = model.load_state_dict(tensors, strict=False)
    model.readout_scale.fill_(float(meta.get("readout_scale", 1.0)))
    if missing.unexpected_keys:
        raise UsageError(f"{path} does not match {meta['backbone']}: unexpected {missing.unexpected_keys[:3]}.")
    return model.eval(), list(meta["classes"]), meta
