"""CPU change-detection kernels (NumPy blocks in, NumPy blocks out, Numba inside).

Each operation has a serial chunk function (the per-pixel loop over a range of pixels) and two
drivers: ``prange`` over pixel chunks when called eagerly from the main thread, serial when
called from a Dask worker thread (see :mod:`.ndvi`). Time-series blocks arrive from
``apply_kernel`` with their core dimensions (time, band, variable) last and are laid out as
``(core..., pixels)`` first (:func:`~landpulse.backend.blocks.core_to_front`), the layout the
GPU kernels use too. The per-pixel maths is in :mod:`.change_pixel`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit, prange

from landpulse.backend.blocks import core_to_back, core_to_front
from landpulse.backend.cpu.change_pixel import (
    CLASS_NODATA,
    INDEX_NODATA,
    baseline_stats,
    bfast_monitor_pixel,
    classify_value,
    cva_pixel,
    difference_value,
    mann_kendall_z,
    max_composite_pixel,
    median_composite_pixel,
    theil_sen_slope,
    zscore_value,
)
from landpulse.backend.cpu.threads import run_pixels
from landpulse.backend.ops.change import BFAST_MAX_K, design_matrix, per_date
from landpulse.backend.registry import register

F32_NAN = np.float32(np.nan)


# ---- classify_difference (element-wise) --------------------------------------------------------

@njit(cache=True, nogil=True)
def _classify_chunk(a, b, d, cls, edges, first, offset, start, stop):
    for i in range(start, stop):
        v = difference_value(a[i], b[i], offset)
        d[i] = v
        cls[i] = classify_value(v, edges, first)


@njit(parallel=True, nogil=True, cache=True)
def _classify_parallel(a, b, d, cls, edges, first, offset, nchunk, size):
    for c in prange(nchunk):
        _classify_chunk(a, b, d, cls, edges, first, offset, c * size, min((c + 1) * size, a.shape[0]))


@register("classify_difference", "cpu")
def classify_difference(a: np.ndarray, b: np.ndarray, *, edges: Any, first: int = 1,
                        offset: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """``d = (b - a) - offset`` (float32) and its class ``first + #(edges <= d)`` (uint8, 255 NaN)."""
    shape = np.broadcast_shapes(a.shape, b.shape)
    a1 = np.ascontiguousarray(np.broadcast_to(a, shape), dtype=np.float32).reshape(-1)
    b1 = np.ascontiguousarray(np.broadcast_to(b, shape), dtype=np.float32).reshape(-1)
    d = np.empty(a1.shape, np.float32)
    cls = np.empty(a1.shape, np.uint8)
    e = np.ascontiguousarray(edges, dtype=np.float32)
    run_pixels(_classify_chunk, _classify_parallel, a1.size, a1, b1, d, cls, e, int(first), np.float32(offset))
    return d.reshape(shape), cls.reshape(shape)


# ---- change-vector analysis (core dim: variable) ------------------------------------------------

@njit(cache=True, nogil=True)
def _cva_chunk(pre, post, mag, ang, sec, start, stop):
    for p in range(start, stop):
        m, a, s = cva_pixel(pre, post, p)
        mag[p] = m
        ang[p] = a
        sec[p] = s


@njit(parallel=True, nogil=True, cache=True)
def _cva_parallel(pre, post, mag, ang, sec, nchunk, size):
    for c in prange(nchunk):
        _cva_chunk(pre, post, mag, ang, sec, c * size, min((c + 1) * size, pre.shape[1]))


