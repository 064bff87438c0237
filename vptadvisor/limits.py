"""Bounds on run settings, checked before any work (exit 2 with one sentence naming the option).

- ``seed``: 0 <= seed < 2**32 (numpy and torch generators accept exactly these on every platform);
- ``batch_size``: 1 ..  MAX_BATCH_SIZE images per network batch;
- ``workers``: 0 .. max_workers() decoding processes (4 per CPU core, at least 8): more cannot
  help and, unbounded, a typo like 100000 would fork until the machine stalls.
"""

from __future__ import annotations

import os

from vptadvisor.errors import UsageError

MAX_SEED = 2**32 - 1
MAX_BATCH_SIZE = 4096


def max_workers() -> int:
    return max(8, 4 * (os.cpu_count() or 1))


def _int(value: object, option: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"{option} must be a whole number, got {value!r}.")
    return value


def check_run_settings(*, seed: int | None = None, batch_size: int | None = None, workers: int | None = None) -> None:
    """Refuse out-of-range seeds, batch sizes and worker counts (UsageError, exit 2)."""
    if seed is not None and not 0 <= _int(seed, "--seed") <= MAX_SEED:
        raise UsageError(f"--seed must be between 0 and {MAX_SEED} (2**32 - 1), got {seed}.")
    if batch_size is not None and not 1 <= _int(batch_size, "--batch-size") <= MAX_BATCH_SIZE:
        raise UsageError(f"--batch-size must be between 1 and {MAX_BATCH_SIZE}, got {_short(batch_size)}.")
    if workers is not None and not 0 <= _int(workers, "--workers") <= max_workers():
        raise UsageError(
            f"--workers must be between 0 and {max_workers()} (4 per CPU core), got {_short(workers)}; "
            "leave it out for the default."
        )


def _short(n: int) -> str:
    text = str(n)
    return text if len(text) <= 24 else text[:12] + f"... ({len(text)} digits)"
