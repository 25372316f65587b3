"""CPU water kernels (NumPy blocks in, NumPy blocks out, Numba inside).

Four operations, each with a ``prange`` driver for eager calls and a serial one for Dask worker
threads (see :mod:`.ndvi`); the per-pixel maths is in :mod:`.water_pixel` (the twin of
``kernels/water.cuh``):

``water_threshold``
    index value (float32) + optional mask codes -> water class (uint8), threshold per slice.
``wofs``
    six raw bands + optional classification band -> WOfS flags and water class (uint8), one pass.
``water_summary``
    ``(..., time)`` class series -> wet count, clear count (uint16), frequency (float32), summary
    class (uint8).
``water_change``
    two periods' frequencies and clear counts -> change class (uint8).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, prange

from landpulse.backend.blocks import as_stack, core_to_front, per_slice
from landpulse.backend.cpu.pixel import lut_bits
from landpulse.backend.cpu.threads import in_worker_thread, run_pixels
from landpulse.backend.cpu.water_pixel import (
    WOFS_NODATA,
    summary_class,
    water_change_class,
    water_counts,
    water_frequency,
    water_from_index,
    water_from_wofs,
    wofs_flags,
)
from landpulse.backend.ops.water import threshold_inputs, wofs_host_arrays, wofs_inputs
from landpulse.backend.registry import register

# ---- index thresholds (pixel-wise) ------------------------------------------------------------

@njit(cache=True, nogil=True)
def _threshold_rows(index, codes, has_mask, thr, out, k0, k1):
    ny, nx = index.shape[1], index.shape[2]
    for k in range(k0, k1):
        t = k // ny
        y = k - t * ny
        th = thr[t]
        for x in range(nx):
            code = codes[t, y, x] if has_mask else np.uint8(0)
            out[t, y, x] = water_from_index(index[t, y, x], code, th)


@njit(parallel=True, nogil=True, cache=True)
def _threshold_parallel(index, codes, has_mask, thr, out):
    nrows = index.shape[0] * index.shape[1]
    for k in prange(nrows):
        _threshold_rows(index, codes, has_mask, thr, out, k, k + 1)


@register("water_threshold", "cpu", splittable=True)
def water_threshold(index: np.ndarray, *rest: Any, has_mask: bool = False) -> np.ndarray:
    """Water classes of index values: ``(index, [codes], threshold)`` -> uint8 ``(..., y, x)``.

    Parameters
    ----------
    index : numpy.ndarray
        Index values (float32; NaN where invalid), ``(..., y, x)``.
    *rest
        The mask codes (uint8, 0 clear, 1 masked, 2 buffer, 3 nodata) when ``has_mask``, then the
        threshold: a scalar or one value per leading slice (date).
    has_mask : bool

    Returns
    -------
    numpy.ndarray
        uint8: 0 not water, 1 water (value >= threshold), 2 cloud or shadow, 255 nodata.
    """
    codes, threshold = threshold_inputs(index, rest, has_mask)
    idx3, lead = as_stack(np.ascontiguousarray(index, dtype=np.float32))
    thr = per_slice(threshold, lead, np.float32)
    if codes is not None:
        codes3 = as_stack(np.ascontiguousarray(codes, dtype=np.uint8))[0]
    else:
        codes3 = np.zeros((1, 1, 1), np.uint8)
    out = np.empty(idx3.shape, np.uint8)
    if out.size:
        if in_worker_thread():
            _threshold_rows(idx3, codes3, has_mask, thr, out, 0, idx3.shape[0] * idx3.shape[1])
        else:
            _threshold_parallel(idx3, codes3, has_mask, thr, out)
    return out.reshape(index.shape)


# ---- WOfS (pixel-wise, six bands and an optional classification band) ---------------------------

@njit(cache=True, nogil=True)
def _wofs_rows(b1, b2, b3, b4, b5, b7, q, has_q, lut, nlut, sc, of, va, flags, water, k0, k1):
    ny, nx = b1.shape[1], b1.shape[2]
    for k in range(k0, k1):
        t = k // ny
        y = k - t * ny
        for x in range(nx):
            bits = lut_bits(q[t, y, x], lut, nlut, WOFS_NODATA) if has_q else np.uint8(0)
            f = wofs_flags(b1[t, y, x], b2[t, y, x], b3[t, y, x], b4[t, y, x], b5[t, y, x], b7[t, y, x],
                           sc, of, va, t, bits)
            flags[t, y, x] = f
            water[t, y, x] = water_from_wofs(f)


@njit(parallel=True, nogil=True, cache=True)
def _wofs_parallel(b1, b2, b3, b4, b5, b7, q, has_q, lut, nlut, sc, of, va, flags, water):
    nrows = b1.shape[0] * b1.shape[1]
    for k in prange(nrows):
        _wofs_rows(b1, b2, b3, b4, b5, b7, q, has_q, lut, nlut, sc, of, va, flags, water, k, k + 1)


@register("wofs", "cpu", splittable=True)
def wofs(*arrays: Any, valid: Any, lut: np.ndarray | None = None, has_class: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """WOfS flags and water classes of raw blocks ``(..., y, x)`` in one pass.

    Parameters
    ----------
    *arrays : numpy.ndarray
        Raw blue, green, red, nir, swir16, swir22 blocks (any numeric dtype), then the
        classification block when ``has_class``, then six scales and six offsets (scalars or per
        slice; reflectance = DN * scale + offset).
    valid : sequence of six (nodata, lo, hi)
        Raw validity per band.
    lut : numpy.ndarray of uint8, optional
        WOfS flag bits per classification value (required when ``has_class``).
    has_class : bool

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        uint8 WOfS flags and uint8 water classes (0 dry, 1 wet, 2 cloud or shadow, 255 nodata).
    """
    bands, q, scales, offsets = wofs_inputs(arrays, has_class, lut)
    shape = bands[0].shape
    stacks = [as_stack(np.ascontiguousarray(b))[0] for b in bands]
    lead = as_stack(bands[0])[1]
    sc, of, va = wofs_host_arrays(scales, offsets, valid, lead, [b.dtype for b in stacks])
    if has_class:
        q3 = as_stack(np.ascontiguousarray(q))[0]
        lut_a = np.ascontiguousarray(lut, dtype=np.uint8)
    else:
        q3 = np.zeros((1, 1, 1), np.uint8)
        lut_a = np.zeros(1, np.uint8)
    flags = np.empty(stacks[0].shape, np.uint8)
    water = np.empty(stacks[0].shape, np.uint8)
    args = (*stacks, q3, has_class, lut_a, np.int64(lut_a.shape[0]), sc, of, va, flags, water)
    if flags.size:
        if in_worker_thread():
            # args holds 15 values (6 band stacks); mypy cannot count the unpacked list of stacks
            _wofs_rows(*args, 0, flags.shape[0] * flags.shape[1])  # type: ignore[call-arg]
        else:
            _wofs_parallel(*args)
    return flags.reshape(shape), water.reshape(shape)


# ---- summaries over time (core dim: time) ---------------------------------------------------------

@njit(cache=True, nogil=True)
def _summary_chunk(cls, wet, dry, min_clear, seasonal, permanent, nw, nc, freq, out, start, stop):
    for p in range(start, stop):
        w, c = water_counts(cls, p, wet, dry)
        f = water_frequency(w, c)
        nw[p] = w
        nc[p] = c
        freq[p] = f
        out[p] = summary_class(f, c, min_clear, seasonal, permanent)


@njit(parallel=True, nogil=True, cache=True)
def _summary_parallel(cls, wet, dry, min_clear, seasonal, permanent, nw, nc, freq, out, nchunk, size):
    for c in prange(nchunk):
        _summary_chunk(cls, wet, dry, min_clear, seasonal, permanent, nw, nc, freq, out,
                       c * size, min((c + 1) * size, cls.shape[1]))


@register("water_summary", "cpu")
def water_summary(cls: np.ndarray, *, wet: int = 1, dry: int = 0, min_clear: int = 1, seasonal: float = 0.1,
                  permanent: float = 0.9) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Water-observation summaries of ``(..., time)`` class series.

    An observation is clear when its code is ``wet`` or ``dry`` (every other code: masked or
    nodata, never counted) and wet when it is ``wet``.

    Returns
    -------
    tuple
        ``(...)`` uint16 wet counts, uint16 clear counts, float32 frequency (NaN where no clear
        observation) and uint8 summary class (0 never, 1 seasonal, 2 permanent, 255 below
        ``min_clear`` clear observations).
    """
    c2, lead = core_to_front(np.asarray(cls).astype(np.uint8, copy=False), 1)
    ntime, npix = c2.shape
    if ntime > 65535:
        raise ValueError(f"at most 65535 dates per summary (uint16 counts); got {ntime}")
    nw = np.empty(npix, np.uint16)
    nc = np.empty(npix, np.uint16)
    freq = np.empty(npix, np.float32)
    out = np.empty(npix, np.uint8)
    args = (c2, np.uint8(wet), np.uint8(dry), int(min_clear), np.float32(seasonal), np.float32(permanent), nw, nc, freq, out)
    run_pixels(_summary_chunk, _summary_parallel, npix, *args)
    return nw.reshape(lead), nc.reshape(lead), freq.reshape(lead), out.reshape(lead)


