// Host build of the change-detection kernels (kernels/change.cu), for tests on machines without a
// GPU: with LP_HOST_ENTRY the kernels' own bodies compile as plain loops over every pixel (see
// LP_KERNEL in pixel.cuh), and these C entry points only forward to them. Compiled by g++ and by
// nvcc, loaded with ctypes by tests/test_change_cuda_host.py and compared bit for bit with the
// Numba kernels.
#define LP_HOST_ENTRY
#include <cstdint>

#include "change.cu"

extern "C" {

void host_classify(const float* a, const float* b, float* d, std::uint8_t* cls, long long n, const float* edges,
                   int n_edges, int first, float offset) {
    classify_difference_kernel(a, b, d, cls, n, edges, n_edges, first, offset);
}

void host_cva(const float* pre, const float* post, long long npix, int nvar, float* mag, float* ang,
              std::uint8_t* sec) {
    cva_kernel(pre, post, npix, nvar, mag, ang, sec);
}

void host_median(const float* bands, int nband, int ntime, long long npix, float* out, std::uint16_t* count) {
    median_composite_kernel(bands, nband, ntime, npix, out, count);
}

void host_max(const float* score, const float* bands, int nband, int ntime, long long npix, float* out,
              std::uint16_t* count, std::uint16_t* index) {
    max_composite_kernel(score, bands, nband, ntime, npix, out, count, index);
}

void host_zscore(const float* y, int ntime, long long npix, const std::uint8_t* baseline, int min_obs, float* z,
                 std::uint16_t* count, float* mean, float* sd) {
    zscore_kernel(y, ntime, npix, baseline, min_obs, z, count, mean, sd);
}

void host_trend(const float* y, int ntime, long long npix, const float* tdays, int min_obs, double z_crit,
                float per_year, float* slope, float* pval, std::uint8_t* cls, std::uint16_t* count) {
    trend_kernel(y, ntime, npix, tdays, min_obs, z_crit, per_year, slope, pval, cls, count);
}

void host_bfast(const float* y, int ntime, long long npix, const double* X, int k, const double* tyear,
                const double* logtab, int hist0, int mon0, int roc, double hfrac, double lam, double lam_roc,
                std::uint8_t* flag, float* bdate, float* mag, float* hstart, std::uint16_t* nh, std::uint16_t* nm) {
    bfast_monitor_kernel(y, ntime, npix, X, k, tyear, logtab, hist0, mon0, roc, hfrac, lam, lam_roc, flag, bdate, mag,
                         hstart, nh, nm);
}

}  // extern "C"
