"""GPU entry of the window kernel (``window_reduce``): the same signature as the CPU twin.

On the device the block stays on the device: the generated fused index kernel
(:func:`landpulse.backend.gpu.fused.fused_indices`, one slice per date) writes the block's
``(time, y, x)`` float32 index values into device memory, then the reduction runs there: the
median and max through the composite kernels of ``kernels/change.cu`` (the same order statistics
as the CPU's), the percentile as a sort along time and NumPy's linear interpolation
(:func:`landpulse.backend.ops.window.percentile_of_sorted`). Unlike the CPU kernel, the float
stack of the block exists (on the device, one block at a time), never the window's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from landpulse.backend.codegen import FusedProgram
from landpulse.backend.device import cupy_module
from landpulse.backend.gpu.cuda import get_function, launch_config
from landpulse.backend.gpu.fused import fused_indices
from landpulse.backend.ops.fused import split_inputs
from landpulse.backend.ops.window import check_window_request, per_date, percentile_of_sorted
from landpulse.backend.registry import register


@register("window_reduce", "gpu", splittable=True)
def window_reduce(
    *arrays: Any,
    program: FusedProgram,
    method: str = "median",
    q: float = 50.0,
    valid: tuple[tuple[float, float, float], ...] = (),
    constants: tuple[float, ...] = (),
    lut: np.ndarray | None = None,
    out_of_range: str = "nan",
) -> tuple[Any, Any]:
    """See the CPU twin: ``(y, x)`` float32 values and uint16 counts of CuPy ``(y, x, time)`` blocks."""
    cp = cupy_module()
    check_window_request(program, method, q)
    bands, cls, scales, offsets = split_inputs(program, arrays)
    images = [cp.ascontiguousarray(a.transpose(2, 0, 1)) for a in (*bands, *([cls] if cls is not None else []))]
    nt, ny, nx = images[0].shape
    vectors = [per_date(v, nt) for v in (*scales, *offsets)]
    stack = fused_indices(*images, *vectors, program=program, valid=valid, constants=constants, lut=lut,
                          out_of_range=out_of_range)
    npix = ny * nx
    s2 = stack.reshape(nt, npix)
    val = cp.empty((1, npix), cp.float32)
    cnt = cp.empty(npix, cp.uint16)
    if npix and method in ("median", "count", "percentile"):
        grid, block = launch_config(npix)
        get_function("change", "median_composite_kernel")(
            grid, block, (s2, np.int32(1), np.int32(nt), np.int64(npix), val, cnt))
    elif npix:
        index = cp.empty(npix, cp.uint16)
        grid, block = launch_config(npix)
        get_function("change", "max_composite_kernel")(
            grid, block, (s2, s2, np.int32(1), np.int32(nt), np.int64(npix), val, cnt, index))
    out = val.reshape(ny, nx)
    if method == "count":
        out = cp.full((ny, nx), cp.nan, cp.float32)
    elif method == "percentile":
        out = percentile_of_sorted(cp, cp.sort(s2, axis=0), cnt, float(q) / 100.0).reshape(ny, nx)
    return out, cnt.reshape(ny, nx)
