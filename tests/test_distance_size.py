"""Putting FID on the 1,000-image scale (vptadvisor/distance/size.py, equation 4)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from vptadvisor.distance.reference import Reference
from vptadvisor.distance.size import N_STANDARD, size_curve, size_matched_fid


def _ref(d=16, n=1000, seed=0):
    x = np.random.default_rng(seed).random((n, d)).astype(np.float32)
    return Reference("synthetic", None, {"n_images": n}, x, None, None, x)


def test_curve_is_shipped_and_well_formed():
    curve = size_curve()
    sizes = list(curve.sizes)
    assert sizes[-1] == N_STANDARD and 100 in sizes
    assert curve.shape[sizes.index(100)] == pytest.approx(1.0) and curve.shape[-1] == pytest.approx(0.0)
    assert np.all(np.diff(curve.shape) < 0)
    assert np.all(curve.error_sd >= 0) and curve.error_sd[-1] == 0.0


def test_exactly_the_standard_size_is_kept():
    ref = _ref()
    x = np.random.default_rng(1).random((N_STANDARD, 16))
    fid = ref.fid(x)
    m = size_matched_fid(x, ref, fid)
    assert (m.value, m.sd, m.method) == (fid, 0.0, "as measured")


def test_larger_sets_average_seeded_subsets():
    ref = _ref()
    x = np.random.default_rng(2).random((1500, 16)) * 1.1
    fid = ref.fid(x)
    a, b = size_matched_fid(x, ref, fid, seed=3), size_matched_fid(x, ref, fid, seed=3)
    assert a == b and a.method == "subset mean" and a.sd > 0
    assert a.value == pytest.approx(fid, rel=0.2)


@dataclass
class _ModelReference:
    """A reference whose FID follows equation (4) exactly: F + c g(n)."""

    F: float
    c: float

    def fid(self, features):
        return self.F + self.c * size_curve().g(len(features))[0]


@pytest.mark.parametrize("n", [110, 150, 400, 900])
def test_smaller_sets_recover_the_standard_fid_under_the_model(n):
    ref = _ModelReference(F=140.0, c=95.0)
    x = np.zeros((n, 4))
    m = size_matched_fid(x, ref, ref.fid(x), seed=1)
    assert m.method == "offset fit" and m.value == pytest.approx(140.0, abs=1e-6)
    assert m.sd == pytest.approx(size_curve().sd(n))


def test_below_the_curve_it_extrapolates_and_widens():
    ref = _ModelReference(F=100.0, c=50.0)
    n = int(size_curve().sizes[0]) + 10  # its half-size subsets fall below the curve
    m = size_matched_fid(np.zeros((n, 4)), ref, ref.fid(np.zeros((n, 4))))
    assert m.method == "offset fit (extrapolated)" and m.sd == pytest.approx(2 * size_curve().sd(n))


def test_below_the_smallest_size_the_sd_is_doubled_once():
    curve = size_curve()
    ref = _ModelReference(F=100.0, c=50.0)
    n = int(curve.sizes[0]) - 10  # the set itself is below the curve
    m = size_matched_fid(np.zeros((n, 4)), ref, ref.fid(np.zeros((n, 4))))
    assert curve.sd(n) == curve.sd(curve.sizes[0]) == pytest.approx(curve.error_sd[0])
    assert m.method == "offset fit (extrapolated)" and m.sd == pytest.approx(2 * curve.error_sd[0])


@pytest.mark.slow
def test_real_dtd_subset_lands_near_the_measured_1000_image_fid(shared):
    """200 of dtd-10's images: the corrected FID is within 3 sd of dtd-10's FID at 1,000 images."""
    from vptadvisor.dataset.layout import open_dataset
    from vptadvisor.distance.reference import load_reference
    from vptadvisor.features.extract import make_extractor

    x = (
        make_extractor()
        .extract([s.path for s in open_dataset(shared / "datasets" / "dtd-10").samples])
        .features["pool3"]
    )
    ref = load_reference()
    truth = size_matched_fid(x, ref, ref.fid(x)).value
    subset = x[np.random.default_rng(0).choice(len(x), 200, replace=False)]
    raw = ref.fid(subset)
    m = size_matched_fid(subset, ref, raw)
    assert abs(m.value - truth) < 3 * m.sd
    assert abs(m.value - truth) < abs(raw - truth) / 3
