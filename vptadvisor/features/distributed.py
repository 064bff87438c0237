"""Extraction across processes launched by torchrun: each rank embeds a shard, rank 0 reports.

`torchrun --nproc_per_node=K -m vptadvisor analyze DATASET` starts K copies; this module sees
WORLD_SIZE > 1 and joins the process group (NCCL when every rank has a GPU, else gloo). Rank r
embeds the images r, r+K, r+2K, ...; the float64 sums (n, Σx, Σxxᵀ) are all-reduced exactly, and the
per-image results (features, header facts, skip reasons) are gathered to every rank as tensors and
JSON bytes (no pickle) in the original order, so rank 0's KID, probe and size matching see what one
process would have seen. Ranks other than 0 then stop quietly (`NotReportingRank`).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict

import numpy as np

from vptadvisor.dataset.images import ImageInfo
from vptadvisor.distance.stats import FeatureStats


class NotReportingRank(Exception):
    """Raised on ranks other than 0 once their shard is in: only rank 0 reports."""


def world() -> tuple[int, int]:
    """(rank, world size) from torchrun's environment; (0, 1) when not launched by it."""
    try:
        size = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0, 1
    return (rank, size) if size > 1 else (0, 1)


def init(device: str) -> None:
    import torch.distributed as dist

    if not dist.is_initialized():
        backend = "nccl" if device == "cuda" else "gloo"
        if device == "cuda":
            import torch

            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend=backend)


def _collective_device():
    import torch
    import torch.distributed as dist

    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def all_reduce_stats(stats: FeatureStats) -> FeatureStats:
    """Exact float64 sum of every rank's (n, Σx, Σxxᵀ)."""
    import torch
    import torch.distributed as dist

    dev = _collective_device()
    n = torch.tensor([float(stats.n)], dtype=torch.float64, device=dev)
    s = torch.from_numpy(np.ascontiguousarray(stats.sum)).to(dev)
    o = torch.from_numpy(np.ascontiguousarray(stats.outer)).to(dev)
    for t in (n, s, o):
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return FeatureStats(int(n.item()), s.cpu().numpy(), o.cpu().numpy())


def _all_gather_rows(rows: np.ndarray) -> list[np.ndarray]:
    """Every rank's (n_r, ...) array, padded to the longest for the collective."""
    import torch
    import torch.distributed as dist

    dev = _collective_device()
    count = torch.tensor([rows.shape[0]], dtype=torch.int64, device=dev)
    counts = [torch.zeros_like(count) for _ in range(dist.get_world_size())]
    dist.all_gather(counts, count)
    longest = max(int(c.item()) for c in counts)
    padded = np.zeros((longest, *rows.shape[1:]), dtype=rows.dtype)
    padded[: rows.shape[0]] = rows
    mine = torch.from_numpy(padded).to(dev)
    parts = [torch.zeros_like(mine) for _ in counts]
    dist.all_gather(parts, mine)
    return [p[: int(c.item())].cpu().numpy() for p, c in zip(parts, counts)]


def _all_gather_json(obj) -> list:
    blob = np.frombuffer(json.dumps(obj).encode(), dtype=np.uint8)
    return [json.loads(part.tobytes().decode()) for part in _all_gather_rows(blob)]


def gather_extraction(extraction, shard: list[int], n_total: int):
    """Every rank's shard result -> one Extraction over all `n_total` inputs, in input order.
    `shard`: this rank's input indices (extraction.kept etc. index into it)."""
    from vptadvisor.features.extract import Extraction

    local = {
        "kept": [shard[i] for i in extraction.kept],
        "infos": [asdict(info) for info in extraction.infos],
        "skipped": [[shard[i], k, r] for i, k, r in extraction.skipped],
        "n_cached": extraction.n_cached,
        "n_computed": extraction.n_computed,
        "seconds": extraction.seconds,
    }
    parts = _all_gather_json(local)
    features = {
        name: _all_gather_rows(np.ascontiguousarray(arr, dtype=np.float32)) for name, arr in extraction.features.items()
    }
    rows = [(idx, r, j) for r, part in enumerate(parts) for j, idx in enumerate(part["kept"])]
    rows.sort()
    merged = {
        name: (
            np.stack([chunks[r][j] for _, r, j in rows])
            if rows
            else np.zeros((0, extraction.features[name].shape[1]), np.float32)
        )
        for name, chunks in features.items()
    }
    infos = [parts[r]["infos"][j] for _, r, j in rows]
    return Extraction(
        features=merged,
        kept=[idx for idx, _, _ in rows],
        infos=[ImageInfo(**{**i, "conversions": tuple(i["conversions"])}) for i in infos],
        skipped=sorted((int(i), k, r) for part in parts for i, k, r in part["skipped"]),
        n_cached=sum(p["n_cached"] for p in parts),
        n_computed=sum(p["n_computed"] for p in parts),
        seconds=max(p["seconds"] for p in parts),
        device=extraction.device,
        weights=extraction.weights,
        engine=extraction.engine,
    )


def finish() -> None:
    import torch.distributed as dist

    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
