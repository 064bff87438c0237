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
from typing import Any

from vptadvisor.dataset.walk import (
    IMAGE_EXTENSIONS,
    LINK_OUTSIDE,
    Lister,
    child_path,
    inside,
    is_image_name,
)
from vptadvisor.errors import UsageError

__all__ = ["IMAGE_EXTENSIONS", "LAYOUTS", "Dataset", "Sample", "open_dataset"]
MAX_FIELD = 128 * 1024  # longest manifest field (the csv module's default limit), in characters

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
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (relpath, reason): links not followed

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


def _subdirs(lister: Lister, directory: Path) -> list[Path]:
    return [Path(p) for _, p in lister.entries(str(directory))[0]]


def _from_class_dirs(lister: Lister, base: Path, split: str | None) -> tuple[list[Sample], int]:
    samples: list[Sample] = []
    root = lister.root
    cut = len(root.rstrip(os.sep)) + 1
    folders, beside = lister.entries(str(base))
    ignored = len(beside)  # files beside the class folders
    for name, class_dir in folders:
        files, n_other = lister.images(class_dir)
        ignored += n_other
        folder_paths: dict[str, Path] = {}
        for folder, file_name in files:
            parent = folder_paths.get(folder)
            if parent is None:
                parent = folder_paths[folder] = Path(folder)
            rel = folder[cut:].replace(os.sep, "/") + "/" + file_name if len(folder) >= cut else file_name
            samples.append(Sample(rel, child_path(parent, file_name), name, split))
    return samples, ignored


def _split_dirs(lister: Lister, root: Path) -> dict[str, Path]:
    return {SPLIT_ALIASES[p.name.lower()]: p for p in _subdirs(lister, root) if p.name.lower() in SPLIT_ALIASES}


def _direct_images(lister: Lister, root: Path) -> tuple[list[Path], int]:
    files = lister.entries(str(root))[1]
    images = [Path(p) for name, p in files if is_image_name(name)]
    return images, len(files) - len(images)


def _detect(root: Path) -> str:
    if any((root / name).is_file() for name in MANIFEST_NAMES):
        return "manifest"
    probe = Lister(str(root))  # detection only: its skipped links are recorded by the real listing
    splits = _split_dirs(probe, root)
    if splits and all(_subdirs(probe, d) for d in splits.values()):
        return "split"
    if _subdirs(probe, root):
        return "folder"
    if _direct_images(probe, root)[0]:
        return "flat"
    links = sorted(probe.skipped.items())
    why = f" ({len(links)} link(s) skipped, first {links[0][0]}: {links[0][1]})" if links else ""
    raise UsageError(
        f"No images found in {root}{why}: use root/<class>/*.jpg, root/train/<class>/*.jpg or a manifest.csv."
    )


def _resolve_inside(root: Path, relpath: str, where: str) -> tuple[Path, bool]:
    """(path, True) for a manifest path inside the root; (path, False) when a link takes it outside
    (skipped, like links in folder layouts). A path that names a place outside is an error."""
    if not relpath or os.path.isabs(relpath) or relpath.startswith(("/", "\\")):
        raise UsageError(f"{where}: path {relpath!r} must be relative to the dataset root {root}.")
    if os.path.normpath(relpath).split(os.sep)[0] == "..":
        raise UsageError(f"{where}: path {relpath!r} escapes the dataset root {root}; keep manifest paths inside it.")
    path = root / relpath
    return path, inside(os.path.realpath(path), os.path.realpath(root))


def _manifest_rows(manifest: Path) -> list[tuple[str, dict[str, Any]]]:
    """(where, row) pairs of a CSV or JSONL manifest."""
    rows: list[tuple[str, dict[str, Any]]] = []
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
                        raise UsageError(f'{where} is not a JSON object; write {{"path": ..., "label": ...}}.')
                    rows.append((where, row))
            else:
                reader = csv.DictReader(fh)
                if reader.fieldnames is None or "path" not in reader.fieldnames:
                    raise UsageError(f"{manifest} needs a header row with at least the columns path,label.")
                for row in reader:
                    rows.append((f"{manifest.name} line {reader.line_num}", row))
    except csv.Error as exc:
        done = getattr(locals().get("reader"), "line_num", None)  # lines read before the bad one
        line = "?" if done is None else done + 1
        raise UsageError(
            f"{manifest.name} line {line} is not valid CSV ({exc}); fix the file (fields hold at most "
            f"{MAX_FIELD // 1024} KiB)."
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"Cannot read manifest {manifest} ({exc}); check the file and its permissions.") from None
    return rows


