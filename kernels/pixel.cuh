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

// Kernels are written once for two builds. Under nvcc/NVRTC, LP_KERNEL is __global__ and
// LP_GRID_STRIDE a grid-stride loop (one thread per element). In the host build the tests load
// with ctypes (LP_HOST_ENTRY defined, tests/native/*_host_shim.cpp include the .cu files), the
// same kernel bodies become plain functions that visit every element in turn: the tests run the
// kernels' own code, not a copy of it.
#if defined(LP_HOST_ENTRY)
#define LP_KERNEL
#define LP_GRID_STRIDE(i, n) for (long long i = 0; i < (n); ++i)
#else
#define LP_KERNEL __global__
#define LP_GRID_STRIDE(i, n)                                                      \
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
         i += (long long)blockDim.x * gridDim.x)
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

// Integer block types: validity limits are whole numbers (prepared on the host by
// landpulse.backend.validity.limits_for_dtype) and compared as 64-bit integers.
// Types of up to 16 bits compare as int (their limits lie within one of the type's range).
template <typename T> struct is_integer_dn { static constexpr bool value = false; static constexpr bool small = false; };
template <> struct is_integer_dn<unsigned char> { static constexpr bool value = true; static constexpr bool small = true; };
template <> struct is_integer_dn<signed char> { static constexpr bool value = true; static constexpr bool small = true; };
template <> struct is_integer_dn<unsigned short> { static constexpr bool value = true; static constexpr bool small = true; };
template <> struct is_integer_dn<short> { static constexpr bool value = true; static constexpr bool small = true; };
template <> struct is_integer_dn<unsigned int> { static constexpr bool value = true; static constexpr bool small = false; };
template <> struct is_integer_dn<int> { static constexpr bool value = true; static constexpr bool small = false; };

// Invalid when the raw value is not finite (NaN, +-inf), equals nodata, or lies outside [lo, hi] (saturated or
// defective). Decided on the raw digital number, before any scaling. For float blocks nodata NaN
// means "no nodata value" (every comparison with NaN is false) and lo/hi may be -inf/inf; for
// integer blocks all three are whole numbers (nodata an impossible value when there is none).
// Branch-free, like the Numba twin, so the fused loops vectorise.
template <typename T>
LP_HD bool dn_is_valid(T dn, double nodata, double lo, double hi) {
    if constexpr (is_integer_dn<T>::small) {
        const int d = static_cast<int>(dn);
        return (d >= static_cast<int>(lo)) & (d <= static_cast<int>(hi)) & (d != static_cast<int>(nodata));
    } else if constexpr (is_integer_dn<T>::value) {
        const long long d = static_cast<long long>(dn);
        return (d >= static_cast<long long>(lo)) & (d <= static_cast<long long>(hi)) &
               (d != static_cast<long long>(nodata));
    } else {
        const double v = static_cast<double>(dn);
        return ((v - v) == 0.0) & (v != nodata) & (v >= lo) & (v <= hi);  // (v - v) == 0: finite
    }
}

// (float(dn) + offset_dn) * scale. Cast first: integers never meet arithmetic. The offset is in
// digital-number units (offset / scale): Sentinel-2's -1000 DN offset adds exactly, so DN 1000
// is exactly zero reflectance and only the scaling rounds.
template <typename T>
LP_HD float dn_to_reflectance(T dn, float scale, float offset_dn) {
    const float v = static_cast<float>(dn) + offset_dn;
    return v * scale;
}

// --- helpers of the generated multi-index kernels (landpulse.backend.codegen) ---------------

// Mask codes written by the fused kernels (uint8), shared with the Numba side.
constexpr unsigned char MASK_CLEAR = 0;
constexpr unsigned char MASK_MASKED = 1;
constexpr unsigned char MASK_BUFFER = 2;
constexpr unsigned char MASK_NODATA = 3;

// a / b in float32; NaN when b == 0 (no inf; a select, not a branch).
LP_HD float div_or_nan(float a, float b) {
    const float q = a / b;
    return (b == 0.0f) ? nan_f32() : q;
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
// (Selects as in the Numba twin: NaN fails every comparison and falls through to NaN.)
LP_HD float finish_index(float v, float lo, float hi, float lo_edge, float hi_edge, int policy) {
    const float bounded = (v < lo) ? lo : ((v > hi) ? hi : v);
    const bool keep = ((v >= lo_edge) & (v <= hi_edge)) | (policy == OUT_OF_RANGE_CLIP);
    return keep ? bounded : nan_f32();
}

// lut[q] for a classification value, or `fallback` when q is NaN, not an integer, or outside [0, n).
template <typename Q>
LP_HD unsigned char lut_bits(Q q, const unsigned char* lut, long long n, unsigned char fallback) {
    const double v = static_cast<double>(q);
    if (v != v || v < 0.0 || v >= static_cast<double>(n)) return fallback;
    const long long i = static_cast<long long>(v);
    if (static_cast<double>(i) != v) return fallback;
    return lut[i];
}

// Mask code of one classification value: lut[q], or MASK_NODATA when q is not a valid class.
template <typename T>
LP_HD unsigned char class_code(T q, const unsigned char* lut, long long n) {
    return lut_bits(q, lut, n, MASK_NODATA);
}

}  // namespace lp
