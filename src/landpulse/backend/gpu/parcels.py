"""GPU parcel statistics: the CuPy twin of ``parcel_stats`` in :mod:`landpulse.backend.cpu.parcels`.

Segmented reductions over the CSR coverage matrix (:mod:`landpulse.backend.ops.parcels`, run here
with CuPy); the coverage matrix itself is built on the host (Numba) once per grid and parcel set
and copied to the device once.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from landpulse.backend.device import cupy_module
from landpulse.backend.ops.parcels import segmented_parcel_stats
from landpulse.backend.registry import register


@register("parcel_stats", "gpu")
def parcel_stats(values: Any, indptr: Any, indices: Any, weights: Any, *, quantiles: np.ndarray) -> Any:
    """See the CPU twin; CuPy ``values`` in, CuPy float64 ``(n_parcels, n_dates, 8 + n_q)`` out."""
    cp = cupy_module()
    vals = cp.asarray(values)
    if vals.dtype not in (cp.float32, cp.float64):
        vals = vals.astype(cp.float64)
    return segmented_parcel_stats(cp, vals, cp.asarray(indptr, dtype=cp.int64), cp.asarray(indices, dtype=cp.int64),
                                  cp.asarray(weights, dtype=cp.float64), cp.asarray(quantiles, dtype=cp.float64))
