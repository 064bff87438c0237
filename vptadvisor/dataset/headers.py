"""Cheap readability check: open image headers (no pixel decode) to count usable files before any
expensive work (weights, network, embedding). A file whose header opens may still fail to decode
later; the full check after decoding stays, this one only stops a hopeless run early."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable


def header_ok(path: str | os.PathLike[str], max_pixels: int) -> bool:
    """True when `path` opens as an image with a plausible size (header only, nothing decoded)."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as im:
                width, height = im.size
    except Exception:
        return False
    return bool(0 < width * height <= max_pixels)


def count_readable(paths: Iterable[str | os.PathLike[str]], need: int, max_pixels: int) -> int:
    """How many of `paths` have a readable header, counting no further than `need` (so a large
    dataset costs `need` header reads, and a too-small one every file's)."""
    found = 0
    for path in paths:
        if header_ok(path, max_pixels):
            found += 1
            if found >= need:
                break
    return found
