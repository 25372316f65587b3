// Per-pixel maths of change detection, shared by kernels/change.cu (the GPU kernels) and by the
// host builds in tests (tests/native/change_host_shim.cpp).
//
// These are the twins of src/landpulse/backend/cpu/change_pixel.py. Every function reads one
// pixel's series through a stride (layout (slices, pixels): element t of pixel p is at
// base[t * stride]), so a GPU warp reads 32 neighbouring pixels of one date at once (coalesced).
//
// Exactness contract with the CPU kernels: the same operations in the same order, float32 where
// the CPU uses float32 and double where it uses double, no fused multiply-add (-fmad=false).
// Order statistics (medians, the Theil-Sen median of pairwise slopes) are exact selections of
// the same set of values: the GPU finds the k-th smallest by bisection on the bit pattern (no
// scratch memory per thread), the CPU by partial sorting a scratch buffer; both return the same
// bits. Only transcendental functions (atan2, erfc) may differ by an ulp between devices.
#pragma once

#include "pixel.cuh"

#if !defined(__CUDACC_RTC__)
#include <cmath>
#include <cstdint>
#include <cstring>
typedef std::uint8_t lp_u8;
typedef std::uint16_t lp_u16;
typedef std::uint32_t lp_u32;
typedef std::uint64_t lp_u64;
#else
typedef unsigned char lp_u8;
typedef unsigned short lp_u16;
typedef unsigned int lp_u32;
typedef unsigned long long lp_u64;
#endif

