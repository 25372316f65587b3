"""Which compiled driver a CPU kernel entry uses: parallel (``prange``) or serial (``nogil``)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def in_worker_thread() -> bool:
    """True inside Dask (or any non-main) threads: kernel entries use their serial drivers there.

    The scheduler already runs one task per core; a nested Numba thread pool would only
    oversubscribe (and Numba's default workqueue layer must not be entered from several threads).
    An eager call from the main thread uses the parallel driver.
    """
    return threading.current_thread() is not threading.main_thread()


def pixel_chunks(npix: int, serial: bool) -> tuple[int, int]:
    """(number of chunks, chunk size) of a pixel loop: one chunk serially, else about eight per
    Numba thread (so uneven per-pixel work, as in time series with gaps, balances out)."""
    import numba  # the CPU leaf's own dependency, only where CPU kernels run

    if npix == 0:
        return 0, 1
    n = 1 if serial else max(1, min(npix, 8 * numba.get_num_threads()))
    size = -(-npix // n)
    return -(-npix // size), size


def run_pixels(chunk: Callable[..., Any], parallel: Callable[..., Any], npix: int, *args: Any) -> None:
    """Run a pixel kernel over ``npix`` pixels: ``chunk(*args, start, stop)`` once in a worker
    thread (:func:`in_worker_thread`), else ``parallel(*args, nchunk, size)`` over chunks."""
    serial = in_worker_thread()
    nchunk, size = pixel_chunks(npix, serial)
    if serial:
        if npix:
            chunk(*args, 0, npix)
    elif nchunk:
        parallel(*args, nchunk, size)
