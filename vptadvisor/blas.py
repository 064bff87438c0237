"""Run dense linear algebra on one BLAS thread.

The probe works on many small matrices (240 x 240 eigendecompositions) and the Fréchet distance on
1,000 x 1,000 symmetric eigenproblems. Multi-threaded OpenBLAS gains nothing there, and on a busy
machine its threads spin: on the 2-core dev machine under load one dtd-10-sized probe took 7 to 17 s
with 2 BLAS threads and 1.3 s with one, and one 1,000 x 1,000 `eigvalsh` 6.5 s against 0.1 s. This context
manager finds the OpenBLAS that numpy loaded and sets its thread count through its own C entry
point (the same one threadpoolctl uses). It restores the count on exit, and does nothing if no
OpenBLAS is found (MKL, Accelerate, other platforms).
"""

from __future__ import annotations

import ctypes
from contextlib import contextmanager
from functools import lru_cache
from typing import Iterator

_PREFIXES = ("scipy_openblas", "openblas")
_SUFFIXES = ("64_", "")


@lru_cache(maxsize=1)
def _openblas_entry_points():
    try:
        with open("/proc/self/maps") as fh:
            libs = sorted({line.split()[-1] for line in fh if "openblas" in line.lower() and ".so" in line})
    except OSError:
        return None
    for path in libs:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in _PREFIXES:
            for suffix in _SUFFIXES:
                get = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
                put = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
                if get is not None and put is not None:
                    get.restype = ctypes.c_int
                    put.argtypes = [ctypes.c_int]
                    return get, put
    return None


def on_one_blas_thread(function):
    """Decorator form of `single_thread_blas`."""
    import functools

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with single_thread_blas():
            return function(*args, **kwargs)

    return wrapper


@contextmanager
def single_thread_blas() -> Iterator[None]:
    import numpy  # noqa: F401  (make sure numpy's BLAS is loaded before looking for it)

    entry = _openblas_entry_points()
    if entry is None:
        yield
        return
    get, put = entry
    before = get()
    put(1)
    try:
        yield
    finally:
        put(before)
