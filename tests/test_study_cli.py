"""`vptadvisor study` commands end to end (through the real CLI entry point)."""

from __future__ import annotations

import csv
import io
import json

import pytest

from vptadvisor.cli import main
from vptadvisor.rule.fit import default_rule_path


def run(args: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def test_study_without_subcommand_prints_the_table_and_caveats(capsys):
    code, out, _ = run(["study"], capsys)
    assert code == 0
    out = " ".join(out.split())  # the text wraps at 80 columns
    assert "109 rows" in out and "Clevr/distance" in out and "group-mean" in out
    assert "VTAB-1k at 10,000 training images: VPT wins 3, FT wins 11" in out
    assert "one-shot (one image per class): VPT wins 13, FT wins 6" in out
    assert "external test, not fitted): VPT wins 16, FT wins 3" in out
    assert "FGVC" in out and "Caveats" in out


def test_study_show_formats(capsys):
    code, out, _ = run(["study", "show", "--format", "json"], capsys)
    assert code == 0 and json.loads(out)["n_rows"] == 109
    code, out, _ = run(["study", "show", "--evidence", "fit", "--format", "json"], capsys)
    assert code == 0 and json.loads(out)["n_rows"] == 71
    code, out, _ = run(["study", "show", "--backbone", "all", "--format", "csv"], capsys)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(rows) == 166 and all(r["source"] for r in rows)
    code, out, _ = run(["study", "show", "--backbone", "vit-b16-mae", "--format", "json"], capsys)
    assert {r["backbone"] for r in json.loads(out)["rows"]} == {"vit-b16-mae"}


@pytest.mark.parametrize(
    "args",
    [
        ["study", "show", "--backbone", "resnet"],
        ["study", "show", "--format", "xml"],
        ["study", "show", "--evidence", "maybe"],
        ["study", "show", "--table", "/nonexistent/table.csv"],
    ],
)
def test_study_usage_errors_exit_2(args, capsys):
    code, _, err = run(args, capsys)
    assert code == 2 and err.startswith("error: ")


def test_study_fit_writes_the_same_file_and_check_gates(tmp_path, capsys):
    out_file = tmp_path / "rule.json"
    code, out, _ = run(["study", "fit", "--out", str(out_file)], capsys)
    assert code == 0 and "intercept" in out and "Gibbs sampler" in out and "vit-b16-mae" in out
    assert out_file.read_bytes() == default_rule_path().read_bytes()
    code, _, _ = run(["study", "fit", "--check", "--out", str(out_file), "--quiet"], capsys)
    assert code == 0
    out_file.write_text(out_file.read_text().replace('"2.0+', '"1.9+'), encoding="utf-8")
    code, _, err = run(["study", "fit", "--check", "--out", str(out_file)], capsys)
    assert code == 1 and "study fit" in err
    code, out, _ = run(["study", "fit", "--out", str(tmp_path / "r2.json"), "--format", "json"], capsys)
    assert json.loads(out)["format"] == "vptadvisor-rule/2"
