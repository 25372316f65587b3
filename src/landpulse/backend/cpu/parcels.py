"""Parcel coverage weights and per-parcel statistics (Numba).

Coverage: every ring's edges are walked column by column in pixel space (u = column, v = row, one
pixel = the unit square). By Green's theorem the area of a polygon inside the cell
``[c, c+1] x [r, r+1]`` is ``-integral over the boundary of (clamp(v, r, r+1) - r) du`` (exterior rings
counter-clockwise in (u, v), holes clockwise). An edge piece inside one column contributes its
exact integral to the rows it crosses and the constant ``-du`` to every row above it; the latter is
accumulated as a difference and summed once per column, so the work is proportional to the
boundary length plus the bounding box, never one polygon clip per pixel. Cells no edge crosses are
covered by the runs of the edges above them. The same walk gives the pixel-centre mode (winding number at
the centre) and the all-touched mode (crossed by an edge, or inside).

Statistics: one CSR row per parcel (pixel indices and float64 weights), reduced per date with the
weighted definitions exactextract uses (mean, population standard deviation, weighted quantiles
with cumulative weights ``s_k = (k - 1) w_k + (n - 1) sum_{i<k} w_i``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit, prange

from landpulse.backend.registry import register

MODE_EXACT = 0
MODE_CENTRE = 1
MODE_ALL_TOUCHED = 2
#: Coverage below this fraction of a pixel is rounding noise of the column sums and is dropped.
MIN_FRACTION = 1e-12


# ---- coverage ------------------------------------------------------------------------------------

@njit(cache=True, nogil=True)
def _bbox(coords, ring_off, p_ring, p, ny, nx):
    umin = np.inf
    umax = -np.inf
    vmin = np.inf
    vmax = -np.inf
    for k in range(ring_off[p_ring[p]], ring_off[p_ring[p + 1]]):
        u = coords[k, 0]
        v = coords[k, 1]
        umin = min(umin, u)
        umax = max(umax, u)
        vmin = min(vmin, v)
        vmax = max(vmax, v)
    if not (umax > umin and vmax > vmin):
        return 0, 0, 0, 0
    c0 = max(int(math.floor(umin)), 0)
    c1 = min(int(math.ceil(umax)), nx)
    r0 = max(int(math.floor(vmin)), 0)
    r1 = min(int(math.ceil(vmax)), ny)
    if c1 <= c0 or r1 <= r0:
        return 0, 0, 0, 0
    return r0, r1, c0, c1


@njit(cache=True, nogil=True)
def _bboxes_parallel(coords, ring_off, p_ring, ny, nx, boxes):
    for p in prange(boxes.shape[0]):
        r0, r1, c0, c1 = _bbox(coords, ring_off, p_ring, p, ny, nx)
        boxes[p, 0] = r0
        boxes[p, 1] = r1
        boxes[p, 2] = c0
        boxes[p, 3] = c1


@njit(cache=True, nogil=True)
def _antider(v, r):
    # integral of clamp(t - r, 0, 1) dt from r to v
    if v <= r:
        return 0.0
    if v >= r + 1.0:
        return v - r - 0.5
    d = v - r
    return 0.5 * d * d


@njit(cache=True, nogil=True)
def _ring_sign(coords, a, b, hole):
    s = 0.0
    for k in range(a, b - 1):
        s += coords[k, 0] * coords[k + 1, 1] - coords[k + 1, 0] * coords[k, 1]
    if s == 0.0:
        return 0.0
    positive = s > 0.0
    return 1.0 if positive != hole else -1.0


@njit(cache=True, nogil=True)
def _walk_exact(coords, a, b, sgn, r0, c0, nr, nc, cross, runs, touched):
    for k in range(a, b - 1):
        ua = coords[k, 0] - c0
        va = coords[k, 1] - r0
        ub = coords[k + 1, 0] - c0
        vb = coords[k + 1, 1] - r0
        if ua == ub:
            continue
        direction = 1.0 if ub > ua else -1.0
        slope = (vb - va) / (ub - ua)
        ulo = min(ua, ub)
        uhi = max(ua, ub)
        cs = max(int(math.floor(ulo)), 0)
        ce = min(int(math.floor(uhi)), nc - 1)
        for c in range(cs, ce + 1):
            ul = max(ulo, float(c))
            ur = min(uhi, float(c + 1))
            if ur <= ul:
                continue
            v1 = va + (ul - ua) * slope
            v2 = va + (ur - ua) * slope
            du = -(ur - ul) * direction * sgn
            lo = min(v1, v2)
            hi = max(v1, v2)
            rlo = int(math.floor(lo))
            rhi = int(math.floor(hi))
            if rhi > rlo and hi == float(rhi):
                rhi -= 1
            flat = abs(v2 - v1) < 1e-12
            for r in range(max(rlo, 0), min(rhi, nr - 1) + 1):
                if flat:
                    f = min(max(0.5 * (v1 + v2) - r, 0.0), 1.0)
                else:
                    f = (_antider(v2, float(r)) - _antider(v1, float(r))) / (v2 - v1)
                cross[r, c] += du * f
                touched[r, c] = 1
            idx = min(rlo, nr)
            if idx > 0:
                runs[idx - 1, c] += du


@njit(cache=True, nogil=True)
def _walk_centre(coords, a, b, sgn, r0, c0, nr, nc, runs):
    for k in range(a, b - 1):
        ua = coords[k, 0] - c0
        va = coords[k, 1] - r0
        ub = coords[k + 1, 0] - c0
        vb = coords[k + 1, 1] - r0
        if ua == ub:
            continue
        w = -(1.0 if ub > ua else -1.0) * sgn
        slope = (vb - va) / (ub - ua)
        ulo = min(ua, ub)
        uhi = max(ua, ub)
        cs = max(int(math.ceil(ulo - 0.5)), 0)
        ce = min(int(math.ceil(uhi - 0.5)), nc)
        for c in range(cs, ce):
            vc = va + (c + 0.5 - ua) * slope
            idx = min(max(int(math.ceil(vc - 0.5)), 0), nr)
            if idx > 0:
                runs[idx - 1, c] += w


@njit(cache=True, nogil=True)
def _parcel_cells(coords, ring_off, ring_hole, p_ring, p, r0, c0, nr, nc, mode, out_idx, out_w, base):
    cross = np.zeros((nr, nc))
    runs = np.zeros((nr, nc))
    touched = np.zeros((nr, nc), np.uint8)
    for g in range(p_ring[p], p_ring[p + 1]):
        a = ring_off[g]
        b = ring_off[g + 1]
        sgn = _ring_sign(coords, a, b, ring_hole[g])
        if sgn == 0.0:
            continue
        if mode == MODE_CENTRE:
            _walk_centre(coords, a, b, sgn, r0, c0, nr, nc, runs)
        else:
            _walk_exact(coords, a, b, sgn, r0, c0, nr, nc, cross, runs, touched)
    n = 0
    for c in range(nc):
        acc = 0.0
        for r in range(nr - 1, -1, -1):
            acc += runs[r, c]
            if mode == MODE_CENTRE:
                w = 1.0 if acc > 0.5 else 0.0
            else:
                w = acc + cross[r, c]
                w = 0.0 if w < MIN_FRACTION else min(w, 1.0)
                if mode == MODE_ALL_TOUCHED:
                    w = 1.0 if (touched[r, c] or w > 0.0) else 0.0
            if w > 0.0:
                out_idx[base + n] = r * nc + c
                out_w[base + n] = w
                n += 1
    return n


@njit(parallel=True, cache=True, nogil=True)
def _cells_parallel(coords, ring_off, ring_hole, p_ring, boxes, slot, first, mode, out_idx, out_w, nnz):
    for j in prange(slot.shape[0] - 1):
        p = first + j
        r0 = boxes[p, 0]
        c0 = boxes[p, 2]
        nr = boxes[p, 1] - r0
        nc = boxes[p, 3] - c0
        if nr <= 0 or nc <= 0:
            nnz[j] = 0
            continue
        nnz[j] = _parcel_cells(coords, ring_off, ring_hole, p_ring, p, r0, c0, nr, nc, mode,
                               out_idx, out_w, slot[j])


@njit(parallel=True, cache=True, nogil=True)
def _compact_parallel(boxes, slot, first, nnz_off, cell_idx, cell_w, nx, indices, weights, rows_base):
    for j in prange(slot.shape[0] - 1):
        p = first + j
        r0 = boxes[p, 0]
        c0 = boxes[p, 2]
        nc = boxes[p, 3] - c0
        o = nnz_off[j] - rows_base
        for k in range(nnz_off[j + 1] - nnz_off[j]):
            loc = cell_idx[slot[j] + k]
            r = loc // nc
            c = loc - r * nc
            indices[o + k] = (r0 + r) * nx + c0 + c
            weights[o + k] = cell_w[slot[j] + k]


def parcel_coverage(coords: np.ndarray, ring_offsets: np.ndarray, ring_is_hole: np.ndarray,
                    parcel_rings: np.ndarray, *, shape: tuple[int, int], mode: int = MODE_EXACT,
                    batch_cells: int = 1 << 24) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coverage of pixels by parcels as a CSR matrix ``(n_parcels, ny * nx)``.

    A host kernel for every device (not a registry entry with a GPU twin): the matrix is built
    once per grid and parcel set from host geometry, and copied to a GPU once where needed.

    Parameters
    ----------
    coords : numpy.ndarray
        float64 ``(n, 2)`` ring vertices in pixel coordinates (column, row; the grid's upper-left
        corner is ``(0, 0)``, one pixel is the unit square); every ring closed (last = first).
    ring_offsets : numpy.ndarray
        int64 ``(n_rings + 1,)``: ring ``g`` is ``coords[ring_offsets[g]:ring_offsets[g + 1]]``.
    ring_is_hole : numpy.ndarray
        bool ``(n_rings,)``: interior ring (hole) or exterior ring. Orientation is free.
    parcel_rings : numpy.ndarray
        int64 ``(n_parcels + 1,)``: parcel ``p`` is rings ``parcel_rings[p]:parcel_rings[p + 1]``
        (several exteriors: a multipolygon; their parts must not overlap).
    shape : (int, int)
        The grid ``(ny, nx)``; cells outside it are not part of the matrix.
    mode : int
        0 exact fraction of the pixel's area (exactextract's definition), 1 pixel centre inside
        (weight 1), 2 all pixels touched (weight 1).
    batch_cells : int
        Bounding-box cells held at once (memory: about 13 bytes per cell and thread buffers).

    Returns
    -------
    (indptr, indices, weights)
        int64 ``(n_parcels + 1,)``, int64 pixel indices ``row * nx + col`` sorted within each
        column-major walk, float64 weights in ``(0, 1]``. A parcel outside the grid is an empty row.
    """
    ny, nx = int(shape[0]), int(shape[1])
    coords = np.ascontiguousarray(coords, dtype=np.float64)
    ring_offsets = np.ascontiguousarray(ring_offsets, dtype=np.int64)
    ring_is_hole = np.ascontiguousarray(ring_is_hole, dtype=np.bool_)
    parcel_rings = np.ascontiguousarray(parcel_rings, dtype=np.int64)
    n = parcel_rings.shape[0] - 1
    boxes = np.zeros((n, 4), np.int64)
    if n:
        _bboxes_parallel(coords, ring_offsets, parcel_rings, ny, nx, boxes)
    cells = np.maximum(boxes[:, 1] - boxes[:, 0], 0) * np.maximum(boxes[:, 3] - boxes[:, 2], 0)
    indptr = np.zeros(n + 1, np.int64)
    parts_i: list[np.ndarray] = []
    parts_w: list[np.ndarray] = []
    start = 0
    total = 0
    while start < n:
        csum = np.cumsum(cells[start:])
        stop = start + max(int(np.searchsorted(csum, batch_cells, side="right")), 1)
        slot = np.zeros(stop - start + 1, np.int64)
        np.cumsum(cells[start:stop], out=slot[1:])
        cell_idx = np.empty(int(slot[-1]), np.int64)
        cell_w = np.empty(int(slot[-1]), np.float64)
        nnz = np.zeros(stop - start, np.int64)
        _cells_parallel(coords, ring_offsets, ring_is_hole, parcel_rings, boxes, slot, start, int(mode),
                        cell_idx, cell_w, nnz)
        nnz_off = np.zeros(stop - start + 1, np.int64)
        np.cumsum(nnz, out=nnz_off[1:])
        nnz_off += total
        indices = np.empty(int(nnz_off[-1] - total), np.int64)
        weights = np.empty(indices.shape[0], np.float64)
        _compact_parallel(boxes, slot, start, nnz_off, cell_idx, cell_w, nx, indices, weights, total)
        indptr[start + 1:stop + 1] = nnz_off[1:]
        parts_i.append(indices)
        parts_w.append(weights)
        total = int(nnz_off[-1])
        start = stop
    ind = np.concatenate(parts_i) if parts_i else np.zeros(0, np.int64)
    wts = np.concatenate(parts_w) if parts_w else np.zeros(0, np.float64)
    return indptr, ind, wts


