// Change detection on the GPU: one thread per pixel, grid-stride loops, the whole tile in parallel.
//
// Layouts (row-major): images are (slices, pixels); time series are (time, pixels), so thread p
// reads element t of its series at y[t * npix + p] and a warp reads 32 neighbouring pixels of one
// date at once (coalesced). Multi-band stacks are (band, time, pixels). The per-pixel maths is in
// change.cuh (shared with the host builds used in tests).
#include "change.cuh"

LP_KERNEL void classify_difference_kernel(const float* __restrict__ a, const float* __restrict__ b,
                                           float* __restrict__ d, lp_u8* __restrict__ cls, long long n,
                                           const float* __restrict__ edges, int n_edges, int first,
                                           float offset) {
    LP_GRID_STRIDE(i, n) {
        const float v = lp::difference_value(a[i], b[i], offset);
        d[i] = v;
        cls[i] = lp::classify_value(v, edges, n_edges, first);
    }
}

LP_KERNEL void cva_kernel(const float* __restrict__ pre, const float* __restrict__ post, long long npix,
                           int nvar, float* __restrict__ magnitude, float* __restrict__ angle,
                           lp_u8* __restrict__ sector) {
    LP_GRID_STRIDE(p, npix) {
        lp::cva_pixel(pre + p, post + p, npix, nvar, magnitude + p, angle + p, sector + p);
    }
}

LP_KERNEL void median_composite_kernel(const float* __restrict__ bands, int nband, int ntime, long long npix,
                                        float* __restrict__ out, lp_u16* __restrict__ count) {
    LP_GRID_STRIDE(p, npix) {
        const int n = lp::median_composite_pixel(bands + p, (long long)ntime * npix, npix, nband, ntime,
                                                 out + p, npix);
        count[p] = (lp_u16)n;
    }
}

LP_KERNEL void max_composite_kernel(const float* __restrict__ score, const float* __restrict__ bands, int nband,
                                     int ntime, long long npix, float* __restrict__ out,
                                     lp_u16* __restrict__ count, lp_u16* __restrict__ index) {
    LP_GRID_STRIDE(p, npix) {
        int n = 0;
        const long long bstride = (long long)ntime * npix;
        const int best = lp::max_composite_pixel(score + p, npix, bands + p, bstride, nband, ntime, &n);
        for (int b = 0; b < nband; ++b)
            out[b * npix + p] = best < 0 ? lp::nan_f32() : bands[b * bstride + (long long)best * npix + p];
        count[p] = (lp_u16)n;
        index[p] = best < 0 ? lp::INDEX_NODATA : (lp_u16)best;
    }
}

LP_KERNEL void zscore_kernel(const float* __restrict__ y, int ntime, long long npix,
                              const lp_u8* __restrict__ baseline, int min_obs, float* __restrict__ z,
                              lp_u16* __restrict__ count, float* __restrict__ mean, float* __restrict__ std) {
    LP_GRID_STRIDE(p, npix) {
        double m, s;
        const int n = lp::baseline_stats(y + p, npix, ntime, baseline, min_obs, &m, &s);
        for (int t = 0; t < ntime; ++t) z[t * npix + p] = lp::zscore_value(y[t * npix + p], m, s);
        count[p] = (lp_u16)n;
        mean[p] = (float)m;
        std[p] = (float)s;
    }
}

LP_KERNEL void trend_kernel(const float* __restrict__ y, int ntime, long long npix,
                             const float* __restrict__ tdays, int min_obs, double z_crit, float per_year,
                             float* __restrict__ slope, float* __restrict__ pvalue, lp_u8* __restrict__ cls,
                             lp_u16* __restrict__ count) {
    LP_GRID_STRIDE(p, npix) {
        int n = 0;
        long long s = 0;
        const double zs = lp::mann_kendall_z(y + p, npix, ntime, &n, &s);
        count[p] = (lp_u16)n;
        if (n < min_obs) {
            slope[p] = lp::nan_f32();
            pvalue[p] = lp::nan_f32();
            cls[p] = lp::CLASS_NODATA;
            continue;
        }
        slope[p] = lp::theil_sen_slope(y + p, npix, tdays, ntime) * per_year;
        pvalue[p] = (float)erfc(fabs(zs) / 1.4142135623730951);
        cls[p] = fabs(zs) > z_crit ? (zs > 0.0 ? 1 : 2) : 0;
    }
}

LP_KERNEL void bfast_monitor_kernel(const float* __restrict__ y, int ntime, long long npix,
                                     const double* __restrict__ X, int k, const double* __restrict__ tyear,
                                     const double* __restrict__ logtab, int hist0, int mon0, int roc,
                                     double hfrac, double lam, double lam_roc, lp_u8* __restrict__ flag,
                                     float* __restrict__ break_date, float* __restrict__ magnitude,
                                     float* __restrict__ history_start, lp_u16* __restrict__ n_history,
                                     lp_u16* __restrict__ n_monitor) {
    LP_GRID_STRIDE(p, npix) {
        const lp::BfastResult r = lp::bfast_monitor_pixel(y + p, npix, ntime, X, k, tyear, logtab, hist0, mon0,
                                                          roc, hfrac, lam, lam_roc);
        flag[p] = r.flag;
        break_date[p] = r.break_date;
        magnitude[p] = r.magnitude;
        history_start[p] = r.history_start;
        n_history[p] = r.n_history;
        n_monitor[p] = r.n_monitor;
    }
}
