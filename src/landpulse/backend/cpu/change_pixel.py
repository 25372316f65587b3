"""Per-pixel maths of change detection on the CPU: the Numba twins of ``kernels/change.cuh``.

Same operations in the same order as the CUDA header, float32 where it uses float32 and float64
where it uses double (every literal typed), so both devices give the same bits. The one deliberate
difference is how order statistics are found: here by partial sorting (quickselect) of a scratch
buffer, on the GPU by bisection on the bit patterns; both select the same value exactly.
``tests/test_change_cuda_host.py`` builds the CUDA header for the host and checks the identity.

The functions take one pixel's series as a contiguous 1-D array (the drivers in
:mod:`.change` copy it out of the ``(time, pixels)`` block first: one strided read, then
cache-friendly passes). Never ``fastmath``: the NaN tests would be dropped.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

F32_NAN = np.float32(np.nan)
F32_ZERO = np.float32(0.0)
F32_HALF = np.float32(0.5)
F32_360 = np.float32(360.0)
F32_DEG = np.float32(57.2957795130823208768)
F64_NAN = np.nan
CLASS_NODATA = np.uint8(255)
INDEX_NODATA = np.uint16(65535)
#: Largest number of regressors of the BFAST season-trend model (2 + 2 * order, order <= 6).
E = 2.718281828459045


@njit(cache=True, nogil=True)
def missing(v):
    """A missing observation: not finite (NaN, or +-inf, which is no measurement either)."""
    return not (v - v) == 0.0


# ---- classes ----------------------------------------------------------------------------------

@njit(cache=True, nogil=True)
def classify_value(v, edges, first):
    """``first`` + number of ``edges`` <= v (uint8); 255 for NaN."""
    if missing(v):
        return CLASS_NODATA
    c = first
    for i in range(edges.shape[0]):
        if edges[i] <= v:
            c += 1
    return np.uint8(c)


@njit(cache=True, nogil=True)
def difference_value(a, b, offset):
    """``(b - a) - offset`` in float32."""
    return (b - a) - offset


# ---- change-vector analysis -------------------------------------------------------------------

@njit(cache=True, nogil=True)
def cva_pixel(pre, post, p):
    """Magnitude, angle (degrees, two variables only) and sector code of pixel ``p``.

    ``pre``/``post`` are ``(variables, pixels)`` float32 blocks.
    """
    nvar = pre.shape[0]
    acc = F32_ZERO
    code = 0
    d0 = F32_ZERO
    d1 = F32_ZERO
    for v in range(nvar):
        d = post[v, p] - pre[v, p]
        if missing(d):
            return F32_NAN, F32_NAN, CLASS_NODATA
        acc = acc + d * d
        if d > F32_ZERO:
            code |= 1 << v
        if v == 0:
            d0 = d
        if v == 1:
            d1 = d
    mag = np.float32(math.sqrt(acc))
    if nvar == 2:
        a = np.float32(math.atan2(d1, d0)) * F32_DEG
        if a < F32_ZERO:
            a = a + F32_360
        if a >= F32_360:
            a = F32_ZERO
        return mag, a, np.uint8(code)
    return mag, F32_NAN, np.uint8(code)


# ---- exact selection (quickselect) -------------------------------------------------------------

@njit(cache=True, nogil=True)
def select_kth(buf, n, k):
    """k-th smallest (0-based) of ``buf[:n]`` (no NaN), partially sorting ``buf`` in place.

    Afterwards every element after position ``k`` is >= ``buf[k]``. A zero is returned as +0.
    """
    lo = 0
    hi = n - 1
    while lo < hi:
        mid = (lo + hi) // 2
        pivot = buf[mid]
        i = lo
        j = hi
        while i <= j:
            while buf[i] < pivot:
                i += 1
            while buf[j] > pivot:
                j -= 1
            if i <= j:
                tmp = buf[i]
                buf[i] = buf[j]
                buf[j] = tmp
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            break
    v = buf[k]
    if v == 0:
        v = v - v  # +0
    return v


@njit(cache=True, nogil=True)
def min_after(buf, n, k):
    """Smallest of ``buf[k+1:n]`` (after :func:`select_kth`: the (k+1)-th smallest); zero as +0."""
    v = buf[k + 1]
    for i in range(k + 2, n):
        if buf[i] < v:
            v = buf[i]
    if v == 0:
        v = v - v
    return v


@njit(cache=True, nogil=True)
def median_f32(buf, n):
    """Median of ``buf[:n]`` in float32 (mean of the two middle values for even n), NaN if n == 0."""
    if n == 0:
        return F32_NAN
    k = (n - 1) // 2
    lo = select_kth(buf, n, k)
    if n % 2 == 1:
        return lo
    hi = min_after(buf, n, k)
    return (lo + hi) * F32_HALF


# ---- composites --------------------------------------------------------------------------------

@njit(cache=True, nogil=True)
def obs_valid(bands, t, p):
    """Every band finite at date ``t`` of pixel ``p`` (``bands`` is ``(band, time, pixels)``)."""
    for b in range(bands.shape[0]):
        v = bands[b, t, p]
        if missing(v):
            return False
    return True


@njit(cache=True, nogil=True)
def median_composite_pixel(bands, p, out, buf):
    """Per-band median over the dates valid in every band; writes ``out[:, p]``, returns the count."""
    nband, ntime = bands.shape[0], bands.shape[1]
    n = 0
    for t in range(ntime):
        if obs_valid(bands, t, p):
            n += 1
    for b in range(nband):
        m = 0
        for t in range(ntime):
            if obs_valid(bands, t, p):
                buf[m] = bands[b, t, p]
                m += 1
        out[b, p] = median_f32(buf, n)
    return n


@njit(cache=True, nogil=True)
def max_composite_pixel(score, bands, p):
    """Date of the largest finite score where every band is finite (first on ties), or -1; count."""
    best = -1
    best_v = F32_ZERO
    n = 0
    for t in range(score.shape[0]):
        s = score[t, p]
        if missing(s) or not obs_valid(bands, t, p):
            continue
        n += 1
        if best < 0 or s > best_v:
            best = t
            best_v = s
    return best, n


# ---- z-score anomaly ---------------------------------------------------------------------------

@njit(cache=True, nogil=True)
def baseline_stats(y, baseline, min_obs):
    """(count, mean, sample std) of the valid baseline dates, two passes in float64.

    Mean and std are NaN when count < max(min_obs, 2) or the std is 0.
    """
    n = 0
    s = 0.0
    for t in range(y.shape[0]):
        v = y[t]
        if baseline[t] != 0 and not missing(v):
            s = s + np.float64(v)
            n += 1
    if n < min_obs or n < 2:
        return n, F64_NAN, F64_NAN
    m = s / np.float64(n)
    ss = 0.0
    for t in range(y.shape[0]):
        v = y[t]
        if baseline[t] != 0 and not missing(v):
            d = np.float64(v) - m
            ss = ss + d * d
    sd = math.sqrt(ss / np.float64(n - 1))
    if sd > 0.0:
        return n, m, sd
    return n, m, F64_NAN


@njit(cache=True, nogil=True)
def zscore_value(v, mean, std):
    """``(v - mean) / std`` in float64, as float32; NaN when any input is NaN."""
    if missing(v) or missing(mean) or missing(std):
        return F32_NAN
    return np.float32((np.float64(v) - mean) / std)


# ---- Theil-Sen and Mann-Kendall ----------------------------------------------------------------

@njit(cache=True, nogil=True)
def theil_sen_slope(y, tdays, buf):
    """Median of the float32 pairwise slopes (y_j - y_i) / (t_j - t_i), t in days; NaN if no pair."""
    ntime = y.shape[0]
    n = 0
    for i in range(ntime):
        yi = y[i]
        if missing(yi):
            continue
        for j in range(i + 1, ntime):
            yj = y[j]
            if missing(yj):
                continue
            dt = tdays[j] - tdays[i]
            if not dt > F32_ZERO:
                continue
            buf[n] = (yj - yi) / dt
            n += 1
    return median_f32(buf, n)


@njit(cache=True, nogil=True)
def mann_kendall_z(y):
    """(Z, n, S) of the Mann-Kendall test with the tie correction (see change.cuh)."""
    ntime = y.shape[0]
    s = 0
    tie_sum = 0
    n = 0
    for i in range(ntime):
        yi = y[i]
        if missing(yi):
            continue
        n += 1
        c = 0
        for j in range(ntime):
            yj = y[j]
            if missing(yj):
                continue
            if yj == yi:
                c += 1
            if j > i:
                if yj > yi:
                    s += 1
                elif yj < yi:
                    s -= 1
        tie_sum += (c - 1) * (2 * c + 5)
    var = np.float64(n * (n - 1) * (2 * n + 5) - tie_sum) / 18.0
    if s == 0 or not var > 0.0:
        return 0.0, n, s
    num = s - 1 if s > 0 else s + 1
    return np.float64(num) / math.sqrt(var), n, s


# ---- BFAST-Monitor -----------------------------------------------------------------------------

@njit(cache=True, nogil=True)
def tri(i, j):
    return i * (i + 1) // 2 + j


@njit(cache=True, nogil=True)
def cholesky_packed(a, k):
    """In-place Cholesky of a packed symmetric matrix; False when not positive definite."""
    for j in range(k):
        ajj = a[tri(j, j)]
        d = ajj
        for p in range(j):
            d = d - a[tri(j, p)] * a[tri(j, p)]
        if not d > 1e-12 * ajj or not d > 0.0:
            return False
        l = math.sqrt(d)
        a[tri(j, j)] = l
        for i in range(j + 1, k):
            v = a[tri(i, j)]
            for p in range(j):
                v = v - a[tri(i, p)] * a[tri(j, p)]
            a[tri(i, j)] = v / l
    return True


@njit(cache=True, nogil=True)
def cholesky_solve(l, b, k):
    for i in range(k):
        v = b[i]
        for p in range(i):
            v = v - l[tri(i, p)] * b[p]
        b[i] = v / l[tri(i, i)]
    for i in range(k - 1, -1, -1):
        v = b[i]
        for p in range(i + 1, k):
            v = v - l[tri(p, i)] * b[p]
        b[i] = v / l[tri(i, i)]


@njit(cache=True, nogil=True)
def add_obs(a, b, X, t, y, k):
    for i in range(k):
        for j in range(i + 1):
            a[tri(i, j)] = a[tri(i, j)] + X[t, i] * X[t, j]
        b[i] = b[i] + X[t, i] * y


@njit(cache=True, nogil=True)
def predict(X, t, beta, k):
    v = 0.0
    for i in range(k):
        v = v + X[t, i] * beta[i]
    return v


@njit(cache=True, nogil=True)
def roc_pass(y, X, k, hist0, mon0, n, mode, stats, sigma, lam, work):
    """Reverse-ordered recursive CUSUM over the valid history (see ``roc_pass`` in change.cuh).

    ``stats`` holds (count, mean, M2) of the recursive residuals (mode 0 updates it); mode 1
    returns the first crossing j (1-based) or 0; -1 when a fit is singular. ``work`` is a
    (5, BFAST_MAX_K * (BFAST_MAX_K + 1) // 2) float64 scratch array.
    """
    npk = k * (k + 1) // 2
    a = work[0]
    b = work[1]
    l = work[2]
    beta = work[3]
    z = work[4]
    for i in range(npk):
        a[i] = 0.0
    for i in range(k):
        b[i] = 0.0
    m = n - k
    cusum = 0.0
    r = 0
    for t in range(mon0 - 1, hist0 - 1, -1):
        yv = y[t]
        if missing(yv):
            continue
        yt = np.float64(yv)
        if r >= k:
            for i in range(npk):
                l[i] = a[i]
            if not cholesky_packed(l, k):
                return -1
            for i in range(k):
                beta[i] = b[i]
            cholesky_solve(l, beta, k)
            for i in range(k):
                v = X[t, i]
                for p in range(i):
                    v = v - l[tri(i, p)] * z[p]
                z[i] = v / l[tri(i, i)]
            q = 0.0
            for i in range(k):
                q = q + z[i] * z[i]
            w = (yt - predict(X, t, beta, k)) / math.sqrt(1.0 + q)
            if mode == 0:
                stats[0] = stats[0] + 1.0
                d = w - stats[1]
                stats[1] = stats[1] + d / stats[0]
                stats[2] = stats[2] + d * (w - stats[1])
            else:
                j = r - k + 1
                cusum = cusum + w
                proc = cusum / (sigma * math.sqrt(np.float64(m)))
                bound = lam * (1.0 + 2.0 * np.float64(j) / np.float64(m))
                if abs(proc) > bound:
                    return j
        add_obs(a, b, X, t, yt, k)
        r += 1
    return 0


@njit(cache=True, nogil=True)
def bfast_monitor_pixel(y, X, k, tyear, logtab, hist0, mon0, roc, hfrac, lam, lam_roc, work, stats, resid):
    """BFAST-Monitor of one pixel (see ``bfast_monitor_pixel`` in change.cuh).

    Returns ``(flag, break_date, magnitude, history_start, n_history, n_monitor)``.
    ``work``: (5, packed) float64, ``stats``: (3,) float64, ``resid``: (ntime,) float64 scratch.
    """
    ntime = y.shape[0]
    flag = CLASS_NODATA
    break_date = F32_NAN
    magnitude = F32_NAN
    history_start = F32_NAN
    n_mon = 0
    for t in range(mon0, ntime):
        if not missing(y[t]):
            n_mon += 1
    nh = 0
    for t in range(hist0, mon0):
        if not missing(y[t]):
            nh += 1
    first = 0
    if roc != 0 and nh > k + 1:
        stats[0] = 0.0
        stats[1] = 0.0
        stats[2] = 0.0
        if roc_pass(y, X, k, hist0, mon0, nh, 0, stats, 0.0, 0.0, work) == 0 and stats[0] > 1.0:
            sigma = math.sqrt(stats[2] / (stats[0] - 1.0))
            if sigma > 0.0:
                j = roc_pass(y, X, k, hist0, mon0, nh, 1, stats, sigma, lam_roc, work)
                if j > 0:
                    first = nh - k - j + 1
    n = nh - first
    tstart = mon0
    q = 0
    for t in range(hist0, mon0):
        if missing(y[t]):
            continue
        if q == first:
            tstart = t
            break
        q += 1
    if n > 0:
        history_start = np.float32(tyear[tstart])
    K = int(math.floor(hfrac * np.float64(n)))
    if n <= k or K <= 1:
        return flag, break_date, magnitude, history_start, n, n_mon
    npk = k * (k + 1) // 2
    a = work[0]
    beta = work[1]
    for i in range(npk):
        a[i] = 0.0
    for i in range(k):
        beta[i] = 0.0
    for t in range(tstart, mon0):
        v = y[t]
        if not missing(v):
            add_obs(a, beta, X, t, np.float64(v), k)
    if not cholesky_packed(a, k):
        return flag, break_date, magnitude, history_start, n, n_mon
    cholesky_solve(a, beta, k)
    rss = 0.0
    for t in range(tstart, mon0):
        v = y[t]
        if missing(v):
            continue
        e = np.float64(v) - predict(X, t, beta, k)
        rss = rss + e * e
    sigma = math.sqrt(rss / np.float64(n - k))
    flag = np.uint8(0)
    if not sigma > 0.0:
        return flag, break_date, magnitude, history_start, n, n_mon
    scale = sigma * math.sqrt(np.float64(n))
    window = 0.0
    m = 0
    lag_t = tstart
    for t in range(tstart, ntime):
        v = y[t]
        if missing(v):
            continue
        m += 1
        window = window + (np.float64(v) - predict(X, t, beta, k))
        if m > K:
            while missing(y[lag_t]):
                lag_t += 1
            window = window - (np.float64(y[lag_t]) - predict(X, lag_t, beta, k))
            lag_t += 1
        if m > n and flag == 0:
            ratio = np.float64(m) / np.float64(n)
            lp = 1.0 if ratio <= E else logtab[m] - logtab[n]
            bound = lam * math.sqrt(2.0 * lp)
            if abs(window / scale) > bound:
                flag = np.uint8(1)
                break_date = np.float32(tyear[t])
    if n_mon > 0:
        c = 0
        for t in range(mon0, ntime):
            v = y[t]
            if not missing(v):
                resid[c] = np.float64(v) - predict(X, t, beta, k)
                c += 1
        kk = (n_mon - 1) // 2
        lo = select_kth(resid, n_mon, kk)
        med = lo
        if n_mon % 2 == 0:
            hi = min_after(resid, n_mon, kk)
            med = (lo + hi) / 2.0
        magnitude = np.float32(med)
    return flag, break_date, magnitude, history_start, n, n_mon
