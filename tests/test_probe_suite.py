"""The controlled validation suite: generators, labellings, the quick run end to end, the model file."""

from __future__ import annotations

import json
import sys
from pathlib import Path

_REPO = str(Path(__file__).resolve().parents[1])
if _REPO not in sys.path:  # tools/ (dev tooling) is importable from the source checkout
    sys.path.insert(0, _REPO)

import numpy as np
import pytest

from tools.probe_suite.suite_def import (
    FAMILIES,
    QUICK_FAMILIES,
    TASKS,
    build_family,
    task_labels,
)
from vptadvisor.cli import main
from vptadvisor.probe.model import load_model, model_path


def run(args: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def test_suite_definition_is_balanced_between_low_and_high():
    designed = [t for t in TASKS if not t.held_back and not t.variant]
    held = [t for t in TASKS if t.held_back]
    for group in (designed, held):
        assert {t.disparity for t in group} == {"low", "high"}
    assert {t.family for t in held}.isdisjoint({t.family for t in designed})
    assert all(t.family in FAMILIES for t in TASKS)


def test_generators_are_deterministic_and_labels_balanced(tmp_path):
    for name in QUICK_FAMILIES:
        fam = FAMILIES[name]
        p1, a1 = build_family(fam, tmp_path / "a", 7, True, None)
        p2, a2 = build_family(fam, tmp_path / "b", 7, True, None)
        assert a1 == a2 and all(x.read_bytes() == y.read_bytes() for x, y in zip(p1, p2))
        for t in [t for t in TASKS if t.family == name]:
            counts = np.unique(task_labels(t, a1), return_counts=True)[1]
            assert len(counts) >= 2 and counts.min() >= 5, t.name
            if not t.variant:  # generated attributes are balanced by construction
                assert counts.max() - counts.min() <= 1, t.name
        # a rerun reuses the images instead of rewriting them
        mtimes = [p.stat().st_mtime_ns for p in p1]
        p3, _ = build_family(fam, tmp_path / "a", 7, True, None)
        assert [p.stat().st_mtime_ns for p in p3] == mtimes


def test_imagenet_families_read_shared_and_label_variants(tmp_path, shared):
    paths, attrs = build_family(FAMILIES["inet-rotate"], tmp_path, 0, True, shared)
    assert len(paths) == FAMILIES["inet-rotate"].n_quick
    for attr in ("object", "rotation", "object8", "object2-imbalanced", "rotation2"):
        task = next(t for t in TASKS if t.family == "inet-rotate" and t.attribute == attr)
        labels = task_labels(task, attrs)
        assert len(set(labels)) == {"object8": 8, "object2-imbalanced": 2, "rotation2": 2}.get(attr, 4)


def test_shipped_model_file_is_readable_and_documents_its_fit():
    m = load_model()
    d = json.loads(model_path().read_text())
    assert d["probe_version"] == m.probe_version
    assert m.coef["non_semantic"] > 0  # more non-semantic label information: higher disparity
    assert m.coef["augment_retention"] < 0  # the label surviving the edits: lower disparity
    assert 0 < d["prior_high"] < 0.5 and d["prior_high_reason"]  # a stated prior, most datasets categorical
    assert set(d["coefficients_pool3_only"]) == {"intercept", "non_semantic", "one_dimensional"}
    from tools.probe_suite.suite_def import FIT_FAMILIES

    assert d["fitted_on"]["n_tasks"] == len([t for t in TASKS if t.family in FIT_FAMILIES])
    assert d["fitted_on"]["families"] == sorted(FIT_FAMILIES)
    assert not any(f in d["fitted_on"]["families"] for f in {t.family for t in TASKS if t.held_back})
    assert 0.5 < d["leave_one_family_out"]["auroc_all_rows"] <= 1.0


def test_quick_suite_end_to_end(tmp_path, capsys):
    code, out, _ = run(["probe-suite", "--quick", "--format", "json", "--work-dir", str(tmp_path)], capsys)
    assert code == 0
    res = json.loads(out)
    names = {t["task"] for t in res["tasks"]}
    assert names == {t.name for t in TASKS if t.family in QUICK_FAMILIES and not t.variant}
    assert res["n_computed"] == res["n_images"] == sum(FAMILIES[f].n_quick for f in QUICK_FAMILIES)
    # the quick suite is two designed families at a quarter of their size: the probe must still rank
    # every high-disparity task above every low one
    assert res["auroc"]["designed"] == 1.0
    assert res["auroc"]["held_back"] is None
    for t in res["tasks"]:
        assert 0 <= t["p_high_disparity"] <= 1 and "non_semantic" in t["signals"]
    # rerun: everything from the cache, same numbers
    code, out2, _ = run(["probe-suite", "--quick", "--format", "json", "--work-dir", str(tmp_path)], capsys)
    again = json.loads(out2)
    assert again["n_computed"] == 0
    assert [t["p_high_disparity"] for t in again["tasks"]] == [t["p_high_disparity"] for t in res["tasks"]]
    code, table, _ = run(["probe-suite", "--quick", "--work-dir", str(tmp_path)], capsys)
    assert code == 0 and "AUROC" in table and "scenes-count/count" in table


def test_new_families_are_held_back_and_real(tmp_path, shared):
    from tools.probe_suite.suite_def import NEW_FAMILIES

    new = [t for t in TASKS if t.family in NEW_FAMILIES]
    assert all(t.held_back for t in new) and {t.disparity for t in new} == {"low", "high"}
    assert all(FAMILIES[f].needs_shared for f in NEW_FAMILIES)  # built from real photos
    paths, attrs = build_family(FAMILIES["dtd-grade130"], tmp_path, 0, False, shared)
    grades = np.unique([a["grade"] for a in attrs], return_counts=True)[1]
    assert len(paths) == 130 and sorted(grades.tolist()) == [20, 20, 20, 20, 50]


def test_default_shared_follows_the_env_var(tmp_path, monkeypatch):
    from tools.probe_suite.suite import default_shared

    monkeypatch.setenv("VPTADVISOR_SHARED", str(tmp_path))
    assert default_shared() is None  # no datasets/ there: the shared families are skipped, not guessed
    (tmp_path / "datasets").mkdir()
    assert default_shared() == tmp_path


def test_usage_errors(capsys, tmp_path):
    code, _, err = run(["probe-suite", "--quick", "--fit"], capsys)
    assert code == 2 and "--fit" in err
    code, _, err = run(["probe-suite", "--quick", "--out", str(tmp_path / "m.json")], capsys)
    assert code == 2 and "--out" in err


@pytest.mark.slow
def test_full_suite_meets_the_target_and_the_model_refits_bit_for_bit(tmp_path, capsys, shared):
    """Cold: about 6,000 images through Inception (20-30 min on 2 busy cores)."""
    work = tmp_path / "suite"
    code, out, _ = run(["probe-suite", "--format", "json", "--work-dir", str(work), "--shared", str(shared)], capsys)
    assert code == 0
    res = json.loads(out)
    assert res["auroc"]["designed"] >= 0.9
    refit = tmp_path / "model.json"
    code, _, _ = run(
        ["probe-suite", "--fit", "--out", str(refit), "--work-dir", str(work), "--shared", str(shared)], capsys
    )
    assert code == 0
    assert refit.read_text() == Path(model_path()).read_text()
