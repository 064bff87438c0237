"""Visual Prompt Tuning (Jia et al., ECCV 2022) and full fine-tuning on a timm VisionTransformer.

Written from the paper, not from its reference code. Token layout at the input of block 1:

    [CLS, REG_1..REG_r, P_1..P_L, E_1..E_N]

where CLS/REG/E went through timm's own embedding path (class token, register tokens, position
embedding, pos_drop, patch_drop, norm_pre) and the L prompts are inserted after it: prompts get
no position embedding. VPT-shallow inserts prompts once, before block 1. VPT-deep gives every
block its own fresh prompts: the prompt slots of block i's input are overwritten by P^(i), so the
previous block's outputs at those positions are discarded. Readout: the class token after the
final norm (and timm's fc_norm if the model has one) goes through a new linear head. The
backbone is frozen and kept in eval mode; only prompts and head train.

Readout scale: the head sees the class token divided by a fixed constant, `readout_scale`, the
root-mean-square per dimension of the frozen backbone's readout on training images (measured
once per run). A final LayerNorm with unit gains gives about 1, as on the paper's backbone; other
backbones differ (DINOv2 ViT-S/14: about 2.3, |f|^2 ~ 1,900), and since an SGD step on the head
moves the logits by lr * |f|^2, the protocol's learning-rate grid only transfers across
backbones when the scale is fixed. The constant is a reparametrisation of the linear head, not a
trained layer, and both arms use it.

With ``train_backbone=True`` and no prompts the same module is full fine-tuning with the same
readout and head, so both arms differ only in what trains.

Prompt initialisation: a prompt plays the part of a patch embedding, i.e. the output of a linear
map from a patch's 3*p_h*p_w pixel values to D dimensions. Xavier/Glorot uniform for such a map
draws U(-a, a) with a = sqrt(6 / (fan_in + fan_out)), fan_in = 3*p_h*p_w, fan_out = D
(ViT-B/16: a = sqrt(6/1536) = 0.0625; ViT-S/14: sqrt(6/972) = 0.0786).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from vptadvisor.errors import UsageError

# Defaults chosen from the published per-task best prompt lengths (docs/pilot.md): the median of
# the Natural VTAB group, whose tasks are most like a user's natural-image dataset.
DEFAULT_PROMPT_LENGTH = {"vpt-deep": 10, "vpt-shallow": 50}
DEFAULT_PROMPT_DROPOUT = {"vpt-deep": 0.1, "vpt-shallow": 0.0}


def prompt_init_bound(patch_size: tuple[int, int] | int, embed_dim: int, in_chans: int = 3) -> float:
    """Xavier-uniform bound for a prompt treated as a patch embedding (see module docstring)."""
    ph, pw = (patch_size, patch_size) if isinstance(patch_size, int) else patch_size
    return math.sqrt(6.0 / float(in_chans * ph * pw + embed_dim))


class PromptedViT(nn.Module):
    """A timm ViT with optional prompts (shallow or deep) and a new linear head on the class token."""

    # registered with register_buffer / register_parameter: typed here for nn.Module's __getattr__
    readout_scale: torch.Tensor
    prompts: nn.Parameter | None

    def __init__(
        self,
        backbone: nn.Module,
        num_classes: int,
        *,
        prompt_length: int = 0,
        deep: bool = False,
        prompt_dropout: float = 0.0,
        train_backbone: bool = False,
        backbone_trainable: Callable[[str], bool] | None = None,
        seed: int = 0,
    ):
        super().__init__()
        if getattr(backbone, "cls_token", None) is None or not hasattr(backbone, "blocks"):
            raise UsageError("VPT needs a timm VisionTransformer with a class token; pick another --backbone.")
        if prompt_length < 0 or not 0.0 <= prompt_dropout < 1.0:
            raise UsageError("Prompt length must be >= 0 and prompt dropout in [0, 1).")
        self.backbone = backbone
        self.prompt_length = int(prompt_length)
        self.deep = bool(deep) and self.prompt_length > 0
        self.prompt_dropout = float(prompt_dropout)
        self.train_backbone = bool(train_backbone)
        vit: Any = backbone  # a timm VisionTransformer; nn.Module types its attributes as Tensor | Module
        embed_dim = int(vit.embed_dim)
        gen = torch.Generator().manual_seed(int(seed))
        if self.prompt_length:
            n_sets = len(vit.blocks) if self.deep else 1
            bound = prompt_init_bound(vit.patch_embed.patch_size, embed_dim)
            init = (torch.rand(n_sets, self.prompt_length, embed_dim, generator=gen) * 2 - 1) * bound
            self.prompts = nn.Parameter(init)
        else:
            self.register_parameter("prompts", None)
        self.head = nn.Linear(embed_dim, num_classes)
        self.register_buffer("readout_scale", torch.tensor(1.0))
        with torch.no_grad():
            self.head.weight.copy_(torch.randn(num_classes, embed_dim, generator=gen).clamp_(-2, 2) * 0.01)
            self.head.bias.zero_()
        for name, p in self.backbone.named_parameters():
            p.requires_grad_(self.train_backbone or bool(backbone_trainable and backbone_trainable(name)))
        self._mask_spec: tuple[int, int, int] | None = None
        self.train(False)

    # -- training mode: a frozen backbone stays in eval mode (no dropout / drop-path / BN updates)
    def train(self, mode: bool = True) -> PromptedViT:
        super().train(mode)
        if not self.train_backbone:
            self.backbone.eval()
        return self

    def set_dropout_masks(self, seed: int | None, offset: int = 0, global_batch: int = 0) -> None:
        """Draw prompt-dropout masks for a whole global batch from `seed` and use rows
        [offset, offset + local batch): the same masks whatever the number of processes."""
        self._mask_spec = None if seed is None else (int(seed), int(offset), int(global_batch))

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    def trainable_state(self) -> dict[str, torch.Tensor]:
        """Only what trains: prompts + head (VPT), or everything (full fine-tuning), as CPU copies."""
        names = {name for name, p in self.named_parameters() if p.requires_grad}
        return {k: v.detach().to("cpu", copy=True) for k, v in self.state_dict().items() if k in names}

    def _dropped(self, prompts: torch.Tensor, batch: int, block: int) -> torch.Tensor:
        """(B, L, D) prompts for one block, with prompt dropout in training mode."""
        out = prompts.unsqueeze(0).expand(batch, -1, -1)
        if not (self.training and self.prompt_dropout > 0):
            return out
        keep = 1.0 - self.prompt_dropout
        if self._mask_spec is None:
            return F.dropout(out, self.prompt_dropout, training=True)
        seed, offset, global_batch = self._mask_spec
        gen = torch.Generator().manual_seed(seed * 1009 + block)
        full = torch.rand(max(global_batch, offset + batch), *prompts.shape, generator=gen)
        mask = (full[offset : offset + batch] < keep).to(device=out.device, dtype=out.dtype)
        return out * mask / keep

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """timm's own embedding path: patches, class/register tokens, position embedding, norm_pre."""
        bb: Any = self.backbone  # timm VisionTransformer
        x = bb.patch_embed(x)
        x = bb._pos_embed(x)
        x = bb.patch_drop(x)
        return bb.norm_pre(x)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """All output tokens (B, prefix + L + N, D) after the final norm."""
        bb: Any = self.backbone  # timm VisionTransformer
        x = self.embed(x)
        n_prefix = int(bb.num_prefix_tokens)
        length = self.prompt_length
        batch = x.shape[0]
        for i, block in enumerate(bb.blocks):
            if length and (i == 0 or self.deep):
                rest = x[:, n_prefix:] if i == 0 else x[:, n_prefix + length :]
                p = self.block_prompts(i, rest, batch).to(x.dtype)
                x = torch.cat([x[:, :n_prefix], p, rest], dim=1)
            x = block(x)
        return bb.norm(x)

    def block_prompts(self, block: int, patches: torch.Tensor, batch: int) -> torch.Tensor:
        """(B, L, D) prompts inserted before `block`; `patches` are that block's input patch tokens
        (VAPT's prompts are functions of them; VPT's are not)."""
        assert self.prompts is not None  # only called with prompt_length > 0
        return self._dropped(self.prompts[block if self.deep else 0], batch, block)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The class-token readout (B, D) that feeds the head."""
        bb: Any = self.backbone  # timm VisionTransformer
        return bb.fc_norm(self.tokens(x)[:, 0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x) / self.readout_scale)


@torch.no_grad()
def measure_readout_scale(backbone: nn.Module, x: torch.Tensor) -> float:
    """Root-mean-square per dimension of the frozen backbone's class-token readout on images `x`."""
    probe = PromptedViT(backbone, 1).to(x.device).eval()
    scale = float(probe.features(x).double().pow(2).mean().sqrt())
    return scale if math.isfinite(scale) and scale > 0 else 1.0
