"""Per-parcel weighted statistics as segmented array operations, for any array module.

The GPU entry of ``parcel_stats`` runs this with CuPy (weighted sums as bincounts over the CSR
rows, one segmented sort per date for min, max and the weighted quantiles); the tests run the very
same code with NumPy and compare it with the Numba kernel, so the GPU path's arithmetic is checked
on machines without a GPU. The definitions are those of the CPU kernel
(:func:`landpulse.backend.cpu.parcels.parcel_stats`).
"""

from __future__ import annotations

from typing import Any

N_FIXED = 8  # count, masked, weight_valid, weight_total, mean, std, min, max


def segmented_parcel_stats(xp: Any, values: Any, indptr: Any, indices: Any, weights: Any,
                           quantiles: Any) -> Any:
    """Statistics of every CSR row (parcel) on every date, with array module ``xp``.

    Parameters
    ----------
    xp : module
        ``numpy`` or ``cupy``; every array argument belongs to it.
    values : array
        ``(n_dates, n_pixels)`` float32 or float64; NaN is masked.
    indptr, indices, weights : array
        int64 ``(n + 1,)``, int64 ``(nnz,)``, float64 ``(nnz,)``: the coverage matrix.
    quantiles : array
        float64 ``(n_q,)`` in ``[0, 1]``.

    Returns
    -------
    array
        float64 ``(n, n_dates, 8 + n_q)``, laid out as the CPU kernel's result.
    """
    n = int(indptr.shape[0]) - 1
    nt = int(values.shape[0])
    nq = int(quantiles.shape[0])
    out = xp.full((n, nt, N_FIXED + nq), xp.nan, dtype=xp.float64)
    if n == 0 or nt == 0:
        return out
    lengths = xp.diff(indptr)
    starts = indptr[:-1]
    nnz = int(indices.shape[0])
    pos = xp.arange(nnz, dtype=xp.int64)
    # the row of every stored weight (searchsorted, not repeat: CuPy's repeat wants host counts)
    rows = xp.searchsorted(indptr, pos, side="right") - 1
    wtot = xp.bincount(rows, weights=weights, minlength=n)
    for t in range(nt):
        x = values[t][indices].astype(xp.float64)
        valid = ~xp.isnan(x)
        wv = xp.where(valid, weights, 0.0)
        xv = xp.where(valid, x, 0.0)
        count = xp.bincount(rows, weights=valid.astype(xp.float64), minlength=n)
        sw = xp.bincount(rows, weights=wv, minlength=n)
        have = (count > 0) & (sw > 0)
        safe = xp.where(have, sw, 1.0)
        mean = xp.bincount(rows, weights=wv * xv, minlength=n) / safe
        d = xp.where(valid, x - mean[rows], 0.0)
        var = xp.bincount(rows, weights=wv * d * d, minlength=n) / safe
        out[:, t, 0] = count
        out[:, t, 1] = lengths - count
        out[:, t, 2] = sw
        out[:, t, 3] = wtot
        out[:, t, 4] = xp.where(have, mean, xp.nan)
        out[:, t, 5] = xp.where(have, xp.sqrt(var), xp.nan)
        # one segmented sort: by row, then by value with the masked pixels last
        order = xp.lexsort(xp.stack([xp.where(valid, x, xp.inf), rows.astype(xp.float64)]))
        xs = x[order]
        ws = wv[order]
        cnt = count.astype(xp.int64)
        first = xp.minimum(starts, max(nnz - 1, 0))
        last = xp.minimum(xp.maximum(starts + cnt - 1, 0), max(nnz - 1, 0))
        out[:, t, 6] = xp.where(have, xs[first], xp.nan)
        out[:, t, 7] = xp.where(have, xs[last], xp.nan)
        if nq == 0:
            continue
        k = pos - starts[rows]
        cum = xp.cumsum(ws)
        before = cum - ws - (cum[starts] - ws[starts])[rows]
        cntr = cnt[rows]
        s = k * ws + (cntr - 1) * before
        sn = (cnt - 1) * sw
        sn_safe = xp.where(sn > 0, sn, 1.0)
        inrow = k < cntr
        key = rows + xp.where(inrow, 0.5 * s / sn_safe[rows], 0.75)
        for j in range(nq):
            q = float(quantiles[j])
            i = xp.searchsorted(key, xp.arange(n, dtype=xp.float64) + 0.5 * q, side="left") - 1
            i = xp.minimum(xp.maximum(i, starts), xp.maximum(starts + cnt - 2, starts))
            i = xp.minimum(xp.maximum(i, 0), max(nnz - 2, 0))
            s0 = s[i]
            s1 = s[xp.minimum(i + 1, nnz - 1)]
            span = s1 - s0
            frac = xp.minimum(xp.maximum(xp.where(span > 0, (q * sn - s0) / xp.where(span > 0, span, 1.0), 0.0), 0.0), 1.0)
            x0 = xs[i]
            x1 = xs[xp.minimum(i + 1, nnz - 1)]
            val = xp.where(cnt == 1, xs[first], x0 + frac * (x1 - x0))
            out[:, t, N_FIXED + j] = xp.where(have, val, xp.nan)
    return out
