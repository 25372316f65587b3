"""The raw-value validity contract shared by every kernel: ``(nodata, lo, hi)`` per band.

A raw digital number is valid unless it is NaN, equals ``nodata``, or lies outside ``[lo, hi]``
(saturated or defective). It is decided before any scale or offset is applied.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np


class Validity(NamedTuple):
    """Raw-value validity of one band (all floats; NaN nodata = none, infinite limits = none)."""

    nodata: float = math.nan
    lo: float = -math.inf
    hi: float = math.inf

    @classmethod
    def of(cls, nodata: float | None = None, valid_range: tuple[float, float] | None = None) -> Validity:
        """Build from optional values (``None`` means "no such limit")."""
        lo, hi = valid_range if valid_range is not None else (-math.inf, math.inf)
        return cls(math.nan if nodata is None else float(nodata), float(lo), float(hi))


def limits_for_dtype(valid: Validity, dtype: Any) -> Validity:
    """The limits a kernel compares raw values of ``dtype`` with.

    Float blocks use ``valid`` as it is. Integer blocks compare as integers (branch-free and
    vectorised; 32-bit lanes for types of up to 16 bits): ``lo``/``hi`` become the whole numbers
    that admit exactly the same values of ``dtype`` (``ceil(lo)``, ``floor(hi)``, clamped to one
    beyond the type's range), and a nodata value no value of the type can equal (NaN, fractional
    or out of range) becomes ``min - 1``. The result is the same set of valid raw values either way.
    """
    dt = np.dtype(dtype)
    if not np.issubdtype(dt, np.integer):
        return valid
    info = np.iinfo(dt)
    below, above = float(info.min) - 1.0, float(info.max) + 1.0
    nodata, lo, hi = valid
    # -inf admits everything; +inf or NaN admits nothing (every comparison fails), like the floats
    lo_i = below if lo == -math.inf else (above if not math.isfinite(lo) else min(max(float(math.ceil(lo)), below), above))
    hi_i = above if hi == math.inf else (below if not math.isfinite(hi) else min(max(float(math.floor(hi)), below), above))
    if math.isnan(nodata) or nodata != math.floor(nodata) or not info.min <= nodata <= info.max:
        nd_i = below
    else:
        nd_i = float(nodata)
    return Validity(nd_i, lo_i, hi_i)
