"""Backbone families of the study, and which family a timm model name belongs to.

The study holds published FT-vs-VPT results for four pretrained backbones. A user names the
model they will adapt (a timm name such as ``vit_base_patch16_224.augreg_in21k``, or a study key
such as ``vit-b16-mae``); the rule predicts with that family's evidence. A name that maps to no
family gets the rule's "unknown backbone" prediction (a new family drawn from the hierarchical
prior: wider, and never another family's numbers).

Mapping (case-insensitive; the timm name's architecture + pretrained tag):
    vit-b16-in21k   vit_base_patch16_224.orig_in21k (exact: the study's checkpoint),
                    vit_base_patch16_224_in21k, .augreg_in21k, .augreg2_in21k_ft_in1k,
                    .augreg_in21k_ft_in1k (same data and architecture; other recipe / extra
                    ImageNet-1k fine-tuning: said in a note)
    swin-b-in21k    swin_base_patch4_window7_224.ms_in22k (exact), other swin_base ... in22k tags
    vit-b16-mae     vit_base_patch16_224.mae
    vit-b16-mocov3  ViT-B/16 names with a mocov3 / moco_v3 / moco-v3 tag
A bare architecture name (``vit_base_patch16_224``, no tag) resolves to timm's default tag for it
(augreg2_in21k_ft_in1k), hence vit-b16-in21k with a note.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FAMILIES = ("vit-b16-in21k", "swin-b-in21k", "vit-b16-mae", "vit-b16-mocov3")
DEFAULT_FAMILY = FAMILIES[0]
UNKNOWN = "unknown"
LABELS = {
    "vit-b16-in21k": "ViT-B/16, supervised ImageNet-21k",
    "swin-b-in21k": "Swin-B, supervised ImageNet-21k",
    "vit-b16-mae": "ViT-B/16, MAE (self-supervised ImageNet-1k)",
    "vit-b16-mocov3": "ViT-B/16, MoCo v3 (self-supervised ImageNet-1k)",
    UNKNOWN: "a backbone outside the study's families",
}
_FT1K = "pretrained on ImageNet-21k and then fine-tuned on ImageNet-1k; the study used the ImageNet-21k checkpoint"
_EXACT = {  # lower-case name -> (family, note); empty note = the study's own checkpoint
    "vit-b16-in21k": ("vit-b16-in21k", ""),
    "vit_base_patch16_224.orig_in21k": ("vit-b16-in21k", ""),
    "vit_base_patch16_224_in21k": ("vit-b16-in21k", ""),
    "vit_base_patch16_224.augreg_in21k": (
        "vit-b16-in21k",
        (
            "same architecture and pretraining data, but the "
            "AugReg training recipe; the study used the original ImageNet-21k checkpoint"
        ),
    ),
    "vit_base_patch16_224.augreg_in21k_ft_in1k": ("vit-b16-in21k", "AugReg recipe, " + _FT1K),
    "vit_base_patch16_224.augreg2_in21k_ft_in1k": ("vit-b16-in21k", "AugReg2 recipe, " + _FT1K),
    "vit_base_patch16_224": ("vit-b16-in21k", "timm's default tag (augreg2_in21k_ft_in1k), " + _FT1K),
    "swin-b-in21k": ("swin-b-in21k", ""),
    "swin_base_patch4_window7_224.ms_in22k": ("swin-b-in21k", ""),
    "swin_base_patch4_window7_224_in22k": ("swin-b-in21k", ""),
    "vit-b16-mae": ("vit-b16-mae", ""),
    "vit_base_patch16_224.mae": ("vit-b16-mae", ""),
    "vit-b16-mocov3": ("vit-b16-mocov3", ""),
}
_PATTERNS = [  # (regex on the lower-case name, family, note)
    (
        r"^swin_base_patch4_window(7_224|12_384)\.ms_in22k(_ft_in1k)?$",
        "swin-b-in21k",
        "another Swin-B ImageNet-22k checkpoint (window size or an extra ImageNet-1k fine-tuning differs from the study's)",
    ),
    (r"^vit_base_patch16_224[._-].*moco[_-]?v3", "vit-b16-mocov3", ""),
]


@dataclass(frozen=True)
class Family:
    """Where a backbone name lands: the family key (or "unknown"), its label, and a note."""

    key: str
    label: str
    note: str  # why the name maps there when it is not the study's exact checkpoint
    named: str | None  # the name as given (None: not given)

    @property
    def known(self) -> bool:
        return self.key != UNKNOWN


def resolve(backbone: str | None) -> Family:
    """The study family of a timm name or study key; None means the rule's reference family."""
    if backbone is None:
        return Family(DEFAULT_FAMILY, LABELS[DEFAULT_FAMILY], "", None)
    key = backbone.strip().lower()
    if key in _EXACT:
        fam, note = _EXACT[key]
        return Family(fam, LABELS[fam], note, backbone)
    for pattern, fam, note in _PATTERNS:
        if re.search(pattern, key):
            return Family(fam, LABELS[fam], note, backbone)
    return Family(UNKNOWN, LABELS[UNKNOWN], "", backbone)


def known_names() -> dict[str, str]:
    """Every exact name the mapping knows -> its family (for docs and `--help`)."""
    return {k: v[0] for k, v in _EXACT.items()}
