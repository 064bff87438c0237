"""References: the shipped one, building one, selecting by name or path, refusing mismatches."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_analyze_cli import run_cli

from vptadvisor.distance.reference import DEFAULT_REFERENCE, load_reference
from vptadvisor.synthetic import write_counting_dataset


def test_shipped_reference_metadata():
    ref = load_reference(DEFAULT_REFERENCE)
    assert ref.n_images == 1000 and ref.features.shape == (1000, 2048) and ref.features.dtype == np.float32
    ex = ref.meta["extractor"]
    assert ex["network"] == "fid-inception-v3/2015-12-05" and ex["preprocessing"] == "pytorch-fid"
    assert "imagenet" in ref.meta["source"].lower()
    assert np.isfinite(ref.features).all() and (ref.features >= 0).all()  # pool3 follows a ReLU


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    return write_counting_dataset(tmp_path_factory.mktemp("scenes"), per_class=6, counts=(1, 2, 3, 4), size=64, seed=5)


def test_build_select_and_refuse(scenes, tmp_path, capsys):
    code, out, err = run_cli(
        [
            "reference",
            "build",
            str(scenes),
            "--name",
            "scenes-clean",
            "--resize",
            "clean",
            "--min-images",
            "20",
            "--format",
            "json",
        ],
        capsys,
    )
    assert code == 0, err
    built = json.loads(out)
    assert built["n_images"] == 24 and built["extractor"]["preprocessing"] == "clean"
    code, out, _ = run_cli(["reference", "list", "--format", "json"], capsys)
    names = {r["name"]: r for r in json.loads(out)}
    assert {"scenes-clean", DEFAULT_REFERENCE} <= set(names)
    # made with the other preprocessing: refused
    code, _, err = run_cli(["analyze", str(scenes), "--reference", "scenes-clean", "--min-images", "20"], capsys)
    assert code == 2 and "preprocessing" in err and "Traceback" not in err
    # the same preprocessing, selected by path: a near-zero distance to itself
    code, out, err = run_cli(
        [
            "analyze",
            str(scenes),
            "--reference",
            built["path"],
            "--resize",
            "clean",
            "--min-images",
            "20",
            "--kid-subset-size",
            "20",
            "--format",
            "json",
        ],
        capsys,
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["distance"]["reference"] == "scenes-clean"
    assert abs(result["distance"]["fid"]) < 1e-3


def test_bad_reference_name_and_file(tmp_path, capsys):
    code, _, err = run_cli(["reference", "build", str(tmp_path), "--name", "../escape"], capsys)
    assert code == 2 and "not allowed" in err
    bogus = tmp_path / "bogus.safetensors"
    bogus.write_bytes(b"\x00" * 64)
    with pytest.raises(Exception) as info:
        load_reference(str(bogus))
    assert getattr(info.value, "exit_code", None) == 2
