// Host build of the change-detection device functions (kernels/change.cuh), for tests on
// machines without a GPU: the same loops as kernels/change.cu, one pixel after another. Compiled
// by g++ and by nvcc, loaded with ctypes by tests/test_change_cuda_host.py and compared bit for
// bit with the Numba kernels.
#include <cstddef>
#include <cstdint>

#include "change.cuh"

extern "C" {

void host_classify(const float* a, const float* b, float* d, std::uint8_t* cls, long long n, const float* edges,
                   int n_edges, int first, float offset) {
    for (long long i = 0; i < n; ++i) {
        d[i] = lp::difference_value(a[i], b[i], offset);
        cls[i] = lp::classify_value(d[i], edges, n_edges, first);
    }
}

void host_cva(const float* pre, const float* post, long long npix, int nvar, float* mag, float* ang,
              std::uint8_t* sec) {
    for (long long p = 0; p < npix; ++p) lp::cva_pixel(pre + p, post + p, npix, nvar, mag + p, ang + p, sec + p);
}

void host_median(const float* bands, int nband, int ntime, long long npix, float* out, std::uint16_t* count) {
    for (long long p = 0; p < npix; ++p)
        count[p] = (std::uint16_t)lp::median_composite_pixel(bands + p, (long long)ntime * npix, npix, nband, ntime,
                                                             out + p, npix);
}

void host_max(const float* score, const float* bands, int nband, int ntime, long long npix, float* out,
              std::uint16_t* count, std::uint16_t* index) {
    const long long bs = (long long)ntime * npix;
    for (long long p = 0; p < npix; ++p) {
        int n = 0;
        const int best = lp::max_composite_pixel(score + p, npix, bands + p, bs, nband, ntime, &n);
        for (int b = 0; b < nband; ++b) out[b * npix + p] = best < 0 ? lp::nan_f32() : bands[b * bs + best * npix + p];
        count[p] = (std::uint16_t)n;
        index[p] = best < 0 ? lp::INDEX_NODATA : (std::uint16_t)best;
    }
}

void host_zscore(const float* y, int ntime, long long npix, const std::uint8_t* baseline, int min_obs, float* z,
                 std::uint16_t* count, float* mean, float* sd) {
    for (long long p = 0; p < npix; ++p) {
        double m, s;
        const int n = lp::baseline_stats(y + p, npix, ntime, baseline, min_obs, &m, &s);
        for (int t = 0; t < ntime; ++t) z[t * npix + p] = lp::zscore_value(y[t * npix + p], m, s);
        count[p] = (std::uint16_t)n;
        mean[p] = (float)m;
        sd[p] = (float)s;
    }
}

void host_trend(const float* y, int ntime, long long npix, const float* tdays, int min_obs, double z_crit,
                float per_year, float* slope, float* pval, std::uint8_t* cls, std::uint16_t* count) {
    for (long long p = 0; p < npix; ++p) {
        int n = 0;
        long long s = 0;
        const double zs = lp::mann_kendall_z(y + p, npix, ntime, &n, &s);
        count[p] = (std::uint16_t)n;
        if (n < min_obs) {
            slope[p] = lp::nan_f32();
            pval[p] = lp::nan_f32();
            cls[p] = lp::CLASS_NODATA;
            continue;
        }
        slope[p] = lp::theil_sen_slope(y + p, npix, tdays, ntime) * per_year;
        pval[p] = (float)std::erfc(std::fabs(zs) / 1.4142135623730951);
        cls[p] = std::fabs(zs) > z_crit ? (zs > 0.0 ? 1 : 2) : 0;
    }
}

void host_bfast(const float* y, int ntime, long long npix, const double* X, int k, const double* tyear,
                const double* logtab, int hist0, int mon0, int roc, double hfrac, double lam, double lam_roc,
                std::uint8_t* flag, float* bdate, float* mag, float* hstart, std::uint16_t* nh, std::uint16_t* nm) {
    for (long long p = 0; p < npix; ++p) {
        const lp::BfastResult r = lp::bfast_monitor_pixel(y + p, npix, ntime, X, k, tyear, logtab, hist0, mon0, roc,
                                                          hfrac, lam, lam_roc);
        flag[p] = r.flag;
        bdate[p] = r.break_date;
        mag[p] = r.magnitude;
        hstart[p] = r.history_start;
        nh[p] = r.n_history;
        nm[p] = r.n_monitor;
    }
}

}  // extern "C"
