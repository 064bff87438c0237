"""LoRA and adapters on a timm ViT through Hugging Face peft (custom-model injection), and BitFit.

- ``lora``: peft LoRA (Hu et al. 2022) on every block's attention ``qkv`` and ``proj`` linears,
  rank r = 8, alpha = r (scale 1), no dropout: W x + B A x with A: r x d_in (Kaiming-uniform),
  B: d_out x r (zero), so the model starts as the pretrained one. Trainable per adapted matrix:
  r * (d_in + d_out); per block qkv r(D + 3D) + proj r(D + D) = 6 r D.
- ``adapter``: the unified PETL study's adapters (AdaptFormer, Houlsby-style "rand_h_adapter") are
  bottlenecks on the feed-forward (MLP) sub-layer. peft has no nonlinear bottleneck adapter for
  arbitrary torch models; its closest method is a rank-r bottleneck on the FFN itself: LoRA on
  ``mlp.fc1`` and ``mlp.fc2``, which is the linear form of a parallel FFN adapter (He et al., ICLR
  2022, "Towards a unified view of parameter-efficient transfer learning": a parallel adapter is
  a low-rank update with an optional nonlinearity). IA3 (only rescaling vectors) and LoHa (a LoRA
  variant on the same attention layers) are further from it. Per block: fc1 r(D + 4D) + fc2
  r(4D + D) = 10 r D at mlp_ratio 4.
- ``bitfit``: every bias of the backbone + the head (Ben Zaken et al. 2022), no peft needed.

peft injects into a copy of the shared backbone, so the other arms keep the pristine one.
"""

from __future__ import annotations

import copy

from torch import nn

LORA_TARGETS = r".*blocks\.\d+\.attn\.(qkv|proj)"
ADAPTER_TARGETS = r".*blocks\.\d+\.mlp\.(fc1|fc2)"


def inject(backbone: nn.Module, kind: str, rank: int) -> nn.Module:
    """A copy of `backbone` with peft LoRA layers on the attention (lora) or FFN (adapter) linears."""
    from peft import LoraConfig, inject_adapter_in_model

    targets = LORA_TARGETS if kind == "lora" else ADAPTER_TARGETS
    config = LoraConfig(r=int(rank), lora_alpha=int(rank), lora_dropout=0.0, target_modules=targets, bias="none")
    return inject_adapter_in_model(config, copy.deepcopy(backbone))


def is_adapter_param(name: str) -> bool:
    return ".lora_A." in name or ".lora_B." in name


def is_bias(name: str) -> bool:
    return name.endswith(".bias")


def lora_params(backbone: nn.Module, kind: str, rank: int) -> int:
    """The paper's count: sum over adapted matrices of r * (d_in + d_out)."""
    total = 0
    want = ("attn.qkv", "attn.proj") if kind == "lora" else ("mlp.fc1", "mlp.fc2")
    for name, mod in backbone.named_modules():
        if isinstance(mod, nn.Linear) and name.startswith("blocks.") and name.endswith(want):
            total += rank * (mod.in_features + mod.out_features)
    return total
