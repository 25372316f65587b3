"""Per-pixel maths on the CPU: the Numba twins of the ``LP_HD`` functions in ``kernels/pixel.cuh``.

Keep the two files in step: same operations, same order, float32 throughout (every literal is
a float32), so that the CPU and GPU give bit-identical float32 results (the CUDA side is compiled
with ``-fmad=false`` so no fused multiply-add changes the rounding). ``tests/test_cuda_sources.py``
compiles the CUDA for the host and checks this identity on edge cases and random data.

The helpers are written without early returns (selects, not branches), so the fused loops that
call them vectorise: the kernels are memory-bound only if the per-pixel work stays branch-free.
Never ``fastmath`` here: it lets LLVM drop the NaN tests these functions depend on.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import overload

from landpulse.backend.ops.fused import OUT_OF_RANGE_CLIP

F32_NAN = np.float32(np.nan)
F32_ZERO = np.float32(0.0)



def dn_is_valid(dn, nodata, lo, hi):
    """True unless the raw value is not finite (NaN, +-inf), equals ``nodata``, or lies outside ``[lo, hi]``.

    Decided on the raw digital number, before any scaling; values above ``hi`` are saturated or
    defective (Sentinel-2: 65535). The limits are float64 prepared on the host by
    :func:`landpulse.backend.validity.limits_for_dtype`: for integer blocks they are whole numbers
    (``nodata`` an impossible value when there is none), compared as int64, which vectorises;
    for float blocks NaN ``nodata`` means "none" and ``lo``/``hi`` may be infinite. Types of up
    to 16 bits compare in 32-bit lanes (twice as many per vector as 64-bit ones).
    (Only callable from Numba code: the implementation is chosen per dtype.)
    """
    raise NotImplementedError("dn_is_valid is only available inside Numba-compiled code")


# numba's stubs: _JITOptions lacks "cache" (valid in overload's jit_options) and Integer lacks bitwidth
@overload(dn_is_valid, jit_options={"cache": True, "nogil": True})  # type: ignore[typeddict-unknown-key]
def _dn_is_valid_impl(dn, nodata, lo, hi):
    if isinstance(dn, types.Integer) and dn.bitwidth <= 16:  # type: ignore[attr-defined]
        def small_integer(dn, nodata, lo, hi):
            d = np.int32(dn)  # limits lie within one of the type's range: they fit in int32
            return (d >= np.int32(lo)) & (d <= np.int32(hi)) & (d != np.int32(nodata))

        return small_integer
    if isinstance(dn, types.Integer):
        def integer(dn, nodata, lo, hi):
            d = np.int64(dn)
            return (d >= np.int64(lo)) & (d <= np.int64(hi)) & (d != np.int64(nodata))

        return integer

    def floating(dn, nodata, lo, hi):
        v = np.float64(dn)
        return ((v - v) == 0.0) & (v != nodata) & (v >= lo) & (v <= hi)  # (v - v) == 0: finite (not NaN, not +-inf)

    return floating


@njit(cache=True, nogil=True)
def dn_to_reflectance(dn, scale, offset_dn):
    """``(float32(dn) + offset_dn) * scale`` in float32 (cast first: integers never meet arithmetic).

    The offset arrives in digital-number units (``offset / scale``, see
    :func:`landpulse.backend.blocks.radiometry_vectors`): for Sentinel-2's -1000 DN offset the sum
    is exact, so a DN of 1000 is exactly zero reflectance, and only the scaling rounds.
    """
    return (np.float32(dn) + offset_dn) * scale


# --- helpers of the generated multi-index kernels (landpulse.backend.codegen) -----------------

#: Mask codes written by the fused kernels (uint8), shared with the CUDA side.
MASK_CLEAR = 0
MASK_MASKED = 1
MASK_BUFFER = 2
MASK_NODATA = 3


@njit(cache=True, nogil=True, error_model="numpy")
def div_or_nan(a, b):
    """``a / b`` in float32; NaN when ``b == 0`` (no inf, no warning; a select, not a branch)."""
    q = a / b
    return F32_NAN if b == F32_ZERO else q


@njit(cache=True, nogil=True)
def sqrt_f32(a):
    """Correctly rounded float32 square root; NaN for negative input."""
    return np.sqrt(a)


@njit(cache=True, nogil=True)
def abs_f32(a):
    return np.abs(a)


@njit(cache=True, nogil=True)
def finish_index(v, lo, hi, lo_edge, hi_edge, policy):
    """Range check of an index value (float32).

    NaN stays NaN. Values in ``[lo_edge, lo)`` or ``(hi, hi_edge]`` (a few float32 ulps beyond a
    bound: rounding of a value that lies on the bound, as MSAVI does along a whole edge) are set to
    the bound; values farther out become NaN, or are clipped with the clip policy.
    (Written as selects: NaN fails every comparison, so it falls through to NaN.)
    """
    bounded = lo if v < lo else (hi if v > hi else v)
    keep = ((v >= lo_edge) & (v <= hi_edge)) | (policy == OUT_OF_RANGE_CLIP)
    return bounded if keep else F32_NAN


def class_index(q, n):
    """Index of a classification value in a lookup table of ``n`` entries: ``q`` itself, or -1
    when ``q`` is NaN, not a whole number, or outside ``[0, n)``.

    Integer values need only the range test (an integer cast and two compares, no float round
    trip), which makes the per-row table lookup of the fused kernels about a third cheaper.
    (Only callable from Numba code: the implementation is chosen per dtype.)
    """
    raise NotImplementedError("class_index is only available inside Numba-compiled code")


@overload(class_index, jit_options={"cache": True, "nogil": True})  # type: ignore[typeddict-unknown-key]  # (as above)
def _class_index_impl(q, n):
    if isinstance(q, types.Integer):
        def integer(q, n):
            i = np.int64(q)  # uint64 values beyond int64 wrap negative: out of range, as they are
            return i if (i >= 0) & (i < n) else np.int64(-1)

        return integer

    def floating(q, n):
        v = np.float64(q)
        if v != v or v < 0.0 or v >= n:
            return np.int64(-1)
        i = np.int64(v)
        return i if np.float64(i) == v else np.int64(-1)

    return floating


@njit(cache=True, nogil=True)
def lut_bits(q, lut, n, fallback):
    """``lut[q]`` for a classification value, or ``fallback`` when ``q`` is NaN, not an integer,
    or outside ``[0, n)``."""
    i = class_index(q, n)
    return lut[i] if i >= 0 else np.uint8(fallback)


@njit(cache=True, nogil=True)
def class_code(q, lut, n):
    """Mask code of one classification value: ``lut[q]``, or ``MASK_NODATA`` when it is not a class."""
    return lut_bits(q, lut, n, MASK_NODATA)
