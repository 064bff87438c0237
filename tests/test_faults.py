"""Fault injection, as a user would meet it: every case runs `python -m vptadvisor` in a subprocess and
asserts the exit code, the one-line message, that no traceback was printed, and that the dataset's
bytes (names, modes, links, contents) did not change.

Exit codes (vptadvisor/cli/guard.py): 0 ok, 1 gate failed, 2 usage, 3 could not measure / write /
internal error, 130 interrupted (SIGINT), 143 terminated (SIGTERM). An interrupted or crashed run
never exits 0 or 1.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from faultkit import (
    DTD,
    copy_dtd,
    pilot_assets,
    pilot_cli_args,
    pilot_interrupted_run,
    tree_digest,
    wait_cpu,
)

pytestmark = pytest.mark.skipif(not DTD.is_dir() and os.environ.get("CI") != "true",
                                reason="needs the real images in ../shared/datasets/dtd-10")
TIMEOUT = 240


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict:
    home = tmp_path_factory.mktemp("faults-env")
    return dict(os.environ, VPTADVISOR_CACHE_DIR=str(home / "cache"), TORCH_HOME=str(home / "torch"),
                VPTADVISOR_OFFLINE="1", PYTHONUNBUFFERED="1", PYTHONPATH=str(Path(__file__).resolve().parents[1]))


@pytest.fixture(scope="module")
def ds(tmp_path_factory, env) -> Path:
    """12 real DTD images (3 classes); analysed once so later runs read the feature cache."""
    root = copy_dtd(tmp_path_factory.mktemp("faults-ds") / "ds", classes=3, per_class=4)
    r = cli(["analyze", root, "--min-images", "2", "-q"], env)
    assert r.code == 0, r.err
    return root


@pytest.fixture()
def untouched(ds):
    """The dataset's bytes must be the same after the test."""
    before = tree_digest(ds)
    yield ds
    assert tree_digest(ds) == before, "the dataset changed"


def cli(args, env, cwd=None, timeout=TIMEOUT, stdin=None) -> Result:
    p = subprocess.run([sys.executable, "-m", "vptadvisor", *map(str, args)], env=env, cwd=cwd, capture_output=True,
                       text=True, timeout=timeout, stdin=stdin, check=False)
    return Result(p.returncode, p.stdout, p.stderr)


def shell(line: str, env, timeout=TIMEOUT) -> Result:
    p = subprocess.run(line, shell=True, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    return Result(p.returncode, p.stdout, p.stderr)


def clean(r: Result, code: int, *words: str) -> None:
    """Exit `code`, every word in stderr, no traceback, at most a couple of lines of stderr."""
    assert r.code == code, (r.code, r.err[-2000:])
    assert "Traceback" not in r.err, r.err
    for w in words:
        assert w.lower() in r.err.lower(), (w, r.err)
    assert len([x for x in r.err.splitlines() if x.strip()]) <= 3, r.err


def interrupt(args, env, sig=signal.SIGINT, cpu=3.0, group=False) -> Result:
    """Start a command, wait until it has done `cpu` seconds of work, then signal it (or its whole
    process group, as Ctrl-C in a terminal does)."""
    proc = subprocess.Popen([sys.executable, "-m", "vptadvisor", *map(str, args)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=group)
    try:
        wait_cpu(proc, cpu)
        os.killpg(proc.pid, sig) if group else proc.send_signal(sig)
        out, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
    return Result(proc.returncode, out, err)


# --- 1. exit-code integrity: interruptions, terminations ----------------------------------------------

def test_sigint_during_analyze_exits_130(untouched, env):
    r = interrupt(["analyze", untouched, "--min-images", "2", "-q", "--no-cache"], env)
    clean(r, 130, "Interrupted.")
    assert r.out == ""


def test_ctrl_c_to_the_process_group_during_analyze_exits_130(untouched, env):
    r = interrupt(["analyze", untouched, "--min-images", "2", "-q", "--no-cache", "--workers", "2"], env, group=True)
    clean(r, 130, "Interrupted.")


def test_sigint_during_a_failing_check_never_passes(untouched, env, tmp_path):
    # the full run fails this gate (exit 1); interrupted, it must be 130, never 0
    r = interrupt(["check", untouched, "--min-images", "2", "-q", "--expect", "ft", "--cache-dir", tmp_path / "c"], env)
    clean(r, 130, "Interrupted.")
    assert r.out == ""


def test_sigterm_during_analyze_exits_143(untouched, env):
    r = interrupt(["analyze", untouched, "--min-images", "2", "-q", "--no-cache"], env, sig=signal.SIGTERM)
    clean(r, 143, "Terminated.")


def test_sigterm_during_check_exits_143(untouched, env, tmp_path):
    r = interrupt(["check", untouched, "--min-images", "2", "-q", "--expect", "vpt", "--cache-dir", tmp_path / "c"], env,
                  sig=signal.SIGTERM)
    clean(r, 143, "Terminated.")


def test_sigint_during_reference_build_exits_130_and_writes_nothing(untouched, env, tmp_path):
    out = tmp_path / "ref.safetensors"
    r = interrupt(["reference", "build", untouched, "--name", "x", "--min-images", "2", "--no-cache", "-o", out, "-q"],
                  env)
    clean(r, 130, "Interrupted.")
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_sigint_during_study_validate_exits_130(env):
    r = interrupt(["study", "validate"], env, cpu=2.0)
    clean(r, 130, "Interrupted.")


def test_sigint_during_probe_suite_exits_130(env):
    r = interrupt(["probe-suite", "--quick"], env, cpu=3.0)
    clean(r, 130, "Interrupted.")


@pytest.mark.slow
def test_sigint_and_sigterm_during_pilot(env, tmp_path):
    data, weights = pilot_assets(tmp_path / "p")
    before = tree_digest(data)
    pilot_interrupted_run(data, weights, tmp_path / "run", env)  # asserts 130 and a resumable checkpoint
    args = pilot_cli_args(data, weights, tmp_path / "run2", steps=400) + ["--checkpoint-every", "0"]
    r = interrupt(["pilot", *args], env, sig=signal.SIGTERM, cpu=4.0)
    clean(r, 143, "--resume")
    assert tree_digest(data) == before
