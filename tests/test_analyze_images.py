"""Every bad-file kind: skipped with its reason, or converted to upright RGB uint8."""

from __future__ import annotations

import numpy as np
import pytest
from corpus import EXPECTED, write_corpus

from vptadvisor.dataset.images import BadImage, load_rgb


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.mark.parametrize("name", [k for k, v in EXPECTED.items() if v[0] == "skip"])
def test_bad_files_are_refused_with_their_reason(corpus, name):
    with pytest.raises(BadImage) as info:
        load_rgb(corpus / name)
    assert EXPECTED[name][1] in info.value.reason


@pytest.mark.parametrize("name", [k for k, v in EXPECTED.items() if v[0] == "convert"])
def test_odd_files_are_converted(corpus, name):
    rgb, info = load_rgb(corpus / name)
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3
    assert EXPECTED[name][1] in info.conversions


def test_exif_rotation_is_applied(corpus):
    rgb, info = load_rgb(corpus / "odd/rotated.jpg")
    assert (info.width, info.height) == (60, 20)  # as stored
    assert rgb.shape[:2] == (60, 20)  # upright: 60 high, 20 wide


def test_sixteen_bit_is_scaled_not_clipped(corpus):
    rgb, _ = load_rgb(corpus / "odd/sixteen.png")
    assert rgb[0, 0, 0] == 128 and rgb[0, -1, 0] == 255


def test_palette_transparency_composited_on_white(corpus):
    from PIL import Image

    rgb, _ = load_rgb(corpus / "odd/palette_alpha.png")
    pal = Image.open(corpus / "odd/palette_alpha.png")
    transparent = np.asarray(pal) == 0
    assert transparent.any()
    assert (rgb[transparent] == 255).all()


def test_pixel_limit_is_configurable(corpus):
    with pytest.raises(BadImage) as info:
        load_rgb(corpus / "odd/gray.png", max_pixels=100)
    assert "decompression" in info.value.reason
