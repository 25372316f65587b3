"""Every host <-> device copy of image data landpulse makes goes through here, and is counted.

CuPy refuses implicit conversions (``numpy.asarray(cupy_array)`` raises), so a copy can only
happen where code asks for one; landpulse asks only in these two functions. The counters let a
test prove that a GPU-resident pipeline moves inputs to the device once and only products back.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from landpulse.backend.device import cupy_module


@dataclass
class TransferCounter:
    """Host-to-device and device-to-host copies (count and bytes) in this process."""

    h2d: int = 0
    d2h: int = 0
    h2d_bytes: int = 0
    d2h_bytes: int = 0

    def reset(self) -> None:
        self.h2d = self.d2h = self.h2d_bytes = self.d2h_bytes = 0

    def as_dict(self) -> dict[str, int]:
        return {"h2d": self.h2d, "d2h": self.d2h, "h2d_bytes": self.h2d_bytes, "d2h_bytes": self.d2h_bytes}


TRANSFERS = TransferCounter()
_lock = threading.Lock()


def is_cupy_array(x: Any) -> bool:
    return type(x).__module__.split(".")[0] == "cupy"


def to_host_array(x: Any) -> np.ndarray:
    """A NumPy copy of ``x`` (counted when ``x`` is on the device)."""
    if is_cupy_array(x):
        with _lock:
            TRANSFERS.d2h += 1
            TRANSFERS.d2h_bytes += int(x.nbytes)
        return x.get()
    return np.asarray(x)


def to_device_array(x: Any) -> Any:
    """A CuPy copy of ``x`` (counted when ``x`` is on the host)."""

    cp = cupy_module()
    if not is_cupy_array(x):
        with _lock:
            TRANSFERS.h2d += 1
            TRANSFERS.h2d_bytes += int(np.asarray(x).nbytes)
    return cp.asarray(x)
