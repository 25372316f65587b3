// Mask codes with a buffer on the GPU: classification values (any integer or float type) in,
// uint8 codes out. Layout: q/out are (slices, ny, nx) row-major; one thread per pixel,
// grid-stride loop. See masks.cuh for the per-pixel rule.
#include "masks.cuh"

template <typename T>
LP_KERNEL void mask_buffer_kernel(const T* __restrict__ q, const unsigned char* __restrict__ lut,
                                  const unsigned char* __restrict__ buffer_lut, long long nlut,
                                  const int* __restrict__ spans, int r, long long ny, long long nx,
                                  long long n, unsigned char* __restrict__ out) {
    const long long per_slice = ny * nx;
    LP_GRID_STRIDE(i, n) {
        const long long s = i / per_slice;
        const long long p = i - s * per_slice;
        const long long y = p / nx;
        out[i] = lp::buffered_code<T>(q + s * per_slice, lut, buffer_lut, nlut, spans, r, ny, nx, y,
                                      p - y * nx);
    }
}

#define LP_MASK_INSTANTIATE(T)                                                                  \
    template LP_KERNEL void mask_buffer_kernel<T>(const T*, const unsigned char*,              \
                                                   const unsigned char*, long long, const int*, \
                                                   int, long long, long long, long long,        \
                                                   unsigned char*);
LP_MASK_INSTANTIATE(unsigned char)
LP_MASK_INSTANTIATE(unsigned short)
LP_MASK_INSTANTIATE(float)
