"""Find a dataset's images and labels, whatever its layout. Reads directory listings only.

Layouts:
- ``folder``: ``root/<class>/**/image``
- ``split``: ``root/{train,val,test}/<class>/**/image`` (``valid``/``validation`` count as ``val``)
- ``manifest``: a CSV (header ``path,label[,split]``) or JSONL (``{"path":..,"label":..}``) file whose
  paths are relative to the dataset root (the manifest's directory); paths may not escape the root.
- ``flat``: images directly in ``root`` (no labels; enough for a distance, not for the probe).
"""

from __future__ import annotations

import csv
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from vptadvisor.errors import UsageError

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm"}
)
SPLIT_ALIASES = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}
MANIFEST_NAMES = ("manifest.csv", "manifest.jsonl")
LAYOUTS = ("auto", "folder", "split", "manifest", "flat")


@dataclass(frozen=True)
class Sample:
    """One image of the dataset: where it is and what its label and split are."""

    relpath: str  # POSIX path relative to the dataset root
    path: Path  # absolute path
    label: str | None
    split: str | None


@dataclass
class Dataset:
    root: Path
    layout: str
    samples: list[Sample]
    missing: list[str] = field(default_factory=list)  # manifest entries with no file behind them
    n_ignored: int = 0  # hidden and non-image files passed over

    @property
    def classes(self) -> list[str]:
        return sorted({s.label for s in self.samples if s.label is not None})

    @property
    def splits(self) -> list[str]:
        return sorted({s.split for s in self.samples if s.split is not None})

    def counts(self) -> dict[tuple[str | None, str | None], int]:
        """Images per (split, class)."""
        return dict(Counter((s.split, s.label) for s in self.samples))

    def train_samples(self) -> list[Sample]:
        """The training split when there is one, else every sample."""
        if "train" in self.splits:
            return [s for s in self.samples if s.split == "train"]
        return list(self.samples)


def _is_hidden(name: str) -> bool:
    return name.startswith(".") or name.startswith("__MACOSX")


def _is_image_name(name: str) -> bool:
    return not _is_hidden(name) and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def _walk_images(directory: Path) -> tuple[list[Path], int]:
    """Image files below `directory` (sorted), and how many other files were ignored."""
    found: list[Path] = []
    ignored = 0
    for dirpath, dirnames, filenames in os.walk(directory, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not _is_hidden(d))
        for name in sorted(filenames):
            if _is_image_name(name):
                found.append(Path(dirpath) / name)
            elif not _is_hidden(name):
                ignored += 1
    return found, ignored


def _subdirs(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.is_dir() and not _is_hidden(p.name))


def _direct_images(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.is_file() and _is_image_name(p.name))


def _relpath(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def _from_class_dirs(root: Path, base: Path, split: str | None) -> tuple[list[Sample], int]:
    samples: list[Sample] = []
    ignored = 0
    for class_dir in _subdirs(base):
        files, n_other = _walk_images(class_dir)
        ignored += n_other
        samples += [Sample(_relpath(root, f), f, class_dir.name, split) for f in files]
    ignored += sum(1 for p in base.iterdir() if p.is_file() and not _is_hidden(p.name))  # beside the class folders
    return samples, ignored


def _split_dirs(root: Path) -> dict[str, Path]:
    return {SPLIT_ALIASES[p.name.lower()]: p for p in _subdirs(root) if p.name.lower() in SPLIT_ALIASES}


def _detect(root: Path) -> str:
    if any((root / name).is_file() for name in MANIFEST_NAMES):
        return "manifest"
    splits = _split_dirs(root)
    if splits and all(_subdirs(d) for d in splits.values()):
        return "split"
    if _subdirs(root):
        return "folder"
    if _direct_images(root):
        return "flat"
    raise UsageError(
        f"No images found in {root}: use root/<class>/*.jpg, root/train/<class>/*.jpg or a manifest.csv."
    )


def _resolve_inside(root: Path, relpath: str, where: str) -> Path:
    if not relpath or os.path.isabs(relpath) or relpath.startswith(("/", "\\")):
        raise UsageError(f"{where}: path {relpath!r} must be relative to the dataset root {root}.")
    candidate = (root / relpath).resolve()
    if not candidate.is_relative_to(root.resolve()):
        raise UsageError(
            f"{where}: path {relpath!r} escapes the dataset root {root}; keep manifest paths inside it."
        )
    return root / relpath


def _manifest_rows(manifest: Path) -> list[tuple[str, dict]]:
    """(where, row) pairs of a CSV or JSONL manifest."""
    rows: list[tuple[str, dict]] = []
    try:
        with open(manifest, newline="", encoding="utf-8-sig") as fh:
            if manifest.suffix.lower() == ".jsonl":
                for i, line in enumerate(fh, start=1):
                    if not line.strip():
                        continue
                    where = f"{manifest.name} line {i}"
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise UsageError(f"{where} is not valid JSON ({exc.msg}); write one object per line.") from None
                    if not isinstance(row, dict):
                        raise UsageError(f"{where} is not a JSON object; write {{\"path\": ..., \"label\": ...}}.")
                    rows.append((where, row))
            else:
                reader = csv.DictReader(fh)
                if reader.fieldnames is None or "path" not in reader.fieldnames:
                    raise UsageError(f"{manifest} needs a header row with at least the columns path,label.")
                for i, row in enumerate(reader, start=2):
                    rows.append((f"{manifest.name} line {i}", row))
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"Cannot read manifest {manifest} ({exc}); check the file and its permissions.") from None
    return rows


