"""The fitted rule file: reproducible bit for bit from the table, and the shipped file is current."""

from __future__ import annotations

import json

import pytest

from vptadvisor.rule.fit import (
    RULE_FORMAT,
    build_rule,
    default_rule_path,
    fit_and_write,
    rule_json,
    table_sha256,
)
from vptadvisor.study.table import load_table


@pytest.fixture(scope="module")
def fresh_text() -> str:
    return rule_json(build_rule(load_table()))


def test_shipped_rule_is_the_fit_of_the_shipped_table(fresh_text):
    assert default_rule_path().read_text(encoding="utf-8") == fresh_text


def test_fit_and_write_gives_identical_bytes(tmp_path, fresh_text):
    _, pa = fit_and_write(out=tmp_path / "a.json")
    assert pa.read_text(encoding="utf-8") == fresh_text


def test_rule_document_is_versioned_and_traceable():
    rows = load_table()
    doc = json.loads(default_rule_path().read_text(encoding="utf-8"))
    assert doc["format"] == RULE_FORMAT == "vptadvisor-rule/2"
    sha = table_sha256(rows)
    assert doc["table"]["sha256"] == sha and doc["rule_version"] == f"2.0+{sha[:10]}"
    assert doc["table"]["n_rows"] == 71 + 57 + 19 and doc["table"]["n_tasks"] == 24
    assert doc["table"]["n_rows_default_fit"] == 71 and len(doc["evidence_rows"]) == 71
    assert doc["backbone"]["families"] == ["vit-b16-in21k", "swin-b-in21k", "vit-b16-mae", "vit-b16-mocov3"]
    for fam in doc["coefficients"].values():
        for c in fam.values():
            assert c["sd"] > 0 and c["ci90"][0] < c["mean"] < c["ci90"][1]
    assert doc["draws"]["n"] == doc["sampler"]["n_draws"] == len(doc["draws"]["tau"])
    assert not any(r["evidence"] == "external" for r in doc["rows"])  # the VPT paper's runs stay out
    assert any("FGVC" in c for c in doc["caveats"])


def test_fitted_effects_have_the_published_signs():
    doc = json.loads(default_rule_path().read_text(encoding="utf-8"))
    vit, mae = doc["coefficients"]["vit-b16-in21k"], doc["coefficients"]["vit-b16-mae"]
    assert vit["fid"]["mean"] < 0  # VPT loses ground as the task moves away from the pretraining data
    assert doc["shared"]["log2_n"]["mean"] < 0  # ... and as the training set grows
    assert mae["intercept"]["mean"] < vit["intercept"]["mean"]  # MAE: VPT won 4 of 19 tasks
    assert doc["noise"]["residual_sd"]["vit-b16-mae"]["mean"] > doc["noise"]["residual_sd"]["vit-b16-in21k"]["mean"]


def test_a_changed_table_changes_the_rule(tmp_path):
    text = (default_rule_path().parent.parent / "study" / "study_table.csv").read_text(encoding="utf-8")
    changed = text.replace(
        "CIFAR-100,VTAB-1k,Natural,low,vit-b16-in21k,fit,400,100,51.1,70.6,19.5,vpt",
        "CIFAR-100,VTAB-1k,Natural,low,vit-b16-in21k,fit,400,100,71.1,70.6,-0.5,ft",
    )
    assert changed != text
    (tmp_path / "t.csv").write_text(changed, encoding="utf-8")
    doc, _ = fit_and_write(table=tmp_path / "t.csv", out=tmp_path / "r.json")
    shipped = json.loads(default_rule_path().read_text(encoding="utf-8"))
    assert doc["rule_version"] != shipped["rule_version"]
    assert doc["coefficients"]["vit-b16-in21k"]["intercept"] != shipped["coefficients"]["vit-b16-in21k"]["intercept"]
