"""The fitted rule file: reproducible bit for bit from the table, and the shipped file is current."""

from __future__ import annotations

import json

from vptadvisor.rule.fit import build_rule, default_rule_path, fit_and_write, rule_json, table_sha256
from vptadvisor.study.table import load_table


def test_fit_twice_gives_identical_bytes(tmp_path):
    a, pa = fit_and_write(out=tmp_path / "a.json")
    b, pb = fit_and_write(out=tmp_path / "b.json")
    assert pa.read_bytes() == pb.read_bytes()


def test_shipped_rule_is_the_fit_of_the_shipped_table():
    assert default_rule_path().read_text(encoding="utf-8") == rule_json(build_rule(load_table()))


def test_rule_document_is_versioned_and_traceable():
    rows = load_table()
    doc = json.loads(default_rule_path().read_text(encoding="utf-8"))
    assert doc["format"] == "vptadvisor-rule/1"
    sha = table_sha256(rows)
    assert doc["table"]["sha256"] == sha and doc["rule_version"].endswith(sha[:10])
    assert doc["table"]["n_rows"] == 71 and doc["table"]["n_tasks"] == 24
    assert doc["terms"][:4] == ["intercept", "disparity", "fid", "log2_n"]
    for c in doc["coefficients"].values():
        assert c["sd"] > 0 and c["ci90"][0] < c["mean"] < c["ci90"][1]
    assert sum(c["chosen"] for c in doc["selection"]["candidates"]) == 1
    assert len(doc["evidence_rows"]) == 71
    assert any("FGVC" in c for c in doc["caveats"])


def test_a_changed_table_changes_the_rule(tmp_path):
    rows = load_table()
    text = (default_rule_path().parent.parent / "study" / "study_table.csv").read_text(encoding="utf-8")
    changed = text.replace("CIFAR-100,VTAB-1k,Natural,low,vit-b16-in21k,400,100,51.1,70.6,19.5,vpt",
                           "CIFAR-100,VTAB-1k,Natural,low,vit-b16-in21k,400,100,71.1,70.6,-0.5,ft")
    assert changed != text
    (tmp_path / "t.csv").write_text(changed, encoding="utf-8")
    doc, _ = fit_and_write(table=tmp_path / "t.csv", out=tmp_path / "r.json")
    assert doc["rule_version"] != build_rule(rows)["rule_version"]
    assert doc["coefficients"]["intercept"]["mean"] != build_rule(rows)["coefficients"]["intercept"]["mean"]
