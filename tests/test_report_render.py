"""Reports: Markdown and self-contained HTML from a real analysis, the decision map computed from the
loaded rule, and a real (tiny) pilot's learning curves."""

from __future__ import annotations

import base64
import io
import re
from html.parser import HTMLParser

import numpy as np
import pytest
from PIL import Image

from vptadvisor.cli import main
from vptadvisor.errors import UsageError
from vptadvisor.gate import evaluate_gate
from vptadvisor.report import write_report
from vptadvisor.report.decision_map import crossings, p_vpt_by_size, p_vpt_grid, study_rows_near
from vptadvisor.rule import load_rule

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def analysis(small_dtd):
    from vptadvisor.analyze import analyze

    return analyze(small_dtd)


@pytest.fixture(scope="module")
def tiny_pilot(tmp_path_factory):
    """A real pilot run: tiny random ViT, generated 4-class data, a few steps (seconds on CPU)."""
    from test_pilot_helpers import TINY_IMG, TINY_KWARGS, TINY_NAME, make_dataset, make_tiny_weights

    from vptadvisor.pilot import run_pilot

    root = tmp_path_factory.mktemp("report-pilot")
    return run_pilot(
        make_dataset(root / "data"),
        steps=12,
        backbone=TINY_NAME,
        weights=make_tiny_weights(root / "w.safetensors"),
        backbone_kwargs=TINY_KWARGS,
        img_size=TINY_IMG,
        batch_size=8,
        device="cpu",
        threads=1,
        run_dir=root / "run",
        evals=3,
    )


def _pngs(text: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", text)]


def _check_png(data: bytes) -> tuple[int, int]:
    assert data.startswith(PNG)
    img = Image.open(io.BytesIO(data))
    img.verify()
    assert img.size[0] >= 800 and img.size[1] >= 400
    return img.size


class _Refs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.refs = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.refs += [(tag, k, v) for k, v in attrs if k in ("src", "href", "data", "action", "srcset")]


def test_markdown_report_holds_verdict_inputs_evidence_and_figures(analysis, tmp_path):
    gate = evaluate_gate(analysis, "vpt")
    path = write_report(tmp_path / "report.md", analysis, gate=gate)
    text = path.read_text()
    v = analysis.verdict
    for heading in ("## Verdict", "## Inputs", "## Evidence", "## Decision map", "## Provenance"):
        assert heading in text
    assert f"P(VPT better than full fine-tuning) = {v.p_vpt:.2f}" in text and gate.reason in text
    assert f"{analysis.distance.fid:.2f}" in text and v.rule_version in text
    assert all(t["task"] in text for t in v.nearest_tasks)
    assert "group's mean FID" in text  # the map says VTAB tasks have group-mean FIDs
    figures = _pngs(text)
    assert len(figures) == 2 and all(_check_png(f) for f in figures)  # decision map, size curve


def test_markdown_with_figure_files_beside_it(analysis, tmp_path):
    write_report(tmp_path / "r.md", analysis, images="files")
    text = (tmp_path / "r.md").read_text()
    assert "data:image" not in text
    for name in ("r.decision_map.png", "r.size_curve.png"):
        assert f"]({name})" in text
        _check_png((tmp_path / name).read_bytes())


def test_html_report_is_self_contained(analysis, tiny_pilot, tmp_path):
    path = write_report(
        tmp_path / "report.html", analysis, gate=evaluate_gate(analysis, "ft"), pilot=tiny_pilot, pilot_ran=True
    )
    text = path.read_text()
    parser = _Refs()
    parser.feed(text)
    assert text.startswith("<!DOCTYPE html>") and "<style>" in text
    assert not {"script", "link", "iframe", "object", "embed"} & set(parser.tags)
    assert parser.refs and all(v.startswith("data:image/png;base64,") for _, _, v in parser.refs)
    assert "http://" not in text and "https://" not in text and "url(" not in text
    figures = _pngs(text)
    assert len(figures) == 3 and all(_check_png(f) for f in figures)  # map, size curve, pilot curves
    assert "gate failed" in text and "<h2>Pilot</h2>" in text and "The pilot decided" in text
    for arm in tiny_pilot.arms:
        assert f"<td>{arm}</td>" in text


def test_decision_map_is_the_loaded_rule(analysis):
    rule = load_rule()
    v = analysis.verdict
    fids, ps = np.array([140.0, 180.0, 240.0]), np.array([0.0, 0.3, 1.0])
    grid = p_vpt_grid(rule, v.inputs["n_train"], fids, ps)
    for i, p in enumerate(ps):
        for j, fid in enumerate(fids):
            assert grid[i, j] == pytest.approx(
                rule.predict(fid=fid, p_high_disparity=p, n_train=v.inputs["n_train"]).p_vpt, abs=1e-12
            )
    at_user = p_vpt_by_size(
        rule, v.inputs["fid"], v.inputs["p_high_disparity"], np.array([v.inputs["n_train"]]), v.inputs["fid_sd"]
    )
    assert at_user[0] == pytest.approx(v.p_vpt, abs=1e-4)  # the star sits where the verdict is
    cross = crossings(rule, 152.2, 0.05)
    for (
        level,
        n,
    ) in cross.items():  # docs/rule.md: dtd-like P < 0.7 at ~2,600 images, < 0.5 at ~10,600 (960 images: 0.81)
        assert p_vpt_by_size(rule, 152.2, 0.05, np.array([n]))[0] == pytest.approx(level, abs=2e-3)
    assert 4500 < cross[0.7] < 7500 and 20000 < cross[0.5] < 32000


def test_study_tasks_shown_at_the_nearest_study_size():
    rule = load_rule()
    for n, size in ((1200, 800), (300, 400), (3000, 5000), (50_000, 10_000)):
        rows, chosen = study_rows_near(rule, n)
        assert chosen == size
        vtab = [r for r in rows if r["group"] != "FGVC"]
        assert {r["n_train"] for r in vtab} == {size} and len([r for r in rows if r["group"] == "FGVC"]) == 5
    rows, _ = study_rows_near(rule, 800)
    assert len(rows) == 24 and {r["fid"] for r in rows if r["fid_source"] == "group-mean"} == {156.39, 245.69, 234.96}


def test_a_report_extension_other_than_md_or_html_is_a_usage_error(analysis, tmp_path):
    with pytest.raises(UsageError, match=r"\.md.*\.html"):
        write_report(tmp_path / "report.pdf", analysis)
    assert not (tmp_path / "report.pdf").exists()


def test_cli_report_with_a_finished_pilot_run(small_dtd, analysis, tiny_pilot, tmp_path, capsys):
    out_html = tmp_path / "with-pilot.html"
    with pytest.raises(SystemExit) as info:
        main(["analyze", str(small_dtd), "--report", str(out_html), "--pilot", tiny_pilot.run_dir, "--quiet"])
    out, err = capsys.readouterr()
    assert info.value.code == 0, err
    text = out_html.read_text()
    assert "<h2>Pilot</h2>" in text and "read, not run by this check" in text and len(_pngs(text)) == 3
    with pytest.raises(SystemExit) as info:
        main(["analyze", str(small_dtd), "--report", str(out_html), "--pilot", str(tmp_path / "nope"), "--quiet"])
    assert info.value.code == 2 and "No pilot result" in capsys.readouterr().err