namespace lp {

constexpr lp_u8 CLASS_NODATA = 255;
constexpr lp_u16 INDEX_NODATA = 65535;
constexpr int BFAST_MAX_K = 14;  // 2 + 2 * order, order <= 6
constexpr int BFAST_PACKED = BFAST_MAX_K * (BFAST_MAX_K + 1) / 2;

// A missing observation: not finite (NaN, or +-inf, which is no measurement either).
LP_HD bool is_missing_f(float v) { return !((v - v) == 0.0f); }
LP_HD bool is_missing_d(double v) { return !((v - v) == 0.0); }

LP_HD double nan_f64() {
#if defined(__CUDA_ARCH__)
    return __longlong_as_double(0x7ff8000000000000LL);
#else
    return std::numeric_limits<double>::quiet_NaN();
#endif
}

LP_HD lp_u32 f32_bits(float v) {
#if defined(__CUDA_ARCH__)
    return (lp_u32)__float_as_uint(v);
#else
    lp_u32 b;
    std::memcpy(&b, &v, sizeof b);
    return b;
#endif
}

LP_HD float f32_from_bits(lp_u32 b) {
#if defined(__CUDA_ARCH__)
    return __uint_as_float(b);
#else
    float v;
    std::memcpy(&v, &b, sizeof v);
    return v;
#endif
}

LP_HD lp_u64 f64_bits(double v) {
#if defined(__CUDA_ARCH__)
    return (lp_u64)__double_as_longlong(v);
#else
    lp_u64 b;
    std::memcpy(&b, &v, sizeof b);
    return b;
#endif
}

LP_HD double f64_from_bits(lp_u64 b) {
#if defined(__CUDA_ARCH__)
    return __longlong_as_double((long long)b);
#else
    double v;
    std::memcpy(&v, &b, sizeof v);
    return v;
#endif
}

// Order-preserving keys: a < b  <=>  key(a) < key(b) for non-NaN values; -0 is mapped to +0 so
// equal values have equal keys.
LP_HD lp_u32 key_f32(float v) {
    if (v == 0.0f) v = 0.0f;
    const lp_u32 b = f32_bits(v);
    return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}
LP_HD float unkey_f32(lp_u32 k) { return f32_from_bits((k & 0x80000000u) ? (k & 0x7fffffffu) : ~k); }
LP_HD lp_u64 key_f64(double v) {
    if (v == 0.0) v = 0.0;
    const lp_u64 b = f64_bits(v);
    return (b & 0x8000000000000000ull) ? ~b : (b | 0x8000000000000000ull);
}
LP_HD double unkey_f64(lp_u64 k) {
    return f64_from_bits((k & 0x8000000000000000ull) ? (k & 0x7fffffffffffffffull) : ~k);
}

// ---- classes ------------------------------------------------------------------------------------

// first + number of edges <= v; CLASS_NODATA for NaN. Edges ascending (float32).
LP_HD lp_u8 classify_value(float v, const float* edges, int n_edges, int first) {
    if (is_missing_f(v)) return CLASS_NODATA;
    int c = first;
    for (int i = 0; i < n_edges; ++i)
        if (edges[i] <= v) ++c;
    return (lp_u8)c;
}

// d = (b - a) - offset in float32 (NaN propagates), and its class.
LP_HD float difference_value(float a, float b, float offset) { return (b - a) - offset; }

// ---- change-vector analysis ---------------------------------------------------------------------

// Magnitude (float32 Euclidean norm of post - pre, summed in variable order), the direction angle
// in degrees [0, 360) of (d0, d1) for two variables (NaN otherwise), and the sector code
// (bit v set where d_v > 0). NaN in any variable: NaN, NaN, CLASS_NODATA.
LP_HD void cva_pixel(const float* pre, const float* post, long long stride, int nvar, float* magnitude,
                     float* angle, lp_u8* sector) {
    float acc = 0.0f;
    int code = 0;
    float d0 = 0.0f, d1 = 0.0f;
    for (int v = 0; v < nvar; ++v) {
        const float d = post[v * stride] - pre[v * stride];
        if (is_missing_f(d)) {
            *magnitude = nan_f32();
            *angle = nan_f32();
            *sector = CLASS_NODATA;
            return;
        }
        acc = acc + d * d;
        if (d > 0.0f) code |= (1 << v);
        if (v == 0) d0 = d;
        if (v == 1) d1 = d;
    }
    *magnitude = sqrtf(acc);
    *sector = (lp_u8)code;
    if (nvar == 2) {
        float a = atan2f(d1, d0) * 57.2957795130823208768f;
        if (a < 0.0f) a = a + 360.0f;
        if (a >= 360.0f) a = 0.0f;
        *angle = a;
    } else {
        *angle = nan_f32();
    }
}

// ---- selection without scratch memory (GPU) -----------------------------------------------------

// An observation (date t) of a multi-band pixel is valid when every band is finite there (and,
// with a score, the score too).
LP_HD bool obs_valid(const float* bands, long long band_stride, long long t_stride, int nband, int t) {
    for (int b = 0; b < nband; ++b)
        if (is_missing_f(bands[b * band_stride + t * t_stride])) return false;
    return true;
}

// k-th smallest (0-based) of band `b` over valid dates, by bisection on the float32 keys.
LP_HD float kth_band_value(const float* bands, long long band_stride, long long t_stride, int nband, int ntime,
                           int b, int k) {
    lp_u32 lo = 0u, hi = 0xffffffffu;
    while (lo < hi) {
        const lp_u32 mid = lo + (hi - lo) / 2u;
        int c = 0;
        for (int t = 0; t < ntime; ++t)
            if (obs_valid(bands, band_stride, t_stride, nband, t) &&
                key_f32(bands[b * band_stride + t * t_stride]) <= mid)
                ++c;
        if (c >= k + 1) hi = mid; else lo = mid + 1u;
    }
    return unkey_f32(lo);
}

// The (k+1)-th smallest of band `b` over valid dates, given the k-th (`kth`): `kth` again when it
// occurs more than once among the first k+2, else the smallest value above it. One pass instead of
// a second 32-step bisection; the same value the bisection finds.
LP_HD float next_band_value(const float* bands, long long band_stride, long long t_stride, int nband, int ntime,
                            int b, int k, float kth) {
    const lp_u32 at = key_f32(kth);
    int c = 0;
    lp_u32 above = 0xffffffffu;
    for (int t = 0; t < ntime; ++t) {
        if (!obs_valid(bands, band_stride, t_stride, nband, t)) continue;
        const lp_u32 key = key_f32(bands[b * band_stride + t * t_stride]);
        if (key <= at) ++c;
        else if (key < above) above = key;
    }
    return c >= k + 2 ? kth : unkey_f32(above);
}

// Per-band NaN-median over the dates valid in every band (float32; even counts: the mean of the
// two middle values, as numpy.nanmedian). Writes out[b * out_stride]; returns the count.
LP_HD int median_composite_pixel(const float* bands, long long band_stride, long long t_stride, int nband,
                                 int ntime, float* out, long long out_stride) {
    int n = 0;
    for (int t = 0; t < ntime; ++t)
        if (obs_valid(bands, band_stride, t_stride, nband, t)) ++n;
    for (int b = 0; b < nband; ++b) {
        if (n == 0) { out[b * out_stride] = nan_f32(); continue; }
        const int k = (n - 1) / 2;
        const float lo = kth_band_value(bands, band_stride, t_stride, nband, ntime, b, k);
        float v = lo;
        if (n % 2 == 0) {
            const float hi = next_band_value(bands, band_stride, t_stride, nband, ntime, b, k, lo);
            v = (lo + hi) * 0.5f;
        }
        out[b * out_stride] = v;
    }
    return n;
}

// Max-score composite: the date with the largest score among dates where the score and every band
// are finite (first such date on ties); returns its index or -1, and the number of valid dates.
LP_HD int max_composite_pixel(const float* score, long long t_stride, const float* bands, long long band_stride,
                              int nband, int ntime, int* count) {
    int best = -1;
    float best_v = 0.0f;
    int n = 0;
    for (int t = 0; t < ntime; ++t) {
        const float s = score[t * t_stride];
        if (is_missing_f(s) || !obs_valid(bands, band_stride, t_stride, nband, t)) continue;
        ++n;
        if (best < 0 || s > best_v) { best = t; best_v = s; }
    }
    *count = n;
    return best;
}

// ---- z-score anomaly ----------------------------------------------------------------------------

// Baseline mean and sample standard deviation (two passes, double) over the valid dates where
// baseline[t] != 0. Returns the count; mean/std NaN when count < min_obs or std == 0.
LP_HD int baseline_stats(const float* y, long long t_stride, int ntime, const lp_u8* baseline, int min_obs,
                         double* mean, double* std) {
    int n = 0;
    double s = 0.0;
    for (int t = 0; t < ntime; ++t) {
        const float v = y[t * t_stride];
        if (baseline[t] && !is_missing_f(v)) { s = s + (double)v; ++n; }
    }
    if (n < min_obs || n < 2) { *mean = nan_f64(); *std = nan_f64(); return n; }
    const double m = s / (double)n;
    double ss = 0.0;
    for (int t = 0; t < ntime; ++t) {
        const float v = y[t * t_stride];
        if (baseline[t] && !is_missing_f(v)) { const double d = (double)v - m; ss = ss + d * d; }
    }
    const double sd = sqrt(ss / (double)(n - 1));
    *mean = m;
    *std = sd > 0.0 ? sd : nan_f64();
    return n;
}

LP_HD float zscore_value(float v, double mean, double std) {
    if (is_missing_f(v) || is_missing_d(mean) || is_missing_d(std)) return nan_f32();
    return (float)(((double)v - mean) / std);
}

// ---- Theil-Sen slope and Mann-Kendall test ------------------------------------------------------

// Pairwise slope (y_j - y_i) / (t_j - t_i) in float32 (t in days), for valid pairs with t_j > t_i.
LP_HD bool pair_slope(const float* y, long long t_stride, const float* tdays, int i, int j, float* s) {
    const float yi = y[i * t_stride], yj = y[j * t_stride];
    if (is_missing_f(yi) || is_missing_f(yj)) return false;
    const float dt = tdays[j] - tdays[i];
    if (!(dt > 0.0f)) return false;
    *s = (yj - yi) / dt;
    return true;
}

LP_HD int count_slopes_le(const float* y, long long t_stride, const float* tdays, int ntime, lp_u32 key,
                          int* total) {
    int c = 0, n = 0;
    for (int i = 0; i < ntime; ++i)
        for (int j = i + 1; j < ntime; ++j) {
            float s;
            if (!pair_slope(y, t_stride, tdays, i, j, &s)) continue;
            ++n;
            if (key_f32(s) <= key) ++c;
        }
    *total = n;
    return c;
}

// Median of the pairwise slopes, per day (NaN when no pair). Bisection on keys (no scratch).
LP_HD float theil_sen_slope(const float* y, long long t_stride, const float* tdays, int ntime) {
    int npairs = 0;
    count_slopes_le(y, t_stride, tdays, ntime, 0u, &npairs);
    if (npairs == 0) return nan_f32();
    const int k = (npairs - 1) / 2;
    lp_u32 lo = 0u, hi = 0xffffffffu;
    int dummy;
    while (lo < hi) {
        const lp_u32 mid = lo + (hi - lo) / 2u;
        if (count_slopes_le(y, t_stride, tdays, ntime, mid, &dummy) >= k + 1) hi = mid; else lo = mid + 1u;
    }
    const float v = unkey_f32(lo);
    if (npairs % 2 == 1) return v;
    // (k+1)-th smallest: v again if it repeats, else the smallest slope above v.
    if (count_slopes_le(y, t_stride, tdays, ntime, lo, &dummy) >= k + 2) return (v + v) * 0.5f;
    bool found = false;
    float nxt = 0.0f;
    for (int i = 0; i < ntime; ++i)
        for (int j = i + 1; j < ntime; ++j) {
            float s;
            if (!pair_slope(y, t_stride, tdays, i, j, &s)) continue;
            if (key_f32(s) > lo && (!found || key_f32(s) < key_f32(nxt))) { nxt = s; found = true; }
        }
    return (v + nxt) * 0.5f;
}

// Mann-Kendall S and its variance with the tie correction
// Var(S) = [n(n-1)(2n+5) - sum_g t_g(t_g-1)(2t_g+5)] / 18, returned as the Z statistic
// (S - sign(S)) / sqrt(Var(S)) (0 when S == 0 or Var == 0). Dates in order; NaN skipped.
LP_HD double mann_kendall_z(const float* y, long long t_stride, int ntime, int* n_out, long long* s_out) {
    long long s = 0;
    long long tie_sum = 0;  // sum over observations i of (c_i - 1)(2 c_i + 5), c_i = size of i's tie group
    int n = 0;
    for (int i = 0; i < ntime; ++i) {
        const float yi = y[i * t_stride];
        if (is_missing_f(yi)) continue;
        ++n;
        long long c = 0;
        for (int j = 0; j < ntime; ++j) {
            const float yj = y[j * t_stride];
            if (is_missing_f(yj)) continue;
            if (yj == yi) ++c;
            if (j > i) s += (yj > yi) ? 1 : ((yj < yi) ? -1 : 0);
        }
        tie_sum += (c - 1) * (2 * c + 5);
    }
    *n_out = n;
    *s_out = s;
    const long long nn = (long long)n;
    const double var = (double)(nn * (nn - 1) * (2 * nn + 5) - tie_sum) / 18.0;
    if (s == 0 || !(var > 0.0)) return 0.0;
    return (double)(s > 0 ? s - 1 : s + 1) / sqrt(var);
}

// ---- BFAST-Monitor ------------------------------------------------------------------------------

// Packed lower-triangular index of (i, j), j <= i.
LP_HD int tri(int i, int j) { return i * (i + 1) / 2 + j; }

// In-place Cholesky of a packed symmetric matrix; false when not positive definite
// (a pivot below 1e-12 of its diagonal entry: collinear regressors, too few distinct dates).
LP_HD bool cholesky_packed(double* a, int k) {
    for (int j = 0; j < k; ++j) {
        const double ajj = a[tri(j, j)];
        double d = ajj;
        for (int p = 0; p < j; ++p) d = d - a[tri(j, p)] * a[tri(j, p)];
        if (!(d > 1e-12 * ajj) || !(d > 0.0)) return false;
        const double l = sqrt(d);
        a[tri(j, j)] = l;
        for (int i = j + 1; i < k; ++i) {
            double v = a[tri(i, j)];
            for (int p = 0; p < j; ++p) v = v - a[tri(i, p)] * a[tri(j, p)];
            a[tri(i, j)] = v / l;
        }
    }
    return true;
}

// Solve L L' x = b (L packed), b overwritten by x.
LP_HD void cholesky_solve(const double* l, double* b, int k) {
    for (int i = 0; i < k; ++i) {
        double v = b[i];
        for (int p = 0; p < i; ++p) v = v - l[tri(i, p)] * b[p];
        b[i] = v / l[tri(i, i)];
    }
    for (int i = k - 1; i >= 0; --i) {
        double v = b[i];
        for (int p = i + 1; p < k; ++p) v = v - l[tri(p, i)] * b[p];
        b[i] = v / l[tri(i, i)];
    }
}

LP_HD void add_obs(double* a, double* b, const double* x, double y, int k) {
    for (int i = 0; i < k; ++i) {
        for (int j = 0; j <= i; ++j) a[tri(i, j)] = a[tri(i, j)] + x[i] * x[j];
        b[i] = b[i] + x[i] * y;
    }
}

LP_HD double predict(const double* x, const double* beta, int k) {
    double v = 0.0;
    for (int i = 0; i < k; ++i) v = v + x[i] * beta[i];
    return v;
}

// Recursive residuals of the reversed history (Brown, Durbin & Evans 1975; R strucchange
// recresid), one pass over the valid dates of [hist0, mon0) from the last one backwards.
// Mode 0: accumulates their count, mean and M2 (Welford). Mode 1: finds the first crossing of the
// reverse-ordered CUSUM process of the boundary lam * (1 + 2 j / m) (m = number of residuals) and
// returns j (1-based), or 0. Returns -1 when a fit is singular (ROC is then skipped).
LP_HD int roc_pass(const float* y, long long t_stride, const double* X, int k, int hist0, int mon0, int n,
                   int mode, double* w_count, double* w_mean, double* w_m2, double sigma, double lam) {
    double a[BFAST_PACKED], b[BFAST_MAX_K], l[BFAST_PACKED], beta[BFAST_MAX_K], z[BFAST_MAX_K];
    for (int i = 0; i < k * (k + 1) / 2; ++i) a[i] = 0.0;
    for (int i = 0; i < k; ++i) b[i] = 0.0;
    const int m = n - k;
    double cusum = 0.0;
    int r = 0;
    for (int t = mon0 - 1; t >= hist0; --t) {
        const float yv = y[t * t_stride];
        if (is_missing_f(yv)) continue;
        const double* x = X + (long long)t * k;
        const double yt = (double)yv;
        if (r >= k) {
            for (int i = 0; i < k * (k + 1) / 2; ++i) l[i] = a[i];
            if (!cholesky_packed(l, k)) return -1;
            for (int i = 0; i < k; ++i) beta[i] = b[i];
            cholesky_solve(l, beta, k);
            // x' (X'X)^-1 x = |L^-1 x|^2
            for (int i = 0; i < k; ++i) {
                double v = x[i];
                for (int p = 0; p < i; ++p) v = v - l[tri(i, p)] * z[p];
                z[i] = v / l[tri(i, i)];
            }
            double q = 0.0;
            for (int i = 0; i < k; ++i) q = q + z[i] * z[i];
            const double w = (yt - predict(x, beta, k)) / sqrt(1.0 + q);
            if (mode == 0) {
                *w_count = *w_count + 1.0;
                const double d = w - *w_mean;
                *w_mean = *w_mean + d / *w_count;
                *w_m2 = *w_m2 + d * (w - *w_mean);
            } else {
                const int j = r - k + 1;
                cusum = cusum + w;
                const double proc = cusum / (sigma * sqrt((double)m));
                const double bound = lam * (1.0 + 2.0 * (double)j / (double)m);
                if (fabs(proc) > bound) return j;
            }
        }
        add_obs(a, b, x, yt, k);
        ++r;
    }
    return 0;
}

// k-th smallest (0-based) residual over the monitoring observations, by bisection on the
// float64 keys (residuals recomputed each pass; the same bits every time).
LP_HD double kth_residual(const float* y, long long t_stride, const double* X, int k, const double* beta,
                          int t0, int ntime, int kth) {
    lp_u64 lo = 0ull, hi = 0xffffffffffffffffull;
    while (lo < hi) {
        const lp_u64 mid = lo + (hi - lo) / 2ull;
        int c = 0;
        for (int t = t0; t < ntime; ++t) {
            const float v = y[t * t_stride];
            if (is_missing_f(v)) continue;
            const double e = (double)v - predict(X + (long long)t * k, beta, k);
            if (key_f64(e) <= mid) ++c;
        }
        if (c >= kth + 1) hi = mid; else lo = mid + 1ull;
    }
    return unkey_f64(lo);
}

// The (kth+1)-th smallest residual, given the kth-th (`value`): one pass, as next_band_value.
LP_HD double next_residual(const float* y, long long t_stride, const double* X, int k, const double* beta,
                           int t0, int ntime, int kth, double value) {
    const lp_u64 at = key_f64(value);
    int c = 0;
    lp_u64 above = 0xffffffffffffffffull;
    for (int t = t0; t < ntime; ++t) {
        const float v = y[t * t_stride];
        if (is_missing_f(v)) continue;
        const lp_u64 key = key_f64((double)v - predict(X + (long long)t * k, beta, k));
        if (key <= at) ++c;
        else if (key < above) above = key;
    }
    return c >= kth + 2 ? value : unkey_f64(above);
}

struct BfastResult {
    lp_u8 flag;          // 0 no break, 1 break, CLASS_NODATA: too few observations to fit
    float break_date;    // decimal year of the first boundary crossing, NaN if none
    float magnitude;     // median residual in the monitoring period
    float history_start; // decimal year of the first observation of the stable history
    lp_u16 n_history;    // valid observations in the (stable) history that the model was fitted on
    lp_u16 n_monitor;    // valid observations in the monitoring period
};

// BFAST-Monitor of one pixel (Verbesselt, Zeileis & Herold 2012; R bfast::bfastmonitor with
// type = "OLS-MOSUM"). X: (ntime, k) design rows (intercept, trend, harmonics), row-major
// float64; tyear: decimal years; logtab[m] = log(m). Dates [hist0, mon0) are the candidate
// history, dates >= mon0 the monitoring period. roc != 0 selects the stable history with the
// reverse-ordered CUSUM test at boundary lam_roc; lam is the MOSUM critical value.
LP_HD BfastResult bfast_monitor_pixel(const float* y, long long t_stride, int ntime, const double* X, int k,
                                      const double* tyear, const double* logtab, int hist0, int mon0,
                                      int roc, double hfrac, double lam, double lam_roc) {
    BfastResult res;
    res.flag = CLASS_NODATA;
    res.break_date = nan_f32();
    res.magnitude = nan_f32();
    res.history_start = nan_f32();
    int n_mon = 0;
    for (int t = mon0; t < ntime; ++t)
        if (!is_missing_f(y[t * t_stride])) ++n_mon;
    res.n_monitor = (lp_u16)n_mon;
    int nh = 0;
    for (int t = hist0; t < mon0; ++t)
        if (!is_missing_f(y[t * t_stride])) ++nh;
    int first = 0;  // index (0-based, among the valid history dates) of the stable history start
    if (roc && nh > k + 1) {
        double cnt = 0.0, mean = 0.0, m2 = 0.0;
        if (roc_pass(y, t_stride, X, k, hist0, mon0, nh, 0, &cnt, &mean, &m2, 0.0, 0.0) == 0 && cnt > 1.0) {
            const double sigma = sqrt(m2 / (cnt - 1.0));
            if (sigma > 0.0) {
                const int j = roc_pass(y, t_stride, X, k, hist0, mon0, nh, 1, &cnt, &mean, &m2, sigma, lam_roc);
                if (j > 0) first = nh - k - j + 1;  // R: y_start = length(process) - j + 1 (1-based)
            }
        }
    }
    const int n = nh - first;
    res.n_history = (lp_u16)n;
    int tstart = mon0;  // date index of the stable history start
    for (int t = hist0, q = 0; t < mon0; ++t) {
        if (is_missing_f(y[t * t_stride])) continue;
        if (q == first) { tstart = t; break; }
        ++q;
    }
    if (n > 0) res.history_start = (float)tyear[tstart];
    const int K = (int)floor(hfrac * (double)n);
    if (n <= k || K <= 1) return res;
    double a[BFAST_PACKED], beta[BFAST_MAX_K];
    for (int i = 0; i < k * (k + 1) / 2; ++i) a[i] = 0.0;
    for (int i = 0; i < k; ++i) beta[i] = 0.0;
    for (int t = tstart; t < mon0; ++t) {
        const float v = y[t * t_stride];
        if (!is_missing_f(v)) add_obs(a, beta, X + (long long)t * k, (double)v, k);
    }
    if (!cholesky_packed(a, k)) return res;
    cholesky_solve(a, beta, k);
    double rss = 0.0;
    for (int t = tstart; t < mon0; ++t) {
        const float v = y[t * t_stride];
        if (is_missing_f(v)) continue;
        const double e = (double)v - predict(X + (long long)t * k, beta, k);
        rss = rss + e * e;
    }
    const double sigma = sqrt(rss / (double)(n - k));
    res.flag = 0;
    if (!(sigma > 0.0)) return res;
    const double scale = sigma * sqrt((double)n);
    // MOSUM over the valid observations from the history start on: window of K residuals ending
    // at observation m (1-based); monitored for m > n against lam * sqrt(2 * log+(m / n)).
    double window = 0.0;
    int m = 0;
    int lag_t = tstart;  // the observation leaving the window
    for (int t = tstart; t < ntime; ++t) {
        const float v = y[t * t_stride];
        if (is_missing_f(v)) continue;
        ++m;
        window = window + ((double)v - predict(X + (long long)t * k, beta, k));
        if (m > K) {
            while (is_missing_f(y[lag_t * t_stride])) ++lag_t;
            window = window - ((double)y[lag_t * t_stride] - predict(X + (long long)lag_t * k, beta, k));
            ++lag_t;
        }
        if (m > n && res.flag == 0) {
            const double ratio = (double)m / (double)n;
            const double lp = ratio <= 2.718281828459045 ? 1.0 : logtab[m] - logtab[n];
            const double bound = lam * sqrt(2.0 * lp);
            if (fabs(window / scale) > bound) {
                res.flag = 1;
                res.break_date = (float)tyear[t];
            }
        }
    }
    if (n_mon > 0) {
        const int kk = (n_mon - 1) / 2;
        const double lo = kth_residual(y, t_stride, X, k, beta, mon0, ntime, kk);
        double med = lo;
        if (n_mon % 2 == 0) {
            const double hi = next_residual(y, t_stride, X, k, beta, mon0, ntime, kk, lo);
            med = (lo + hi) / 2.0;
        }
        res.magnitude = (float)med;
    }
    return res;
}

}  // namespace lp
