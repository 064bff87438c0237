"""Every arm's saved parameters (safetensors + JSON config) load back onto the timm backbone and
reproduce the accuracy the pilot reported for them."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from test_pilot_helpers import (
    TINY_IMG,
    TINY_KWARGS,
    TINY_NAME,
    make_dataset,
    make_tiny_weights,
)

from vptadvisor.pilot import load_pilot_model, run_pilot
from vptadvisor.pilot.arms import ARMS
from vptadvisor.pilot.data import ImageBank, cache_size_for, decode_images, make_split


def val_accuracy(model, data, meta) -> float:
    """The loaded model's accuracy on the pilot's val split, preprocessed the pilot's way."""
    split = make_split(data, seed=0)
    x, bad = decode_images(data, [p for p, _ in split.val], cache_size_for(TINY_IMG))
    keep = [i for i, (p, _) in enumerate(split.val) if p not in {b["path"] for b in bad}]
    y = torch.tensor([split.val[i][1] for i in keep])
    bank = ImageBank(x[:0], y[:0], x[keep], y, TINY_IMG, tuple(meta["mean"]), tuple(meta["std"]), 0)
    with torch.no_grad():
        pred = model(bank.val_batch(torch.arange(len(keep)))).argmax(1)
    return float(np.mean((pred == y).numpy()))


def test_every_arm_round_trips_through_its_safetensors_file(tmp_path):
    data = make_dataset(tmp_path / "data", bad_files=True)
    weights = make_tiny_weights(tmp_path / "tiny.safetensors")
    r = run_pilot(
        data,
        steps=8,
        arms=list(ARMS),
        backbone=TINY_NAME,
        weights=weights,
        backbone_kwargs=TINY_KWARGS,
        img_size=TINY_IMG,
        batch_size=8,
        device="cpu",
        threads=1,
        run_dir=tmp_path / "run",
        save_backbone=True,
        evals=2,
    )
    run = tmp_path / "run"
    for arm in ARMS:
        path = run / f"{arm}.safetensors"
        assert path.is_file() and (run / f"{arm}.json").is_file(), arm
        meta = json.loads((run / f"{arm}.json").read_text())
        extra = {"ft_backbone": run / "ft.safetensors"} if arm == "ft-then-pt" else {}
        model, classes, file_meta = load_pilot_model(path, **extra)
        assert file_meta == meta and classes == r.split["classes"]
        trained = sum(p.numel() for n, p in model.named_parameters() if p.requires_grad)
        assert trained == r.arms[arm].trainable_params, arm
        assert val_accuracy(model, data, meta) == pytest.approx(meta["val_accuracy"], abs=1e-9), arm
        reported = r.arms[arm].final_val_accuracy if arm in ("ft", "mixed") else r.arms[arm].val_accuracy
        assert meta["val_accuracy"] == reported, arm
    assert (run / "lora.safetensors").stat().st_size < (run / "ft.safetensors").stat().st_size / 5
    with pytest.raises(Exception, match="ft_backbone"):
        load_pilot_model(run / "ft-then-pt.safetensors")
