// Water products on the GPU: one thread per pixel, grid-stride loops. Layouts (row-major): images
// are (slices, pixels) with slice s = i / pixels_per_slice; class series are (time, pixels), so a
// warp reads 32 neighbouring pixels of one date at once. The per-pixel maths is in water.cuh
// (shared with the host builds used in tests).
#include "water.cuh"

// Index thresholds: `codes` is read only when has_mask; `threshold` holds one value per slice (date).
LP_KERNEL void water_threshold_kernel(const float* __restrict__ index, const unsigned char* __restrict__ codes,
                                       int has_mask, const float* __restrict__ threshold,
                                       long long pixels_per_slice, long long n, unsigned char* __restrict__ out) {
    LP_GRID_STRIDE(i, n) {
        const unsigned char code = has_mask ? codes[i] : (unsigned char)lp::MASK_CLEAR;
        out[i] = lp::water_from_index(index[i], code, threshold[i / pixels_per_slice]);
    }
}

// WOfS flags and water classes of raw bands (blue, green, red, nir, swir16, swir22), all of type T,
// and an optional classification band q (read only when has_class) turned into flag bits by `lut`.
// sc/of: (6, ns) scale to reflectance x 10000 and offset in DN per band and slice; va: (6, 3).
template <typename T, typename Q>
LP_KERNEL void wofs_kernel(const T* __restrict__ b1, const T* __restrict__ b2, const T* __restrict__ b3,
                            const T* __restrict__ b4, const T* __restrict__ b5, const T* __restrict__ b7,
                            const Q* __restrict__ q, int has_class, const unsigned char* __restrict__ lut,
                            long long nlut,
                            const float* __restrict__ sc, const float* __restrict__ of,
                            const double* __restrict__ va, long long ns, long long pixels_per_slice,
                            long long n, unsigned char* __restrict__ flags, unsigned char* __restrict__ water) {
    LP_GRID_STRIDE(i, n) {
        const long long s = i / pixels_per_slice;
        float s6[6], o6[6];
        for (int b = 0; b < 6; ++b) {
            s6[b] = sc[b * ns + s];
            o6[b] = of[b * ns + s];
        }
        const unsigned char bits = has_class ? lp::lut_bits(q[i], lut, nlut, lp::WOFS_NODATA) : (unsigned char)0;
        const unsigned char f = lp::wofs_flags(b1[i], b2[i], b3[i], b4[i], b5[i], b7[i], s6, o6, va, bits);
        flags[i] = f;
        water[i] = lp::water_from_wofs(f);
    }
}

#define LP_WOFS_INSTANTIATE(T, Q)                                                                          \
    template LP_KERNEL void wofs_kernel<T, Q>(const T*, const T*, const T*, const T*, const T*, const T*, \
                                               const Q*, int, const unsigned char*, long long, const float*, \
                                               const float*, const double*, long long, long long, long long, \
                                               unsigned char*, unsigned char*);
LP_WOFS_INSTANTIATE(unsigned short, unsigned char)
LP_WOFS_INSTANTIATE(unsigned short, unsigned short)
LP_WOFS_INSTANTIATE(unsigned short, float)
LP_WOFS_INSTANTIATE(short, unsigned char)
LP_WOFS_INSTANTIATE(short, unsigned short)
LP_WOFS_INSTANTIATE(short, float)
LP_WOFS_INSTANTIATE(float, unsigned char)
LP_WOFS_INSTANTIATE(float, unsigned short)
LP_WOFS_INSTANTIATE(float, float)

// Summaries over time: cls is (time, pixels).
LP_KERNEL void water_summary_kernel(const unsigned char* __restrict__ cls, int ntime, long long npix,
                                     unsigned char wet, unsigned char dry, int min_clear, float seasonal,
                                     float permanent, unsigned short* __restrict__ wet_count,
                                     unsigned short* __restrict__ clear_count, float* __restrict__ frequency,
                                     unsigned char* __restrict__ summary) {
    LP_GRID_STRIDE(p, npix) {
        int w = 0, c = 0;
        lp::water_counts(cls + p, npix, ntime, wet, dry, &w, &c);
        const float f = lp::water_frequency(w, c);
        wet_count[p] = (unsigned short)w;
        clear_count[p] = (unsigned short)c;
        frequency[p] = f;
        summary[p] = lp::summary_class(f, c, min_clear, seasonal, permanent);
    }
}

// Change between two periods (pixel-wise).
LP_KERNEL void water_change_kernel(const float* __restrict__ fa, const unsigned short* __restrict__ ca,
                                    const float* __restrict__ fb, const unsigned short* __restrict__ cb, long long n,
                                    int min_clear, float threshold, unsigned char* __restrict__ out) {
    LP_GRID_STRIDE(i, n) { out[i] = lp::water_change_class(fa[i], ca[i], fb[i], cb[i], min_clear, threshold); }
}
