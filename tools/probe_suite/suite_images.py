"""Image families of the controlled probe suite: fixed images carrying several label attributes.

Each generator writes `n` images into a folder and returns one attribute dict per image (same
order as the files). A suite task then labels the SAME images by one attribute: the images stay
fixed and only the objective changes. Everything is deterministic for a given seed; attributes are
balanced by cycling through shuffled values, so every label of a task has (almost) the same count.

Families built from `../shared` images read them, never write there.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from vptadvisor.synthetic import SHAPES, background, draw_shape, render_scene

# Coarse WordNet groups of the 1000 ImageNet classes, as ranges of the sorted wnid index.
IMAGENET_GROUPS = {
    "fish-birds-reptiles": (0, 147),
    "dogs": (151, 269),
    "other-animals": (269, 398),
    "artifacts": (398, 924),
}
SPRITE_SHAPES = ("ellipse", "rectangle", "triangle")


def balanced(rng: np.random.Generator, n: int, values: int) -> np.ndarray:
    """n labels in range(values), each (almost) equally often, in random order."""
    return rng.permutation(np.arange(n) % values)


def square(img: Image.Image, side: int) -> Image.Image:
    w, h = img.size
    s = min(w, h)
    box = ((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s)
    return img.crop(box).resize((side, side), Image.BICUBIC)


def imagenet_files(shared: Path) -> list[Path]:
    return sorted((shared / "datasets" / "imagenet-sample-1000").glob("*.JPEG"))


def grouped_imagenet(shared: Path, rng: np.random.Generator, n: int) -> list[tuple[Path, int, int]]:
    """n (file, group index, the file's index among the sorted wnids) triples, n // 4 per coarse
    group, drawn without replacement."""
    files = imagenet_files(shared)
    if len(files) != 1000:
        raise FileNotFoundError(f"expected 1000 ImageNet-sample images under {shared}, found {len(files)}")
    per = n // len(IMAGENET_GROUPS)
    out: list[tuple[Path, int, int]] = []
    for g, (lo, hi) in enumerate(IMAGENET_GROUPS.values()):
        pick = rng.choice(np.arange(lo, hi), size=per, replace=False)
        out += [(files[i], g, int(i)) for i in sorted(pick)]
    order = rng.permutation(len(out))
    return [out[i] for i in order]


def rgb(path: Path) -> Image.Image:
    with Image.open(path) as im:
        return im.convert("RGB")


def noise_canvas(rng: np.random.Generator, size: int) -> Image.Image:
    base = rng.uniform(90, 170)
    arr = base + rng.normal(0, 12, size=(size, size, 1)) + rng.normal(0, 4, size=(size, size, 3))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


# --- ImageNet-sample families ----------------------------------------------------------------


def inet_rotate(out: Path, n: int, seed: int, shared: Path, size: int = 128) -> list[dict]:
    """Whole ImageNet photos (square crop) rotated by 0/90/180/270 degrees."""
    rng = np.random.default_rng(seed)
    pairs = grouped_imagenet(shared, rng, n)
    rot = balanced(rng, len(pairs), 4)
    attrs = []
    for i, ((path, g, wnid), r) in enumerate(zip(pairs, rot)):
        img = square(rgb(path), size).rotate(90 * int(r))
        img.save(out / f"{i:05d}.png")
        attrs.append({"object": g, "rotation": int(r), "wnid_index": wnid})
    return attrs


def inet_quadrant(out: Path, n: int, seed: int, shared: Path, size: int = 128) -> list[dict]:
    """One ImageNet thumbnail pasted in one quadrant of a noisy grey canvas."""
    rng = np.random.default_rng(seed)
    pairs = grouped_imagenet(shared, rng, n)
    quad = balanced(rng, len(pairs), 4)
    thumb = int(size * 0.44)
    attrs = []
    for i, ((path, g, wnid), q) in enumerate(zip(pairs, quad)):
        canvas = noise_canvas(rng, size)
        half = size // 2
        jx, jy = rng.integers(0, half - thumb + 1, size=2)
        canvas.paste(square(rgb(path), thumb), (int(q % 2) * half + int(jx), int(q // 2) * half + int(jy)))
        canvas.save(out / f"{i:05d}.png")
        attrs.append({"object": g, "quadrant": int(q), "wnid_index": wnid})
    return attrs


def inet_copies(out: Path, n: int, seed: int, shared: Path, size: int = 128) -> list[dict]:
    """1-4 copies of one ImageNet thumbnail, pasted without overlap on a noisy canvas."""
    rng = np.random.default_rng(seed)
    pairs = grouped_imagenet(shared, rng, n)
    counts = balanced(rng, len(pairs), 4) + 1
    thumb = int(size * 0.3)
    attrs = []
    for i, ((path, g, wnid), k) in enumerate(zip(pairs, counts)):
        canvas = noise_canvas(rng, size)
        tile = square(rgb(path), thumb)
        placed: list[tuple[int, int]] = []
        while len(placed) < k:
            x, y = (int(v) for v in rng.integers(0, size - thumb + 1, size=2))
            if all(abs(x - px) >= thumb + 2 or abs(y - py) >= thumb + 2 for px, py in placed):
                placed.append((x, y))
        for x, y in placed:
            canvas.paste(tile, (x, y))
        canvas.save(out / f"{i:05d}.png")
        attrs.append({"object": g, "count": int(k) - 1, "wnid_index": wnid})
    return attrs


def imagenet_groups8(out: Path, n: int, seed: int, shared: Path) -> list[dict]:
    """The real ImageNet sample as it is (no files written): 8 groups of 125 consecutive wnids."""
    files = imagenet_files(shared)
    return [{"path": str(p), "group": i // 125} for i, p in enumerate(files)]


# --- dtd-10 families ---------------------------------------------------------------------------


def dtd_files(shared: Path) -> list[tuple[Path, int]]:
    root = shared / "datasets" / "dtd-10"
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    return [(p, c) for c, name in enumerate(classes) for p in sorted((root / name).glob("*.jpg"))]


def dtd_orient(out: Path, n: int, seed: int, shared: Path, size: int = 128) -> list[dict]:
    """dtd-10 textures rotated by 0/45/90/135 degrees, central inscribed square kept."""
    rng = np.random.default_rng(seed)
    files = dtd_files(shared)
    n_cls = max(c for _, c in files) + 1
    per = n // n_cls
    chosen = []
    for c in range(n_cls):
        mine = [p for p, cc in files if cc == c]
        chosen += [(mine[i], c) for i in sorted(rng.choice(len(mine), size=per, replace=False))]
    chosen = [chosen[i] for i in rng.permutation(len(chosen))]
    angle = balanced(rng, len(chosen), 4)
    attrs = []
    for i, ((path, c), a) in enumerate(zip(chosen, angle)):
        img = rgb(path)
        s = min(img.size)
        img = square(img, s).rotate(45 * int(a), resample=Image.BICUBIC)
        inner = int(s / np.sqrt(2))
        off = (s - inner) // 2
        img.crop((off, off, off + inner, off + inner)).resize((size, size), Image.BICUBIC).save(out / f"{i:05d}.png")
        attrs.append({"texture": c, "orientation": int(a)})
    return attrs


def dtd_as_is(out: Path, n: int, seed: int, shared: Path) -> list[dict]:
    """The real dtd-10 dataset as it is (no files written)."""
    return [{"path": str(p), "texture": c} for p, c in dtd_files(shared)]


# --- procedural families -------------------------------------------------------------------------


def _sprite(draw: ImageDraw.ImageDraw, shape: str, cx: float, cy: float, r: float, angle: float, color) -> None:
    """An elongated sprite (2:1) of half-length r, rotated by `angle` radians."""
    if shape == "ellipse":
        t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
        px, py = r * np.cos(t), 0.5 * r * np.sin(t)
    elif shape == "rectangle":
        px, py = np.array([-r, r, r, -r]), np.array([-0.5 * r, -0.5 * r, 0.5 * r, 0.5 * r])
    else:  # isosceles triangle, apex along +x
        px, py = np.array([r, -r, -r]), np.array([0.0, -0.6 * r, 0.6 * r])
    c, s = np.cos(angle), np.sin(angle)
    draw.polygon(list(zip(cx + c * px - s * py, cy + s * px + c * py)), fill=color)


def sprites(out: Path, n: int, seed: int, size: int = 64, coloured: bool = False) -> list[dict]:
    """dSprites-like: shape, scale, orientation, x and y; white on black, or coloured on noise."""
    rng = np.random.default_rng(seed)
    shape = balanced(rng, n, len(SPRITE_SHAPES))
    xb, yb, ob, sb = (balanced(rng, n, 4) for _ in range(4))
    attrs = []
    for i in range(n):
        r = size * (0.12 + 0.045 * sb[i])
        margin = r + 1
        span = (size - 2 * margin) / 4
        cx = margin + span * (xb[i] + rng.uniform(0, 1))
        cy = margin + span * (yb[i] + rng.uniform(0, 1))
        angle = np.pi / 4 * (ob[i] + rng.uniform(0, 1))
        if coloured:
            img = background(rng, size)
            color = tuple(int(v) for v in rng.integers(0, 256, size=3))
        else:
            img = Image.new("RGB", (size, size), (0, 0, 0))
            color = (255, 255, 255)
        _sprite(ImageDraw.Draw(img), SPRITE_SHAPES[shape[i]], cx, cy, r, angle, color)
        img.save(out / f"{i:05d}.png")
        attrs.append(
            {
                "shape": int(shape[i]),
                "x": int(xb[i]),
                "y": int(yb[i]),
                "orientation": int(ob[i]),
                "scale": int(sb[i]),
                "x_pos": float((cx - margin) / (4 * span)),
                "y_pos": float((cy - margin) / (4 * span)),
                "angle": float(angle),
            }
        )
    return attrs


def scenes_count(out: Path, n: int, seed: int, size: int = 128) -> list[dict]:
    """Scenes of 1-4 objects, all of one shape: count vs shape."""
    rng = np.random.default_rng(seed)
    shape = balanced(rng, n, len(SHAPES))
    count = balanced(rng, n, 4) + 1
    attrs = []
    for i in range(n):
        render_scene(rng, int(count[i]), size, shape=SHAPES[shape[i]]).save(out / f"{i:05d}.png")
        attrs.append({"shape": int(shape[i]), "count": int(count[i]) - 1})
    return attrs


def scenes_depth(out: Path, n: int, seed: int, size: int = 128) -> list[dict]:
    """Perspective ground-plane scenes of 2-4 objects of one shape: nearest-object distance vs shape."""
    rng = np.random.default_rng(seed)
    shape = balanced(rng, n, len(SHAPES))
    near = balanced(rng, n, 4)
    horizon = 0.35 * size
    edges = np.array([1.0, 1.5, 2.2, 3.2, 4.6])  # depth bins of the nearest object
    attrs = []
    for i in range(n):
        sky = np.array(rng.uniform(150, 230, size=3))
        ground = np.array(rng.uniform(40, 140, size=3))
        arr = np.empty((size, size, 3))
        arr[: int(horizon)] = sky
        arr[int(horizon) :] = ground
        arr += rng.normal(0, 6, size=arr.shape)
        img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
        draw = ImageDraw.Draw(img)
        z0 = rng.uniform(edges[near[i]], edges[near[i] + 1])
        depths = [z0] + list(rng.uniform(z0 + 0.1, 7.0, size=int(rng.integers(1, 4))))
        for z in sorted(depths, reverse=True):  # far to near (painter's order)
            r = 0.22 * size / z
            cy = horizon + (size - horizon) / z - r
            cx = rng.uniform(r, size - r)
            color = tuple(int(v) for v in rng.integers(0, 256, size=3))
            draw_shape(draw, SHAPES[shape[i]], cx, cy, r, color, angle=float(rng.uniform(0, np.pi)))
        img.save(out / f"{i:05d}.png")
        attrs.append({"shape": int(shape[i]), "nearest_distance": int(near[i])})
    return attrs
