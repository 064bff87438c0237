"""Create a timm Vision Transformer with pretrained weights.

Weights come from, in order:

1. an explicit local file (``weights=`` / ``--weights``: safetensors, a torch checkpoint loaded with
   ``weights_only=True``, or the original JAX ``.npz``);
2. online (the default): timm's own pretrained path, i.e. the Hugging Face hub, which downloads once
   into the Hugging Face cache and reuses it (and falls back to the cached copy when the hub cannot
   be reached);
3. offline (``offline=True`` / ``--offline``, ``$HF_HUB_OFFLINE=1`` or ``$VPTADVISOR_OFFLINE=1``): the
   local Hugging Face cache or torch hub cache only, without touching the network.

When none gives weights, a ``MeasureError`` names the ways to provide them.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from vptadvisor.errors import MeasureError, UsageError

DEFAULT_BACKBONE = "vit_base_patch16_224.augreg_in21k"
_HF_FILENAMES = ("model.safetensors", "open_clip_model.safetensors", "pytorch_model.bin", "open_clip_pytorch_model.bin")


@dataclass(frozen=True)
class BackboneInfo:
    """What was built: the timm name, where the weights came from, and the input preprocessing."""

    name: str
    weights: str  # a file path, or "random" for a randomly initialised backbone
    img_size: int
    patch_size: int
    embed_dim: int
    depth: int
    num_params: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


def _hf_cached_file(repo_id: str, filename: str | None) -> Path | None:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # huggingface_hub is optional: then only the torch hub cache counts
        return None
    for name in (filename,) if filename else _HF_FILENAMES:
        found = try_to_load_from_cache(repo_id, name)
        if isinstance(found, str) and os.path.isfile(found):
            return Path(found)
    return None


def _torch_hub_cached_file(url: str) -> Path | None:
    candidate = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url.split("?")[0])
    return candidate if candidate.is_file() else None


def find_offline_weights(name: str) -> Path | None:
    """The local file timm would load for `name`'s pretrained weights, or None when there is none."""
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(name, allow_unregistered=False)
    if cfg is None:
        return None
    cfg = cfg.to_dict()
    if cfg.get("file") and os.path.isfile(cfg["file"]):
        return Path(cfg["file"])
    if cfg.get("hf_hub_id"):
        found = _hf_cached_file(cfg["hf_hub_id"], cfg.get("hf_hub_filename"))
        if found is not None:
            return found
    if cfg.get("url"):
        return _torch_hub_cached_file(cfg["url"])
    return None


def offline_mode(offline: bool = False) -> tuple[bool, str]:
    """(downloads are off, why) from the flag and the environment."""
    if offline:
        return True, "--offline"
    for env in ("HF_HUB_OFFLINE", "VPTADVISOR_OFFLINE"):
        if os.environ.get(env, "").strip().lower() not in ("", "0", "false", "no", "off"):
            return True, f"${env}"
    return False, ""


def _hub_id(name: str) -> str | None:
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(name, allow_unregistered=False)
    return None if cfg is None else cfg.to_dict().get("hf_hub_id")


def _how_to_provide(name: str) -> str:
    hub = _hub_id(name)
    fetch = f", or fetch them once with `hf download {hub}`" if hub else ""
    return (
        f"pass --weights PATH to a local .safetensors or .pth checkpoint, or run online (without --offline, "
        f"$HF_HUB_OFFLINE or $VPTADVISOR_OFFLINE) so timm downloads them into the Hugging Face cache{fetch}"
    )


def _check_known(name: str) -> None:
    import timm
    from timm.models import is_model_in_modules

    base = name.split(".", 1)[0]
    if not timm.is_model(base):
        raise UsageError(
            f"Unknown timm model {name!r}: pass a timm ViT name such as {DEFAULT_BACKBONE} "
            "(`vptadvisor backbones` lists the ones the rule knows)."
        )
    if not is_model_in_modules(base, ["vision_transformer", "deit", "vision_transformer_hybrid"]):
        raise UsageError(f"{name} is not a timm VisionTransformer with a class token: pick e.g. {DEFAULT_BACKBONE}.")


