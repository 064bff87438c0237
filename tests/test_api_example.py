"""The Python API: `from vptadvisor import analyze, pilot` returns typed dataclasses with the fields
of the JSON, whatever the import order, and docs/examples/api_example.py runs as documented."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vptadvisor.cli import main

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "docs" / "examples" / "api_example.py"


def test_analyze_returns_typed_results_with_the_fields_of_the_json(small_dtd, tmp_path, capsys):
    from vptadvisor import analyze
    from vptadvisor.results import AnalyzeResult, ObjectiveResult, VerdictResult

    result = analyze(small_dtd, objective="counting", train_size=2000)
    assert isinstance(result, AnalyzeResult)
    assert isinstance(result.verdict, VerdictResult) and isinstance(result.objective, ObjectiveResult)
    out_file = tmp_path / "r.json"
    with pytest.raises(SystemExit) as info:
        main(["analyze", str(small_dtd), "--objective", "counting", "--train-size", "2000", "-o", str(out_file), "--quiet"])
    assert info.value.code == 0
    doc = json.loads(out_file.read_text())
    d = result.to_dict()
    assert d.keys() == doc.keys()
    for block, typed in (("verdict", result.verdict), ("objective", result.objective)):
        assert list(d[block]) == list(doc[block])  # same fields, same order
        known = {f.name for f in dataclasses.fields(typed)} - {"extra", "_keys"}
        assert set(doc[block]) - set(typed.extra) == known & set(doc[block])
        for key in known & set(doc[block]):
            assert json.loads(json.dumps(getattr(typed, key))) == doc[block][key] or key in ("margin",)
    assert result.verdict.p_vpt == doc["verdict"]["p_vpt"] and (result.objective.source, result.objective.declared) == ("declared", "counting")
    again = type(result).from_dict(doc)  # JSON -> typed result -> the same JSON text
    assert json.dumps(again.to_dict()) == json.dumps(doc)


def test_unknown_fields_added_later_survive_a_round_trip():
    from vptadvisor.results import VerdictResult

    doc = {"choice": "vpt", "p_vpt": 0.8, "future_field": {"a": 1}, "margin": 1.0}
    v = VerdictResult.from_dict(doc)
    assert v.choice == "vpt" and v.extra == {"future_field": {"a": 1}}
    assert json.dumps(v.to_dict()) == json.dumps(doc)


def test_analyze_and_pilot_are_callable_whatever_was_imported_first():
    import vptadvisor
    import vptadvisor.analyze as analyze_module
    import vptadvisor.pilot as pilot_module
    from vptadvisor import analyze, pilot
    from vptadvisor.pilot import run_pilot

    assert analyze is analyze_module and callable(analyze) and analyze.analyze.__name__ == "analyze"
    assert pilot is pilot_module and callable(pilot) and pilot.run_pilot is run_pilot
    assert vptadvisor.analyze is analyze and vptadvisor.pilot is pilot
    import inspect

    assert "objective" in inspect.signature(analyze).parameters and "budget" in inspect.signature(pilot).parameters
    code = ("import sys, vptadvisor; assert 'torch' not in sys.modules and 'scipy' not in sys.modules; "
            "from vptadvisor import analyze; assert callable(analyze); print('ok')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


def test_the_documented_api_example_runs(small_dtd, tmp_path):
    """Tiny random ViT (not covered by the rule) -> 'too close to call' -> the example runs a pilot."""
    from test_pilot_helpers import TINY_IMG, TINY_KWARGS, TINY_NAME, make_tiny_weights

    settings = {"backbone": TINY_NAME, "weights": str(make_tiny_weights(tmp_path / "tiny.safetensors")),
                "backbone_kwargs": TINY_KWARGS, "img_size": TINY_IMG, "steps": 8, "batch_size": 8, "device": "cpu",
                "threads": 1, "evals": 2, "run_dir": str(tmp_path / "run"), "budget": None}
    proc = subprocess.run([sys.executable, str(EXAMPLE), str(small_dtd), json.dumps(settings)], cwd=tmp_path,
                          capture_output=True, text=True, env=dict(os.environ), timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert "verdict uncertain" in out and "pilot: " in out and "gate " in out
    assert "from the pilot" in out  # the pilot that ran decided the gate
    report = tmp_path / "report.html"
    assert report.is_file() and "<h2>Pilot</h2>" in report.read_text()
    assert (tmp_path / "run" / "result.json").is_file()
