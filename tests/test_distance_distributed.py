"""Extraction beyond one process: float64 sums (n, Σx, Σxxᵀ) all-reduced over gloo give the same FID
as one process, to 1e-9 relative; and `torchrun -m vptadvisor analyze` reports once, the same FID."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vptadvisor.distance.frechet import (
    frechet_distance,
    frechet_distance_to_features,
    gaussian_stats,
)
from vptadvisor.distance.stats import FeatureStats

D = 64


def _features(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, D)) @ rng.standard_normal((D, D)) * 0.3 + rng.random(D)).astype(np.float32)


def test_merged_sums_give_the_covariance_of_the_union():
    x = _features(500, 1)
    merged = FeatureStats.of(x[:123]) + FeatureStats.of(x[123:400]) + FeatureStats.of(x[400:])
    mu, sigma = gaussian_stats(x)
    assert merged.n == 500
    np.testing.assert_allclose(merged.mu, mu, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(merged.sigma, sigma, rtol=1e-10, atol=1e-12)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_WORKER = """
import os, sys, json
import numpy as np
import torch.distributed as dist
sys.path.insert(0, {tests!r})
from test_distance_distributed import _features
from vptadvisor.distance.stats import FeatureStats
from vptadvisor.features import distributed
dist.init_process_group("gloo")
rank, size = distributed.world()
x = _features(3000, 7)
shard = x[rank::size]
stats = distributed.all_reduce_stats(FeatureStats.of(shard))
if rank == 0:
    print(json.dumps({{"n": stats.n, "mu": stats.mu.tolist(), "sigma": stats.sigma.tolist()}}))
dist.destroy_process_group()
"""


def test_gloo_all_reduce_of_two_shards_matches_one_process_to_1e9():
    """Two real processes on gloo each hold half of 3,000 features (more than the dimension, so the
    FID uses the Gaussian directly); the reduced sums give the single-process FID to 1e-9."""
    port = _free_port()
    env = dict(os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE="2")
    code = _WORKER.format(tests=str(Path(__file__).parent))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            env=dict(env, RANK=str(r), LOCAL_RANK=str(r)),
            stdout=subprocess.PIPE,
            text=True,
        )
        for r in (0, 1)
    ]
    outs = [p.communicate(timeout=240)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    got = json.loads(outs[0])
    x = _features(3000, 7)
    ref = _features(4000, 8)
    ref_mu, ref_sigma = gaussian_stats(ref)
    single = FeatureStats.of(x)
    fid_single = frechet_distance(ref_mu, ref_sigma, single.mu, single.sigma)
    fid_dist = frechet_distance(ref_mu, ref_sigma, np.array(got["mu"]), np.array(got["sigma"]))
    assert got["n"] == 3000
    print(f"FID one process {fid_single!r}, gloo all-reduce {fid_dist!r}")
    assert abs(fid_dist - fid_single) / fid_single < 1e-9
    # and against features themselves (the two-pass covariance of one process)
    fid_features = frechet_distance_to_features(x, ref_mu, ref_sigma)
    assert abs(fid_dist - fid_features) / fid_features < 1e-9


@pytest.mark.slow
def test_torchrun_analyze_matches_single_process(tmp_path):
    """`torchrun --nproc_per_node=2 -m vptadvisor analyze` on gloo: each rank embeds half, rank 0 alone
    prints, and its FID equals the single-process FID to 1e-9 relative (batch size 1 on both sides, so
    every image meets the network alone, as in pytorch-fid)."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for c in range(3):
        (tmp_path / "data" / f"c{c}").mkdir(parents=True)
        for i in range(9):
            img = rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)
            img[:, :, c] = 255 - img[:, :, c] // (i + 1)
            Image.fromarray(img).save(tmp_path / "data" / f"c{c}" / f"{i}.png")
    common = [
        str(tmp_path / "data"),
        "--format",
        "json",
        "--no-cache",
        "--batch-size",
        "1",
        "--min-images",
        "10",
        "--kid-subsets",
        "5",
        "--objective",
        "classification",
        "--device",
        "cpu",
    ]
    single = subprocess.run(
        [sys.executable, "-m", "vptadvisor", "analyze", *common],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert single.returncode == 0, single.stderr
    port = str(_free_port())
    multi = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node=2",
            "--master_port",
            port,
            "-m",
            "vptadvisor",
            "analyze",
            *common,
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )
    assert multi.returncode == 0, multi.stderr[-3000:]
    a, b = json.loads(single.stdout), json.loads(multi.stdout)  # one JSON document: rank 0 alone printed
    assert b["dataset"]["n_images"] == a["dataset"]["n_images"] == 27
    print(f"FID one process {a['distance']['fid']!r}, torchrun 2 x gloo {b['distance']['fid']!r}")
    assert abs(b["distance"]["fid"] - a["distance"]["fid"]) / a["distance"]["fid"] < 1e-9
    assert b["distance"]["kid"] == pytest.approx(a["distance"]["kid"], rel=1e-9)
