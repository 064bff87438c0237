"""Dataset layouts: folder, split, manifest (CSV/JSONL), flat; what is ignored and what is refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vptadvisor.dataset.layout import open_dataset
from vptadvisor.errors import UsageError


def _img(path: Path, seed: int = 0, size=(24, 16)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path)
    return path


def test_folder_layout_ignores_hidden_and_non_images(tmp_path):
    _img(tmp_path / "cat" / "a.png")
    _img(tmp_path / "cat" / "nested" / "b.JPG")
    _img(tmp_path / "dog" / "c.jpeg")
    _img(tmp_path / "dog" / ".hidden.png")
    _img(tmp_path / ".git" / "x.png")
    (tmp_path / "dog" / "notes.txt").write_text("not an image")
    (tmp_path / "README.md").write_text("readme")
    ds = open_dataset(tmp_path)
    assert ds.layout == "folder"
    assert [(s.relpath, s.label) for s in ds.samples] == [
        ("cat/a.png", "cat"),
        ("cat/nested/b.JPG", "cat"),
        ("dog/c.jpeg", "dog"),
    ]
    assert ds.classes == ["cat", "dog"]
    assert ds.n_ignored == 2  # notes.txt and README.md (hidden files are not even counted)


def test_split_layout_and_train_samples(tmp_path):
    for split in ("train", "validation", "test"):
        for label in ("a", "b"):
            _img(tmp_path / split / label / f"{split}.png")
    ds = open_dataset(tmp_path)
    assert ds.layout == "split"
    assert ds.splits == ["test", "train", "val"]
    assert {(s.split, s.label) for s in ds.train_samples()} == {("train", "a"), ("train", "b")}
    assert ds.counts()[("val", "a")] == 1


def test_csv_manifest_with_missing_entry(tmp_path):
    _img(tmp_path / "imgs" / "1.png")
    _img(tmp_path / "imgs" / "2.png")
    (tmp_path / "labels.csv").write_text("path,label,split\nimgs/1.png,x,train\nimgs/2.png,y,val\nimgs/3.png,y,train\n")
    ds = open_dataset(tmp_path / "labels.csv")
    assert ds.layout == "manifest" and ds.root == tmp_path.absolute()
    assert [(s.relpath, s.label, s.split) for s in ds.samples] == [
        ("imgs/1.png", "x", "train"),
        ("imgs/2.png", "y", "val"),
    ]
    assert ds.missing == ["imgs/3.png"]


def test_jsonl_manifest_autodetected(tmp_path):
    _img(tmp_path / "a.png")
    (tmp_path / "manifest.jsonl").write_text(json.dumps({"path": "a.png", "label": 3}) + "\n\n")
    ds = open_dataset(tmp_path)
    assert ds.layout == "manifest" and ds.samples[0].label == "3"


@pytest.mark.parametrize("bad", ["../outside.png", "/etc/passwd", "sub/../../outside.png"])
def test_manifest_paths_may_not_escape_root(tmp_path, bad):
    root = tmp_path / "root"
    _img(root / "ok.png")
    _img(tmp_path / "outside.png")
    (root / "manifest.csv").write_text(f"path,label\nok.png,a\n{bad},b\n")
    with pytest.raises(UsageError, match=r"root|relative"):
        open_dataset(root)


def test_manifest_symlink_escaping_root_is_skipped_and_listed(tmp_path):
    # one policy for every layout (docs/analyze.md): a link leaving the root is never read; it is
    # skipped and listed with its reason, and a manifest left with nothing else is refused
    root = tmp_path / "root"
    _img(tmp_path / "secret.png")
    _img(root / "ok.png")
    (root / "link.png").symlink_to(tmp_path / "secret.png")
    (root / "manifest.csv").write_text("path,label\nlink.png,a\nok.png,b\n")
    ds = open_dataset(root)
    assert [s.relpath for s in ds.samples] == ["ok.png"]
    assert ds.skipped[0][0] == "link.png" and "outside the dataset root" in ds.skipped[0][1]
    (root / "manifest.csv").write_text("path,label\nlink.png,a\n")
    with pytest.raises(UsageError, match="outside the dataset root"):
        open_dataset(root)


@pytest.mark.parametrize(
    "content,match",
    [
        ("file,label\na.png,x\n", "header"),
        ("path,label\na.png,\n", "label"),
        ("path,label,split\na.png,x,holdout\n", "split"),
    ],
)
def test_manifest_errors_name_the_problem(tmp_path, content, match):
    _img(tmp_path / "a.png")
    (tmp_path / "manifest.csv").write_text(content)
    with pytest.raises(UsageError, match=match):
        open_dataset(tmp_path)


def test_flat_layout_and_empty_dir(tmp_path):
    _img(tmp_path / "flat" / "a.png")
    ds = open_dataset(tmp_path / "flat")
    assert ds.layout == "flat" and ds.samples[0].label is None
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="No images"):
        open_dataset(tmp_path / "empty")
    with pytest.raises(UsageError, match="does not exist"):
        open_dataset(tmp_path / "nope")
    with pytest.raises(UsageError, match="layout"):
        open_dataset(tmp_path / "flat", layout="weird")


def test_real_dtd_layout(shared):
    ds = open_dataset(shared / "datasets" / "dtd-10")
    assert ds.layout == "folder" and len(ds.samples) == 1200 and len(ds.classes) == 10
    assert set(ds.counts().values()) == {120}
