"""--max-images: a seeded, class-stratified sample is decoded and embedded; the rest is listed and
counted, never opened; the training-set size counts every file."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vptadvisor.dataset.layout import Sample, open_dataset
from vptadvisor.dataset.sample import stratified_sample


def _samples(sizes: dict[tuple[str | None, str], int]) -> list[Sample]:
    out = []
    for (split, label), n in sizes.items():
        out += [Sample(f"{split}/{label}/{i}.jpg", Path(f"/x/{split}/{label}/{i}.jpg"), label, split) for i in range(n)]
    return sorted(out, key=lambda s: s.relpath)


@pytest.mark.parametrize("n", [3, 10, 57, 100, 999])
def test_sample_is_stratified_exact_in_size_and_seeded(n):
    samples = _samples(
        {("train", "a"): 500, ("train", "b"): 300, ("train", "c"): 7, ("val", "a"): 100, ("val", "b"): 93}
    )
    chosen = stratified_sample(samples, n, seed=3)
    assert len(chosen) == n == len(set(chosen)) and chosen == sorted(chosen)
    assert chosen == stratified_sample(samples, n, seed=3)
    assert chosen != stratified_sample(samples, n, seed=4)
    got = Counter((samples[i].split, samples[i].label) for i in chosen)
    total = len(samples)
    for group, size in Counter((s.split, s.label) for s in samples).items():
        if n >= 5:
            assert got[group] >= 1  # every class and split is represented
        assert abs(got[group] - n * size / total) <= 1.5  # proportional up to rounding (and the minimum of one)


def test_sample_of_everything_is_everything():
    samples = _samples({("train", "a"): 5})
    assert stratified_sample(samples, 5) == stratified_sample(samples, 50) == list(range(5))


def _dataset(root: Path, per_class: int = 12, classes: int = 4) -> Path:
    rng = np.random.default_rng(0)
    for c in range(classes):
        (root / f"class_{c}").mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 256, (36, 48, 3), dtype=np.uint8)).save(
                root / f"class_{c}" / f"{i:03d}.png"
            )
    return root


def test_analyze_decodes_only_the_sample_and_counts_every_file(tmp_path):
    from vptadvisor.analyze import analyze

    root = _dataset(tmp_path / "data")
    listing = open_dataset(root).samples
    chosen = set(stratified_sample(listing, 20, seed=0))
    outside = [s for i, s in enumerate(listing) if i not in chosen]
    outside[0].path.write_bytes(b"not an image at all")  # never opened: not reported
    outside[1].path.chmod(0o000)
    result = analyze(root, max_images=20, min_images=10, kid_subsets=5, seed=0, objective="classification")
    d = result.to_dict()
    assert d["dataset"]["n_files"] == 48
    assert d["dataset"]["n_images"] == 20 and result.timing.n_computed == 20
    assert d["dataset"]["skipped"] == []
    assert d["dataset"]["n_train"] == 48  # the verdict's training-set size counts every listed file
    assert d["verdict"]["inputs"]["n_train"] == 48
    sample = d["dataset"]["sample"]
    assert sample["n_listed"] == 48 and sample["n_sampled"] == 20 and sample["max_images"] == 20
    assert "only detected in the sample" in sample["note"]
    assert set(d["dataset"]["per_class"].values()) == {5}
    everything = analyze(root, max_images=0, min_images=10, kid_subsets=5, seed=0, objective="classification")
    assert everything.to_dict()["dataset"]["sample"] is None
    assert {s.path for s in everything.dataset.skipped} == {outside[0].relpath} | (
        {outside[1].relpath} if not _is_root() else set()
    )


def _is_root() -> bool:
    import os

    return hasattr(os, "geteuid") and os.geteuid() == 0
