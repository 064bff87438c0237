"""Read one image safely: RGB uint8 out, or a `BadImage` with the reason it was skipped.

Handled (converted, not skipped): grayscale, CMYK, 16-bit and 32-bit integer, palette and alpha
(composited onto white), EXIF orientation (transposed), animated (first frame).
Skipped: zero-byte, not an image, corrupt, truncated, unreadable, decompression-bomb sized.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from struct import error as struct_error

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# Pillow's own decompression-bomb threshold (about 89.5 megapixels).
DEFAULT_MAX_PIXELS = 89_478_485

SKIP_REASONS = {
    "empty": "zero-byte file",
    "not_an_image": "not an image despite its extension",
    "corrupt": "corrupt image data",
    "truncated": "truncated image file",
    "unreadable": "file cannot be read",
    "too_large": "decompression-bomb sized",
    "missing": "file listed in the manifest does not exist",
}


class BadImage(Exception):
    def __init__(self, kind: str, detail: str = ""):
        super().__init__(kind)
        self.kind = kind
        self.detail = detail

    @property
    def reason(self) -> str:
        text = SKIP_REASONS[self.kind]
        return f"{text} ({self.detail})" if self.detail else text


@dataclass(frozen=True)
class ImageInfo:
    """What the file held before conversion, and what was done to it."""

    width: int
    height: int
    mode: str
    format: str
    conversions: tuple[str, ...]


def _to_rgb(im: Image.Image, conversions: list[str]) -> Image.Image:
    mode = im.mode
    if mode == "RGB":
        return im
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(im, dtype=np.float64)
        scale = 65535.0 if mode.startswith("I;16") or arr.max() <= 65535 else float(2**31 - 1)
        conversions.append("16-bit" if scale == 65535.0 else "32-bit")
        gray = np.clip(np.rint(arr / scale * 255.0), 0, 255).astype(np.uint8)
        return Image.fromarray(gray, mode="L").convert("RGB")
    if mode == "F":
        conversions.append("float")
        arr = np.asarray(im, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        gray = np.zeros(arr.shape, np.uint8) if hi <= lo else np.rint((arr - lo) / (hi - lo) * 255).astype(np.uint8)
        return Image.fromarray(gray, mode="L").convert("RGB")
    if (mode == "P" and "transparency" in im.info) or mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        conversions.append("alpha" if mode != "P" else "palette-alpha")
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode == "CMYK":
        conversions.append("cmyk")
    elif mode in ("L", "1"):
        conversions.append("grayscale")
    elif mode == "P":
        conversions.append("palette")
    else:
        conversions.append(mode.lower())
    return im.convert("RGB")


def load_rgb(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[np.ndarray, ImageInfo]:
    """Decode `path` to an HxWx3 uint8 array, upright (EXIF orientation applied)."""
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise BadImage("empty")
        with open(path, "rb") as fh, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # our own pixel limit replaces Pillow's warning
            try:
                im = Image.open(fh)
            except UnidentifiedImageError:
                raise BadImage("not_an_image") from None
            width, height = im.size
            if width * height > max_pixels:
                raise BadImage("too_large", f"{width}x{height} px")
            info_mode, info_format = im.mode, im.format or "?"
            conversions: list[str] = []
            if getattr(im, "n_frames", 1) > 1:
                conversions.append("animated")
                im.seek(0)
            try:
                im.load()
            except OSError as exc:
                if "truncated" in str(exc).lower():
                    raise BadImage("truncated") from None
                raise BadImage("corrupt", str(exc)) from None
            if _has_rotation(im):
                conversions.append("exif-rotated")
            oriented = ImageOps.exif_transpose(im)
            rgb = _to_rgb(oriented, conversions)
            arr = np.asarray(rgb, dtype=np.uint8).copy()
    except BadImage:
        raise
    except PermissionError:
        raise BadImage("unreadable", "permission denied") from None
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise BadImage("unreadable", "missing, a broken link or not a file") from None
    except Image.DecompressionBombError as exc:
        raise BadImage("too_large", str(exc).split(".")[0]) from None
    except (OSError, ValueError, SyntaxError, EOFError, IndexError, struct_error) as exc:
        raise BadImage("corrupt", f"{type(exc).__name__}: {exc}"[:120]) from None
    if arr.ndim != 3 or arr.shape[2] != 3 or min(arr.shape[:2]) < 1:
        raise BadImage("corrupt", f"unexpected decoded shape {arr.shape}")
    info = ImageInfo(width, height, info_mode, info_format, tuple(conversions))
    return arr, info


def _has_rotation(im: Image.Image) -> bool:
    try:
        return im.getexif().get(0x0112, 1) not in (1, None)
    except Exception:  # a broken EXIF block is not a reason to drop the image
        return False
