"""Device-neutral tables of the mask kernels (both devices' entries check them here)."""

from __future__ import annotations

from typing import Any

import numpy as np


def mask_tables(lut: Any, buffer_lut: Any, spans: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The host tables of the mask kernels (both devices), checked: ``(lut, buffer_lut, spans)``
    as contiguous uint8, uint8, int32 (the kernels index ``buffer_lut`` with ``lut``'s length)."""
    lut = np.ascontiguousarray(lut, np.uint8)
    buffer_lut = np.ascontiguousarray(buffer_lut, np.uint8)
    if lut.ndim != 1 or lut.shape != buffer_lut.shape:
        raise ValueError(f"lut and buffer_lut must be 1-d of one length; got {lut.shape} and {buffer_lut.shape}")
    return lut, buffer_lut, np.ascontiguousarray(spans, np.int32)
