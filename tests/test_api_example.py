"""The Python API: `from vptadvisor import analyze, pilot` are plain functions returning typed results
with the fields of the JSON, and docs/examples/api_example.py runs as documented."""

from __future__ import annotations

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
        main(
            [
                "analyze",
                str(small_dtd),
                "--objective",
                "counting",
                "--train-size",
                "2000",
                "-o",
                str(out_file),
                "--quiet",
            ]
        )
    assert info.value.code == 0
    doc = json.loads(out_file.read_text())
    d = result.to_dict()
    assert d.keys() == doc.keys()
    for block, typed in (("verdict", result.verdict), ("objective", result.objective)):
        assert list(d[block]) == list(doc[block])  # same fields, same order
        known = set(type(typed).model_fields)
        assert set(doc[block]) == known | set(typed.extra) and not typed.extra  # every field typed, none unknown
        for key in known:
            value = json.loads(json.dumps(getattr(typed, key)))
            if isinstance(value, float):  # the CLI ran in another process: features may differ in the 6th digit
                assert value == pytest.approx(doc[block][key], rel=1e-6, abs=1e-9), key
            else:
                assert value == doc[block][key], key
    assert result.verdict.p_vpt == doc["verdict"]["p_vpt"] and (result.objective.source, result.objective.declared) == (
        "declared",
        "counting",
    )
    again = type(result).from_dict(doc)  # JSON -> typed result -> the same JSON text
    assert json.dumps(again.to_dict()) == json.dumps(doc)


def test_unknown_fields_added_later_survive_a_round_trip():
    """The forward-compatibility rule (vptadvisor/results/block.py): unknown keys are kept and written back."""
    from vptadvisor.results import Timing
    from vptadvisor.results.pilot import Candidate

    doc = {
        "seconds": 1.5,
        "feature_seconds": 1.0,
        "n_cached": 2,
        "n_computed": 3,
        "device": "cpu",
        "future_field": {"a": 1},
    }
    t = Timing.from_dict(doc)
    assert t.device == "cpu" and t.extra == {"future_field": {"a": 1}}
    assert json.dumps(t.to_dict()) == json.dumps(doc)
    cand = {
        "base_lr": 1.0,
        "lr": 0.1,
        "status": "winner",
        "steps": 3,
        "scores": [],
        "reason": None,
        "losses": [],
        "new": 1,
    }
    assert Candidate.from_dict(cand).to_dict() == cand  # the pilot's blocks follow the same rule


def test_analyze_and_pilot_are_plain_functions_and_import_light(tmp_path):
    import inspect

    from vptadvisor import analyze, pilot, prior_from_verdict
    from vptadvisor.errors import UsageError

    assert all(inspect.isfunction(f) for f in (analyze, pilot, prior_from_verdict))
    with pytest.raises(UsageError, match="seed must be an integer between 0"):  # the settings model checks
        analyze(tmp_path, seed=-1)
    with pytest.raises(UsageError, match="unknown argument 'budgett'"):
        pilot(tmp_path, budgett="1h")
    code = (
        "import sys, vptadvisor; assert 'torch' not in sys.modules and 'scipy' not in sys.modules; "
        "from vptadvisor import analyze; import inspect; assert inspect.isfunction(analyze); print('ok')"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


@pytest.mark.slow
def test_the_documented_api_example_runs(small_dtd, tmp_path):
    """Tiny random ViT (not covered by the rule) -> 'too close to call' -> the example runs a pilot."""
    from test_pilot_helpers import TINY_IMG, TINY_KWARGS, TINY_NAME, make_tiny_weights

    settings = {
        "backbone": TINY_NAME,
        "weights": str(make_tiny_weights(tmp_path / "tiny.safetensors")),
        "backbone_kwargs": TINY_KWARGS,
        "img_size": TINY_IMG,
        "steps": 8,
        "batch_size": 8,
        "device": "cpu",
        "threads": 1,
        "evals": 2,
        "out": str(tmp_path / "run"),
        "budget": None,
    }
    proc = subprocess.run(
        [sys.executable, str(EXAMPLE), str(small_dtd), json.dumps(settings)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert "verdict uncertain" in out and "pilot: " in out and "gate " in out
    assert "from the pilot" in out  # the pilot that ran decided the gate
    report = tmp_path / "report.html"
    assert report.is_file() and "<h2>Pilot</h2>" in report.read_text()
    assert (tmp_path / "run" / "result.json").is_file()
