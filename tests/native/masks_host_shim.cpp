// Host build of the per-pixel mask function in kernels/masks.cuh (see pixel_host_shim.cpp).
#include <cstdint>

#include "masks.cuh"

extern "C" {

void host_mask_buffer_u8(const std::uint8_t* q, const unsigned char* lut, const unsigned char* blut, long long nlut,
                         const int* spans, int r, long long nt, long long ny, long long nx, unsigned char* out) {
    for (long long t = 0; t < nt; ++t)
        for (long long y = 0; y < ny; ++y)
            for (long long x = 0; x < nx; ++x)
                out[(t * ny + y) * nx + x] = lp::buffered_code<unsigned char>(
                    q + t * ny * nx, lut, blut, nlut, spans, r, ny, nx, y, x);
}

void host_mask_buffer_f32(const float* q, const unsigned char* lut, const unsigned char* blut, long long nlut,
                          const int* spans, int r, long long nt, long long ny, long long nx, unsigned char* out) {
    for (long long t = 0; t < nt; ++t)
        for (long long y = 0; y < ny; ++y)
            for (long long x = 0; x < nx; ++x)
                out[(t * ny + y) * nx + x] = lp::buffered_code<float>(
                    q + t * ny * nx, lut, blut, nlut, spans, r, ny, nx, y, x);
}

}  // extern "C"
