"""The controlled validation suite: which image families exist, and which tasks label them how.

A task = (family, attribute, true disparity, designed or held back). The designed tasks were used
to choose the probe's signals and fit its calibration; the held-back ones were fixed in
docs/probe.md before the probe was designed and are only ever scored with the frozen probe.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tools.probe_suite import suite_images as si
from tools.probe_suite import suite_images_real as sir
from vptadvisor.atomic import write_text

SUITE_VERSION = 1  # bump when a generator changes its images


@dataclass(frozen=True)
class Family:
    name: str
    generator: str  # function name in suite_images
    n_full: int
    n_quick: int
    needs_shared: bool = False
    writes: bool = True  # False: the family is a real dataset read in place
    kwargs: tuple = ()


@dataclass(frozen=True)
class SuiteTask:
    family: str
    attribute: str  # an attribute of the family's images, or a derived labelling (see `task_labels`)
    disparity: str  # "low" | "high"
    held_back: bool
    variant: bool = False  # a derived labelling of a designed family, used for fitting and robustness

    @property
    def name(self) -> str:
        return f"{self.family}/{self.attribute}"

    @property
    def high(self) -> bool:
        return self.disparity == "high"


FAMILIES = {
    f.name: f
    for f in (
        Family("inet-rotate", "inet_rotate", 400, 96, needs_shared=True),
        Family("inet-quadrant", "inet_quadrant", 400, 96, needs_shared=True),
        Family("sprites-64", "sprites", 480, 96, kwargs=(("size", 64),)),
        Family("scenes-count", "scenes_count", 400, 96),
        # held back
        Family("dtd-orient", "dtd_orient", 400, 80, needs_shared=True),
        Family("inet-copies", "inet_copies", 400, 96, needs_shared=True),
        Family("sprites-96", "sprites", 480, 96, kwargs=(("size", 96), ("coloured", True))),
        Family("scenes-depth", "scenes_depth", 400, 96),
        Family("dtd-10", "dtd_as_is", 1200, 1200, needs_shared=True, writes=False),
        Family("imagenet-1000", "imagenet_groups8", 1000, 1000, needs_shared=True, writes=False),
        # held back, added by probe 2.0 (issue 12) before any signal was changed
        Family("inet-count", "inet_count", 200, 96, needs_shared=True),
        Family("inet-upright", "inet_upright", 200, 96, needs_shared=True),
        Family("inet-blur", "inet_blur", 200, 96, needs_shared=True),
        Family("dtd-scale", "dtd_scale", 200, 80, needs_shared=True),
        Family("dtd-grade130", "dtd_grade130", 130, 130, needs_shared=True),
    )
}

# The designed families the probe-2 model is fitted on. scenes-count stays designed (it was looked at
# while probe 1 was designed) but is scored, not fitted: its features could not be extracted in time
# on the shared machine when probe 2 was fitted, and the fit was not redone after.
FIT_FAMILIES = ("inet-rotate", "inet-quadrant", "sprites-64")

# The families added by issue 12 (real photos; their AUROC is reported on its own as "held_back_new").
NEW_FAMILIES = ("inet-count", "inet-upright", "inet-blur", "dtd-scale", "dtd-grade130")

TASKS: tuple[SuiteTask, ...] = (
    SuiteTask("inet-rotate", "object", "low", False),
    SuiteTask("inet-rotate", "rotation", "high", False),
    SuiteTask("inet-quadrant", "object", "low", False),
    SuiteTask("inet-quadrant", "quadrant", "high", False),
    SuiteTask("sprites-64", "shape", "low", False),
    SuiteTask("sprites-64", "x", "high", False),
    SuiteTask("sprites-64", "orientation", "high", False),
    SuiteTask("scenes-count", "shape", "low", False),
    SuiteTask("scenes-count", "count", "high", False),
    # designed variants: other class counts and an imbalanced split of the same images
    SuiteTask("inet-rotate", "object8", "low", False, True),
    SuiteTask("inet-rotate", "object2-imbalanced", "low", False, True),
    SuiteTask("inet-rotate", "rotation2", "high", False, True),
    SuiteTask("inet-quadrant", "object8", "low", False, True),
    SuiteTask("inet-quadrant", "object2-imbalanced", "low", False, True),
    SuiteTask("inet-quadrant", "quadrant2", "high", False, True),
    SuiteTask("sprites-64", "x8", "high", False, True),
    SuiteTask("sprites-64", "x2", "high", False, True),
    SuiteTask("sprites-64", "orientation8", "high", False, True),
    SuiteTask("sprites-64", "orientation2", "high", False, True),
    SuiteTask("sprites-64", "scale", "high", False, True),
    SuiteTask("scenes-count", "shape2", "low", False, True),
    SuiteTask("scenes-count", "count2", "high", False, True),
    # held back (see docs/probe.md)
    SuiteTask("dtd-orient", "texture", "low", True),
    SuiteTask("dtd-orient", "orientation", "high", True),
    SuiteTask("inet-copies", "object", "low", True),
    SuiteTask("inet-copies", "count", "high", True),
    SuiteTask("sprites-96", "shape", "low", True),
    SuiteTask("sprites-96", "y", "high", True),
    SuiteTask("sprites-96", "scale", "high", True),
    SuiteTask("scenes-depth", "shape", "low", True),
    SuiteTask("scenes-depth", "nearest_distance", "high", True),
    SuiteTask("dtd-10", "texture", "low", True),
    SuiteTask("imagenet-1000", "group", "low", True),
    # held back, probe 2.0 (see docs/probe.md)
    SuiteTask("inet-count", "object", "low", True),
    SuiteTask("inet-count", "count", "high", True),
    SuiteTask("inet-upright", "object", "low", True),
    SuiteTask("inet-upright", "upright", "high", True),
    SuiteTask("inet-blur", "object", "low", True),
    SuiteTask("inet-blur", "blur", "low", True),
    SuiteTask("dtd-scale", "texture", "low", True),
    SuiteTask("dtd-scale", "scale", "low", True),
    SuiteTask("dtd-grade130", "grade", "low", True),
)


def task_labels(task: SuiteTask, attrs: list[dict]) -> list[str]:
    """The label of every image of the task's family under this task's objective."""
    col = lambda key: np.array([a[key] for a in attrs])
    bins = lambda v, n: np.minimum((np.asarray(v) * n).astype(int), n - 1)
    a = task.attribute
    if a == "object8":  # each coarse group split at its median wnid: 8 finer groups
        obj, w = col("object"), col("wnid_index")
        med = {g: np.median(w[obj == g]) for g in np.unique(obj)}
        y = obj * 2 + np.array([w[i] > med[obj[i]] for i in range(len(w))])
    elif a == "object2-imbalanced":  # artifacts vs the three animal groups: 1:3
        y = (col("object") == 3).astype(int)
    elif a in ("rotation2", "quadrant2"):  # upright/upside-down vs sideways; left vs right
        y = col(a[:-1]) % 2
    elif a in ("x8", "x2"):
        y = bins(col("x_pos"), int(a[1:]))
    elif a in ("orientation8", "orientation2"):
        y = bins(col("angle") / np.pi, int(a[-1]))
    elif a in ("shape2", "count2"):
        y = col(a[:-1]) // 2
    else:
        y = col(a)
    return [f"{a}-{int(v)}" for v in y]


# --quick: two designed families that need no shared data, small.
QUICK_FAMILIES = ("sprites-64", "scenes-count")


def family_seed(name: str, seed: int) -> int:
    """Each family draws from its own stream (same suite seed, independent families)."""
    return seed * 100_003 + zlib.crc32(name.encode()) % 100_000


def build_family(
    family: Family, root: Path, seed: int, quick: bool, shared: Path | None
) -> tuple[list[Path], list[dict]]:
    """Generate (or reuse) a family's images; returns (image paths, attribute dicts) in order."""
    n = family.n_quick if quick else family.n_full
    gen = getattr(si, family.generator, None) or getattr(sir, family.generator)
    args: dict = dict(family.kwargs)
    if family.needs_shared:
        if shared is None or not (shared / "datasets").is_dir():
            raise FileNotFoundError(f"family {family.name} needs the shared datasets; pass --shared DIR")
        args["shared"] = shared
    if not family.writes:
        attrs = gen(None, n, seed, **args)
        return [Path(a.pop("path")) for a in attrs], attrs
    folder = root / f"{family.name}-n{n}-s{seed}-v{SUITE_VERSION}"
    seed = family_seed(family.name, seed)
    manifest = folder / "attributes.json"
    if manifest.is_file():
        try:
            attrs = json.loads(manifest.read_text())
            paths = [folder / f"{i:05d}.png" for i in range(len(attrs))]
            if len(attrs) == n and all(p.is_file() for p in paths):
                return paths, attrs
        except (OSError, ValueError):
            pass
    folder.mkdir(parents=True, exist_ok=True)
    attrs = gen(folder, n, seed, **args)
    write_text(manifest, json.dumps(attrs))
    return [folder / f"{i:05d}.png" for i in range(len(attrs))], attrs
