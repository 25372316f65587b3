"""Per-pixel reductions over a window's dates on the CPU (Numba): the maths of the fused window kernel.

The generated window kernels (:mod:`landpulse.backend.window_codegen`) write the index of every
date of a strip of pixels into a ``(time, pixels)`` float32 buffer (``+inf`` where an observation
is masked or invalid) and count the valid ones per pixel. Medians and percentiles then sort the
strip's columns all at once with a sorting network (:func:`sort_strip`: compare-exchanges of whole
rows, vectorised over the pixels) and read the order statistics (:func:`pick_sorted`); the other
methods, and windows longer than ``NETWORK_MAX_DATES``, call :func:`reduce_pixel` per pixel. It
gathers the pixel's valid values in date order into a scratch buffer of at most ``time`` values
and reduces them:

* median: :func:`~landpulse.backend.cpu.change_pixel.median_f32` (quickselect, O(n); even counts:
  the mean of the two middle values in float32, as :func:`numpy.nanmedian`), the value
  :func:`landpulse.change.composite` gives;
* max: the largest value, the first date's on ties (the max-score composite of a DataArray);
* percentile: ``numpy.nanpercentile``'s ``linear`` method: virtual index ``h = q (n - 1)`` in
  float64, the two neighbours by quickselect, interpolated in float32 as NumPy does for a float32
  array and a Python-float ``q`` (``a + (b - a) g``, or ``b - (b - a)(1 - g)`` for ``g >= 0.5``);
* count: only the number of valid observations.

Both routes give the same values bit for bit (the same order statistics, zeros as +0, the same
float32 interpolation); ``tests/backend/test_window_kernel.py`` checks them against NumPy.
Never ``fastmath``: the NaN tests would be dropped.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.extending import intrinsic

from landpulse.backend.cpu.change_pixel import median_f32, min_after, missing, select_kth

F32_NAN = np.float32(np.nan)
F32_HALF = np.float32(0.5)

#: Reduction codes of the window kernels (``landpulse.backend.ops.window.METHODS``).
MEDIAN = 0
MAX = 1
PERCENTILE = 2
COUNT = 3

#: Longest window sorted by the network (median, percentile); longer ones use quickselect per pixel.
#: At 512 dates the network has 9,727 compare-exchanges, 2.4 per value per 8-lane vector of
#: pixels (not measured against quickselect at that length).
NETWORK_MAX_DATES = 512

#: Bytes of the per-thread ``(time, pixels)`` strip buffer: it stays in the L2 cache while the
#: network passes over it once per compare-exchange. Wider strips read longer runs of each date's
#: row (the block is ``(time, y, x)``: one strip reads ``time`` separate runs, and runs of under
#: ~512 bytes defeat the prefetcher): on a 512 x 1024 block, 73 dates, 2 threads, strips of 32, 112
#: and 256 pixels took 0.15, 0.077 and 0.071 s (AMD EPYC guest, 2026-12-03).
STRIP_BYTES = 96 * 1024


def strip_width(nt: int) -> int:
    """Pixels per strip for a window of ``nt`` dates: a multiple of 16 in [64, 512]."""
    return max(64, min(512, STRIP_BYTES // (4 * max(nt, 1)) // 16 * 16))


@intrinsic
def date_pointer(typingctx, address, like):
    """The integer ``address`` of one date's ``(y, x)`` array as a pointer to elements of array
    ``like``'s type, for ``numba.carray(date_pointer(a, like), (ny, nx))``.

    The window kernels take each image as one address per date (the dates' blocks stay where
    they were read, each its own allocation; no stack is joined and no typed list built, whose
    methods Numba compiles again in every process: about 1 s). The caller checks every array
    (dtype, shape, C order) and keeps it alive during the call:
    :func:`landpulse.backend.cpu.window.date_addresses`.
    """
    if not isinstance(address, types.Integer) or not isinstance(like, types.Array):
        return None
    pointer = types.CPointer(like.dtype)

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(pointer))

    return pointer(address, like), codegen


@njit(cache=True, nogil=True)
def class_clear_bit(q, bits):
    """True where classification value ``q`` (an integer of at most 16 bits) is a clear class, by
    bit ``q`` of the uint32 ``bits`` (every clear class below 32): a shift, which vectorises,
    where a table lookup does not. Values outside [0, 32) are not clear."""
    qi = np.uint32(q)  # negative values wrap to >= 32: not a class
    return (qi < np.uint32(32)) & (((bits >> (qi & np.uint32(31))) & np.uint32(1)) != np.uint32(0))


@njit(cache=True, nogil=True)
def sort_strip(buf, net, w):
    """Sort columns ``0..w-1`` of the ``(time, pixels)`` buffer in place along time with the
    compare-exchanges ``net`` (:func:`landpulse.backend.sorting_network.sorting_network`); no NaN
    (missing values are ``+inf``, sorted last)."""
    for k in range(net.shape[0]):
        i = net[k, 0]
        j = net[k, 1]
        for x in range(w):
            a = buf[i, x]
            b = buf[j, x]
            buf[i, x] = a if a < b else b
            buf[j, x] = b if a < b else a


@njit(cache=True, nogil=True)
def _plus_zero(v):
    return v - v if v == 0 else v


@njit(cache=True, nogil=True)
def pick_sorted(buf, x, n, method, qfrac):
    """The median or percentile of column ``x`` of a buffer sorted by :func:`sort_strip`, whose
    first ``n`` values are the valid ones: the values :func:`reduce_pixel` gives. NaN for n == 0."""
    if n == 0:
        return F32_NAN
    if method == MEDIAN:
        k = (n - 1) // 2
        lo = _plus_zero(buf[k, x])
        if n % 2 == 1:
            return lo
        return (lo + _plus_zero(buf[k + 1, x])) * F32_HALF
    h = qfrac * (n - 1)
    k = int(math.floor(h))
    if k >= n - 1:
        return _plus_zero(buf[n - 1, x])
    g = h - k
    a = _plus_zero(buf[k, x])
    b = _plus_zero(buf[k + 1, x])
    d = b - a
    if g >= 0.5:
        return b - d * np.float32(1.0 - g)
    return a + d * np.float32(g)


@njit(cache=True, nogil=True)
def percentile_linear(work, n, qfrac):
    """``qfrac``-quantile (``qfrac`` in [0, 1]) of ``work[:n]`` (no NaN, n >= 1), NumPy's linear method."""
    h = qfrac * (n - 1)
    lo = int(math.floor(h))
    if lo >= n - 1:
        return select_kth(work, n, n - 1)
    g = h - lo
    a = select_kth(work, n, lo)
    b = min_after(work, n, lo)
    d = b - a
    if g >= 0.5:
        return b - d * np.float32(1.0 - g)
    return a + d * np.float32(g)


@njit(cache=True, nogil=True)
def reduce_pixel(buf, x, nt, work, method, qfrac):
    """Reduce column ``x`` of the ``(time, x)`` buffer: ``(float32 value, valid count)``.

    The value is NaN where no date is valid (and always for ``COUNT``).
    """
    n = 0
    for t in range(nt):
        v = buf[t, x]
        if not missing(v):
            work[n] = v
            n += 1
    if n == 0 or method == COUNT:
        return F32_NAN, n
    if method == MEDIAN:
        return median_f32(work, n), n
    if method == MAX:
        best = work[0]
        for i in range(1, n):
            if work[i] > best:
                best = work[i]
        return best, n
    return percentile_linear(work, n, qfrac), n
