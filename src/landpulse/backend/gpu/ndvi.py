"""GPU NDVI kernel: the CUDA twin of :func:`landpulse.backend.cpu.ndvi.ndvi` (same signature)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..blocks import as_stack, radiometry_vectors
from ..device import cupy_module
from ..registry import register
from ..validity import Validity
from .cuda import CUDA_TYPE_NAMES, get_function, launch_config

@register("ndvi", "gpu", splittable=True)
def ndvi(
    red: Any,
    nir: Any,
    red_scale: Any = 1.0,
    red_offset: Any = 0.0,
    nir_scale: Any = 1.0,
    nir_offset: Any = 0.0,
    *,
    red_valid: Validity = Validity(),
    nir_valid: Validity = Validity(),
    out_of_range: str = "nan",
) -> Any:
    """NDVI of raw CuPy blocks ``(..., y, x)``; float32 with NaN where invalid (see the CPU twin)."""
    cp = cupy_module()
    if red.shape != nir.shape:
        raise ValueError(f"red and nir blocks differ in shape: {red.shape} vs {nir.shape}")
    if red.dtype != nir.dtype or red.dtype.name not in CUDA_TYPE_NAMES:
        red, nir = red.astype(cp.float32), nir.astype(cp.float32)
    r3, lead = as_stack(cp.ascontiguousarray(red))
    n3, _ = as_stack(cp.ascontiguousarray(nir))
    out = cp.empty(r3.shape, dtype=cp.float32)
    n = out.size
    if n:
        kernel = get_function("ndvi", f"ndvi_kernel<{CUDA_TYPE_NAMES[r3.dtype.name]}>")
        params = [cp.asarray(v) for v in (*radiometry_vectors(red_scale, red_offset, lead),
                                          *radiometry_vectors(nir_scale, nir_offset, lead))]
        grid, block = launch_config(n)
        kernel(grid, block, (
            r3, n3, *params, out,
            np.int64(r3.shape[1] * r3.shape[2]), np.int64(n),
            *(np.float64(v) for v in red_valid), *(np.float64(v) for v in nir_valid),
            np.int32(1 if out_of_range == "clip" else 0),
        ))
    return out.reshape(red.shape)