@register("cva", "cpu")
def cva(pre: np.ndarray, post: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Change vectors of ``(..., variable)`` blocks: magnitude, angle (float32), sector (uint8)."""
    p2, lead = core_to_front(pre.astype(np.float32, copy=False), 1)
    q2, _ = core_to_front(post.astype(np.float32, copy=False), 1)
    npix = p2.shape[1]
    mag = np.empty(npix, np.float32)
    ang = np.empty(npix, np.float32)
    sec = np.empty(npix, np.uint8)
    run_pixels(_cva_chunk, _cva_parallel, npix, p2, q2, mag, ang, sec)
    return mag.reshape(lead), ang.reshape(lead), sec.reshape(lead)


# ---- composites (core dims: band, time) ---------------------------------------------------------

@njit(cache=True, nogil=True)
def _median_chunk(bands, out, count, start, stop):
    buf = np.empty(bands.shape[1], np.float32)
    for p in range(start, stop):
        count[p] = median_composite_pixel(bands, p, out, buf)


@njit(parallel=True, nogil=True, cache=True)
def _median_parallel(bands, out, count, nchunk, size):
    for c in prange(nchunk):
        _median_chunk(bands, out, count, c * size, min((c + 1) * size, bands.shape[2]))


@register("median_composite", "cpu")
def median_composite(bands: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-band median of ``(..., band, time)`` blocks over dates valid in every band.

    Returns ``(..., band)`` float32 medians (NaN where no valid date) and ``(...)`` uint16 counts.
    """
    b3, lead = core_to_front(bands.astype(np.float32, copy=False), 2)
    nband, _, npix = b3.shape
    out = np.empty((nband, npix), np.float32)
    count = np.empty(npix, np.uint16)
    run_pixels(_median_chunk, _median_parallel, npix, b3, out, count)
    return core_to_back(out, lead), count.reshape(lead)


@njit(cache=True, nogil=True)
def _max_chunk(score, bands, out, count, index, start, stop):
    for p in range(start, stop):
        best, n = max_composite_pixel(score, bands, p)
        for b in range(bands.shape[0]):
            out[b, p] = F32_NAN if best < 0 else bands[b, best, p]
        count[p] = n
        index[p] = INDEX_NODATA if best < 0 else best


@njit(parallel=True, nogil=True, cache=True)
def _max_parallel(score, bands, out, count, index, nchunk, size):
    for c in prange(nchunk):
        _max_chunk(score, bands, out, count, index, c * size, min((c + 1) * size, bands.shape[2]))


@register("max_composite", "cpu")
def max_composite(score: np.ndarray, bands: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bands at the date of the largest score: ``(..., time)`` score, ``(..., band, time)`` bands.

    Returns ``(..., band)`` float32 values, ``(...)`` uint16 counts and uint16 date indices
    (65535 where no date is valid).
    """
    s2, lead = core_to_front(score.astype(np.float32, copy=False), 1)
    b3, _ = core_to_front(bands.astype(np.float32, copy=False), 2)
    nband, _, npix = b3.shape
    out = np.empty((nband, npix), np.float32)
    count = np.empty(npix, np.uint16)
    index = np.empty(npix, np.uint16)
    run_pixels(_max_chunk, _max_parallel, npix, s2, b3, out, count, index)
    return core_to_back(out, lead), count.reshape(lead), index.reshape(lead)


# ---- z-score anomaly (core dim: time) -------------------------------------------------------------

@njit(cache=True, nogil=True)
def _zscore_chunk(y, baseline, min_obs, z, count, mean, std, start, stop):
    ntime = y.shape[0]
    buf = np.empty(ntime, np.float32)
    for p in range(start, stop):
        for t in range(ntime):
            buf[t] = y[t, p]
        n, m, s = baseline_stats(buf, baseline, min_obs)
        for t in range(ntime):
            z[t, p] = zscore_value(buf[t], m, s)
        count[p] = n
        mean[p] = np.float32(m)
        std[p] = np.float32(s)


@njit(parallel=True, nogil=True, cache=True)
def _zscore_parallel(y, baseline, min_obs, z, count, mean, std, nchunk, size):
    for c in prange(nchunk):
        _zscore_chunk(y, baseline, min_obs, z, count, mean, std, c * size, min((c + 1) * size, y.shape[1]))


@register("zscore", "cpu")
def zscore(y: np.ndarray, *, baseline: Any, min_obs: int = 2) -> tuple[np.ndarray, ...]:
    """Z-scores of every date against the baseline dates' mean and sample std, per pixel.

    ``y``: ``(..., time)`` values; ``baseline``: uint8 flag per date. Returns ``(..., time)``
    float32 z, ``(...)`` uint16 baseline counts, float32 baseline mean and std.
    """
    y2, lead = core_to_front(y.astype(np.float32, copy=False), 1)
    ntime, npix = y2.shape
    base = per_date("baseline flags", baseline, ntime, np.uint8)
    z = np.empty((ntime, npix), np.float32)
    count = np.empty(npix, np.uint16)
    mean = np.empty(npix, np.float32)
    std = np.empty(npix, np.float32)
    run_pixels(_zscore_chunk, _zscore_parallel, npix, y2, base, int(min_obs), z, count, mean, std)
    return core_to_back(z, lead), count.reshape(lead), mean.reshape(lead), std.reshape(lead)


# ---- Theil-Sen / Mann-Kendall trend (core dim: time) --------------------------------------------

@njit(cache=True, nogil=True)
def _trend_chunk(y, tdays, min_obs, z_crit, per_year, slope, pval, cls, count, start, stop):
    ntime = y.shape[0]
    buf = np.empty(ntime, np.float32)
    pairs = np.empty(max(1, ntime * (ntime - 1) // 2), np.float32)
    for p in range(start, stop):
        for t in range(ntime):
            buf[t] = y[t, p]
        zs, n, s = mann_kendall_z(buf)
        count[p] = n
        if n < min_obs:
            slope[p] = F32_NAN
            pval[p] = F32_NAN
            cls[p] = CLASS_NODATA
            continue
        slope[p] = theil_sen_slope(buf, tdays, pairs) * per_year
        pval[p] = np.float32(math.erfc(abs(zs) / 1.4142135623730951))
        if abs(zs) > z_crit:
            cls[p] = 1 if zs > 0.0 else 2
        else:
            cls[p] = 0


@njit(parallel=True, nogil=True, cache=True)
def _trend_parallel(y, tdays, min_obs, z_crit, per_year, slope, pval, cls, count, nchunk, size):
    for c in prange(nchunk):
        _trend_chunk(y, tdays, min_obs, z_crit, per_year, slope, pval, cls, count, c * size,
                     min((c + 1) * size, y.shape[1]))


@register("trend", "cpu")
def trend(y: np.ndarray, *, tdays: Any, min_obs: int = 3, z_crit: float = 1.959963984540054,
          per_year: float = 365.25) -> tuple[np.ndarray, ...]:
    """Theil-Sen slope (per year) and Mann-Kendall test of ``(..., time)`` series.

    ``tdays``: float32 days of each date since the first. Returns float32 slope, float32 two-sided
    p-value, uint8 class (0 none, 1 significant increase, 2 significant decrease, 255 nodata) and
    uint16 count of valid dates.
    """
    y2, lead = core_to_front(y.astype(np.float32, copy=False), 1)
    ntime, npix = y2.shape
    td = per_date("tdays", tdays, ntime, np.float32)
    slope = np.empty(npix, np.float32)
    pval = np.empty(npix, np.float32)
    cls = np.empty(npix, np.uint8)
    count = np.empty(npix, np.uint16)
    args = (y2, td, int(min_obs), float(z_crit), np.float32(per_year), slope, pval, cls, count)
    run_pixels(_trend_chunk, _trend_parallel, npix, *args)
    return tuple(a.reshape(lead) for a in (slope, pval, cls, count))


# ---- BFAST-Monitor (core dim: time) ----------------------------------------------------------------

@njit(cache=True, nogil=True)
def _bfast_chunk(y, X, k, tyear, logtab, hist0, mon0, roc, hfrac, lam, lam_roc,
                 flag, bdate, mag, hstart, nhist, nmon, start, stop):
    ntime = y.shape[0]
    buf = np.empty(ntime, np.float32)
    work = np.zeros((5, BFAST_MAX_K * (BFAST_MAX_K + 1) // 2), np.float64)
    stats = np.zeros(3, np.float64)
    resid = np.empty(max(1, ntime), np.float64)
    for p in range(start, stop):
        for t in range(ntime):
            buf[t] = y[t, p]
        f, b, m, h, n, nm = bfast_monitor_pixel(buf, X, k, tyear, logtab, hist0, mon0, roc, hfrac, lam,
                                                lam_roc, work, stats, resid)
        flag[p] = f
        bdate[p] = b
        mag[p] = m
        hstart[p] = h
        nhist[p] = n
        nmon[p] = nm


@njit(parallel=True, nogil=True, cache=True)
def _bfast_parallel(y, X, k, tyear, logtab, hist0, mon0, roc, hfrac, lam, lam_roc,
                    flag, bdate, mag, hstart, nhist, nmon, nchunk, size):
    for c in prange(nchunk):
        _bfast_chunk(y, X, k, tyear, logtab, hist0, mon0, roc, hfrac, lam, lam_roc, flag, bdate, mag, hstart,
                     nhist, nmon, c * size, min((c + 1) * size, y.shape[1]))


@register("bfast_monitor", "cpu")
def bfast_monitor(y: np.ndarray, *, design: Any, tyear: Any, logtab: Any, hist0: int, mon0: int, roc: bool,
                  hfrac: float, lam: float, lam_roc: float) -> tuple[np.ndarray, ...]:
    """BFAST-Monitor of ``(..., time)`` series (see :func:`landpulse.products.change.bfast_monitor`).

    ``design``: ``(time, k)`` float64 regressors; ``tyear``: decimal years; ``logtab[m] = log(m)``.
    Returns uint8 flag, float32 break date, float32 magnitude, float32 history start, uint16
    history and monitoring counts.
    """
    y2, lead = core_to_front(y.astype(np.float32, copy=False), 1)
    ntime, npix = y2.shape
    X, k = design_matrix(design, ntime)
    ty = np.ascontiguousarray(tyear, dtype=np.float64)
    lt = np.ascontiguousarray(logtab, dtype=np.float64)
    outs = (np.empty(npix, np.uint8), np.empty(npix, np.float32), np.empty(npix, np.float32),
            np.empty(npix, np.float32), np.empty(npix, np.uint16), np.empty(npix, np.uint16))
    args = (y2, X, k, ty, lt, int(hist0), int(mon0), int(bool(roc)), float(hfrac), float(lam), float(lam_roc), *outs)
    run_pixels(_bfast_chunk, _bfast_parallel, npix, *args)
    return tuple(a.reshape(lead) for a in outs)
