"""Procedural images: scenes of N simple objects on a textured background.

Used by the demo dataset (a counting task, generated on first use) and by tests. Deterministic for a
given seed. Objects are filled circles, squares, triangles and diamonds in random colours, placed
without overlap.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SHAPES = ("circle", "square", "triangle", "diamond")


def background(rng: np.random.Generator, size: int) -> Image.Image:
    yy, xx = np.mgrid[0:size, 0:size] / size
    base = rng.uniform(40, 200, size=3)
    tilt = rng.uniform(-60, 60, size=(2, 3))
    img = base + xx[..., None] * tilt[0] + yy[..., None] * tilt[1] + rng.normal(0, 8, size=(size, size, 3))
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")


def draw_shape(
    draw: ImageDraw.ImageDraw, shape: str, cx: float, cy: float, r: float, color, angle: float = 0.0
) -> None:
    if shape == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=color)
        return
    corners = {"square": 4, "triangle": 3, "diamond": 4}[shape]
    offset = {"square": np.pi / 4, "triangle": -np.pi / 2, "diamond": 0.0}[shape] + angle
    scale = {"square": 1.0, "triangle": 1.1, "diamond": 1.0}[shape]
    pts = [
        (
            cx + scale * r * np.cos(offset + 2 * np.pi * k / corners),
            cy + scale * r * np.sin(offset + 2 * np.pi * k / corners),
        )
        for k in range(corners)
    ]
    draw.polygon(pts, fill=color)


def _free_spot(rng: np.random.Generator, placed: list, size: int) -> tuple[float, float, float] | None:
    """A random radius and a centre that keeps 3 px clear of the objects already `placed` (None if crowded)."""
    r = rng.uniform(0.06, 0.11) * size
    for _ in range(200):
        cx, cy = rng.uniform(r + 2, size - r - 2, size=2)
        if all((cx - x) ** 2 + (cy - y) ** 2 > (r + rr + 3) ** 2 for x, y, rr in placed):
            return float(cx), float(cy), float(r)
    return None


def render_scene(rng: np.random.Generator, n_objects: int, size: int = 128, shape: str | None = None) -> Image.Image:
    """A size x size RGB image with `n_objects` non-overlapping shapes: each of a random kind, or all
    `shape` (the probe suite's scenes)."""
    if shape is not None and shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}; known: {', '.join(SHAPES)}")
    img = background(rng, size)
    draw = ImageDraw.Draw(img)
    placed: list[tuple[float, float, float]] = []
    while len(placed) < n_objects:
        spot = _free_spot(rng, placed, size)
        if spot is None:
            placed.clear()  # crowded: start the scene over
            img = background(rng, size)
            draw = ImageDraw.Draw(img)
            continue
        cx, cy, r = spot
        placed.append(spot)
        color = tuple(int(c) for c in rng.integers(0, 256, size=3))
        kind = SHAPES[int(rng.integers(len(SHAPES)))] if shape is None else shape
        draw_shape(draw, kind, cx, cy, r, color, angle=float(rng.uniform(0, np.pi)))
    return img


def write_counting_dataset(
    root: Path, per_class: int = 40, counts=(1, 2, 3, 4), size: int = 128, seed: int = 0
) -> Path:
    """root/<count>/<i>.png: scenes labelled by how many objects they hold."""
    rng = np.random.default_rng(seed)
    for n in counts:
        folder = root / f"{n}_objects"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            render_scene(rng, n, size).save(folder / f"{i:04d}.png")
    return root
