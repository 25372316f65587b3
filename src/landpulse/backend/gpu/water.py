"""GPU water kernels: the CUDA twins of :mod:`landpulse.backend.cpu.water`.

Same signatures as the CPU entries; CuPy blocks in, CuPy blocks out, ``kernels/water.cu`` inside
(one thread per pixel). Small per-slice parameters (thresholds, scales, validity, lookup tables)
are formed on the host exactly as on the CPU and copied to the device once per block.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from landpulse.backend.blocks import as_stack, core_to_front, per_slice
from landpulse.backend.device import cupy_module
from landpulse.backend.gpu.cuda import CUDA_TYPE_NAMES, MASK_TYPE_NAMES, get_function, launch_config
from landpulse.backend.ops.water import threshold_inputs, wofs_host_arrays, wofs_inputs
from landpulse.backend.registry import register


@register("water_threshold", "gpu", splittable=True)
def water_threshold(index: Any, *rest: Any, has_mask: bool = False) -> Any:
    """See the CPU twin."""
    cp = cupy_module()
    codes, threshold = threshold_inputs(index, rest, has_mask)
    idx3, lead = as_stack(cp.ascontiguousarray(index, dtype=cp.float32))
    thr = cp.asarray(per_slice(threshold, lead, np.float32))
    codes3 = as_stack(cp.ascontiguousarray(codes, dtype=cp.uint8))[0] if codes is not None else cp.zeros(1, cp.uint8)
    out = cp.empty(idx3.shape, cp.uint8)
    n = out.size
    if n:
        grid, block = launch_config(n)
        pps = idx3.shape[1] * idx3.shape[2]
        get_function("water", "water_threshold_kernel")(
            grid, block, (idx3, codes3, np.int32(has_mask), thr, np.int64(pps), np.int64(n), out))
    return out.reshape(index.shape)


@register("wofs", "gpu", splittable=True)
def wofs(*arrays: Any, valid: Any, lut: np.ndarray | None = None, has_class: bool = False) -> tuple[Any, Any]:
    """See the CPU twin. Bands of mixed or other dtypes are cast to float32 (exact for 16-bit DNs)."""
    cp = cupy_module()
    bands, q, scales, offsets = wofs_inputs(arrays, has_class, lut)
    shape = bands[0].shape
    dtypes = {b.dtype.name for b in bands}
    common = dtypes.pop() if len(dtypes) == 1 else "float32"
    if common not in CUDA_TYPE_NAMES:
        common = "float32"
    stacks = [as_stack(cp.ascontiguousarray(b, dtype=common))[0] for b in bands]
    lead = as_stack(bands[0])[1]
    ns = stacks[0].shape[0]
    sc, of, va = wofs_host_arrays(scales, offsets, valid, lead, [st.dtype for st in stacks])
    if has_class:
        qtype = q.dtype.name if q.dtype.name in MASK_TYPE_NAMES else "float32"
        q3 = as_stack(cp.ascontiguousarray(q, dtype=qtype))[0]
        lut_d = cp.asarray(np.ascontiguousarray(lut, np.uint8))
    else:
        qtype, q3, lut_d = "uint8", cp.zeros(1, cp.uint8), cp.zeros(1, cp.uint8)
    flags = cp.empty(stacks[0].shape, cp.uint8)
    water = cp.empty(stacks[0].shape, cp.uint8)
    n = flags.size
    if n:
        kernel = get_function("water", f"wofs_kernel<{CUDA_TYPE_NAMES[common]}, {MASK_TYPE_NAMES[qtype]}>")
        grid, block = launch_config(n)
        pps = stacks[0].shape[1] * stacks[0].shape[2]
        kernel(grid, block, (*stacks, q3, np.int32(has_class), lut_d, np.int64(lut_d.shape[0]),
                             cp.asarray(sc), cp.asarray(of), cp.asarray(va), np.int64(ns), np.int64(pps), np.int64(n),
                             flags, water))
    return flags.reshape(shape), water.reshape(shape)


@register("water_summary", "gpu")
def water_summary(cls: Any, *, wet: int = 1, dry: int = 0, min_clear: int = 1, seasonal: float = 0.1,
                  permanent: float = 0.9) -> tuple[Any, Any, Any, Any]:
    """See the CPU twin."""
    cp = cupy_module()
    c2, lead = core_to_front(cls.astype(cp.uint8, copy=False), 1, cp)
    ntime, npix = c2.shape
    if ntime > 65535:
        raise ValueError(f"at most 65535 dates per summary (uint16 counts); got {ntime}")
    nw = cp.empty(npix, cp.uint16)
    nc = cp.empty(npix, cp.uint16)
    freq = cp.empty(npix, cp.float32)
    out = cp.empty(npix, cp.uint8)
    if npix:
        grid, block = launch_config(npix)
        get_function("water", "water_summary_kernel")(
            grid, block, (c2, np.int32(ntime), np.int64(npix), np.uint8(wet), np.uint8(dry), np.int32(min_clear),
                          np.float32(seasonal), np.float32(permanent), nw, nc, freq, out))
    return nw.reshape(lead), nc.reshape(lead), freq.reshape(lead), out.reshape(lead)


@register("water_change", "gpu", splittable=True)
def water_change(fa: Any, ca: Any, fb: Any, cb: Any, *, min_clear: int = 1, threshold: float = 0.5) -> Any:
    """See the CPU twin."""
    cp = cupy_module()
    shape = np.broadcast_shapes(fa.shape, ca.shape, fb.shape, cb.shape)

    def flat(a: Any, dt: Any) -> Any:
        return cp.ascontiguousarray(cp.broadcast_to(cp.asarray(a, dtype=dt), shape)).reshape(-1)

    a, b = flat(fa, cp.float32), flat(fb, cp.float32)
    na, nb = flat(ca, cp.uint16), flat(cb, cp.uint16)
    out = cp.empty(a.shape, cp.uint8)
    n = a.size
    if n:
        grid, block = launch_config(n)
        get_function("water", "water_change_kernel")(
            grid, block, (a, na, b, nb, np.int64(n), np.int32(min_clear), np.float32(threshold), out))
    return out.reshape(shape)


@register("slice_histogram", "gpu")
def slice_histogram(block: Any, *, lo: float, hi: float, bins: int) -> Any:
    """See the CPU twin: the same float64 binning with CuPy array operations, counts on the device."""
    cp = cupy_module()
    ns = block.shape[0]
    v = block.reshape(ns, -1).astype(cp.float64)
    ok = (v >= lo) & (v <= hi)  # False for NaN
    idx = cp.floor((v - lo) * (float(bins) / (float(hi) - float(lo))))
    idx = cp.minimum(cp.where(ok, idx, 0.0), bins - 1).astype(cp.int64)
    idx += (cp.arange(ns, dtype=cp.int64) * bins)[:, None]
    return cp.bincount(idx[ok], minlength=ns * bins).reshape(ns, bins)
