"""Suite families added by issue 12, built from real photos (ImageNet sample, dtd-10).

Fixed before any probe output on them was looked at (docs/probe.md, "Held-back families of probe
2.0"). Two geometric families, where a label asks how many or which way up, and three hard
categorical ones, where a label is a subtle grade or scale of real photos (categories, however
hard they are to see):

- `inet_count`: 1-4 different real photos of one coarse WordNet group pasted, without overlap and
  at random sizes, on a blurred real photo: count (high) / group (low).
- `inet_upright`: real photos, upright or rotated by 45-315 degrees, inscribed square kept so no
  black corner gives the rotation away: upright-or-rotated (high) / group (low).
- `inet_blur`: real photos at 4 subtle Gaussian-blur grades: blur grade (low) / group (low).
- `dtd_scale`: dtd-10 textures cropped to 100/84/71/59 % of their side: scale (low) / texture (low).
- `dtd_grade130`: 130 dtd-10 photos, 5 JPEG-quality grades, 50/20/20/20/20 like the 130-image
  diabetic-retinopathy sample: grade (low).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from tools.probe_suite.suite_images import (
    balanced,
    dtd_files,
    grouped_imagenet,
    imagenet_files,
    rgb,
    square,
)


def _blurred_backdrop(rng: np.random.Generator, files: list[Path], size: int) -> Image.Image:
    """A real photo, strongly blurred and dimmed: a natural canvas with no object on it."""
    img = square(rgb(files[int(rng.integers(len(files)))]), size).filter(ImageFilter.GaussianBlur(size / 12))
    arr = np.asarray(img, dtype=np.float64)
    arr = 0.6 * arr + 0.4 * arr.mean() + rng.normal(0, 3, size=arr.shape)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def inet_count(out: Path, n: int, seed: int, shared: Path, size: int = 128) -> list[dict]:
    """1-4 different real photos of one coarse group, pasted without overlap at random sizes."""
    rng = np.random.default_rng(seed)
    files = imagenet_files(shared)
    pairs = grouped_imagenet(shared, rng, n)
    by_group: dict[int, list[Path]] = {}
    for path, g, _ in pairs:
        by_group.setdefault(g, []).append(path)
    counts = balanced(rng, len(pairs), 4) + 1
    attrs = []
    for i, ((path, g, wnid), k) in enumerate(zip(pairs, counts)):
        canvas = _blurred_backdrop(rng, files, size)
        others = [p for p in by_group[g] if p != path]
        photos = [path] + [others[int(j)] for j in rng.choice(len(others), size=int(k) - 1, replace=False)]
        placed: list[tuple[int, int, int]] = []
        for photo in photos:
            for _ in range(500):
                side = int(rng.integers(int(size * 0.24), int(size * 0.34) + 1))
                x, y = (int(v) for v in rng.integers(0, size - side + 1, size=2))
                if all(
                    x + side + 2 <= px or px + ps + 2 <= x or y + side + 2 <= py or py + ps + 2 <= y
                    for px, py, ps in placed
                ):
                    placed.append((x, y, side))
                    canvas.paste(square(rgb(photo), side), (x, y))
                    break
            else:
                raise RuntimeError("inet_count: could not place a photo without overlap")
        canvas.save(out / f"{i:05d}.png")
        attrs.append({"object": g, "count": int(k) - 1, "wnid_index": wnid})
    return attrs


def _inscribed(img: Image.Image, angle: float, size: int) -> Image.Image:
    """Rotate a square photo by `angle` degrees and keep the largest square that stays inside it."""
    s = img.size[0]
    rot = img.rotate(angle, resample=Image.BICUBIC)
    inner = int(s / np.sqrt(2))
    off = (s - inner) // 2
    return rot.crop((off, off, off + inner, off + inner)).resize((size, size), Image.BICUBIC)


def inet_upright(out: Path, n: int, seed: int, shared: Path, size: int = 128) -> list[dict]:
    """Real photos, upright (label 0) or rotated by 45-315 degrees (label 1); inscribed square kept."""
    rng = np.random.default_rng(seed)
    pairs = grouped_imagenet(shared, rng, n)
    rotated = balanced(rng, len(pairs), 2)
    attrs = []
    for i, ((path, g, wnid), r) in enumerate(zip(pairs, rotated)):
        angle = float(rng.uniform(45, 315)) if r else 0.0
        img = square(rgb(path), 2 * size)
        _inscribed(img, angle, size).save(out / f"{i:05d}.png")
        attrs.append({"object": g, "upright": int(r), "angle": angle, "wnid_index": wnid})
    return attrs


BLUR_RADII = (0.0, 0.7, 1.4, 2.1)  # px at 160 px: subtle quality grades


def inet_blur(out: Path, n: int, seed: int, shared: Path, size: int = 160) -> list[dict]:
    """Real photos at 4 subtle Gaussian-blur grades."""
    rng = np.random.default_rng(seed)
    pairs = grouped_imagenet(shared, rng, n)
    grade = balanced(rng, len(pairs), len(BLUR_RADII))
    attrs = []
    for i, ((path, g, wnid), b) in enumerate(zip(pairs, grade)):
        img = square(rgb(path), size)
        if BLUR_RADII[b] > 0:
            img = img.filter(ImageFilter.GaussianBlur(BLUR_RADII[b]))
        img.save(out / f"{i:05d}.png")
        attrs.append({"object": g, "blur": int(b), "wnid_index": wnid})
    return attrs


SCALES = (1.0, 0.84, 0.71, 0.59)  # side of the central crop: a texture seen at subtly different scales


def _dtd_pick(shared: Path, rng: np.random.Generator, n: int) -> list[tuple[Path, int]]:
    files = dtd_files(shared)
    n_cls = max(c for _, c in files) + 1
    per = -(-n // n_cls)
    chosen = []
    for c in range(n_cls):
        mine = [p for p, cc in files if cc == c]
        chosen += [(mine[i], c) for i in sorted(rng.choice(len(mine), size=per, replace=False))]
    order = rng.permutation(len(chosen))[:n]
    return [chosen[i] for i in order]


def dtd_scale(out: Path, n: int, seed: int, shared: Path, size: int = 160) -> list[dict]:
    """dtd-10 textures, central square crop of 100/84/71/59 % of the side, all resized to `size`."""
    rng = np.random.default_rng(seed)
    chosen = _dtd_pick(shared, rng, n)
    grade = balanced(rng, len(chosen), len(SCALES))
    attrs = []
    for i, ((path, c), s) in enumerate(zip(chosen, grade)):
        img = rgb(path)
        side = min(img.size)
        crop = int(side * SCALES[s])
        x0, y0 = (img.size[0] - crop) // 2, (img.size[1] - crop) // 2
        img.crop((x0, y0, x0 + crop, y0 + crop)).resize((size, size), Image.BICUBIC).save(out / f"{i:05d}.png")
        attrs.append({"texture": c, "scale": int(s)})
    return attrs


JPEG_QUALITY = (92, 45, 28, 18, 11)  # grade 0 (best) .. 4 (worst)
GRADE_COUNTS = (50, 20, 20, 20, 20)  # the 130-image retinopathy sample's shape


def dtd_grade130(out: Path, n: int, seed: int, shared: Path, size: int = 192) -> list[dict]:
    """130 dtd-10 photos with 5 JPEG-quality grades, 50/20/20/20/20 (n is scaled to that shape)."""
    rng = np.random.default_rng(seed)
    counts = [max(2, round(c * n / sum(GRADE_COUNTS))) for c in GRADE_COUNTS]
    chosen = _dtd_pick(shared, rng, sum(counts))
    grade = rng.permutation(np.repeat(np.arange(len(counts)), counts))
    attrs = []
    for i, ((path, c), q) in enumerate(zip(chosen, grade)):
        buf = io.BytesIO()
        square(rgb(path), size).save(buf, format="JPEG", quality=JPEG_QUALITY[q])
        buf.seek(0)
        with Image.open(buf) as im:
            im.convert("RGB").save(out / f"{i:05d}.png")
        attrs.append({"texture": c, "grade": int(q)})
    return attrs
