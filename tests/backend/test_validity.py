"""Raw-value validity: the integer form kernels compare is the same set as the float definition."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from landpulse.backend.validity import Validity, limits_for_dtype


def float_definition(v: np.ndarray, valid: Validity) -> np.ndarray:
    x = v.astype(np.float64)
    return (x == x) & (x != valid.nodata) & (x >= valid.lo) & (x <= valid.hi)


def integer_form(v: np.ndarray, prepared: Validity) -> np.ndarray:
    """What the kernels compute: int32 lanes for types of up to 16 bits, int64 otherwise."""
    it = np.int32 if v.dtype.itemsize <= 2 else np.int64
    lo, hi, nd = (np.asarray(x, np.float64) for x in (prepared.lo, prepared.hi, prepared.nodata))
    assert all(np.iinfo(it).min <= x <= np.iinfo(it).max for x in (lo, hi, nd))  # no overflow on the cast
    d = v.astype(it)
    return (d >= lo.astype(it)) & (d <= hi.astype(it)) & (d != nd.astype(it))


limits = st.one_of(st.just(math.inf), st.just(-math.inf), st.floats(-70000, 70000, allow_nan=False))


@settings(max_examples=300, deadline=None)
@given(nodata=st.one_of(st.just(math.nan), st.floats(-5, 70000, allow_nan=False), st.integers(-5, 70000).map(float)),
       lo=limits, hi=limits, dtype=st.sampled_from([np.uint16, np.int16, np.uint8, np.int32, np.uint32]))
def test_integer_limits_admit_exactly_the_same_values(nodata: float, lo: float, hi: float, dtype: type) -> None:
    info = np.iinfo(dtype)
    near = np.array([lo, hi, nodata, 65534, 65535, 32766, 32767], np.float64)
    near = near[np.isfinite(near)]
    near = np.concatenate([np.floor(near), np.ceil(near), np.floor(near) - 1, np.ceil(near) + 1])
    candidates = np.concatenate([np.arange(-300, 301, dtype=np.float64), near, [info.min, info.max]])
    values = np.unique(candidates[(candidates >= info.min) & (candidates <= info.max)]).astype(dtype)
    valid = Validity(nodata, lo, hi)
    prepared = limits_for_dtype(valid, dtype)
    np.testing.assert_array_equal(integer_form(values, prepared), float_definition(values, valid))


def test_float_blocks_keep_their_limits() -> None:
    v = Validity(math.nan, -math.inf, 0.5)
    assert limits_for_dtype(v, np.float32) is v
