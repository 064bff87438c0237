"""A generated corpus of every bad-file kind analyze must handle or skip (never in ../shared)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

# file name -> what analyze must do with it: ("skip", reason kind) or ("convert", conversion tag)
EXPECTED = {
    "bad/zero.jpg": ("skip", "zero-byte"),
    "bad/text.jpg": ("skip", "not an image"),
    "bad/corrupt.png": ("skip", "corrupt"),
    "bad/truncated.jpg": ("skip", "truncated"),
    "bad/bomb.png": ("skip", "decompression-bomb"),
    "bad/dangling.jpg": ("skip", "cannot be read"),
    "odd/animated.gif": ("convert", "animated"),
    "odd/cmyk.jpg": ("convert", "cmyk"),
    "odd/sixteen.png": ("convert", "16-bit"),
    "odd/palette_alpha.png": ("convert", "palette-alpha"),
    "odd/gray.png": ("convert", "grayscale"),
    "odd/rotated.jpg": ("convert", "exif-rotated"),
}


def _noise(seed: int, h: int = 48, w: int = 64) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_bomb(path: Path, side: int = 40_000) -> None:
    """A tiny PNG whose header claims side x side pixels (1.6 gigapixels)."""
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")
    )


def write_corpus(root: Path, n_good: int = 0) -> Path:
    """root/bad/* (skipped), root/odd/* (converted), root/good/* (n_good plain RGB images)."""
    for folder in ("bad", "odd", "good"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "bad/zero.jpg").write_bytes(b"")
    (root / "bad/text.jpg").write_text("this is not a JPEG, whatever its name says\n")
    png = root / "bad/_tmp.png"
    Image.fromarray(_noise(1)).save(png)
    raw = bytearray(png.read_bytes())
    raw[60:120] = b"\xff" * 60  # break the compressed data and its CRC
    (root / "bad/corrupt.png").write_bytes(bytes(raw))
    png.unlink()
    jpg = root / "bad/_tmp.jpg"
    Image.fromarray(_noise(2, 256, 256)).save(jpg, quality=95)
    data = jpg.read_bytes()
    (root / "bad/truncated.jpg").write_bytes(data[: len(data) // 2])
    jpg.unlink()
    write_bomb(root / "bad/bomb.png")
    (root / "bad/dangling.jpg").symlink_to(root / "bad/does-not-exist.jpg")

    frames = [Image.fromarray(_noise(s)) for s in (3, 4)]
    frames[0].save(root / "odd/animated.gif", save_all=True, append_images=frames[1:], duration=100)
    Image.fromarray(_noise(5)).convert("CMYK").save(root / "odd/cmyk.jpg")
    sixteen = np.full((40, 50), 65535, dtype=np.uint16)
    sixteen[:, :25] = 32896  # 128 * 257
    Image.fromarray(sixteen).save(root / "odd/sixteen.png")
    pal = Image.fromarray(_noise(6)).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    pal.info["transparency"] = 0
    pal.save(root / "odd/palette_alpha.png", transparency=0)
    Image.fromarray(_noise(7)[..., 0]).save(root / "odd/gray.png")
    rotated = Image.fromarray(_noise(8, 20, 60))  # 60 wide, 20 high as stored
    exif = rotated.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to view": upright it is 20 wide, 60 high
    rotated.save(root / "odd/rotated.jpg", exif=exif.tobytes())
    for i in range(n_good):
        Image.fromarray(_noise(100 + i, 40 + i % 7, 50 + i % 5)).save(root / "good" / f"{i:03d}.png")
    return root
