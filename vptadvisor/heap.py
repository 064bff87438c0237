"""The C heap: give freed memory back to the OS (glibc), so long runs stay flat in memory.

Torch-free, used by feature extraction (per batch) and the pilot (between arms).
"""

from __future__ import annotations

import ctypes
from functools import lru_cache


@lru_cache(maxsize=1)
def libc():
    """glibc through ctypes, or None where there is none (macOS, musl, Windows)."""
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


def release_freed_memory() -> None:
    """Give freed heap memory back to the OS (glibc's malloc_trim; elsewhere a no-op)."""
    lib = libc()
    if lib is not None and hasattr(lib, "malloc_trim"):
        lib.malloc_trim(0)
