"""Per-pixel maths of the water products on the CPU: the Numba twins of ``kernels/water.cuh``.

Same operations in the same order as the CUDA header, float32 throughout (every literal a
float32), so both devices give the same class codes and the same frequencies, bit for bit.
``tests/test_water_cuda_host.py`` builds the CUDA header for the host and checks the identity.
Never ``fastmath``: the NaN tests would be dropped.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from landpulse.backend.cpu.pixel import MASK_BUFFER, MASK_CLEAR, MASK_MASKED, div_or_nan, dn_is_valid, dn_to_reflectance

F32_NAN = np.float32(np.nan)

WATER_DRY = np.uint8(0)
WATER_WET = np.uint8(1)
WATER_MASKED = np.uint8(2)
WATER_NODATA = np.uint8(255)

WOFS_NODATA = np.uint8(1)
WOFS_NONCONTIGUOUS = np.uint8(2)
WOFS_SEA = np.uint8(4)
WOFS_TERRAIN_SHADOW = np.uint8(8)
WOFS_HIGH_SLOPE = np.uint8(16)
WOFS_CLOUD_SHADOW = np.uint8(32)
WOFS_CLOUD = np.uint8(64)
WOFS_WET = np.uint8(128)

SUMMARY_NEVER = np.uint8(0)
SUMMARY_SEASONAL = np.uint8(1)
SUMMARY_PERMANENT = np.uint8(2)

CHANGE_STABLE_DRY = np.uint8(0)
CHANGE_STABLE_WET = np.uint8(1)
CHANGE_NEW_WATER = np.uint8(2)
CHANGE_LOST_WATER = np.uint8(3)

# Thresholds of the WOfS tree (reflectance x 10000 and normalised differences), as float32.
T_M001 = np.float32(-0.01)
T_061 = np.float32(0.61)
T_022 = np.float32(0.22)
T_M023 = np.float32(-0.23)
T_023 = np.float32(0.23)
T_054 = np.float32(0.54)
T_012 = np.float32(0.12)
T_034 = np.float32(0.34)
T_045 = np.float32(0.45)
T_2083_5 = np.float32(2083.5)
T_323_5 = np.float32(323.5)
T_1400_5 = np.float32(1400.5)
T_379 = np.float32(379.0)
T_473 = np.float32(473.0)
T_334_5 = np.float32(334.5)
T_364_5 = np.float32(364.5)
T_129_5 = np.float32(129.5)
T_300_5 = np.float32(300.5)
T_249_5 = np.float32(249.5)


@njit(cache=True, nogil=True)
def water_from_index(value, code, threshold):
    """Water class (uint8) of one observation: see ``lp::water_from_index``."""
    if code == MASK_MASKED or code == MASK_BUFFER:
        return WATER_MASKED
    if code != MASK_CLEAR:
        return WATER_NODATA
    if value != value or threshold != threshold:
        return WATER_NODATA
    if value >= threshold:
        return WATER_WET
    return WATER_DRY


@njit(cache=True, nogil=True, error_model="numpy")
def wofs_tree(b1, b2, b3, b4, b5, b7):
    """The WOfS tree on reflectance x 10000 (float32): True for water. See ``lp::wofs_tree``."""
    ndi_52 = div_or_nan(b5 - b2, b5 + b2)
    ndi_43 = div_or_nan(b4 - b3, b4 + b3)
    ndi_72 = div_or_nan(b7 - b2, b7 + b2)
    if ndi_52 <= T_M001:
        if not (b1 <= T_2083_5):
            return False
        if b7 <= T_323_5:
            return ndi_43 <= T_061
        if not (b1 <= T_1400_5):
            return ndi_43 <= T_M001
        if not (ndi_72 <= T_M023):
            return b1 <= T_379
        if ndi_43 <= T_022:
            return True
        return b1 <= T_473
    if ndi_52 <= T_023:
        if not (b1 <= T_334_5):
            return False
        if not (ndi_43 <= T_054):
            return False
        if ndi_52 <= T_012:
            return True
        if b3 <= T_364_5:
            return b1 <= T_129_5
        return b1 <= T_300_5
    if not (ndi_52 <= T_034):
        return False
    if not (b1 <= T_249_5):
        return False
    if not (ndi_43 <= T_045):
        return False
    if not (b3 <= T_364_5):
        return False
    return b1 <= T_129_5


@njit(cache=True, nogil=True)
def dn_is_missing(dn, nodata):
    v = np.float64(dn)
    return not (v - v) == 0.0 or v == nodata  # not finite (NaN, +-inf), or nodata


@njit(cache=True, nogil=True)
def wofs_flags(r1, r2, r3, r4, r5, r7, sc, of, va, s, bits):
    """WOfS flags (uint8) of one observation; ``sc``/``of`` are ``(6, slices)``, ``va`` ``(6, 3)``,
    ``s`` the slice. See ``lp::wofs_flags``."""
    missing = (int(dn_is_missing(r1, va[0, 0])) + int(dn_is_missing(r2, va[1, 0])) + int(dn_is_missing(r3, va[2, 0]))
               + int(dn_is_missing(r4, va[3, 0])) + int(dn_is_missing(r5, va[4, 0])) + int(dn_is_missing(r7, va[5, 0])))
    if missing == 6:
        return WOFS_NODATA
    valid = (dn_is_valid(r1, va[0, 0], va[0, 1], va[0, 2]) and dn_is_valid(r2, va[1, 0], va[1, 1], va[1, 2])
             and dn_is_valid(r3, va[2, 0], va[2, 1], va[2, 2]) and dn_is_valid(r4, va[3, 0], va[3, 1], va[3, 2])
             and dn_is_valid(r5, va[4, 0], va[4, 1], va[4, 2]) and dn_is_valid(r7, va[5, 0], va[5, 1], va[5, 2]))
    flags = np.uint8(bits)
    if not valid:
        flags = np.uint8(flags | WOFS_NONCONTIGUOUS)
    if flags != 0:
        return flags
    wet = wofs_tree(dn_to_reflectance(r1, sc[0, s], of[0, s]), dn_to_reflectance(r2, sc[1, s], of[1, s]),
                    dn_to_reflectance(r3, sc[2, s], of[2, s]), dn_to_reflectance(r4, sc[3, s], of[3, s]),
                    dn_to_reflectance(r5, sc[4, s], of[4, s]), dn_to_reflectance(r7, sc[5, s], of[5, s]))
    return WOFS_WET if wet else np.uint8(0)


@njit(cache=True, nogil=True)
def water_from_wofs(flags):
    """Four-class water code of a WOfS flag byte. See ``lp::water_from_wofs``."""
    if flags == 0:
        return WATER_DRY
    if flags == WOFS_WET:
        return WATER_WET
    if flags & (WOFS_NODATA | WOFS_NONCONTIGUOUS):
        return WATER_NODATA
    return WATER_MASKED


@njit(cache=True, nogil=True)
def water_counts(cls, p, wet, dry):
    """(wet, clear) observation counts of pixel ``p`` of a ``(time, pixels)`` uint8 block."""
    w = 0
    c = 0
    for t in range(cls.shape[0]):
        v = cls[t, p]
        if v == wet:
            w += 1
            c += 1
        elif v == dry:
            c += 1
    return w, c


@njit(cache=True, nogil=True)
def water_frequency(n_wet, n_clear):
    """``wet / clear`` in float32; NaN without a clear observation."""
    if n_clear == 0:
        return F32_NAN
    return np.float32(n_wet) / np.float32(n_clear)


@njit(cache=True, nogil=True)
def summary_class(frequency, n_clear, min_clear, seasonal, permanent):
    """Never / seasonal / permanent (0/1/2), 255 below ``min_clear`` clear observations."""
    if n_clear == 0 or n_clear < min_clear:
        return WATER_NODATA
    if frequency >= permanent:
        return SUMMARY_PERMANENT
    if frequency >= seasonal:
        return SUMMARY_SEASONAL
    return SUMMARY_NEVER


@njit(cache=True, nogil=True)
def water_change_class(fa, ca, fb, cb, min_clear, threshold):
    """Change class between two periods. See ``lp::water_change_class``."""
    need = min_clear if min_clear > 1 else 1
    if ca < need or cb < need or fa != fa or fb != fb:
        return WATER_NODATA
    wa = fa >= threshold
    wb = fb >= threshold
    if wa:
        return CHANGE_STABLE_WET if wb else CHANGE_LOST_WATER
    return CHANGE_NEW_WATER if wb else CHANGE_STABLE_DRY