# ---- statistics ----------------------------------------------------------------------------------

N_FIXED = 8  # count, masked, weight_valid, weight_total, mean, std, min, max


@njit(cache=True, nogil=True)
def _parcel_stats(indptr, indices, weights, values, t, p, qs, out):
    a = indptr[p]
    b = indptr[p + 1]
    m = b - a
    xs = np.empty(m)
    ws = np.empty(m)
    n = 0
    masked = 0
    wtot = 0.0
    for k in range(a, b):
        w = weights[k]
        wtot += w
        x = values[t, indices[k]]
        if math.isnan(x):
            masked += 1
        else:
            xs[n] = x
            ws[n] = w
            n += 1
    out[p, t, 0] = n
    out[p, t, 1] = masked
    out[p, t, 3] = wtot
    sw = 0.0
    swx = 0.0
    for i in range(n):
        sw += ws[i]
        swx += ws[i] * xs[i]
    out[p, t, 2] = sw
    nq = qs.shape[0]
    if n == 0 or sw <= 0.0:
        for j in range(4, N_FIXED + nq):
            out[p, t, j] = np.nan
        return
    mean = swx / sw
    ssd = 0.0
    for i in range(n):
        d = xs[i] - mean
        ssd += ws[i] * d * d
    out[p, t, 4] = mean
    out[p, t, 5] = math.sqrt(ssd / sw)
    order = np.argsort(xs[:n], kind="mergesort")  # stable: ties keep the CSR order (as the GPU path)
    out[p, t, 6] = xs[order[0]]
    out[p, t, 7] = xs[order[n - 1]]
    if nq == 0:
        return
    if n == 1:
        for j in range(nq):
            out[p, t, N_FIXED + j] = xs[0]
        return
    # cumulative weights s_k = (k - 1) w_k + (n - 1) sum_{i<k} w_i, s_n = (n - 1) sum w
    s = np.empty(n)
    acc = 0.0
    for k in range(n):
        wk = ws[order[k]]
        s[k] = k * wk + (n - 1) * acc
        acc += wk
    sn = (n - 1) * acc
    for j in range(nq):
        target = qs[j] * sn
        k = 0
        while k < n - 1 and s[k + 1] < target:
            k += 1
        if k >= n - 1:
            out[p, t, N_FIXED + j] = xs[order[n - 1]]
            continue
        x0 = xs[order[k]]
        x1 = xs[order[k + 1]]
        span = s[k + 1] - s[k]
        frac = (target - s[k]) / span if span > 0 else 0.0
        frac = min(max(frac, 0.0), 1.0)
        out[p, t, N_FIXED + j] = x0 + frac * (x1 - x0)


