"""GPU change-detection kernels: the CUDA twins of :mod:`landpulse.backend.cpu.change`.

Same signatures as the CPU entries; CuPy blocks in, CuPy blocks out, ``kernels/change.cu``
inside (one thread per pixel, the whole block's pixels in parallel). Small per-date parameters
(design matrix, dates, flags) are copied to the device once per block.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from landpulse.backend.blocks import core_to_back, core_to_front
from landpulse.backend.device import cupy_module
from landpulse.backend.gpu.cuda import get_function, launch_config
from landpulse.backend.ops.change import design_matrix, per_date
from landpulse.backend.registry import register


def _f32(cp: Any, a: Any) -> Any:
    return a.astype(cp.float32, copy=False)


@register("classify_difference", "gpu")
def classify_difference(a: Any, b: Any, *, edges: Any, first: int = 1, offset: float = 0.0) -> tuple[Any, Any]:
    """See the CPU twin: float32 difference and uint8 class (255 where NaN)."""
    cp = cupy_module()
    shape = np.broadcast_shapes(a.shape, b.shape)
    a1 = cp.ascontiguousarray(cp.broadcast_to(_f32(cp, a), shape)).reshape(-1)
    b1 = cp.ascontiguousarray(cp.broadcast_to(_f32(cp, b), shape)).reshape(-1)
    d = cp.empty(a1.shape, cp.float32)
    cls = cp.empty(a1.shape, cp.uint8)
    e = cp.asarray(np.ascontiguousarray(edges, dtype=np.float32))
    n = a1.size
    if n:
        grid, block = launch_config(n)
        get_function("change", "classify_difference_kernel")(
            grid, block, (a1, b1, d, cls, np.int64(n), e, np.int32(e.size), np.int32(first), np.float32(offset)))
    return d.reshape(shape), cls.reshape(shape)


@register("cva", "gpu")
def cva(pre: Any, post: Any) -> tuple[Any, Any, Any]:
    """See the CPU twin."""
    cp = cupy_module()
    p2, lead = core_to_front(_f32(cp, pre), 1, cp)
    q2, _ = core_to_front(_f32(cp, post), 1, cp)
    nvar, npix = p2.shape
    mag = cp.empty(npix, cp.float32)
    ang = cp.empty(npix, cp.float32)
    sec = cp.empty(npix, cp.uint8)
    if npix:
        grid, block = launch_config(npix)
        get_function("change", "cva_kernel")(grid, block, (p2, q2, np.int64(npix), np.int32(nvar), mag, ang, sec))
    return mag.reshape(lead), ang.reshape(lead), sec.reshape(lead)


@register("median_composite", "gpu")
def median_composite(bands: Any) -> tuple[Any, Any]:
    """See the CPU twin."""
    cp = cupy_module()
    b3, lead = core_to_front(_f32(cp, bands), 2, cp)
    nband, ntime, npix = b3.shape
    out = cp.empty((nband, npix), cp.float32)
    count = cp.empty(npix, cp.uint16)
    if npix:
        grid, block = launch_config(npix)
        get_function("change", "median_composite_kernel")(
            grid, block, (b3, np.int32(nband), np.int32(ntime), np.int64(npix), out, count))
    return core_to_back(out, lead), count.reshape(lead)


@register("max_composite", "gpu")
def max_composite(score: Any, bands: Any) -> tuple[Any, Any, Any]:
    """See the CPU twin."""
    cp = cupy_module()
    s2, lead = core_to_front(_f32(cp, score), 1, cp)
    b3, _ = core_to_front(_f32(cp, bands), 2, cp)
    nband, ntime, npix = b3.shape
    out = cp.empty((nband, npix), cp.float32)
    count = cp.empty(npix, cp.uint16)
    index = cp.empty(npix, cp.uint16)
    if npix:
        grid, block = launch_config(npix)
        get_function("change", "max_composite_kernel")(
            grid, block, (s2, b3, np.int32(nband), np.int32(ntime), np.int64(npix), out, count, index))
    return core_to_back(out, lead), count.reshape(lead), index.reshape(lead)


@register("zscore", "gpu")
def zscore(y: Any, *, baseline: Any, min_obs: int = 2) -> tuple[Any, ...]:
    """See the CPU twin."""
    cp = cupy_module()
    y2, lead = core_to_front(_f32(cp, y), 1, cp)
    ntime, npix = y2.shape
    base = cp.asarray(per_date("baseline flags", baseline, ntime, np.uint8))
    z = cp.empty((ntime, npix), cp.float32)
    count = cp.empty(npix, cp.uint16)
    mean = cp.empty(npix, cp.float32)
    std = cp.empty(npix, cp.float32)
    if npix:
        grid, block = launch_config(npix)
        get_function("change", "zscore_kernel")(
            grid, block, (y2, np.int32(ntime), np.int64(npix), base, np.int32(min_obs), z, count, mean, std))
    return core_to_back(z, lead), count.reshape(lead), mean.reshape(lead), std.reshape(lead)


@register("trend", "gpu")
def trend(y: Any, *, tdays: Any, min_obs: int = 3, z_crit: float = 1.959963984540054,
          per_year: float = 365.25) -> tuple[Any, ...]:
    """See the CPU twin."""
    cp = cupy_module()
    y2, lead = core_to_front(_f32(cp, y), 1, cp)
    ntime, npix = y2.shape
    td = cp.asarray(per_date("tdays", tdays, ntime, np.float32))
    outs = (cp.empty(npix, cp.float32), cp.empty(npix, cp.float32), cp.empty(npix, cp.uint8),
            cp.empty(npix, cp.uint16))
    if npix:
        grid, block = launch_config(npix)
        get_function("change", "trend_kernel")(
            grid, block, (y2, np.int32(ntime), np.int64(npix), td, np.int32(min_obs), np.float64(z_crit),
                          np.float32(per_year), *outs))
    return tuple(a.reshape(lead) for a in outs)


@register("bfast_monitor", "gpu")
def bfast_monitor(y: Any, *, design: Any, tyear: Any, logtab: Any, hist0: int, mon0: int, roc: bool,
                  hfrac: float, lam: float, lam_roc: float) -> tuple[Any, ...]:
    """See the CPU twin."""
    cp = cupy_module()
    y2, lead = core_to_front(_f32(cp, y), 1, cp)
    ntime, npix = y2.shape
    X, k = design_matrix(design, ntime)
    Xd = cp.asarray(X)
    ty = cp.asarray(np.ascontiguousarray(tyear, dtype=np.float64))
    lt = cp.asarray(np.ascontiguousarray(logtab, dtype=np.float64))
    outs = (cp.empty(npix, cp.uint8), cp.empty(npix, cp.float32), cp.empty(npix, cp.float32),
            cp.empty(npix, cp.float32), cp.empty(npix, cp.uint16), cp.empty(npix, cp.uint16))
    if npix:
        grid, block = launch_config(npix, threads=128)
        get_function("change", "bfast_monitor_kernel")(
            grid, block, (y2, np.int32(ntime), np.int64(npix), Xd, np.int32(k), ty, lt, np.int32(hist0),
                          np.int32(mon0), np.int32(1 if roc else 0), np.float64(hfrac), np.float64(lam),
                          np.float64(lam_roc), *outs))
    return tuple(a.reshape(lead) for a in outs)
