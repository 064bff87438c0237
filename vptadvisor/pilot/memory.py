"""Peak memory of one arm.

GPU: ``torch.cuda.max_memory_allocated`` after ``reset_peak_memory_stats`` (tensor memory only).

CPU (and MPS, whose memory is the process's): the process's resident set size, sampled every
10 ms by a background thread while the arm runs; the arm's peak is the largest sample. The
process-wide ``ru_maxrss`` cannot be reset between arms, hence the sampler. Two things keep RSS
honest on glibc: ``mallopt(M_MMAP_THRESHOLD, 128 KiB)`` switches off glibc's adaptive threshold,
so large tensors (activations, gradients, optimizer moments) live in their own mappings and go
back to the OS when freed; and ``malloc_trim(0)`` between arms returns the heap's free pages.
The figure includes what both arms share (interpreter, libraries, backbone weights, the decoded
image cache), so the difference between arms is what the training method costs;
``baseline_bytes`` (the RSS when the arm starts) is reported beside it.
"""

from __future__ import annotations

import threading
import time

import psutil
import torch

from vptadvisor.heap import libc, release_freed_memory

_M_MMAP_THRESHOLD = -3


def tune_allocator() -> bool:
    """Fixed mmap threshold (see module docstring). True when it could be set (glibc)."""
    lib = libc()
    if lib is None or not hasattr(lib, "mallopt"):
        return False
    return bool(lib.mallopt(_M_MMAP_THRESHOLD, 128 * 1024))


def current_rss() -> int:
    """Resident set size of this process in bytes (psutil)."""
    return int(psutil.Process().memory_info().rss)


class PeakMemory:
    """Context manager measuring the peak memory of what runs inside it."""

    def __init__(self, device: torch.device, interval: float = 0.01):
        self.device = device
        self.interval = interval
        self.peak = 0
        self.baseline = 0
        self.method = "cuda-max-allocated" if device.type == "cuda" else "rss-sampled"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, current_rss())
            time.sleep(self.interval)

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.baseline = torch.cuda.memory_allocated(self.device)
        else:
            release_freed_memory()
            self.baseline = current_rss()
            self.peak = self.baseline
            self._thread = threading.Thread(target=self._sample, name="pilot-rss", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak = int(torch.cuda.max_memory_allocated(self.device))
        else:
            self._stop.set()
            if self._thread is not None:
                self._thread.join()
            self.peak = max(self.peak, current_rss())
