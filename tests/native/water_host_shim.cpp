// Host build of the water device functions (kernels/water.cuh), for tests on machines without a
// GPU: the same per-pixel calls as kernels/water.cu, one pixel after another. Compiled by g++ and
// by nvcc, loaded with ctypes by tests/test_water_cuda_host.py and compared bit for bit with the
// Numba kernels.
#include <cstdint>

#include "water.cuh"

namespace {

template <typename T, typename Q>
void wofs_loop(const T* b1, const T* b2, const T* b3, const T* b4, const T* b5, const T* b7, const Q* q,
               int has_class, const std::uint8_t* lut, long long nlut, const float* sc, const float* of,
               const double* va, long long ns, long long pixels_per_slice, long long n, std::uint8_t* flags,
               std::uint8_t* water) {
    for (long long i = 0; i < n; ++i) {
        const long long s = i / pixels_per_slice;
        float s6[6], o6[6];
        for (int b = 0; b < 6; ++b) {
            s6[b] = sc[b * ns + s];
            o6[b] = of[b * ns + s];
        }
        const std::uint8_t bits = has_class ? lp::lut_bits(q[i], lut, nlut, lp::WOFS_NODATA) : (std::uint8_t)0;
        const std::uint8_t f = lp::wofs_flags(b1[i], b2[i], b3[i], b4[i], b5[i], b7[i], s6, o6, va, bits);
        flags[i] = f;
        water[i] = lp::water_from_wofs(f);
    }
}

}  // namespace

extern "C" {

void host_water_threshold(const float* index, const std::uint8_t* codes, int has_mask, const float* threshold,
                          long long pixels_per_slice, long long n, std::uint8_t* out) {
    for (long long i = 0; i < n; ++i) {
        const std::uint8_t code = has_mask ? codes[i] : (std::uint8_t)lp::MASK_CLEAR;
        out[i] = lp::water_from_index(index[i], code, threshold[i / pixels_per_slice]);
    }
}

void host_wofs_u16_u8(const std::uint16_t* b1, const std::uint16_t* b2, const std::uint16_t* b3,
                      const std::uint16_t* b4, const std::uint16_t* b5, const std::uint16_t* b7, const std::uint8_t* q,
                      int has_class, const std::uint8_t* lut, long long nlut, const float* sc, const float* of,
                      const double* va, long long ns, long long pps, long long n, std::uint8_t* flags,
                      std::uint8_t* water) {
    wofs_loop(b1, b2, b3, b4, b5, b7, q, has_class, lut, nlut, sc, of, va, ns, pps, n, flags, water);
}

void host_wofs_f32_f32(const float* b1, const float* b2, const float* b3, const float* b4, const float* b5,
                       const float* b7, const float* q, int has_class, const std::uint8_t* lut, long long nlut,
                       const float* sc, const float* of, const double* va, long long ns, long long pps, long long n,
                       std::uint8_t* flags, std::uint8_t* water) {
    wofs_loop(b1, b2, b3, b4, b5, b7, q, has_class, lut, nlut, sc, of, va, ns, pps, n, flags, water);
}

void host_water_summary(const std::uint8_t* cls, int ntime, long long npix, std::uint8_t wet, std::uint8_t dry,
                        int min_clear, float seasonal, float permanent, std::uint16_t* wet_count,
                        std::uint16_t* clear_count, float* frequency, std::uint8_t* summary) {
    for (long long p = 0; p < npix; ++p) {
        int w = 0, c = 0;
        lp::water_counts(cls + p, npix, ntime, wet, dry, &w, &c);
        const float f = lp::water_frequency(w, c);
        wet_count[p] = (std::uint16_t)w;
        clear_count[p] = (std::uint16_t)c;
        frequency[p] = f;
        summary[p] = lp::summary_class(f, c, min_clear, seasonal, permanent);
    }
}

void host_water_change(const float* fa, const std::uint16_t* ca, const float* fb, const std::uint16_t* cb, long long n,
                       int min_clear, float threshold, std::uint8_t* out) {
    for (long long i = 0; i < n; ++i) out[i] = lp::water_change_class(fa[i], ca[i], fb[i], cb[i], min_clear, threshold);
}

}  // extern "C"
