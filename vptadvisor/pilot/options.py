"""What defines a pilot run (config.json), checked on the way in and again on --resume.

- ``Options``: every choice of the run (a pydantic model; a resume validates the stored copy).
- The run directory never lies inside the dataset: an explicit ``--out`` inside it is refused
  (exit 2); the default is ``./runs/pilot-<time>`` under the current directory, or, when the
  current directory is inside the dataset, ``<cache dir>/runs/pilot-<time>`` (the cache dir is
  ``$VPTADVISOR_CACHE_DIR`` or the platform cache).
- The dataset fingerprint: SHA-256 of the sorted (relative path, size) list of the images the
  split uses, plus the class names. ``--resume`` recomputes it and stops with exit 2, saying what
  changed, when it differs.
"""

from __future__ import annotations

import hashlib
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from vptadvisor.errors import UsageError
from vptadvisor.pilot.arms import ARMS
from vptadvisor.pilot.budget import parse_budget
from vptadvisor.pilot.data import Split
from vptadvisor.pilot.engine import default_prompt_length


class Options(BaseModel):
    """Everything that defines a run (stored in config.json; a resume validates and reuses it)."""

    model_config = ConfigDict(extra="forbid")

    dataset: str
    budget_seconds: float | None
    steps: int | None
    arms: list[str]
    backbone: str
    weights: str | None
    random_init: bool
    backbone_kwargs: dict[str, Any] | None
    img_size: int
    batch_size: int
    val_fraction: float
    seed: int
    prompt_length: dict[str, int]
    lrs: dict[str, list[float]] | None
    layout: str
    evals: int
    save_backbone: bool
    analysis: str | None
    compile: bool = False


def parse_arms(arms: str | list[str] | tuple[str, ...]) -> list[str]:
    items = [a.strip().lower() for a in (arms.split(",") if isinstance(arms, str) else arms) if a.strip()]
    bad = [a for a in items if a not in ARMS]
    if bad or not items:
        raise UsageError(f"Unknown arm {bad[0] if bad else '(none)'!r}: choose from {', '.join(ARMS)}.")
    if len(set(items)) != len(items):
        raise UsageError("Each arm may be listed once in --arms.")
    if "ft-then-pt" in items and "ft" not in items:
        raise UsageError("ft-then-pt prompt-tunes the ft arm's fine-tuned backbone: add ft to --arms.")
    return [a for a in ARMS if a in items]


def make_options(
    dataset: Any,
    budget: Any,
    steps: Any,
    arms: Any,
    backbone: str,
    weights: Any,
    random_init: bool,
    backbone_kwargs: Any,
    img_size: int,
    batch_size: int,
    val_fraction: float,
    seed: int,
    prompt_length: Any,
    lrs: Any,
    layout: str,
    evals: int,
    save_backbone: bool,
    analysis: Any,
    compile: bool,
) -> Options:
    if dataset is None:
        raise UsageError("Pass a DATASET directory (or --resume RUN_DIR to continue a run).")
    seconds = None
    if budget is not None:
        seconds = parse_budget(budget) if isinstance(budget, str) else float(budget)
        if not seconds > 0:
            raise UsageError(f"Budget {budget!r} must be positive: write it like 90s, 30m or 2h.")
    if seconds is None and steps is None:
        raise UsageError("Give the pilot a --budget (e.g. 30m) or a fixed number of --steps per arm.")
    if steps is not None and int(steps) < 1:
        raise UsageError("--steps must be at least 1.")
    if batch_size < 1 or img_size < 8 or evals < 1:
        raise UsageError("--batch-size and --evals must be >= 1 and --img-size >= 8.")
    arm_list = parse_arms(arms)
    prompted = [a for a in arm_list if default_prompt_length(a) > 0]
    if isinstance(prompt_length, int):
        lengths = dict.fromkeys(prompted, int(prompt_length))
    else:
        lengths = {a: int((prompt_length or {}).get(a, default_prompt_length(a))) for a in prompted}
    if any(v < 1 for v in lengths.values()):
        raise UsageError("--prompt-length must be at least 1 token for a prompted arm.")
    lr_map = {a: [float(x) for x in v] for a, v in (lrs or {}).items() if a in arm_list}
    if any(not v or min(v) <= 0 for v in lr_map.values()):
        raise UsageError("Learning rates must be positive numbers.")
    return Options(
        dataset=str(Path(dataset).expanduser().absolute()),
        budget_seconds=seconds,
        steps=None if steps is None else int(steps),
        arms=arm_list,
        backbone=backbone,
        weights=None if weights is None else str(Path(weights).expanduser().absolute()),
        random_init=bool(random_init),
        backbone_kwargs=dict(backbone_kwargs) if backbone_kwargs else None,
        img_size=int(img_size),
        batch_size=int(batch_size),
        val_fraction=float(val_fraction),
        seed=int(seed),
        prompt_length=lengths,
        lrs=lr_map or None,
        layout=layout,
        evals=int(evals),
        save_backbone=bool(save_backbone),
        analysis=None if analysis is None else str(Path(analysis).expanduser().absolute()),
        compile=bool(compile),
    )


def dataset_root(dataset: str) -> Path:
    root = Path(dataset)
    return (root.parent if root.is_file() else root).resolve()


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root)
        return True
    except ValueError:
        return False


def run_directory(dataset: str, out: str | os.PathLike | None) -> Path:
    """The run directory: `out`, refused inside the dataset, else the default (module docstring)."""
    root = dataset_root(dataset)
    if out is not None:
        path = Path(out).expanduser().absolute()
        if _inside(path, root):
            raise UsageError(
                f"--out {path} is inside the dataset {root}; the pilot never writes into a dataset: "
                "pick a directory outside it."
            )
        return path
    name = datetime.now().strftime("pilot-%Y%m%d-%H%M%S")
    here = Path.cwd() / "runs" / name
    if not _inside(here, root):
        return here
    from vptadvisor.paths import cache_dir

    return cache_dir() / "runs" / name


def fingerprint(root: Path, split: Split) -> str:
    """SHA-256 of the classes and the sorted (relative path, size) of every image the split names."""
    h = hashlib.sha256()
    h.update("\0".join(split.classes).encode("utf-8", "surrogateescape"))
    names = sorted({p for p, _ in split.train + split.val} | {s["path"] for s in split.skipped})
    for rel in names:
        try:
            size = (root / rel).stat().st_size
        except OSError:
            size = -1
        h.update(f"\n{rel}\t{size}".encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def what_changed(old: Split, new: Split) -> str:
    """A sentence on how the dataset differs from the split the run started with."""
    if old.classes != new.classes:
        added = sorted(set(new.classes) - set(old.classes))
        removed = sorted(set(old.classes) - set(new.classes))
        parts = [
            f"classes added: {', '.join(added[:5])}" if added else "",
            f"classes removed: {', '.join(removed[:5])}" if removed else "",
        ]
        return "; ".join(p for p in parts if p) or "the class order changed"
    before = {p for p, _ in old.train + old.val} | {s["path"] for s in old.skipped}
    after = {p for p, _ in new.train + new.val}
    added, removed = sorted(after - before), sorted(before - after)
    if added or removed:
        return (
            f"{len(added)} image(s) added{' (e.g. ' + added[0] + ')' if added else ''} and "
            f"{len(removed)} removed{' (e.g. ' + removed[0] + ')' if removed else ''}"
        )
    return "image files changed size (their content changed)"
