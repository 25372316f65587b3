"""Which compiled driver a CPU kernel entry uses: parallel (``prange``) or serial (``nogil``)."""

from __future__ import annotations

import threading


def in_worker_thread() -> bool:
    """True inside Dask (or any non-main) threads: kernel entries use their serial drivers there.

    The scheduler already runs one task per core; a nested Numba thread pool would only
    oversubscribe (and Numba's default workqueue layer must not be entered from several threads).
    An eager call from the main thread uses the parallel driver.
    """
    return threading.current_thread() is not threading.main_thread()
