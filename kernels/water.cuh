// Per-pixel maths of the water products, shared by kernels/water.cu (the GPU kernels) and by the
// host builds in tests (tests/native/water_host_shim.cpp).
//
// These are the twins of src/landpulse/backend/cpu/water_pixel.py: the same operations in the same
// order, float32 throughout, every literal a float32, no fused multiply-add (-fmad=false), so the
// class products are bit-identical on the CPU and the GPU.
//
// Class codes (uint8) of the per-scene water product:
//   0 not water, 1 water, 2 cloud or shadow (masked observation), 255 nodata.
// WOfS water observation feature layer (uint8 bit flags, Mueller et al. 2016; see water.py):
//   bit 0 nodata, 1 non-contiguous (a band missing or saturated), 2 sea, 3 terrain shadow or low
//   solar angle, 4 high slope, 5 cloud shadow, 6 cloud, 7 water (set only when no other bit is).
#pragma once

#include "pixel.cuh"

namespace lp {

constexpr unsigned char WATER_DRY = 0;
constexpr unsigned char WATER_WET = 1;
constexpr unsigned char WATER_MASKED = 2;
constexpr unsigned char WATER_NODATA = 255;

constexpr unsigned char WOFS_NODATA = 1;
constexpr unsigned char WOFS_NONCONTIGUOUS = 2;
constexpr unsigned char WOFS_SEA = 4;
constexpr unsigned char WOFS_TERRAIN_SHADOW = 8;
constexpr unsigned char WOFS_HIGH_SLOPE = 16;
constexpr unsigned char WOFS_CLOUD_SHADOW = 32;
constexpr unsigned char WOFS_CLOUD = 64;
constexpr unsigned char WOFS_WET = 128;

// Summary classes: never (or rarely) wet, seasonal, permanent; 255 nodata.
constexpr unsigned char SUMMARY_NEVER = 0;
constexpr unsigned char SUMMARY_SEASONAL = 1;
constexpr unsigned char SUMMARY_PERMANENT = 2;

// Change classes between two periods; 255 nodata.
constexpr unsigned char CHANGE_STABLE_DRY = 0;
constexpr unsigned char CHANGE_STABLE_WET = 1;
constexpr unsigned char CHANGE_NEW_WATER = 2;
constexpr unsigned char CHANGE_LOST_WATER = 3;

// Water class of one observation from an index value and its mask code (0 clear, 1 masked,
// 2 buffer, 3 nodata; 0 when there is no mask): water where value >= threshold. A NaN value (band
// invalid, zero denominator) or a NaN threshold (no threshold could be found for the scene) is
// nodata; masked and buffered observations are "cloud or shadow".
LP_HD unsigned char water_from_index(float value, unsigned char code, float threshold) {
    if (code == MASK_MASKED || code == MASK_BUFFER) return WATER_MASKED;
    if (code != MASK_CLEAR) return WATER_NODATA;
    if (value != value || threshold != threshold) return WATER_NODATA;
    return value >= threshold ? WATER_WET : WATER_DRY;
}

// The WOfS decision tree (Mueller et al. 2016, Remote Sensing of Environment 174, 341-352): the
// published classification tree with its node numbers N1..N45 and its thresholds (see water.py
// for the sources followed and how Sentinel-2 bands stand in for the Landsat ones).
// Inputs: surface reflectance x 10000 of Landsat TM bands 1, 2, 3, 4, 5, 7 (blue, green, red,
// nir, swir 1.6 um, swir 2.2 um). Returns true for water. A normalised difference with a zero
// denominator is NaN, and every comparison with NaN takes the "greater than" branch.
LP_HD bool wofs_tree(float b1, float b2, float b3, float b4, float b5, float b7) {
    const float ndi_52 = div_or_nan(b5 - b2, b5 + b2);
    const float ndi_43 = div_or_nan(b4 - b3, b4 + b3);
    const float ndi_72 = div_or_nan(b7 - b2, b7 + b2);
    if (ndi_52 <= -0.01f) {                               // N1 -> N2
        if (!(b1 <= 2083.5f)) return false;               // N3
        if (b7 <= 323.5f) return ndi_43 <= 0.61f;         // N4 -> N5: N6 water, N7 not
        if (!(b1 <= 1400.5f)) return ndi_43 <= -0.01f;    // N8 -> N9: N10 water, N11 not
        if (!(ndi_72 <= -0.23f)) return b1 <= 379.0f;     // N12 -> N13: N14 water, N15 not
        if (ndi_43 <= 0.22f) return true;                 // N16 -> N17
        return b1 <= 473.0f;                              // N18: N19 water, N20 not
    }
    if (ndi_52 <= 0.23f) {                                // N21 -> N22
        if (!(b1 <= 334.5f)) return false;                // N23
        if (!(ndi_43 <= 0.54f)) return false;             // N24 -> N25
        if (ndi_52 <= 0.12f) return true;                 // N26 -> N27
        if (b3 <= 364.5f) return b1 <= 129.5f;            // N28 -> N29: N31 water, N32 not
        return b1 <= 300.5f;                              // N30: N33 water, N34 not
    }
    if (!(ndi_52 <= 0.34f)) return false;                 // N35 -> N36
    if (!(b1 <= 249.5f)) return false;                    // N37 -> N38
    if (!(ndi_43 <= 0.45f)) return false;                 // N39 -> N40
    if (!(b3 <= 364.5f)) return false;                    // N41 -> N42
    return b1 <= 129.5f;                                  // N43: N44 water, N45 not
}

// (lut_bits, the classification lookup, lives in pixel.cuh)

// One band's raw state: missing (not finite: NaN or +-inf; or nodata) and valid (dn_is_valid).
template <typename T>
LP_HD bool dn_is_missing(T dn, double nodata) {
    const double v = static_cast<double>(dn);
    return !((v - v) == 0.0) || v == nodata;
}

// WOfS flags of one observation from the raw values of the six bands (blue, green, red, nir,
// swir16, swir22). `sc`/`of` hold per band the scale to reflectance x 10000 and the offset in
// digital numbers; `va` the raw validity (nodata, lo, hi) per band; `bits` the flags of the
// classification band (cloud, cloud shadow, nodata...), 0 without one.
template <typename T>
LP_HD unsigned char wofs_flags(T r1, T r2, T r3, T r4, T r5, T r7, const float* sc, const float* of,
                               const double* va, unsigned char bits) {
    const int missing = (int)dn_is_missing(r1, va[0]) + (int)dn_is_missing(r2, va[3]) +
                        (int)dn_is_missing(r3, va[6]) + (int)dn_is_missing(r4, va[9]) +
                        (int)dn_is_missing(r5, va[12]) + (int)dn_is_missing(r7, va[15]);
    if (missing == 6) return WOFS_NODATA;
    const bool valid = dn_is_valid(r1, va[0], va[1], va[2]) && dn_is_valid(r2, va[3], va[4], va[5]) &&
                       dn_is_valid(r3, va[6], va[7], va[8]) && dn_is_valid(r4, va[9], va[10], va[11]) &&
                       dn_is_valid(r5, va[12], va[13], va[14]) && dn_is_valid(r7, va[15], va[16], va[17]);
    unsigned char flags = bits;
    if (!valid) flags = (unsigned char)(flags | WOFS_NONCONTIGUOUS);
    if (flags != 0) return flags;
    const bool wet = wofs_tree(dn_to_reflectance(r1, sc[0], of[0]), dn_to_reflectance(r2, sc[1], of[1]),
                               dn_to_reflectance(r3, sc[2], of[2]), dn_to_reflectance(r4, sc[3], of[3]),
                               dn_to_reflectance(r5, sc[4], of[4]), dn_to_reflectance(r7, sc[5], of[5]));
    return wet ? WOFS_WET : (unsigned char)0;
}

// The four-class water product of a WOfS flag byte: 0 clear dry, 128 clear wet; nodata or
// non-contiguous -> nodata; any other flag (cloud, shadow, terrain...) -> cloud or shadow.
LP_HD unsigned char water_from_wofs(unsigned char flags) {
    if (flags == 0) return WATER_DRY;
    if (flags == WOFS_WET) return WATER_WET;
    if (flags & (WOFS_NODATA | WOFS_NONCONTIGUOUS)) return WATER_NODATA;
    return WATER_MASKED;
}

// Wet and clear observation counts of one pixel's series of class codes (element t at
// cls[t * stride]): an observation is clear when its code is `wet` or `dry`, wet when it is `wet`.
LP_HD void water_counts(const unsigned char* cls, long long stride, int ntime, unsigned char wet,
                        unsigned char dry, int* n_wet, int* n_clear) {
    int w = 0, c = 0;
    for (int t = 0; t < ntime; ++t) {
        const unsigned char v = cls[(long long)t * stride];
        if (v == wet) {
            ++w;
            ++c;
        } else if (v == dry) {
            ++c;
        }
    }
    *n_wet = w;
    *n_clear = c;
}

// wet / clear in float32; NaN when there is no clear observation.
LP_HD float water_frequency(int n_wet, int n_clear) {
    if (n_clear == 0) return nan_f32();
    return static_cast<float>(n_wet) / static_cast<float>(n_clear);
}

// Summary class: nodata below `min_clear` clear observations (and at 0), permanent at frequency
// >= `permanent`, seasonal at >= `seasonal`, else never.
LP_HD unsigned char summary_class(float frequency, int n_clear, int min_clear, float seasonal, float permanent) {
    if (n_clear == 0 || n_clear < min_clear) return WATER_NODATA;
    if (frequency >= permanent) return SUMMARY_PERMANENT;
    if (frequency >= seasonal) return SUMMARY_SEASONAL;
    return SUMMARY_NEVER;
}

// Change between two periods from their frequencies and clear counts: water in a period where
// frequency >= `threshold`; nodata where either period has fewer than `min_clear` (at least 1)
// clear observations.
LP_HD unsigned char water_change_class(float fa, int ca, float fb, int cb, int min_clear, float threshold) {
    const int need = min_clear > 1 ? min_clear : 1;
    if (ca < need || cb < need || fa != fa || fb != fb) return WATER_NODATA;
    const bool wa = fa >= threshold;
    const bool wb = fb >= threshold;
    if (wa) return wb ? CHANGE_STABLE_WET : CHANGE_LOST_WATER;
    return wb ? CHANGE_NEW_WATER : CHANGE_STABLE_DRY;
}

}  // namespace lp
