"""The pilot's split (seeded, stratified, or the dataset's own), decoding cache and batches."""

from __future__ import annotations

from collections import Counter

import pytest
import torch
from PIL import Image
from test_pilot_helpers import DTD, make_dataset

from vptadvisor.errors import MeasureError
from vptadvisor.pilot.data import (
    ImageBank,
    cache_size_for,
    decode_images,
    decode_one,
    make_split,
)


def test_stratified_split_is_seeded_and_proportional(tmp_path):
    root = make_dataset(tmp_path / "d", n_classes=3, per_class=10)
    a = make_split(root, val_fraction=0.2, seed=5)
    b = make_split(root, val_fraction=0.2, seed=5)
    c = make_split(root, val_fraction=0.2, seed=6)
    assert a.to_dict() == b.to_dict() and a.val != c.val
    assert a.source == "stratified" and len(a.val) == 6 and len(a.train) == 24
    assert Counter(y for _, y in a.val) == {0: 2, 1: 2, 2: 2}
    assert not set(a.train) & set(a.val)


def test_the_datasets_own_val_split_is_used(tmp_path):
    for split, n in (("train", 6), ("val", 2)):
        make_dataset(tmp_path / "d" / split, n_classes=2, per_class=n, seed=len(split))
    s = make_split(tmp_path / "d")
    assert s.source == "dataset-val-split"
    assert len(s.train) == 12 and len(s.val) == 4
    assert all(p.startswith("val/") for p, _ in s.val)


def test_a_class_with_one_image_is_a_measure_error(tmp_path):
    root = make_dataset(tmp_path / "d", n_classes=2, per_class=4)
    (tmp_path / "d" / "lonely").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "d" / "lonely" / "x.png")
    with pytest.raises(MeasureError, match="lonely"):
        make_split(root)


def test_big_datasets_are_subsampled_stratified(tmp_path):
    root = make_dataset(tmp_path / "d", n_classes=2, per_class=30)
    s = make_split(root, max_train=10, max_val=4)
    assert len(s.train) == 10 and len(s.val) == 4 and s.subsampled_from == {"train": 48, "val": 12}
    assert Counter(y for _, y in s.train) == {0: 5, 1: 5}


def test_decode_resizes_short_side_and_centre_crops(tmp_path):
    img = Image.new("RGB", (100, 50), (10, 20, 30))
    img.paste((200, 0, 0), (0, 0, 10, 50))  # a red band at the far left is cropped away
    img.save(tmp_path / "wide.png")
    arr = decode_one(tmp_path / "wide.png", 20)
    assert arr.shape == (20, 20, 3) and arr.dtype.name == "uint8"
    assert abs(int(arr[:, 0, 0].mean()) - 10) < 5
    x, bad = decode_images(tmp_path, ["wide.png", "missing.png"], 20)
    assert x.shape == (2, 20, 20, 3) and bad == [{"path": "missing.png", "reason": bad[0]["reason"]}]
    assert cache_size_for(224) == 256


def _bank(n: int = 10, size: int = 37, img: int = 32, seed: int = 0) -> ImageBank:
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (n, size, size, 3), dtype=torch.uint8, generator=g)
    y = torch.arange(n) % 3
    return ImageBank(x, y, x[:4], y[:4], img, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25), seed)


def test_training_batches_are_a_function_of_step_and_seed_whatever_the_split():
    bank = _bank()
    x, y = bank.train_batch(3, 4, 0, 4)
    x2, y2 = bank.train_batch(3, 4, 0, 4)
    assert x.shape == (4, 3, 32, 32) and torch.equal(x, x2) and torch.equal(y, y2)
    lo, ylo = bank.train_batch(3, 4, 0, 2)
    hi, yhi = bank.train_batch(3, 4, 2, 2)
    assert torch.allclose(torch.cat([lo, hi]), x) and torch.equal(torch.cat([ylo, yhi]), y)
    assert not torch.allclose(bank.train_batch(4, 4, 0, 4)[0], x)
    assert not torch.allclose(_bank(seed=1).train_batch(3, 4, 0, 4)[0], x)


def test_every_training_image_is_seen_once_per_epoch():
    bank = _bank(n=12)
    seen = torch.cat([bank.train_indices(s, 4) for s in range(3)])
    assert sorted(seen.tolist()) == list(range(12))
    assert not torch.equal(seen, torch.cat([bank.train_indices(s, 4) for s in range(3, 6)]))


def test_val_batches_are_the_normalised_centre_crop():
    bank = _bank()
    v = bank.val_batch(torch.tensor([1]))
    raw = bank.val_x[1, 2:34, 2:34].permute(2, 0, 1).float()
    assert torch.allclose(v[0], (raw - 127.5) / 63.75)


def test_dtd10_split_is_balanced(shared):
    s = make_split(DTD, seed=0)
    assert len(s.classes) == 10 and len(s.val) == 240 and len(s.train) == 960
    assert set(Counter(y for _, y in s.val).values()) == {24}
