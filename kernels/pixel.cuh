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
#define LP_HD inline
#endif
#if !defined(__CUDACC_RTC__)  // NVRTC has no host headers
#include <cmath>
#include <limits>
#endif

namespace lp {

constexpr int OUT_OF_RANGE_NAN = 0;
constexpr int OUT_OF_RANGE_CLIP = 1;

// The canonical quiet NaN (0x7fc00000), as NumPy's float32 NaN.
LP_HD float nan_f32() {
#if defined(__CUDA_ARCH__)
    return __int_as_float(0x7fc00000);
#else
    return std::numeric_limits<float>::quiet_NaN();
#endif
}

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

// (float(dn) + offset_dn) * scale. Cast first: integers never meet arithmetic. The offset is in
// digital-number units (offset / scale): Sentinel-2's -1000 DN offset adds exactly, so DN 1000
// is exactly zero reflectance and only the scaling rounds.
template <typename T>
LP_HD float dn_to_reflectance(T dn, float scale, float offset_dn) {
    const float v = static_cast<float>(dn) + offset_dn;
    return v * scale;
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
LP_HD float ndvi_from_dn(T red, T nir, float red_scale, float red_offset_dn, float nir_scale,
                         float nir_offset_dn, double red_nodata, double red_lo, double red_hi,
                         double nir_nodata, double nir_lo, double nir_hi, int policy) {
    if (!dn_is_valid(red, red_nodata, red_lo, red_hi)) return nan_f32();
    if (!dn_is_valid(nir, nir_nodata, nir_lo, nir_hi)) return nan_f32();
    const float r = dn_to_reflectance(red, red_scale, red_offset_dn);
    const float n = dn_to_reflectance(nir, nir_scale, nir_offset_dn);
    return normalized_difference(n, r, -1.0f, 1.0f, policy);
}

// --- helpers of the generated multi-index kernels (landpulse.backend.codegen) ---------------

// Mask codes written by the fused kernels (uint8), shared with the Numba side.
constexpr unsigned char MASK_CLEAR = 0;
constexpr unsigned char MASK_MASKED = 1;
constexpr unsigned char MASK_BUFFER = 2;
constexpr unsigned char MASK_NODATA = 3;

// a / b in float32; NaN when b == 0 (no inf).
LP_HD float div_or_nan(float a, float b) {
    if (b == 0.0f) return nan_f32();
    return a / b;
}

// Correctly rounded float32 square root (NaN for negative input) and absolute value.
LP_HD float sqrt_f32(float a) {
#if defined(__CUDA_ARCH__)
    return sqrtf(a);  // IEEE round-to-nearest (NVRTC and nvcc default to -prec-sqrt=true)
#else
    return std::sqrt(a);
#endif
}

LP_HD float abs_f32(float a) {
#if defined(__CUDA_ARCH__)
    return fabsf(a);
#else
    return std::fabs(a);
#endif
}

// Range check of an index value. NaN stays NaN; values in [lo_edge, lo) or (hi, hi_edge] (a few
// float32 ulps beyond a bound: rounding of a value that lies on it) are set to the bound; values
// farther out are NaN, or clipped with the clip policy.
LP_HD float finish_index(float v, float lo, float hi, float lo_edge, float hi_edge, int policy) {
    if (v != v) return nan_f32();
    if (v < lo) return (v >= lo_edge || policy == OUT_OF_RANGE_CLIP) ? lo : nan_f32();
    if (v > hi) return (v <= hi_edge || policy == OUT_OF_RANGE_CLIP) ? hi : nan_f32();
    return v;
}

// Mask code of one classification value: lut[q], or MASK_NODATA when q is NaN, not an integer,
// or outside [0, n).
template <typename T>
LP_HD unsigned char class_code(T q, const unsigned char* lut, long long n) {
    const double v = static_cast<double>(q);
    if (v != v || v < 0.0 || v >= static_cast<double>(n)) return MASK_NODATA;
    const long long i = static_cast<long long>(v);
    if (static_cast<double>(i) != v) return MASK_NODATA;
    return lut[i];
}

}  // namespace lp
