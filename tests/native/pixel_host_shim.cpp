// Host build of the per-pixel CUDA functions in kernels/pixel.cuh, for tests on machines
// without a GPU. Compiled by g++ (plain C++) and by nvcc (the __host__ __device__ path); loaded
// with ctypes by tests/test_cuda_sources.py and compared bit for bit with the Numba kernels.
#include <cstddef>
#include <cstdint>

#include "pixel.cuh"

extern "C" {

void host_ndvi_u16(const std::uint16_t* red, const std::uint16_t* nir, std::size_t n, float rs,
                   float ro, float ns, float no, const double* rv, const double* nv, int policy,
                   float* out) {
    for (std::size_t i = 0; i < n; ++i)
        out[i] = lp::ndvi_from_dn<unsigned short>(red[i], nir[i], rs, ro, ns, no, rv[0], rv[1],
                                                  rv[2], nv[0], nv[1], nv[2], policy);
}

void host_ndvi_f32(const float* red, const float* nir, std::size_t n, float rs, float ro,
                   float ns, float no, const double* rv, const double* nv, int policy,
                   float* out) {
    for (std::size_t i = 0; i < n; ++i)
        out[i] = lp::ndvi_from_dn<float>(red[i], nir[i], rs, ro, ns, no, rv[0], rv[1], rv[2],
                                         nv[0], nv[1], nv[2], policy);
}

}  // extern "C"
