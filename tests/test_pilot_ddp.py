"""Data-parallel parity: the pilot under torchrun (2 CPU processes, gloo) matches a single process."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from test_pilot_helpers import (
    TINY_IMG,
    TINY_KWARGS,
    TINY_NAME,
    make_dataset,
    make_tiny_weights,
    tiny_cli_args,
)

pytestmark = pytest.mark.slow  # subprocess pilots under torchrun


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    return make_dataset(root / "data", n_classes=3, per_class=12), make_tiny_weights(root / "tiny.safetensors"), root


def pilot(cmd: list[str]) -> dict:
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    return json.loads(p.stdout)


def test_two_gloo_processes_give_the_single_process_result(assets):
    data, weights, root = assets
    # vpt-deep has prompt dropout: its masks are drawn per global batch, so they match too
    extra = ["--arms", "vpt-deep,ft"]
    from vptadvisor.pilot import run_pilot

    one = run_pilot(
        data,
        steps=24,
        arms="vpt-deep,ft",
        backbone=TINY_NAME,
        weights=weights,
        backbone_kwargs=TINY_KWARGS,
        img_size=TINY_IMG,
        batch_size=8,
        device="cpu",
        threads=1,
        run_dir=root / "one",
    ).to_dict()
    two = pilot(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            "-m",
            "vptadvisor",
            "pilot",
            *tiny_cli_args(data, weights, root / "two", 24, extra),
        ]
    )
    assert one["world_size"] == 1 and two["world_size"] == 2
    for name in ("vpt-deep", "ft"):
        a, b = one["arms"][name], two["arms"][name]
        assert [c["status"] for c in a["candidates"]] == [c["status"] for c in b["candidates"]]
        assert a["lr"] == b["lr"] and a["steps"] == b["steps"]
        la = [v for _, v in a["curve"]["train"]]
        lb = [v for _, v in b["curve"]["train"]]
        assert la == pytest.approx(lb, rel=1e-3, abs=1e-4)  # float summation order differs, nothing else
        assert abs(a["val_accuracy"] - b["val_accuracy"]) <= 1 / one["split"]["n_val"] + 1e-9
    assert two["difference"]["margin"] == pytest.approx(one["difference"]["margin"], abs=2 / one["split"]["n_val"])
