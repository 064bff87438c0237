"""timm names -> the study's backbone families."""

from __future__ import annotations

import pytest

from vptadvisor.rule.families import (
    DEFAULT_FAMILY,
    FAMILIES,
    UNKNOWN,
    known_names,
    resolve,
)


@pytest.mark.parametrize(
    "name, family",
    [
        ("vit_base_patch16_224.augreg_in21k", "vit-b16-in21k"),
        ("vit_base_patch16_224.orig_in21k", "vit-b16-in21k"),
        ("VIT_BASE_PATCH16_224.ORIG_IN21K", "vit-b16-in21k"),
        ("vit_base_patch16_224", "vit-b16-in21k"),
        ("vit_base_patch16_224.mae", "vit-b16-mae"),
        ("swin_base_patch4_window7_224.ms_in22k", "swin-b-in21k"),
        ("swin_base_patch4_window12_384.ms_in22k_ft_in1k", "swin-b-in21k"),
        ("vit_base_patch16_224.mocov3_in1k", "vit-b16-mocov3"),
        ("vit-b16-mocov3", "vit-b16-mocov3"),
        ("vit_small_patch14_dinov2", UNKNOWN),
        ("vit_large_patch16_224.augreg_in21k", UNKNOWN),
        ("convnext_base", UNKNOWN),
    ],
)
def test_names_map_to_their_family(name, family):
    assert resolve(name).key == family


def test_exact_checkpoints_have_no_note_and_others_say_why():
    assert resolve("vit_base_patch16_224.orig_in21k").note == ""
    assert "AugReg" in resolve("vit_base_patch16_224.augreg_in21k").note
    assert "ImageNet-1k" in resolve("vit_base_patch16_224").note
    none = resolve(None)
    assert none.key == DEFAULT_FAMILY and none.named is None and none.known
    assert not resolve("resnet50").known


def test_every_known_name_lands_in_a_study_family():
    assert set(known_names().values()) == set(FAMILIES)
