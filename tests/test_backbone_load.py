"""Creating timm ViTs with offline weights: local files, the Hugging Face cache, clear errors."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from test_pilot_helpers import (
    TINY_IMG,
    TINY_KWARGS,
    TINY_NAME,
    VITS_WEIGHTS,
    make_tiny_weights,
)

from vptadvisor.backbone import create_backbone
from vptadvisor.errors import MeasureError, UsageError


@pytest.mark.skipif(not VITS_WEIGHTS.is_file(), reason="needs ../shared/weights")
def test_real_vit_s14_loads_from_a_local_safetensors_file():
    model, info = create_backbone("vit_small_patch14_dinov2", VITS_WEIGHTS, img_size=224)
    assert info.weights == str(VITS_WEIGHTS) and info.patch_size == 14 and info.embed_dim == 384
    assert info.depth == 12 and info.img_size == 224 and info.num_params == 21_628_800
    assert model.pos_embed.shape == (1, 257, 384)  # resampled from 518 px to 224 px
    torch.manual_seed(0)
    random, _ = create_backbone("vit_small_patch14_dinov2", pretrained=False, img_size=224)
    assert not torch.allclose(model.blocks[0].attn.qkv.weight, random.blocks[0].attn.qkv.weight)
    assert not model.training


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_torch_checkpoints_load_weights_only(tmp_path):
    weights = make_tiny_weights(tmp_path / "tiny.safetensors")
    ref, _ = create_backbone(TINY_NAME, weights, img_size=TINY_IMG, model_kwargs=TINY_KWARGS)
    torch.save({"state_dict": ref.state_dict()}, tmp_path / "tiny.pth")
    model, info = create_backbone(TINY_NAME, tmp_path / "tiny.pth", img_size=TINY_IMG, model_kwargs=TINY_KWARGS)
    assert info.weights.endswith("tiny.pth")
    assert all(torch.equal(a, b) for a, b in zip(ref.state_dict().values(), model.state_dict().values()))
    # a checkpoint that needs pickle to load (arbitrary objects) is refused, not executed
    with open(tmp_path / "evil.pth", "wb") as fh:
        pickle.dump({"state_dict": ref.state_dict(), "obj": Exception("not a tensor")}, fh)
    with pytest.raises(MeasureError, match="needs pickle"):
        create_backbone(TINY_NAME, tmp_path / "evil.pth", img_size=TINY_IMG, model_kwargs=TINY_KWARGS)


def test_clear_errors(tmp_path):
    with pytest.raises(UsageError, match="Unknown timm model"):
        create_backbone("vit_nonexistent_patch3")
    with pytest.raises(UsageError, match="not a timm VisionTransformer"):
        create_backbone("resnet18", pretrained=False)
    with pytest.raises(UsageError, match="does not exist"):
        create_backbone(TINY_NAME, tmp_path / "missing.safetensors")
    weights = make_tiny_weights(tmp_path / "tiny.safetensors")
    with pytest.raises(MeasureError, match="Cannot load weights"):
        create_backbone("vit_small_patch14_dinov2", weights, img_size=224)
    with pytest.raises(UsageError, match="class token"):
        create_backbone(
            TINY_NAME,
            pretrained=False,
            img_size=TINY_IMG,
            model_kwargs=dict(TINY_KWARGS, class_token=False, global_pool="avg"),
        )


def _in_fresh_process(code: str, cache: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HOME=cache, HF_HUB_CACHE=os.path.join(cache, "hub"), TORCH_HOME=cache, HF_HUB_OFFLINE="0")
    return subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120, env=env
    )


def _hf_cache(tmp_path, cfg_name: str) -> Path:
    """A Hugging Face cache laid out the way huggingface_hub writes it (models--org--name/snapshots/<rev>/),
    holding tiny random weights for `cfg_name`."""
    repo = tmp_path / "hub" / f"models--timm--{cfg_name}"
    snap = repo / "snapshots" / ("0" * 40)
    snap.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    make_tiny_weights(snap / "model.safetensors", seed=7)
    return snap / "model.safetensors"


_RESOLVE = (
    "import sys, time\n"
    "import timm, timm.models\n"
    "from vptadvisor.backbone import create_backbone\n"
    "from vptadvisor.errors import MeasureError\n"
    "t = time.monotonic()\n"
    "try:\n    create_backbone(offline='--offline' in sys.argv)\nexcept MeasureError as e:\n    print('MEASURE', e.message)\n"
    "print('SECONDS', time.monotonic() - t)\n"
    "m, info = create_backbone({name!r}, img_size={img}, model_kwargs={kw!r}, offline='--offline' in sys.argv)\n"
    "print('WEIGHTS', info.weights)\n"
    "print('SUM', float(m.cls_token.sum()))\n"
)


def _resolve(tmp_path, cfg_name: str, env_extra: dict, *args: str) -> subprocess.CompletedProcess:
    code = _RESOLVE.format(name=cfg_name, img=TINY_IMG, kw=TINY_KWARGS)
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "VPTADVISOR_OFFLINE")}
    env.update(HF_HOME=str(tmp_path), HF_HUB_CACHE=str(tmp_path / "hub"), TORCH_HOME=str(tmp_path), **env_extra)
    return subprocess.run(
        [sys.executable, "-c", code, *args], check=False, capture_output=True, text=True, timeout=180, env=env
    )


@pytest.mark.parametrize("how", [{"HF_HUB_OFFLINE": "1"}, {"VPTADVISOR_OFFLINE": "1"}, "--offline"])
def test_offline_weights_come_from_the_hf_cache_or_fail_fast_with_advice(tmp_path, how):
    """Offline, in a fresh process: the default backbone (not cached) fails at once, naming the ways to
    provide weights; a backbone in the pre-populated Hugging Face cache is used from there."""
    cfg_name = f"{TINY_NAME}.augreg_in21k_ft_in1k"
    cached = _hf_cache(tmp_path, cfg_name)
    p = _resolve(tmp_path, cfg_name, how if isinstance(how, dict) else {}, *([how] if isinstance(how, str) else []))
    assert p.returncode == 0, p.stderr
    why = "--offline" if isinstance(how, str) else f"${next(iter(how))}"
    assert (
        f"MEASURE No weights for 'vit_base_patch16_224.augreg_in21k' in the Hugging Face or torch hub cache, "
        f"and downloads are off ({why}): pass --weights PATH"
    ) in p.stdout
    assert "hf download timm/vit_base_patch16_224.augreg_in21k" in p.stdout
    assert float(p.stdout.split("SECONDS ")[1].split()[0]) < 10  # no network wait
    assert f"WEIGHTS {cached}" in p.stdout
    from safetensors.torch import load_file

    assert f"SUM {float(load_file(str(cached))['cls_token'].sum())}" in p.stdout


def test_online_uses_timms_hub_path_and_its_cache(tmp_path):
    """Online (no offline flag or variable), timm's own pretrained path runs: huggingface_hub asks the
    hub (here an endpoint that refuses connections: no network in tests), falls back to the
    pre-populated cache, and the weights come from there; with nothing cached the error says how to
    provide weights."""
    cfg_name = f"{TINY_NAME}.augreg_in21k_ft_in1k"
    cached = _hf_cache(tmp_path, cfg_name)
    p = _resolve(
        tmp_path,
        cfg_name,
        {"HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_ETAG_TIMEOUT": "2", "HF_HUB_DOWNLOAD_TIMEOUT": "2"},
    )
    assert p.returncode == 0, p.stderr
    assert (
        "MEASURE Could not get pretrained weights for 'vit_base_patch16_224.augreg_in21k' from the Hugging Face hub"
        in p.stdout
    )
    assert "pass --weights PATH" in p.stdout
    assert f"WEIGHTS {cached}" in p.stdout
    from safetensors.torch import load_file

    assert f"SUM {float(load_file(str(cached))['cls_token'].sum())}" in p.stdout
