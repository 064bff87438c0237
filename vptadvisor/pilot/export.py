"""The trained parameters a user keeps per task (safetensors + JSON config), and loading them back.

``RUN_DIR/<arm>.safetensors`` holds exactly what the arm trained, under the names of the model
that `load_pilot_model` rebuilds: ``prompts`` (VPT), ``generators.*`` (VAPT),
``backbone.blocks.*.lora_A/B.default.weight`` (lora, adapter; peft's names), the backbone's
``*.bias`` (bitfit), and ``head.weight``/``head.bias`` (every arm). Its metadata (also written
beside it as ``<arm>.json``) is what is needed to rebuild the model: arm, backbone name and
weights, image size, prompt length, class names, normalisation, readout scale. Arms that train
the whole backbone (ft, mixed) write a file only with ``--save-backbone``; ft-then-pt's file holds
its prompts + head, and needs ft's fine-tuned backbone (``ft.safetensors``, --save-backbone).

    from vptadvisor.pilot import load_pilot_model
    model, classes, meta = load_pilot_model("runs/pilot-.../lora.safetensors")  # a timm ViT + the arm
    probs = model(images).softmax(-1)   # images normalised with meta["mean"], meta["std"]
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from vptadvisor.atomic import atomic_path, write_text
from vptadvisor.errors import UsageError


def save_weights(path: str | Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> Path:
    path = Path(path)
    data = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(data, str(tmp), metadata={"vptadvisor": json.dumps(meta, sort_keys=True)})
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # an ordinary file, like the other results
    write_text(path.with_suffix(".json"), json.dumps(meta, indent=2, sort_keys=True) + "\n")
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


def load_pilot_model(path: str | Path, weights: str | Path | None = None, ft_backbone: str | Path | None = None):
    """Rebuild a pilot's trained model: (model in eval mode, class names, metadata). `weights`
    overrides the backbone checkpoint path stored in the file; `ft_backbone` is ft.safetensors of
    the same run, needed for an ft-then-pt file."""
    from safetensors.torch import load_file

    from vptadvisor.backbone import create_backbone
    from vptadvisor.pilot.engine import make_model

    meta = read_meta(path)
    tensors = load_file(str(path))
    src = weights or meta.get("weights")
    backbone, _ = create_backbone(
        meta["backbone"],
        None if src == "random" else src,
        img_size=meta["img_size"],
        pretrained=src != "random",
        model_kwargs=meta.get("backbone_kwargs") or None,
    )
    arm = meta["arm"]
    if meta.get("after"):
        if ft_backbone is None:
            raise UsageError(
                f"{path} prompt-tunes the fine-tuned backbone of {meta['after']}: "
                f"pass ft_backbone= its {meta['after']}.safetensors (written with --save-backbone)."
            )
        ft = load_file(str(ft_backbone))
        backbone.load_state_dict(
            {k[len("backbone.") :]: v for k, v in ft.items() if k.startswith("backbone.")}, strict=False
        )
    model = make_model(arm, backbone, len(meta["classes"]), int(meta.get("prompt_length") or 0), 0)
    tensors = {k: v for k, v in tensors.items() if k != "readout_scale"}
    missing = model.load_state_dict(tensors, strict=False)
    model.readout_scale.fill_(float(meta.get("readout_scale", 1.0)))
    if missing.unexpected_keys:
        raise UsageError(f"{path} does not match {meta['backbone']}: unexpected {missing.unexpected_keys[:3]}.")
    return model.eval(), list(meta["classes"]), meta