@njit(parallel=True, cache=True, nogil=True)
def _stats_parallel(indptr, indices, weights, values, qs, out):
    n = indptr.shape[0] - 1
    nt = values.shape[0]
    for job in prange(n * nt):
        p = job // nt
        t = job - p * nt
        _parcel_stats(indptr, indices, weights, values, t, p, qs, out)


@register("parcel_stats", "cpu")
def parcel_stats(values: Any, indptr: np.ndarray, indices: np.ndarray, weights: np.ndarray, *,
                 quantiles: np.ndarray) -> np.ndarray:
    """Weighted statistics of each parcel on each date.

    Parameters
    ----------
    values : numpy.ndarray
        ``(n_dates, ny * nx)`` floating values (float32 or float64); NaN is a masked or missing
        pixel, excluded from every statistic and counted in ``masked``.
    indptr, indices, weights : numpy.ndarray
        The CSR coverage matrix of :func:`parcel_coverage`.
    quantiles : numpy.ndarray
        float64 quantiles in ``[0, 1]``.

    Returns
    -------
    numpy.ndarray
        float64 ``(n_parcels, n_dates, 8 + n_quantiles)``: valid pixel count, masked pixel count,
        sum of weights of valid pixels, sum of all weights, weighted mean, weighted population
        standard deviation, min, max (over pixels of weight > 0), then the weighted quantiles.
        Statistics of a parcel with no valid pixel on a date are NaN (the counts and weight sums
        are still given).
    """
    vals = np.ascontiguousarray(values)
    if vals.dtype not in (np.float32, np.float64):
        vals = vals.astype(np.float64)
    qs = np.ascontiguousarray(quantiles, dtype=np.float64)
    n = indptr.shape[0] - 1
    out = np.empty((n, vals.shape[0], N_FIXED + qs.shape[0]), np.float64)
    if n and vals.shape[0]:
        _stats_parallel(np.ascontiguousarray(indptr, dtype=np.int64), np.ascontiguousarray(indices, dtype=np.int64),
                        np.ascontiguousarray(weights, dtype=np.float64), vals, qs, out)
    return out
