"""The one device resolver: "auto" | "cpu" | "cuda" | "mps" -> where networks run.

    resolve_device("auto")                 # -> "cuda", "mps" or "cpu" (a name)
    torch_device("auto", local_rank=1)     # -> torch.device, the process's GPU under torchrun

features/ (extraction) and pilot/ (training) both use these.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, get_args

from vptadvisor.errors import UsageError
from vptadvisor.settings.models import Device

if TYPE_CHECKING:
    import torch

DEVICES: tuple[str, ...] = get_args(Device)


def _maybe_cuda() -> bool:
    """Whether CUDA could be present, without importing torch on a machine that clearly has none."""
    return os.path.exists("/dev/nvidiactl") or os.path.exists("/proc/driver/nvidia/version") or sys.platform == "win32"


def resolve_device(device: str) -> str:
    """A device name; an unknown or unavailable choice is a UsageError (case-insensitive). Imports
    torch only when a GPU could be there (a warm CPU-only analyze never loads it)."""
    device = (device or "auto").lower()
    if device not in DEVICES:
        raise UsageError(f"Unknown device {device!r}: choose one of {', '.join(DEVICES)}.")
    if device == "cpu" or (device == "auto" and not _maybe_cuda() and sys.platform != "darwin"):
        return "cpu"
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda was asked for but no CUDA GPU is available; use --device auto or cpu.")
    if device == "mps" and not torch.backends.mps.is_available():
        raise UsageError("--device mps was asked for but MPS is not available; use --device auto or cpu.")
    if device != "auto":
        return device
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def torch_device(device: str, local_rank: int = 0) -> torch.device:
    """The torch.device; CUDA: this process's GPU is local_rank modulo the visible GPUs (and made current)."""
    import torch

    name = resolve_device(device)
    if name == "cuda":
        index = local_rank % torch.cuda.device_count()
        torch.cuda.set_device(index)
        return torch.device("cuda", index)
    return torch.device(name)