# ---- change between two periods (pixel-wise) ------------------------------------------------------

@njit(cache=True, nogil=True)
def _change_chunk(fa, ca, fb, cb, min_clear, thr, out, start, stop):
    for i in range(start, stop):
        out[i] = water_change_class(fa[i], np.int64(ca[i]), fb[i], np.int64(cb[i]), min_clear, thr)


@njit(parallel=True, nogil=True, cache=True)
def _change_parallel(fa, ca, fb, cb, min_clear, thr, out, nchunk, size):
    for c in prange(nchunk):
        _change_chunk(fa, ca, fb, cb, min_clear, thr, out, c * size, min((c + 1) * size, fa.shape[0]))


@register("water_change", "cpu", splittable=True)
def water_change(fa: np.ndarray, ca: np.ndarray, fb: np.ndarray, cb: np.ndarray, *, min_clear: int = 1,
                 threshold: float = 0.5) -> np.ndarray:
    """Change class from two periods' frequencies (float32) and clear counts (uint16).

    Returns uint8: 0 stable not water, 1 stable water, 2 new water, 3 lost water, 255 nodata.
    """
    shape = np.broadcast_shapes(fa.shape, ca.shape, fb.shape, cb.shape)

    def flat(a: np.ndarray, dt: Any) -> np.ndarray:
        return np.ascontiguousarray(np.broadcast_to(a, shape), dtype=dt).reshape(-1)

    a, b = flat(fa, np.float32), flat(fb, np.float32)
    na, nb = flat(ca, np.uint16), flat(cb, np.uint16)
    out = np.empty(a.shape, np.uint8)
    run_pixels(_change_chunk, _change_parallel, a.size, a, na, b, nb, int(min_clear), np.float32(threshold), out)
    return out.reshape(shape)


