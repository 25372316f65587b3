"""GPU mask kernel with a buffer: the CUDA twin of :func:`landpulse.backend.cpu.masks.mask_buffer`."""

from __future__ import annotations

from typing import Any

import numpy as np

from landpulse.backend.blocks import as_stack
from landpulse.backend.device import cupy_module
from landpulse.backend.gpu.cuda import MASK_TYPE_NAMES, get_function, launch_config
from landpulse.backend.ops.masks import mask_tables
from landpulse.backend.registry import register


@register("mask_buffer", "gpu")
def mask_buffer(q: Any, *, lut: np.ndarray, buffer_lut: np.ndarray, spans: np.ndarray) -> Any:
    """Mask codes of a classification CuPy block ``(..., y, x)`` (see the CPU twin)."""
    cp = cupy_module()
    lut, buffer_lut, spans = mask_tables(lut, buffer_lut, spans)
    q = cp.ascontiguousarray(q)
    if q.dtype.name not in MASK_TYPE_NAMES:
        q = q.astype(cp.float32)
    q3, _ = as_stack(q)
    out = cp.empty(q3.shape, cp.uint8)
    n = out.size
    if n:
        lut_d, blut_d, spans_d = cp.asarray(lut), cp.asarray(buffer_lut), cp.asarray(spans)
        kernel = get_function("masks", f"mask_buffer_kernel<{MASK_TYPE_NAMES[q3.dtype.name]}>")
        grid, block = launch_config(n)
        kernel(grid, block, (q3, lut_d, blut_d, np.int64(lut_d.shape[0]), spans_d, np.int32(spans_d.shape[0] - 1),
                             np.int64(q3.shape[1]), np.int64(q3.shape[2]), np.int64(n), out))
    return out.reshape(q.shape)
