"""Inference engines: exact by default (features within 1e-4 relative of pytorch-fid's network on real
images), the choice per device, bf16 only where the hardware has it, a clean torch fallback, and a
model conversion made once per machine."""

from __future__ import annotations

import numpy as np
import pytest

from vptadvisor.errors import UsageError
from vptadvisor.features import engine as eng

pytest.importorskip("openvino")


@pytest.fixture(scope="module")
def real_batch(shared):
    from vptadvisor.dataset.images import load_rgb
    from vptadvisor.dataset.layout import open_dataset
    from vptadvisor.features.preprocess import to_inception_input

    samples = open_dataset(shared / "datasets" / "dtd-10").samples[::300][:4]
    return np.stack([to_inception_input(load_rgb(s.path)[0]).numpy() for s in samples])


@pytest.fixture(scope="module")
def weights():
    from vptadvisor.features.inception_weights import locate_inception_weights

    return locate_inception_weights()


@pytest.fixture(scope="module")
def pytorch_fid_features(real_batch, weights, tmp_path_factory):
    """pytorch-fid's own InceptionV3 (loaded by pytorch-fid from a torch hub cache holding the same
    weights, so nothing is downloaded), pool3 on the same preprocessed inputs, float32."""
    import os

    import torch
    from pytorch_fid.inception import InceptionV3

    from vptadvisor.features.inception_weights import (
        HUB_FILENAME,
        write_pytorch_fid_checkpoint,
    )

    home = tmp_path_factory.mktemp("torch-home-pytorch-fid")
    write_pytorch_fid_checkpoint(weights.load_state_dict(), home / "hub" / "checkpoints" / HUB_FILENAME)
    old = os.environ.get("TORCH_HOME")
    os.environ["TORCH_HOME"] = str(home)
    try:
        model = InceptionV3([3], resize_input=False, normalize_input=False).eval()
    finally:
        os.environ["TORCH_HOME"] = old or ""
    with torch.inference_mode():
        return model(torch.from_numpy(real_batch))[0].flatten(1).numpy()


@pytest.fixture(scope="module")
def engine_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("engine-cache")


@pytest.mark.parametrize(
    "engine",
    ["openvino", pytest.param("onnxruntime", marks=pytest.mark.slow), pytest.param("torch", marks=pytest.mark.slow)],
)
def test_exact_engines_match_pytorch_fid_within_1e4_relative(
    engine, real_batch, weights, pytorch_fid_features, engine_cache
):
    pytest.importorskip(engine)
    cache = engine_cache
    run = eng.build_runner(
        eng.EngineChoice(engine, "cpu", "exact"), weights.load_state_dict, (), ["pool3"], cache, weights.sha256
    )
    got = run(real_batch)["pool3"]
    ref = pytorch_fid_features
    assert got.shape == ref.shape == (len(real_batch), 2048)
    assert np.abs(got - ref).max() / np.abs(ref).max() < 1e-4


def test_conversion_is_made_once_and_atomically(weights, engine_cache):
    tmp_path = engine_cache  # the OpenVINO test above converted (into the machine's cache, found first)
    choice = eng.EngineChoice("openvino", "cpu", "exact")
    first = eng._converted_model_dir(choice, weights.load_state_dict, (), ["pool3"], tmp_path, weights.sha256)
    assert (first / "complete").is_file() and (first / "model.xml").is_file() and (first / "model.bin").is_file()
    stamp = (first / "model.bin").stat().st_mtime_ns

    def must_not_load():
        raise AssertionError("converted again")

    again = eng._converted_model_dir(choice, must_not_load, (), ["pool3"], tmp_path, weights.sha256)
    assert again == first and (first / "model.bin").stat().st_mtime_ns == stamp
    leftovers = [p for p in first.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []
    assert (first / "model.bin").stat().st_size > 80e6  # float32 weights, not compressed to fp16


def test_choice_per_device_and_precision(monkeypatch):
    assert eng.choose_engine("auto", "cpu", "exact") == eng.EngineChoice("openvino", "cpu", "exact")
    assert eng.choose_engine("torch", "cpu", "exact").identity == {"engine": "torch-cpu", "precision": "exact"}
    with pytest.raises(UsageError, match="Unknown engine"):
        eng.choose_engine("tensorrt", "cpu")
    with pytest.raises(UsageError, match="Unknown precision"):
        eng.choose_engine("auto", "cpu", "fp8")
    if not eng.cpu_has_bf16():
        with pytest.raises(UsageError, match="native bfloat16"):
            eng.choose_engine("auto", "cpu", "bf16")
    else:
        assert eng.choose_engine("auto", "cpu", "bf16").precision == "bf16"
    # an engine package that is not installed: auto falls back, an explicit request says what to do
    monkeypatch.setattr(eng, "_installed", lambda module: False)
    assert eng.choose_engine("auto", "cpu", "exact").engine == "torch"
    with pytest.raises(UsageError, match="pip install openvino"):
        eng.choose_engine("openvino", "cpu", "exact")


def test_engine_and_precision_are_part_of_the_extractor_identity():
    from vptadvisor.features.extract import InceptionExtractor

    ov = InceptionExtractor(engine="openvino", device="cpu", cache_root=None)
    pt = InceptionExtractor(engine="torch", device="cpu", cache_root=None)
    assert ov.identity["engine"] == "openvino-cpu" and pt.identity["engine"] == "torch-cpu"
    assert ov.identity["precision"] == pt.identity["precision"] == "exact"
    assert ov.key != pt.key
