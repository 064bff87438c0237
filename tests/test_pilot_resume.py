"""Robustness for real: kill a running multi-arm pilot (SIGKILL, or Ctrl-C / SIGINT) and resume it;
and --resume refuses a damaged or tampered run directory, or a changed dataset, with exit 2."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_pilot_helpers import make_dataset, make_tiny_weights, tiny_cli_args

STEPS = 40
ARMS = "vpt-deep,vapt,lora,ft,ft-then-pt"  # prompts, VAPT, peft, full FT and the arm that builds on it

pytestmark = pytest.mark.slow  # subprocess pilots

pytestmark = pytest.mark.slow  # subprocess pilots


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    root = tmp_path_factory.mktemp("resume")
    return make_dataset(root / "data", n_classes=3, per_class=12), make_tiny_weights(root / "tiny.safetensors")


def start(args: list[str]) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [sys.executable, "-m", "vptadvisor", "pilot", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def steps_done(run: Path) -> int:
    """Training steps of every arm recorded in the checkpoint (0 while there is none)."""
    try:
        state = json.loads((run / "checkpoint" / "state.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return 0
    return sum(sum(st.get("steps_by_session", {}).values()) for st in state["arms"].values())


def wait_for_progress(proc: subprocess.Popen, run: Path, at_least: int, timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = steps_done(run)
        if done >= at_least:
            return done
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError("the pilot made no checkpointed progress in time")


def args_for(assets, run: Path) -> list[str]:
    data, weights = assets
    # a small eval set makes each step cheap; --checkpoint-every 0 checkpoints after every step
    return tiny_cli_args(data, weights, run, STEPS, ["--checkpoint-every", "0", "--arms", ARMS])


def resume(run: Path) -> dict:
    p = subprocess.run(
        [sys.executable, "-m", "vptadvisor", "pilot", "--resume", str(run), "--format", "json", "--quiet"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


@pytest.fixture(scope="module")
def uninterrupted(assets, tmp_path_factory):
    run = tmp_path_factory.mktemp("straight") / "run"
    p = subprocess.run(
        [sys.executable, "-m", "vptadvisor", "pilot", *args_for(assets, run)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def same_training(a: dict, b: dict) -> None:
    """Same steps, same candidates, same losses: bit-exact up to float noise (a process restarted from a
    checkpoint may lay tensors out differently in memory, which can change BLAS summation order)."""
    tol = 1 / a["split"]["n_val"] + 1e-9
    for name in a["arms"]:
        x, y = a["arms"][name], b["arms"][name]
        assert [s for s, _ in x["curve"]["train"]] == [s for s, _ in y["curve"]["train"]], name
        assert [v for _, v in x["curve"]["train"]] == pytest.approx([v for _, v in y["curve"]["train"]], rel=1e-4), name
        assert [(c["base_lr"], c["status"], c["steps"]) for c in x["candidates"]] == [
            (c["base_lr"], c["status"], c["steps"]) for c in y["candidates"]
        ]
        assert x["status"] == y["status"] and (x["stopped"] or {}).get("round") == (y["stopped"] or {}).get("round")
        assert abs(x["val_accuracy"] - y["val_accuracy"]) <= tol, name
    assert [r["stopped"] for r in a["halving"]] == [r["stopped"] for r in b["halving"]]
    assert abs(a["difference"]["margin"] - b["difference"]["margin"]) <= 2 * tol


def test_killed_run_resumes_from_its_checkpoint_and_matches_an_uninterrupted_run(assets, tmp_path, uninterrupted):
    run = tmp_path / "run"
    proc = start(args_for(assets, run))
    reached = wait_for_progress(proc, run, at_least=2 * STEPS)  # mid-run: after the first halving round
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert not (run / "result.json").exists()
    at_kill = steps_done(run)
    assert at_kill >= reached
    result = resume(run)
    assert result["sessions"] == 2
    for arm in result["arms"].values():
        sessions = arm["steps_by_session"]
        assert sum(sessions.values()) == arm["steps"]
    # the resumed session did only what the checkpoint did not hold
    resumed = sum(a["steps_by_session"].get("1", 0) for a in result["arms"].values())
    total = sum(a["steps"] for a in result["arms"].values())
    assert resumed == total - at_kill and 0 < resumed < total
    same_training(result, uninterrupted)
    assert not (run / "checkpoint").exists() and (run / "result.json").is_file()
    assert json.loads((run / "result.json").read_text())["sessions"] == 2


def test_ctrl_c_checkpoints_exits_130_and_resumes(assets, tmp_path, uninterrupted):
    run = tmp_path / "run"
    proc = start(args_for(assets, run))
    wait_for_progress(proc, run, at_least=8)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "--resume" in err and "Traceback" not in err
    assert (run / "checkpoint" / "state.json").is_file() and not (run / "result.json").exists()
    result = resume(run)
    assert result["sessions"] == 2
    same_training(result, uninterrupted)
