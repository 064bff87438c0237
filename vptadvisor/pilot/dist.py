"""Distributed helpers: the pilot runs as one process, or as N under `torchrun --nproc_per_node=N`.

Rank 0 makes every time-based decision (stop, learning-rate progress) and the others follow it,
so all processes take the same steps; only rank 0 writes files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from vptadvisor.errors import UsageError


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    started_here: bool = False

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def sum_(self, t: torch.Tensor) -> torch.Tensor:
        """All-reduce (sum) in place on a CPU float64 copy; returns the reduced tensor."""
        if not self.enabled:
            return t
        buf = t.detach().to("cpu", torch.float64).clone()
        dist.all_reduce(buf, op=dist.ReduceOp.SUM)
        return buf

    def max_(self, value: float) -> float:
        """The largest `value` over all processes."""
        if not self.enabled:
            return value
        buf = torch.tensor([value], dtype=torch.float64)
        dist.all_reduce(buf, op=dist.ReduceOp.MAX)
        return float(buf.item())

    def from_main(self, values: list[float]) -> list[float]:
        """Rank 0's values, on every rank."""
        if not self.enabled:
            return list(values)
        buf = torch.tensor(values if self.main else [0.0] * len(values), dtype=torch.float64)
        dist.broadcast(buf, src=0)
        return buf.tolist()

    def gather_object(self, obj: Any) -> list[Any]:
        """Every rank's picklable `obj`, in rank order, on every rank (torch's all_gather_object;
        only ever used for small JSON-like values the processes of one run computed themselves)."""
        if not self.enabled:
            return [obj]
        out: list[Any] = [None] * self.world
        dist.all_gather_object(out, obj)
        return out

    def gather_rows(self, local: torch.Tensor, n_total: int) -> torch.Tensor:
        """Rows i::world were computed by rank i; reassemble all n_total rows in order."""
        if not self.enabled:
            return local
        per = (n_total + self.world - 1) // self.world
        pad = torch.zeros((per,) + tuple(local.shape[1:]), dtype=local.dtype)
        pad[: local.shape[0]] = local.cpu()
        parts = [torch.empty_like(pad) for _ in range(self.world)]
        dist.all_gather(parts, pad)
        out = torch.empty((n_total,) + tuple(local.shape[1:]), dtype=local.dtype)
        for r in range(self.world):
            n_r = len(range(r, n_total, self.world))
            out[r :: self.world] = parts[r][:n_r]
        return out

    def close(self) -> None:
        if self.started_here and dist.is_initialized():
            dist.destroy_process_group()


def setup(device: torch.device) -> Dist:
    """Join the process group torchrun describes (WORLD_SIZE > 1), else a single-process Dist."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    started = False
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        try:
            dist.init_process_group(backend=backend)
        except (RuntimeError, ValueError) as exc:
            raise UsageError(f"Cannot join the torchrun process group ({exc}); launch with torchrun.") from None
        started = True
    return Dist(rank=rank, world=world, local_rank=local_rank, started_here=started)
