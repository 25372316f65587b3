// NDVI on the GPU: one fused pass, raw digital numbers in (any integer or float type), float32 out.
//
// Layout: red/nir/out are (slices, pixels) row-major; scale/offset arrays hold one value per
// slice (per date), offsets in digital-number units (offset / scale). One thread per pixel, grid-stride loop over slices * pixels. `valid` holds
// (nodata, lo, hi) for red then nir, as doubles.
#include "pixel.cuh"

template <typename T>
__global__ void ndvi_kernel(const T* __restrict__ red, const T* __restrict__ nir,
                            const float* __restrict__ red_scale,
                            const float* __restrict__ red_offset_dn,
                            const float* __restrict__ nir_scale,
                            const float* __restrict__ nir_offset_dn, float* __restrict__ out,
                            long long pixels_per_slice, long long n, double red_nodata,
                            double red_lo, double red_hi, double nir_nodata, double nir_lo,
                            double nir_hi, int policy) {
    const long long stride = (long long)blockDim.x * gridDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        const long long s = i / pixels_per_slice;
        out[i] = lp::ndvi_from_dn<T>(red[i], nir[i], red_scale[s], red_offset_dn[s], nir_scale[s],
                                     nir_offset_dn[s], red_nodata, red_lo, red_hi, nir_nodata,
                                     nir_lo, nir_hi, policy);
    }
}

// Explicit instantiations so nvcc (tests) and NVRTC (name_expressions) agree on the set.
#define LP_NDVI_INSTANTIATE(T)                                                              \
    template __global__ void ndvi_kernel<T>(const T*, const T*, const float*, const float*, \
                                            const float*, const float*, float*, long long,   \
                                            long long, double, double, double, double,       \
                                            double, double, int);
LP_NDVI_INSTANTIATE(unsigned short)
LP_NDVI_INSTANTIATE(short)
LP_NDVI_INSTANTIATE(float)
