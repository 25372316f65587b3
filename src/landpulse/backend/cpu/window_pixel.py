"""Per-pixel reductions over a window's dates on the CPU (Numba): the maths of the fused window kernel.

The generated window kernels (:mod:`landpulse.backend.window_codegen`) write one row of index
values per date into a ``(time, x)`` float32 buffer (NaN where an observation is masked or
invalid), then call :func:`reduce_pixel` per pixel. It gathers the pixel's valid values in date
order into a scratch buffer of at most ``time`` values and reduces them:

* median: :func:`~landpulse.backend.cpu.change_pixel.median_f32` (quickselect, O(n); even counts:
  the mean of the two middle values in float32, as :func:`numpy.nanmedian`), the value
  :func:`landpulse.change.composite` gives;
* max: the largest value, the first date's on ties (the max-score composite of a DataArray);
* percentile: ``numpy.nanpercentile``'s ``linear`` method: virtual index ``h = q (n - 1)`` in
  float64, the two neighbours by quickselect, interpolated in float32 as NumPy does for a float32
  array and a Python-float ``q`` (``a + (b - a) g``, or ``b - (b - a)(1 - g)`` for ``g >= 0.5``);
* count: only the number of valid observations.

Never ``fastmath``: the NaN tests would be dropped.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from landpulse.backend.cpu.change_pixel import median_f32, min_after, missing, select_kth

F32_NAN = np.float32(np.nan)

#: Reduction codes of the window kernels (``landpulse.backend.ops.window.METHODS``).
MEDIAN = 0
MAX = 1
PERCENTILE = 2
COUNT = 3


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
