"""The augmentation signals: the edits, the sampling, the retention arithmetic, and (slow) the real
Inception pass on generated counting scenes and real photos."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from vptadvisor.probe import augment as A


def _image(w=40, h=30, seed=0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8), "RGB")


def test_edits_turn_a_quarter_and_mirror_the_left_half():
    img = _image()
    a = np.asarray(img)
    rot = np.asarray(A.edit_image(img, "rotate90"))
    assert rot.shape == (40, 30, 3) and np.array_equal(rot, np.rot90(a))
    mir = np.asarray(A.edit_image(img, "mirror_half"))
    assert mir.shape == a.shape
    assert np.array_equal(mir[:, :20], a[:, :20]) and np.array_equal(mir[:, 20:], a[:, :20][:, ::-1])
    big = _image(w=3000, h=1500)
    assert max(A.edit_image(big, "rotate90").size) == A.MAX_SIDE
    with pytest.raises(ValueError):
        A.edit_image(img, "shear")


def test_sampling_is_class_balanced_disjoint_and_label_independent_in_order():
    y = np.repeat(np.arange(4), 50)
    rng_y = np.random.default_rng(3).permutation(y)
    test, train = A.sample_rows(rng_y, A.AugmentConfig(), np.random.default_rng(0))
    assert len(test) == 32 and not set(test) & set(train)
    assert np.all(np.bincount(rng_y[test]) == 8) and np.all(np.bincount(rng_y[train]) == 24)
    # a second labelling of the same rows (2 classes) edits mostly the same images
    y2 = rng_y % 2
    test2, _ = A.sample_rows(y2, A.AugmentConfig(), np.random.default_rng(0))
    assert len(set(test) & set(test2)) >= 16
    # classes below 4 images and rows of dropped classes (-1) are never sampled
    y3 = rng_y.copy()
    y3[:3] = -1
    t3, r3 = A.sample_rows(y3, A.AugmentConfig(), np.random.default_rng(0))
    assert np.all(y3[t3] >= 0) and np.all(y3[r3] >= 0)


def test_retention_is_one_when_the_edit_keeps_the_label_and_negative_when_it_permutes_it():
    rng = np.random.default_rng(0)
    k, d = 4, 64
    protos = rng.normal(size=(k, d)) * 3
    y = np.repeat(np.arange(k), 40)
    F = protos[y] + rng.normal(size=(len(y), d))
    test, train = A.sample_rows(y, A.AugmentConfig(), np.random.default_rng(1))
    same = F[test] + rng.normal(size=(len(test), d)) * 0.1  # the edit keeps the label
    shifted = protos[(y[test] + 1) % k] + rng.normal(
        size=(len(test), d)
    )  # the edit moves every image to the next class
    noise = rng.normal(size=(len(test), d))  # the edit destroys the label
    n = len(test)
    plan = ["keep", "shift", "destroy"] * (n // 3) + ["keep"] * (n % 3)
    sel = lambda e: np.array(plan) == e
    edited = np.where(sel("keep")[:, None], same, np.where(sel("shift")[:, None], shifted, noise))
    out = A.retention(F, y, test, train, edited, plan)
    assert out["retention_keep"] == pytest.approx(1.0, abs=0.1)
    assert out["retention_shift"] < -0.1
    assert abs(out["retention_destroy"]) < 0.2
    assert out["augment_retention"] == min(out[f"retention_{e}"] for e in ("keep", "shift", "destroy"))
    assert out["label_margin"] > 0.5


@pytest.mark.slow
def test_real_inception_pass_counting_scenes_lose_the_label_under_mirroring(tmp_path):
    """Real FID Inception on generated counting scenes: a quarter turn keeps the count, a mirrored
    half does not."""
    from vptadvisor.features.extract import make_extractor
    from vptadvisor.synthetic import write_counting_dataset

    root = write_counting_dataset(tmp_path / "count", per_class=30, counts=(1, 2, 3, 4), seed=0)
    paths = sorted(root.rglob("*.png"))
    labels = [p.parent.name for p in paths]
    ext = make_extractor(cache=False)
    feats = ext.extract(paths).features
    out = A.augmentation_signals(feats, labels, paths, A.pool3_function(ext), seed=0)
    assert A.edit_plan(4) == ["rotate90", "mirror_half", "rotate90", "mirror_half"]
    assert out["augmented_images"] == 32
    assert out["retention_rotate90"] > 0.5
    assert out["retention_mirror_half"] < out["retention_rotate90"] - 0.2