def _check_fields(where: str, row: dict[str, Any]) -> None:
    for key, value in row.items():
        for text in (key, value):
            if isinstance(text, str) and "\x00" in text:
                raise UsageError(f"{where} holds a NUL byte; remove it (the manifest must be plain text).")
            if isinstance(text, str) and len(text) > MAX_FIELD:
                raise UsageError(
                    f"{where} has a field of {len(text):,} characters (at most {MAX_FIELD // 1024} KiB); fix the file."
                )


def _refuse_duplicates(manifest: Path, seen: dict[str, list[tuple[str, str]]]) -> None:
    """Duplicate rows are an error (not a warning): they would count an image twice, or under two labels."""
    dupes = {rel: rows for rel, rows in seen.items() if len(rows) > 1}
    if not dupes:
        return
    shown = "; ".join(
        f"{rel} on lines {', '.join(w.rsplit(' ', 1)[-1] for w, _ in rows)} "
        f"(labels {', '.join(sorted({lab for _, lab in rows}))})"
        for rel, rows in sorted(dupes.items())[:3]
    )
    more = f" and {len(dupes) - 3} more" if len(dupes) > 3 else ""
    raise UsageError(
        f"{manifest.name} lists {len(dupes)} image(s) more than once: {shown}{more}; list each image once."
    )


def _from_manifest(manifest: Path) -> Dataset:
    root = manifest.parent
    samples: list[Sample] = []
    missing: list[str] = []
    skipped: list[tuple[str, str]] = []
    seen: dict[str, list[tuple[str, str]]] = {}
    for where, row in _manifest_rows(manifest):
        _check_fields(where, row)
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
        path, ok = _resolve_inside(root, rel.strip(), where)
        relpath = Path(rel.strip()).as_posix()
        seen.setdefault(relpath, []).append((where, str(label).strip()))
        if not ok:
            skipped.append((relpath, f"{LINK_OUTSIDE} ({os.path.realpath(path)})"))
            continue
        if not path.is_file():
            missing.append(relpath)
            continue
        samples.append(Sample(relpath, path.absolute(), str(label).strip(), split))
    _refuse_duplicates(manifest, seen)
    if not samples and skipped:
        raise UsageError(
            f"No usable entries in {manifest}: {len(skipped)} skipped, first {skipped[0][0]}: "
            f"{skipped[0][1]}; keep the images inside {root}."
        )
    samples.sort(key=lambda s: s.relpath)
    return Dataset(root=root, layout="manifest", samples=samples, missing=missing, skipped=sorted(skipped))


def open_dataset(path: str | os.PathLike[str], layout: str = "auto") -> Dataset:
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
    root = Path(os.path.abspath(path))
    lister = Lister(str(root))
    try:
        chosen = _detect(root) if layout == "auto" else layout
        if chosen == "manifest":
            for name in MANIFEST_NAMES:
                if (root / name).is_file():
                    return _from_manifest(root / name)
            raise UsageError(f"No manifest.csv or manifest.jsonl in {root}: pass the manifest file itself.")
        if chosen == "split":
            samples, ignored = [], 0
            for split, directory in sorted(_split_dirs(lister, root).items()):
                s, n = _from_class_dirs(lister, directory, split)
                samples += s
                ignored += n
            if not samples:
                raise UsageError(f"No images under {root}/train|val|test/<class>/: check the layout.")
        elif chosen == "folder":
            samples, ignored = _from_class_dirs(lister, root, None)
        else:  # flat
            files, ignored = _direct_images(lister, root)
            samples = [Sample(f.name, f, None, None) for f in files]
    except PermissionError as exc:
        raise UsageError(f"Cannot list {exc.filename}: permission denied; make the dataset readable.") from None
    except OSError as exc:
        raise UsageError(f"Cannot list {exc.filename or root} ({exc.strerror}); check the dataset folder.") from None
    samples.sort(key=lambda s: s.relpath)
    skipped = sorted(lister.skipped.items())
    if not samples:
        why = f" ({len(skipped)} link(s) skipped, first: {skipped[0][0]}: {skipped[0][1]})" if skipped else ""
        raise UsageError(f"No images found in {root} with layout {chosen!r}{why}: check the path and --layout.")
    return Dataset(root=root, layout=chosen, samples=samples, n_ignored=ignored, skipped=skipped)