def _from_manifest(manifest: Path) -> Dataset:
    root = manifest.parent
    samples: list[Sample] = []
    missing: list[str] = []
    for where, row in _manifest_rows(manifest):
        rel = row.get("path")
        if not isinstance(rel, str):
            raise UsageError(f"{where} has no 'path'; every entry needs a path relative to {root}.")
        label = row.get("label")
        if label is None or str(label).strip() == "":
            raise UsageError(f"{where} has no 'label'; every entry needs one.")
        split = row.get("split") or None
        if split is not None:
            split = SPLIT_ALIASES.get(str(split).strip().lower())
            if split is None:
                raise UsageError(f"{where}: split {row.get('split')!r} is not one of train, val, test.")
        path = _resolve_inside(root, rel.strip(), where)
        relpath = Path(rel.strip()).as_posix()
        if not path.is_file():
            missing.append(relpath)
            continue
        samples.append(Sample(relpath, path.absolute(), str(label).strip(), split))
    samples.sort(key=lambda s: s.relpath)
    return Dataset(root=root, layout="manifest", samples=samples, missing=missing)


def open_dataset(path: str | os.PathLike, layout: str = "auto") -> Dataset:
    """List a dataset's images and labels. `path` is a directory or a CSV/JSONL manifest file."""
    if layout not in LAYOUTS:
        raise UsageError(f"Unknown layout {layout!r}: choose one of {', '.join(LAYOUTS)}.")
    path = Path(path).expanduser()
    if not path.exists():
        raise UsageError(f"Dataset path {path} does not exist: pass a directory of images or a manifest file.")
    if path.is_file():
        if path.suffix.lower() not in (".csv", ".jsonl"):
            raise UsageError(f"{path} is a file: pass a dataset directory or a .csv/.jsonl manifest.")
        return _from_manifest(path.absolute())
    root = path.absolute()
    try:
        chosen = _detect(root) if layout == "auto" else layout
        if chosen == "manifest":
            for name in MANIFEST_NAMES:
                if (root / name).is_file():
                    return _from_manifest(root / name)
            raise UsageError(f"No manifest.csv or manifest.jsonl in {root}: pass the manifest file itself.")
        if chosen == "split":
            samples, ignored = [], 0
            for split, directory in sorted(_split_dirs(root).items()):
                s, n = _from_class_dirs(root, directory, split)
                samples += s
                ignored += n
            if not samples:
                raise UsageError(f"No images under {root}/train|val|test/<class>/: check the layout.")
        elif chosen == "folder":
            samples, ignored = _from_class_dirs(root, root, None)
        else:  # flat
            files, ignored = _direct_images(root), 0
            samples = [Sample(_relpath(root, f), f, None, None) for f in files]
    except PermissionError as exc:
        raise UsageError(f"Cannot list {exc.filename}: permission denied; make the dataset readable.") from None
    samples.sort(key=lambda s: s.relpath)
    if not samples:
        raise UsageError(f"No images found in {root} with layout {chosen!r}: check the path and --layout.")
    return Dataset(root=root, layout=chosen, samples=samples, n_ignored=ignored)
