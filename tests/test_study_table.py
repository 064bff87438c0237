"""The study table: integrity, sources, margins, and that the committed CSV is the rebuild of ../shared."""

from __future__ import annotations

import csv
import dataclasses
import importlib.util
from pathlib import Path

import pytest

from vptadvisor.errors import UsageError
from vptadvisor.study.table import (
    DEFAULT_BACKBONE,
    default_table_path,
    integrity_problems,
    load_table,
    rows_to_csv,
)

REPO = Path(__file__).resolve().parents[1]
SHARED_STUDY = REPO.parent / "shared" / "study"


def _builder():
    spec = importlib.util.spec_from_file_location("build_study_table", REPO / "tools" / "build_study_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def rows():
    return load_table()


def test_committed_table_is_the_rebuild_of_shared(shared):
    assert default_table_path().read_text(encoding="utf-8") == rows_to_csv(_builder().build_rows(SHARED_STUDY))


def test_shipped_table_passes_its_integrity_check(rows):
    assert integrity_problems(rows) == []


def test_every_row_has_a_source_and_margin_is_vpt_minus_ft(rows):
    for r in rows:
        assert r.source.strip(), r
        assert r.margin == pytest.approx(r.vpt_acc - r.ft_acc, abs=5e-3), r
        assert r.winner == ("vpt" if r.margin > 0 else "ft" if r.margin < 0 else "tie")


def test_row_counts_per_backbone_and_size(rows):
    assert len(rows) == 166
    one_shot = [r for r in rows if r.evidence == "one-shot"]
    external = [r for r in rows if r.evidence == "external"]
    assert len(one_shot) == 19 and len(external) == 19
    assert {r.backbone for r in one_shot + external} == {DEFAULT_BACKBONE}
    by_task = {r.task: r for r in one_shot}
    assert by_task["PatchCamelyon"].n_train == 2 and by_task["Sun397"].n_train == 397  # n = number of classes
    assert by_task["Pets"].margin == pytest.approx(70.5 - 37.8)
    assert sum(r.winner == "vpt" for r in one_shot) == 13
    assert {r.n_train for r in external} == {800} and sum(r.winner == "vpt" for r in external) == 16
    default = [r for r in rows if r.backbone == DEFAULT_BACKBONE and r.evidence == "fit"]
    assert len(default) == 71
    sizes = {}
    for r in default:
        if r.benchmark == "VTAB-1k":
            sizes[r.n_train] = sizes.get(r.n_train, 0) + 1
    assert sizes == {400: 19, 800: 19, 5000: 14, 10000: 14}
    assert sorted(r.task for r in default if r.benchmark == "FGVC") == sorted(
        ["CUB-200-2011", "NABirds", "OxfordFlowers", "StanfordDogs", "StanfordCars"]
    )
    for key in ("swin-b-in21k", "vit-b16-mae", "vit-b16-mocov3"):
        assert len([r for r in rows if r.backbone == key]) == 19
    assert len({(r.task, r.n_train, r.backbone, r.evidence) for r in rows}) == len(rows)


def test_fid_source_is_per_task_only_for_fgvc_and_matches_published_values(rows):
    fgvc = {r.task: r.fid for r in rows if r.benchmark == "FGVC"}
    assert fgvc == {
        "CUB-200-2011": 146.845,
        "NABirds": 169.117,
        "OxfordFlowers": 167.69,
        "StanfordDogs": 143.84,
        "StanfordCars": 182.487,
    }
    group_means = {"Natural": 156.39, "Specialized": 245.69, "Structured": 234.96}
    for r in rows:
        if r.benchmark == "VTAB-1k":
            assert r.fid_source == "group-mean" and r.fid == group_means[r.group]
        else:
            assert r.fid_source == "per-task"


def test_known_values_as_printed(rows):
    by = {(r.task, r.n_train, r.backbone): r for r in rows if r.evidence == "fit"}
    tie = by[("Clevr/distance", 800, DEFAULT_BACKBONE)]
    assert (tie.ft_acc, tie.vpt_acc, tie.margin, tie.winner) == (58.2, 58.2, 0.0, "tie")
    assert "VPT win" in tie.note
    el = by[("SmallNORB/elevation", 5000, DEFAULT_BACKBONE)]
    assert (el.ft_acc, el.vpt_acc, el.margin) == (67.95, 68.02, 0.07)
    assert "83.4" in by[("Resisc45", 800, DEFAULT_BACKBONE)].note
    assert by[("SVHN", 800, "swin-b-in21k")].vpt_acc == 86.4  # kept as printed, with a note
    assert "typo" in by[("SVHN", 800, "swin-b-in21k")].note
    assert all(r.disparity == ("high" if r.group == "Structured" else "low") for r in rows)


def test_integrity_check_catches_broken_rows(rows):
    r = rows[0]
    broken = [
        dataclasses.replace(r, margin=r.margin + 1.0),
        dataclasses.replace(r, source=" "),
        dataclasses.replace(r, winner="ft"),
        dataclasses.replace(r, fid_source="per-task"),
        dataclasses.replace(r, disparity="high"),
        dataclasses.replace(r, evidence="guess"),
        dataclasses.replace(r, evidence="external", backbone="vit-b16-mae"),
    ]
    for b in broken:
        assert integrity_problems([b]), b
    assert any("duplicate" in p for p in integrity_problems([r, r]))


def test_load_table_rejects_a_tampered_file(tmp_path, rows):
    text = rows_to_csv(rows)
    lines = text.splitlines()
    fields = next(csv.reader([lines[1]]))
    fields[10] = "99.0"  # margin column
    lines[1] = ",".join(f'"{f}"' if "," in f else f for f in fields)
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(UsageError, match="integrity"):
        load_table(bad)
    with pytest.raises(UsageError, match="not found"):
        load_table(tmp_path / "missing.csv")
    (tmp_path / "cols.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(UsageError, match="columns"):
        load_table(tmp_path / "cols.csv")


def test_rebuild_refuses_a_directory_without_the_study(tmp_path):
    with pytest.raises(UsageError):
        _builder().build_rows(tmp_path)
