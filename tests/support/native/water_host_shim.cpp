// Host build of the water kernels (kernels/water.cu), for tests on machines without a GPU: with
// LP_HOST_ENTRY the kernels' own bodies compile as plain loops over every pixel (see LP_KERNEL in
// pixel.cuh), and these C entry points only forward to them. Compiled by g++ and by nvcc, loaded
// with ctypes by tests/test_water_cuda_host.py and compared bit for bit with the Numba kernels.
#define LP_HOST_ENTRY
#include <cstdint>

#include "water.cu"

extern "C" {

void host_water_threshold(const float* index, const std::uint8_t* codes, int has_mask, const float* threshold,
                          long long pixels_per_slice, long long n, std::uint8_t* out) {
    water_threshold_kernel(index, codes, has_mask, threshold, pixels_per_slice, n, out);
}

void host_wofs_u16_u8(const std::uint16_t* b1, const std::uint16_t* b2, const std::uint16_t* b3,
                      const std::uint16_t* b4, const std::uint16_t* b5, const std::uint16_t* b7, const std::uint8_t* q,
                      int has_class, const std::uint8_t* lut, long long nlut, const float* sc, const float* of,
                      const double* va, long long ns, long long pps, long long n, std::uint8_t* flags,
                      std::uint8_t* water) {
    wofs_kernel<unsigned short, unsigned char>(b1, b2, b3, b4, b5, b7, q, has_class, lut, nlut, sc, of, va, ns, pps, n,
                                               flags, water);
}

void host_wofs_f32_f32(const float* b1, const float* b2, const float* b3, const float* b4, const float* b5,
                       const float* b7, const float* q, int has_class, const std::uint8_t* lut, long long nlut,
                       const float* sc, const float* of, const double* va, long long ns, long long pps, long long n,
                       std::uint8_t* flags, std::uint8_t* water) {
    wofs_kernel<float, float>(b1, b2, b3, b4, b5, b7, q, has_class, lut, nlut, sc, of, va, ns, pps, n, flags, water);
}

void host_water_summary(const std::uint8_t* cls, int ntime, long long npix, std::uint8_t wet, std::uint8_t dry,
                        int min_clear, float seasonal, float permanent, std::uint16_t* wet_count,
                        std::uint16_t* clear_count, float* frequency, std::uint8_t* summary) {
    water_summary_kernel(cls, ntime, npix, wet, dry, min_clear, seasonal, permanent, wet_count, clear_count,
                         frequency, summary);
}

void host_water_change(const float* fa, const std::uint16_t* ca, const float* fb, const std::uint16_t* cb, long long n,
                       int min_clear, float threshold, std::uint8_t* out) {
    water_change_kernel(fa, ca, fb, cb, n, min_clear, threshold, out);
}

}  // extern "C"
