"""Run dense linear algebra on one BLAS thread (threadpoolctl).

The probe works on many small matrices (240 x 240 eigendecompositions) and the Fréchet distance on
1,000 x 1,000 symmetric eigenproblems. Multi-threaded OpenBLAS gains nothing there, and on a busy
machine its threads spin: on the 2-core dev machine under load one dtd-10-sized probe took 7 to 17 s
with 2 BLAS threads and 1.3 s with one, and one 1,000 x 1,000 `eigvalsh` 6.5 s against 0.1 s.
threadpoolctl limits whichever BLAS numpy loaded (OpenBLAS, MKL, BLIS) and restores it on exit.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager


def blas_threads() -> int | None:
    """The thread count of numpy's BLAS now (None when threadpoolctl finds none)."""
    import numpy  # noqa: F401  (make sure numpy's BLAS is loaded before looking for it)
    from threadpoolctl import threadpool_info

    counts = [p["num_threads"] for p in threadpool_info() if p.get("user_api") == "blas"]
    return min(counts) if counts else None


def on_one_blas_thread(function):
    """Decorator form of `single_thread_blas`."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with single_thread_blas():
            return function(*args, **kwargs)

    return wrapper


@contextmanager
def single_thread_blas() -> Iterator[None]:
    import numpy  # noqa: F401
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield
