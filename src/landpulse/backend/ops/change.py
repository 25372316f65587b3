"""Device-neutral checks of the change kernels' inputs (per-date parameters, BFAST's design)."""

from __future__ import annotations

from typing import Any

import numpy as np

#: Most regressors BFAST-Monitor's kernels take (``BFAST_MAX_K`` in ``kernels/change.cuh``).
BFAST_MAX_K = 14


def per_date(name: str, values: Any, ntime: int, dtype: Any) -> np.ndarray:
    """A per-date parameter as a contiguous host array of ``ntime`` values, checked (both devices)."""
    out = np.ascontiguousarray(values, dtype=dtype)
    if out.shape != (ntime,):
        raise ValueError(f"{name} must have one value per date ({ntime}); got {out.shape}")
    return out


def design_matrix(design: Any, ntime: int) -> tuple[np.ndarray, int]:
    """BFAST's ``(time, k)`` float64 regressors as a contiguous host array, and ``k`` (checked)."""
    X = np.ascontiguousarray(design, dtype=np.float64)
    k = X.shape[1] if X.ndim == 2 else 0
    if X.ndim != 2 or X.shape[0] != ntime or not 1 <= k <= BFAST_MAX_K:
        raise ValueError(f"design must be (time={ntime}, k<={BFAST_MAX_K}); got {X.shape}")
    return X, k
