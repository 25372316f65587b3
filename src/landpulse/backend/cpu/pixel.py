"""Per-pixel maths on the CPU: the Numba twins of the ``LP_HD`` functions in ``kernels/pixel.cuh``.

Keep the two files in step: same operations, same order, float32 throughout (every literal is
a float32), so that the CPU and GPU give bit-identical float32 results (the CUDA side is compiled
with ``-fmad=false`` so no fused multiply-add changes the rounding). ``tests/test_cuda_host.py``
compiles the CUDA header for the host and checks this identity on edge cases and random data.

Never ``fastmath`` here: it lets LLVM drop the NaN tests these functions depend on.
"""

from __future__ import annotations

import numpy as np
from numba import njit

F32_NAN = np.float32(np.nan)
F32_ZERO = np.float32(0.0)
F32_ONE = np.float32(1.0)
F32_MINUS_ONE = np.float32(-1.0)

#: Out-of-range policy codes shared with the CUDA kernels.
OUT_OF_RANGE_NAN = 0
OUT_OF_RANGE_CLIP = 1


@njit(cache=True, nogil=True)
def dn_is_valid(dn, nodata, lo, hi):  # type: ignore[no-untyped-def]
    """True unless the raw value is NaN, equals ``nodata``, or lies outside ``[lo, hi]``.

    All three limits are float64. ``nodata`` NaN means "no nodata value" (every comparison with
    NaN is false); ``lo``/``hi`` may be -inf/inf. Values above ``hi`` are saturated or defective
    (Sentinel-2: 65535). Decided on the raw digital number, before any scaling.
    """
    v = np.float64(dn)
    if v != v:
        return False
    if v == nodata:
        return False
    if v < lo or v > hi:
        return False
    return True


@njit(cache=True, nogil=True)
def dn_to_reflectance(dn, scale, offset_dn):  # type: ignore[no-untyped-def]
    """``(float32(dn) + offset_dn) * scale`` in float32 (cast first: integers never meet arithmetic).

    The offset arrives in digital-number units (``offset / scale``, see
    :func:`landpulse.backend.blocks.radiometry_vectors`): for Sentinel-2's -1000 DN offset the sum
    is exact, so a DN of 1000 is exactly zero reflectance, and only the scaling rounds.
    """
    return (np.float32(dn) + offset_dn) * scale


@njit(cache=True, nogil=True)
def normalized_difference(a, b, lo, hi, policy):  # type: ignore[no-untyped-def]
    """``(a - b) / (a + b)`` in float32; NaN when ``a + b == 0``; outside ``[lo, hi]`` NaN or clipped."""
    den = a + b
    if den == F32_ZERO:
        return F32_NAN
    v = (a - b) / den
    if v < lo or v > hi:
        if policy == OUT_OF_RANGE_CLIP:
            return lo if v < lo else hi
        return F32_NAN
    return v


@njit(cache=True, nogil=True)
def ndvi_from_dn(red, nir, red_scale, red_offset_dn, nir_scale, nir_offset_dn,  # type: ignore[no-untyped-def]
                 red_nodata, red_lo, red_hi, nir_nodata, nir_lo, nir_hi, policy):
    """NDVI of one pixel from raw digital numbers (float32, NaN where invalid)."""
    if not dn_is_valid(red, red_nodata, red_lo, red_hi):
        return F32_NAN
    if not dn_is_valid(nir, nir_nodata, nir_lo, nir_hi):
        return F32_NAN
    r = dn_to_reflectance(red, red_scale, red_offset_dn)
    n = dn_to_reflectance(nir, nir_scale, nir_offset_dn)
    return normalized_difference(n, r, F32_MINUS_ONE, F32_ONE, policy)


# --- helpers of the generated multi-index kernels (landpulse.backend.codegen) -----------------

#: Mask codes written by the fused kernels (uint8), shared with the CUDA side.
MASK_CLEAR = 0
MASK_MASKED = 1
MASK_BUFFER = 2
MASK_NODATA = 3


@njit(cache=True, nogil=True, error_model="numpy")
def div_or_nan(a, b):  # type: ignore[no-untyped-def]
    """``a / b`` in float32; NaN when ``b == 0`` (no inf, no warning)."""
    if b == F32_ZERO:
        return F32_NAN
    return a / b


@njit(cache=True, nogil=True)
def sqrt_f32(a):  # type: ignore[no-untyped-def]
    """Correctly rounded float32 square root; NaN for negative input."""
    return np.sqrt(a)


@njit(cache=True, nogil=True)
def abs_f32(a):  # type: ignore[no-untyped-def]
    return np.abs(a)


@njit(cache=True, nogil=True)
def finish_index(v, lo, hi, lo_edge, hi_edge, policy):  # type: ignore[no-untyped-def]
    """Range check of an index value (float32).

    NaN stays NaN. Values in ``[lo_edge, lo)`` or ``(hi, hi_edge]`` (a few float32 ulps beyond a
    bound: rounding of a value that lies on the bound, as MSAVI does along a whole edge) are set to
    the bound; values farther out become NaN, or are clipped with the clip policy.
    """
    if v != v:
        return F32_NAN
    if v < lo:
        if v >= lo_edge or policy == OUT_OF_RANGE_CLIP:
            return lo
        return F32_NAN
    if v > hi:
        if v <= hi_edge or policy == OUT_OF_RANGE_CLIP:
            return hi
        return F32_NAN
    return v


@njit(cache=True, nogil=True)
def class_code(q, lut, n):  # type: ignore[no-untyped-def]
    """Mask code of one classification value: ``lut[q]``, or ``MASK_NODATA`` when ``q`` is NaN,
    not an integer, or outside ``[0, n)``."""
    v = np.float64(q)
    if v != v or v < 0.0 or v >= n:
        return np.uint8(MASK_NODATA)
    i = np.int64(v)
    if np.float64(i) != v:
        return np.uint8(MASK_NODATA)
    return lut[i]