def create_backbone(
    name: str = DEFAULT_BACKBONE,
    weights: str | os.PathLike | None = None,
    *,
    img_size: int | None = 224,
    pretrained: bool = True,
    model_kwargs: dict[str, Any] | None = None,
    offline: bool = False,
) -> tuple[nn.Module, BackboneInfo]:
    """Build timm model `name` without classifier (num_classes=0) and load its pretrained weights.

    `weights`: a local checkpoint; without it timm's pretrained path (Hugging Face hub and its cache),
    or with `offline` (or $HF_HUB_OFFLINE / $VPTADVISOR_OFFLINE) only the local caches.
    `pretrained=False` gives a randomly initialised backbone (tests, smoke runs).
    `model_kwargs` go to `timm.create_model` (e.g. depth/embed_dim of a tiny test ViT).
    """
    import timm

    _check_known(name)
    kwargs: dict[str, Any] = dict(model_kwargs or {})
    kwargs["num_classes"] = 0
    if img_size is not None:
        kwargs["img_size"] = int(img_size)
    source = "random"
    if pretrained:
        path: Path | None
        if weights is not None:
            path = Path(weights).expanduser()
            if not path.is_file():
                raise UsageError(f"Weights file {path} does not exist: pass --weights PATH to a local checkpoint.")
            source = str(path)
            kwargs["pretrained_cfg_overlay"] = {"file": str(path), "custom_load": path.suffix.lower() == ".npz"}
        else:
            off, why = offline_mode(offline)
            path = find_offline_weights(name) if off else None
            if off and path is None:
                raise MeasureError(
                    f"No weights for {name!r} in the Hugging Face or torch hub cache, and downloads are off ({why}): "
                    f"{_how_to_provide(name)}."
                )
            if path is not None:
                source = str(path)
                kwargs["pretrained_cfg_overlay"] = {"file": str(path), "custom_load": path.suffix.lower() == ".npz"}
            else:
                return _from_timm_hub(name, kwargs)
    try:
        model = timm.create_model(name, pretrained=pretrained, **kwargs)
    except (RuntimeError, KeyError, ValueError, OSError, EOFError, pickle.UnpicklingError) as exc:
        # torch.load's weights-only refusal is an UnpicklingError (or an error that names weights_only)
        if pretrained and (isinstance(exc, pickle.UnpicklingError) or "weights_only" in str(exc)):
            raise MeasureError(
                f"{source} is not a plain weights checkpoint (it needs pickle to load): save it as safetensors."
            ) from None
        if isinstance(exc, pickle.UnpicklingError):
            raise
        if pretrained:
            detail = " ".join(str(exc).split())[:240] or type(exc).__name__
            raise MeasureError(
                f"Cannot load weights {source} into {name} ({detail}); pass a checkpoint of that architecture."
            ) from None
        raise UsageError(f"Cannot build {name} ({exc}); check --backbone and its arguments.") from None
    except TypeError as exc:
        raise UsageError(
            f"Cannot build {name} with {model_kwargs or {}} ({exc}): pass a timm ViT such as "
            f"{DEFAULT_BACKBONE} and valid --backbone-kwargs."
        ) from None
    return _finish(name, model, source)


def _finish(name: str, model: nn.Module, source: str) -> tuple[nn.Module, BackboneInfo]:
    from timm.models.vision_transformer import VisionTransformer

    if not isinstance(model, VisionTransformer) or getattr(model, "cls_token", None) is None:
        raise UsageError(f"{name} is not a timm VisionTransformer with a class token: pick e.g. {DEFAULT_BACKBONE}.")
    cfg: dict[str, Any] = cast("dict[str, Any]", model.pretrained_cfg or {})
    patch = model.patch_embed.patch_size
    grid_img = model.patch_embed.img_size
    info = BackboneInfo(
        name=name,
        weights=source,
        img_size=int(grid_img[0] if isinstance(grid_img, (tuple, list)) else grid_img),
        patch_size=int(patch[0] if isinstance(patch, (tuple, list)) else patch),
        embed_dim=int(model.embed_dim),
        depth=len(model.blocks),
        num_params=sum(p.numel() for p in model.parameters()),
        mean=cast("tuple[float, float, float]", tuple(float(v) for v in cfg.get("mean", (0.485, 0.456, 0.406)))),
        std=cast("tuple[float, float, float]", tuple(float(v) for v in cfg.get("std", (0.229, 0.224, 0.225)))),
    )
    model.eval()
    return model, info


def _from_timm_hub(name: str, kwargs: dict[str, Any]) -> tuple[nn.Module, BackboneInfo]:
    """timm's own pretrained path (Hugging Face hub, with its cache); download failures say what to do."""
    import timm

    try:
        model = timm.create_model(name, pretrained=True, **kwargs)
    except TypeError as exc:
        raise UsageError(f"Cannot build {name} ({exc}): check --backbone and its arguments.") from None
    except Exception as exc:
        detail = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise MeasureError(
            f"Could not get pretrained weights for {name!r} from the Hugging Face hub ({detail}); "
            f"{_how_to_provide(name)}."
        ) from None
    found = find_offline_weights(name)
    hub = _hub_id(name)
    return _finish(name, model, str(found) if found is not None else f"hf-hub:{hub or name}")
