// Mask codes with a buffer in metres (as a disc of pixels), per pixel: the CUDA twin of
// src/landpulse/backend/cpu/masks.py. The CPU version uses row prefix sums, this one gathers over
// the disc directly; both give the same codes (tests/test_cuda_sources.py checks it on the host).
#pragma once

#include "pixel.cuh"

namespace lp {

// Code of pixel (y, x) of one (ny, nx) slice `q`: lut[q] unless that is clear and a buffer
// source (buffer_lut[q] == 1) lies within the disc; spans[k] is the half-width in columns of the
// disc row k rows from the centre (k = 0..r).
template <typename T>
LP_HD unsigned char buffered_code(const T* q, const unsigned char* lut, const unsigned char* buffer_lut,
                                  long long nlut, const int* spans, int r, long long ny, long long nx,
                                  long long y, long long x) {
    const unsigned char code = class_code(q[y * nx + x], lut, nlut);
    if (code != MASK_CLEAR) return code;
    for (int dy = -r; dy <= r; ++dy) {
        const long long yy = y + dy;
        if (yy < 0 || yy >= ny) continue;
        const int w = spans[dy >= 0 ? dy : -dy];
        const long long x0 = x - w < 0 ? 0 : x - w;
        const long long x1 = x + w > nx - 1 ? nx - 1 : x + w;
        for (long long xx = x0; xx <= x1; ++xx) {
            if (class_code(q[yy * nx + xx], buffer_lut, nlut) == 1) return MASK_BUFFER;
        }
    }
    return code;
}

}  // namespace lp
