"""CPU mask kernel with a buffer: classification values -> mask codes, dilated by a disc.

``mask_buffer`` turns a classification block (Sentinel-2 SCL, Landsat QA_PIXEL...) into uint8
mask codes (:data:`~.pixel.MASK_CLEAR`, ``MASK_MASKED``, ``MASK_BUFFER``, ``MASK_NODATA``): a
clear pixel becomes ``MASK_BUFFER`` when a buffer-source pixel (cloud, shadow...) lies within the
disc given by ``spans`` (``spans[k]``: half-width in columns of the disc's row ``k`` rows away).

It is a neighbourhood operation: the dispatch seam calls it on blocks with halos
(:func:`landpulse.backend.neighbourhood.apply_overlap_kernel`), so results do not depend on the
chunking. This Numba version uses per-row prefix sums (O(rows of the disc) per pixel); the CUDA
twin (``kernels/masks.cu``) gathers over the disc directly: two algorithms, one answer.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from landpulse.backend.blocks import as_stack
from landpulse.backend.cpu.pixel import MASK_BUFFER, MASK_CLEAR, class_code
from landpulse.backend.cpu.threads import in_worker_thread
from landpulse.backend.ops.masks import mask_tables
from landpulse.backend.registry import register


@njit(nogil=True, cache=True)
def _prefix(q, blut, n, p):
    ny, nx = q.shape
    for y in range(ny):
        p[y, 0] = 0
        for x in range(nx):
            src = 1 if class_code(q[y, x], blut, n) == 1 else 0
            p[y, x + 1] = p[y, x] + src


@njit(nogil=True, cache=True)
def _code(q, lut, n, p, spans, y, x):
    ny, nx = q.shape
    code = class_code(q[y, x], lut, n)
    if code != MASK_CLEAR:
        return code
    r = spans.shape[0] - 1
    for dy in range(-r, r + 1):
        yy = y + dy
        if yy < 0 or yy >= ny:
            continue
        w = spans[dy if dy >= 0 else -dy]
        x0 = max(0, x - w)
        x1 = min(nx - 1, x + w)
        if p[yy, x1 + 1] - p[yy, x0] > 0:
            return np.uint8(MASK_BUFFER)
    return code


@njit(parallel=True, nogil=True, cache=True)
def _buffer_parallel(q, lut, blut, spans, out):
    nt, ny, nx = q.shape
    n = lut.shape[0]
    for t in range(nt):
        p = np.empty((ny, nx + 1), np.int32)
        _prefix(q[t], blut, n, p)
        for y in prange(ny):
            for x in range(nx):
                out[t, y, x] = _code(q[t], lut, n, p, spans, y, x)


@njit(nogil=True, cache=True)
def _buffer_serial(q, lut, blut, spans, out):
    nt, ny, nx = q.shape
    n = lut.shape[0]
    p = np.empty((ny, nx + 1), np.int32)
    for t in range(nt):
        _prefix(q[t], blut, n, p)
        for y in range(ny):
            for x in range(nx):
                out[t, y, x] = _code(q[t], lut, n, p, spans, y, x)


@register("mask_buffer", "cpu")
def mask_buffer(q: np.ndarray, *, lut: np.ndarray, buffer_lut: np.ndarray, spans: np.ndarray) -> np.ndarray:
    """Mask codes of a classification block ``(..., y, x)``, with a buffer around source classes.

    Parameters
    ----------
    q : numpy.ndarray
        Classification values (any integer or float dtype; NaN or values outside the table are
        ``MASK_NODATA``).
    lut : numpy.ndarray of uint8
        Mask code per classification value.
    buffer_lut : numpy.ndarray of uint8
        1 where a classification value is a buffer source, else 0 (same length as ``lut``).
    spans : numpy.ndarray of int32
        Half-width in columns of each disc row, from the centre row outwards.

    Returns
    -------
    numpy.ndarray of uint8
        Same shape as ``q``.
    """
    lut, buffer_lut, spans = mask_tables(lut, buffer_lut, spans)
    q3, _ = as_stack(np.ascontiguousarray(q))
    out = np.empty(q3.shape, np.uint8)
    if q3.size:
        driver = _buffer_serial if in_worker_thread() else _buffer_parallel
        driver(q3, lut, buffer_lut, spans, out)
    return out.reshape(q.shape)

