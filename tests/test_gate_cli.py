"""Every exit code of the gate, end to end on 60 real DTD images: `analyze --expect` and `check`.

0 the verdict matches with enough confidence; 1 it does not (one line on stderr: expected, got,
probability, the input that moved it); 2 usage or configuration error; 3 could not measure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from vptadvisor.cli import main

SMALL_N = "100"  # training images: the rule says VPT for a DTD-like set this small (whatever its FID)
LARGE_N = "20000"  # ... and FT for this many with an MAE backbone (rule 2.0: with ViT-B/16 IN-21k no size inside
LARGE_BACKBONE = "vit_base_patch16_224.mae"  # the evidence gives FT at DTD's FID; 200,000 images is outside it)


def run_cli(args, capsys):
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return info.value.code, out, err


@pytest.fixture(scope="module")
def verdicts(small_dtd):
    """The real verdicts the gate tests rely on (preconditions, checked here once)."""
    from vptadvisor.analyze import analyze

    small = analyze(small_dtd, train_size=int(SMALL_N))
    large = analyze(small_dtd, train_size=int(LARGE_N), backbone=LARGE_BACKBONE)
    assert small.verdict.choice == "vpt" and small.verdict.p_vpt >= 0.7, small.verdict
    assert large.verdict.choice == "ft" and large.verdict.p_vpt <= 0.3, large.verdict
    return {"small": small, "large": large}


def test_exit_0_when_the_verdict_matches(small_dtd, verdicts, capsys):
    code, out, err = run_cli(["analyze", small_dtd, "--train-size", SMALL_N, "--expect", "vpt", "--quiet"], capsys)
    assert code == 0, err
    assert "gate=passed" in out and "verdict=vpt" in out and err == ""
    code, out, err = run_cli(
        [
            "analyze",
            small_dtd,
            "--train-size",
            LARGE_N,
            "--backbone",
            LARGE_BACKBONE,
            "--expect",
            "ft",
            "--min-confidence",
            "0.7",
            "--quiet",
        ],
        capsys,
    )
    assert code == 0 and "gate=passed" in out


def test_exit_1_on_a_mismatch_with_a_one_line_reason(small_dtd, verdicts, tmp_path, capsys):
    report, result = tmp_path / "r.html", tmp_path / "result.json"
    code, out, err = run_cli(
        [
            "analyze",
            small_dtd,
            "--train-size",
            LARGE_N,
            "--backbone",
            LARGE_BACKBONE,
            "--expect",
            "vpt",
            "--quiet",
            "--report",
            report,
            "-o",
            result,
        ],
        capsys,
    )
    assert code == 1
    p = verdicts["large"].verdict.p_vpt
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("error: gate failed: expected VPT with P >= 0.70, got FT")
    assert f"(P(VPT better) {p:.2f})" in err and "moved by: 20,000 training images" in err
    assert "gate=failed" in out  # the result is still printed...
    assert report.is_file() and json.loads(result.read_text())["gate"]["passed"] is False  # ...and written


def test_exit_1_when_confidence_is_too_low(small_dtd, verdicts, capsys):
    p = verdicts["small"].verdict.p_vpt
    code, _, err = run_cli(
        [
            "analyze",
            small_dtd,
            "--train-size",
            SMALL_N,
            "--expect",
            "vpt",
            "--min-confidence",
            f"{min(1.0, p + 0.05):.2f}",
            "--quiet",
        ],
        capsys,
    )
    assert code == 1 and f"got VPT but P(VPT better) is only {p:.2f}" in err


def test_too_close_to_call_fails_unless_allowed(small_dtd, verdicts, capsys):
    args = [
        "analyze",
        small_dtd,
        "--train-size",
        SMALL_N,
        "--backbone",
        "vit_small_patch14_dinov2",
        "--expect",
        "vpt",
        "--quiet",
    ]
    code, out, err = run_cli(args, capsys)
    assert code == 1 and "got too close to call" in err and "backbone vit_small_patch14_dinov2 is not covered" in err
    code, out, err = run_cli(args + ["--allow-uncertain"], capsys)
    assert code == 0 and "gate=passed" in out


def test_check_reads_the_config_and_follows_precedence(small_dtd, verdicts, tmp_path, capsys, monkeypatch):
    (tmp_path / "vptadvisor.yaml").write_text(
        f"dataset: {small_dtd}\ntrain_size: {SMALL_N}\ngate:\n  expect: vpt\nreport:\n  path: out/report.md\n"
    )
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(["check", "--format", "json"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert (
        doc["gate"]["passed"] and doc["gate"]["expect"] == "vpt" and doc["verdict"]["inputs"]["n_train"] == int(SMALL_N)
    )
    assert doc["report"] == str(tmp_path / "out" / "report.md") and (tmp_path / "out" / "report.md").is_file()
    monkeypatch.setenv("VPTADVISOR_GATE_EXPECT", "ft")  # environment over file
    code, _, err = run_cli(["check", "--quiet"], capsys)
    assert code == 1 and "expected FT" in err
    code, _, err = run_cli(["check", "--quiet", "--expect", "vpt"], capsys)  # command line over environment
    assert code == 0, err


@pytest.mark.parametrize(
    "args,config,needle",
    [
        (["check", "{ds}"], None, "check needs the expected decision"),
        (["check", "{ds}", "--expect", "maybe"], None, "--expect must be one of vpt, ft, got 'maybe'"),
        (
            ["check", "{ds}", "--expect", "vpt", "--min-confidence", "2"],
            None,
            "--min-confidence must be a number between 0 and 1",
        ),
        (
            ["check", "{ds}", "--expect", "vpt", "--run-pilot", "sometimes"],
            None,
            "--run-pilot must be one of never, uncertain, always",
        ),
        (["check", "{ds}", "--expect", "vpt", "--report", "r.pdf"], None, "Markdown (.md) or HTML (.html)"),
        (["check"], "gate:\n  expect: vpt\n", "No dataset"),
        (["check"], "dataset: x\ngate:\n  expect: vpt\n  treshold: 0.8\n", "unknown key 'gate.treshold'"),
        (["check"], "dataset: x\ngate:\n  expect: yes\n", "gate.expect must be one of vpt, ft"),
        (["analyze", "{ds}", "--min-confidence", "0.8"], None, "add --expect"),
        (["analyze", "{ds}", "--allow-uncertain"], None, "add --expect"),
        (["check", "{ds}", "--config", "missing.yaml"], None, "does not exist"),
    ],
)
def test_exit_2_on_usage_and_configuration_errors(args, config, needle, small_dtd, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    if config is not None:
        (tmp_path / "vptadvisor.yaml").write_text(config)
    code, out, err = run_cli([a.replace("{ds}", str(small_dtd)) for a in args], capsys)
    assert code == 2, err
    assert needle in err and err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "r.pdf").exists()


def test_exit_3_when_the_dataset_cannot_be_measured(small_dtd, tmp_path, capsys):
    code, out, err = run_cli(["check", small_dtd, "--expect", "vpt", "--min-images", "100"], capsys)
    assert code == 3 and "Only 60 readable image(s)" in err and out == ""
    broken = tmp_path / "broken" / "a"
    broken.mkdir(parents=True)
    (broken / "truncated.jpg").write_bytes(b"\xff\xd8\xff\xe0garbage")
    (broken / "empty.jpg").write_bytes(b"")
    broken = broken.parent
    code, _, err = run_cli(["analyze", broken, "--expect", "vpt", "--min-images", "2", "--strict"], capsys)
    assert code == 3 and "--strict" in err


@pytest.mark.slow
def test_entry_point_gate_failure_is_one_line_without_traceback(small_dtd, verdicts):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "vptadvisor",
            "check",
            str(small_dtd),
            "--expect",
            "ft",
            "--train-size",
            SMALL_N,
            "--quiet",
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=300,
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: gate failed: expected FT") and proc.stderr.count("\n") == 1
    assert "moved by:" in proc.stderr and "gate=failed" in proc.stdout


def test_check_trains_the_pilot_when_the_rule_is_uncertain(small_dtd, tmp_path, capsys, monkeypatch):
    """A backbone the rule does not cover -> too close to call -> `pilot.run: uncertain` trains the pilot
    (a tiny random ViT, settings from the `pilot` section), and the pilot's verdict decides the gate."""
    from test_pilot_helpers import TINY_IMG, TINY_KWARGS, TINY_NAME, make_tiny_weights

    weights = make_tiny_weights(tmp_path / "tiny.safetensors")
    (tmp_path / "vptadvisor.yaml").write_text(
        json.dumps(
            {  # JSON is YAML
                "dataset": str(small_dtd),
                "backbone": TINY_NAME,
                "weights": weights.name,
                "device": "cpu",
                "gate": {"expect": "vpt"},
                "report": {"path": "r.html"},
                "pilot": {
                    "run": "uncertain",
                    "steps": 8,
                    "budget": None,
                    "img_size": TINY_IMG,
                    "batch_size": 8,
                    "threads": 1,
                    "evals": 2,
                    "backbone_kwargs": TINY_KWARGS,
                    "out": "run",
                },
            }
        )
    )
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(["check", "--format", "json"], capsys)
    doc = json.loads(out)
    assert doc["verdict"]["choice"] == "uncertain" and doc["gate"]["source"] == "pilot"
    assert code == (0 if doc["gate"]["passed"] else 1), err
    assert doc["gate"]["got"] == doc["pilot"]["verdict"]["choice"] and set(doc["pilot"]["arms"]) == {"vpt-deep", "ft"}
    assert doc["pilot"]["arms"]["vpt-deep"]["steps"] == 8 and doc["pilot"]["backbone"] == TINY_NAME
    assert doc["pilot"]["verdict"]["rule_choice"] == "uncertain"  # the rule's prediction was the prior
    assert (tmp_path / "run" / "result.json").is_file()
    html = (tmp_path / "r.html").read_text()
    assert "The pilot decided" in html and html.count("data:image/png;base64,") == 3
