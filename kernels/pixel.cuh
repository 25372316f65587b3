// Per-pixel maths shared by every landpulse CUDA kernel.
//
// These are the CUDA twins of src/landpulse/backend/cpu/pixel.py: same operations, same order,
// float32 throughout. Compiled with -fmad=false (no fused multiply-add) they round exactly like
// the CPU kernels, so class products are bit-identical on both devices.
//
// LP_HD functions compile for the device under nvcc/NVRTC and for the host under any C++
// compiler, which is how tests/test_cuda_host.py checks them on machines without a GPU.
#pragma once

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define LP_HD __host__ __device__ __forceinline__
#else
#include <cmath>
#define LP_HD inline
#endif

namespace lp {

constexpr int OUT_OF_RANGE_NAN = 0;
constexpr int OUT_OF_RANGE_CLIP = 1;

LP_HD float nan_f32() { return __builtin_nanf(""); }

// Invalid when the raw value is NaN, equals nodata, or lies outside [lo, hi] (saturated or
// defective). nodata NaN means "no nodata value" (every comparison with NaN is false); lo/hi may
// be -inf/inf. Decided on the raw digital number, before any scaling.
template <typename T>
LP_HD bool dn_is_valid(T dn, double nodata, double lo, double hi) {
    const double v = static_cast<double>(dn);
    if (v != v) return false;
    if (v == nodata) return false;
    if (v < lo || v > hi) return false;
    return true;
}

// Cast first: integers never meet arithmetic.
template <typename T>
LP_HD float dn_to_reflectance(T dn, float scale, float offset) {
    const float v = static_cast<float>(dn) * scale;
    return v + offset;
}

// (a - b) / (a + b); NaN when a + b == 0; outside [lo, hi] NaN or clipped.
LP_HD float normalized_difference(float a, float b, float lo, float hi, int policy) {
    const float den = a + b;
    if (den == 0.0f) return nan_f32();
    const float v = (a - b) / den;
    if (v < lo || v > hi) {
        if (policy == OUT_OF_RANGE_CLIP) return v < lo ? lo : hi;
        return nan_f32();
    }
    return v;
}

template <typename T>
LP_HD float ndvi_from_dn(T red, T nir, float red_scale, float red_offset, float nir_scale,
                         float nir_offset, double red_nodata, double red_lo, double red_hi,
                         double nir_nodata, double nir_lo, double nir_hi, int policy) {
    if (!dn_is_valid(red, red_nodata, red_lo, red_hi)) return nan_f32();
    if (!dn_is_valid(nir, nir_nodata, nir_lo, nir_hi)) return nan_f32();
    const float r = dn_to_reflectance(red, red_scale, red_offset);
    const float n = dn_to_reflectance(nir, nir_scale, nir_offset);
    return normalized_difference(n, r, -1.0f, 1.0f, policy);
}

}  // namespace lp