# ---- per-slice histograms (global reductions for Otsu) ------------------------------------------

@njit(cache=True, nogil=True)
def _histogram_rows(v, lo, hi, scale, bins, counts, s0, s1):
    for s in range(s0, s1):
        for i in range(v.shape[1]):
            x = np.float64(v[s, i])
            if x >= lo and x <= hi:  # False for NaN
                k = np.int64(np.floor((x - lo) * scale))
                if k > bins - 1:
                    k = bins - 1
                counts[s, k] += 1


@register("slice_histogram", "cpu")
def slice_histogram(block: np.ndarray, *, lo: float, hi: float, bins: int) -> np.ndarray:
    """Counts ``(slices, bins)`` int64 of each leading slice of a ``(slices, ...)`` block.

    Bin ``floor((v - lo) * (bins / (hi - lo)))`` in float64, the top edge in the last bin; NaN and
    values outside ``[lo, hi]`` are not counted. One pass, no temporaries (the GPU twin uses CuPy
    array operations with the same float64 arithmetic, so both count alike).
    """
    ns = block.shape[0]
    v = np.ascontiguousarray(block).reshape(ns, -1)
    counts = np.zeros((ns, int(bins)), np.int64)
    _histogram_rows(v, float(lo), float(hi), float(bins) / (float(hi) - float(lo)), int(bins), counts, 0, ns)
    return counts
