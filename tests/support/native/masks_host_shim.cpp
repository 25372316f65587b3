// Host build of the mask kernel (kernels/masks.cu), for tests on machines without a GPU: with
// LP_HOST_ENTRY the kernel's own body compiles as a plain loop over every pixel (see LP_KERNEL in
// pixel.cuh), and these C entry points only forward to it.
#define LP_HOST_ENTRY
#include <cstdint>

#include "masks.cu"

extern "C" {

void host_mask_buffer_u8(const std::uint8_t* q, const unsigned char* lut, const unsigned char* blut, long long nlut,
                         const int* spans, int r, long long nt, long long ny, long long nx, unsigned char* out) {
    mask_buffer_kernel<unsigned char>(q, lut, blut, nlut, spans, r, ny, nx, nt * ny * nx, out);
}

void host_mask_buffer_f32(const float* q, const unsigned char* lut, const unsigned char* blut, long long nlut,
                          const int* spans, int r, long long nt, long long ny, long long nx, unsigned char* out) {
    mask_buffer_kernel<float>(q, lut, blut, nlut, spans, r, ny, nx, nt * ny * nx, out);
}

}  // extern "C"
