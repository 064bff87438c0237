"""Helpers of the fault-injection tests (tests/test_faults.py) and of tools/fault_table.py.

Real data only: images are copied from ../shared (never written there), references are the shipped
one altered in a single way, pilot runs use a tiny random ViT on a generated dataset.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
DTD = REPO.parent / "shared" / "datasets" / "dtd-10"
SHIPPED_REFERENCE = REPO / "data" / "references" / "imagenet-sample-1000.safetensors"


def copy_dtd(target: Path, classes: int = 3, per_class: int = 4) -> Path:
    """root/<class>/*.jpg with a few real DTD images per class."""
    for class_dir in sorted(p for p in DTD.iterdir() if p.is_dir())[:classes]:
        (target / class_dir.name).mkdir(parents=True, exist_ok=True)
        for src in sorted(class_dir.iterdir())[:per_class]:
            shutil.copy2(src, target / class_dir.name / src.name)
    return target


def tree_digest(root: Path) -> str:
    """Hash of every name, link target, mode and file content below `root` (links are not followed)."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(os.fsencode(root)):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            h.update(p + b"\0" + str(st.st_mode).encode())
            if os.path.islink(p):
                h.update(os.readlink(p))
            elif os.path.isfile(p):
                with open(p, "rb") as fh:
                    h.update(hashlib.sha256(fh.read()).digest())
    return h.hexdigest()


def make_reference(path: Path, kind: str) -> Path:
    """The shipped reference altered one way: 'nan', 'inf', 'dims' (100 columns), 'one-row', 'empty',
    'mu-nan' (statistics form with a NaN mean), 'sigma-shape'."""
    import numpy as np
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    with safe_open(str(SHIPPED_REFERENCE), framework="np") as fh:
        meta = dict(fh.metadata())
    arrays = load_file(str(SHIPPED_REFERENCE))
    f = arrays["features"].copy()
    if kind == "nan":
        f[3, 7] = np.nan
        arrays = {"features": f}
    elif kind == "inf":
        f[0, 0] = np.inf
        arrays = {"features": f}
    elif kind == "dims":
        arrays = {"features": np.ascontiguousarray(f[:, :100])}
    elif kind == "one-row":
        arrays = {"features": np.ascontiguousarray(f[:1])}
    elif kind == "empty":
        arrays = {"features": np.zeros((0, 2048), np.float32)}
    elif kind in ("mu-nan", "sigma-shape"):
        x = f.astype(np.float64)
        mu, sigma = x.mean(0), np.cov(x, rowvar=False)
        if kind == "mu-nan":
            mu[5] = np.nan
        else:
            sigma = np.ascontiguousarray(sigma[:, :2047])
        arrays = {"mu": mu, "sigma": sigma, "kid_features": f}
    else:
        raise ValueError(kind)
    save_file(arrays, str(path), metadata=meta)
    return path


def default_signals() -> None:
    """preexec_fn: the child gets the default SIGINT/SIGTERM handling even when this process was
    started in the background (where a shell makes it ignore SIGINT, and so would its children)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def wait_cpu(proc: subprocess.Popen, seconds: float, timeout: float = 180.0) -> None:
    """Wait until `proc` (and its children) has used `seconds` of CPU: past start-up, into the work."""
    p = psutil.Process(proc.pid)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the command ended before it could be interrupted: {proc.communicate()}")
        try:
            used = sum(p.cpu_times()[:2]) + sum(sum(c.cpu_times()[:2]) for c in p.children(recursive=True))
        except psutil.Error:
            used = 0.0
        if used >= seconds:
            return
        time.sleep(0.05)
    raise AssertionError("the command made no progress in time")


def pilot_assets(root: Path) -> tuple[Path, Path]:
    sys.path.insert(0, str(REPO / "tests"))
    from test_pilot_helpers import make_dataset, make_tiny_weights

    root.mkdir(parents=True, exist_ok=True)
    weights = root / "tiny.safetensors"
    if not weights.exists():
        make_tiny_weights(weights)
    return make_dataset(root / "data", n_classes=3, per_class=10), weights


def pilot_cli_args(data: Path | str, weights: Path, out: Path | None, steps: int = 2) -> list[str]:
    sys.path.insert(0, str(REPO / "tests"))
    from test_pilot_helpers import TINY_IMG, TINY_KWARGS, TINY_NAME

    args = [
        str(data),
        "--backbone",
        TINY_NAME,
        "--weights",
        str(weights),
        "--backbone-kwargs",
        json.dumps(TINY_KWARGS),
        "--img-size",
        str(TINY_IMG),
        "--steps",
        str(steps),
        "--batch-size",
        "8",
        "--device",
        "cpu",
        "--threads",
        "1",
        "--format",
        "json",
        "--quiet",
        "--evals",
        "1",
    ]
    return args + (["--out", str(out)] if out is not None else [])


def _steps_done(run: Path) -> int:
    try:
        state = json.loads((run / "checkpoint" / "state.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return 0
    return sum(sum(st.get("steps_by_session", {}).values()) for st in state["arms"].values())


def pilot_interrupted_run(data: Path, weights: Path, run: Path, env: dict) -> Path:
    """A pilot run directory interrupted (SIGINT) after a few checkpointed steps."""
    args = pilot_cli_args(data, weights, run, steps=400) + ["--checkpoint-every", "0"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "vptadvisor", "pilot", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_signals,
    )
    deadline = time.monotonic() + 240
    while _steps_done(run) < 3:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"pilot made no progress: {proc.communicate()}")
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and (run / "checkpoint" / "state.json").is_file(), err
    return run
