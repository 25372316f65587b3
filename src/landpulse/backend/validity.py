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


#: Stand-in limits for integer blocks (exact in float64 and in int64): "no limit", "no nodata".
INT_UNBOUNDED = float(2**62)
INT_NO_NODATA = -float(2**62) - 1024.0


def limits_for_dtype(valid: Validity, dtype: Any) -> Validity:
    """The limits a kernel compares raw values of ``dtype`` with.

    Float blocks use ``valid`` as it is. Integer blocks compare as int64 (branch-free and
    vectorised): ``lo``/``hi`` become the whole numbers that admit exactly the same integers
    (``ceil(lo)``, ``floor(hi)``, clamped to +-2**62), and a nodata value that no integer can
    equal (NaN or fractional) becomes an impossible value. The result is the same set of valid
    raw values either way.
    """
    if not np.issubdtype(np.dtype(dtype), np.integer):
        return valid
    nodata, lo, hi = valid
    big = INT_UNBOUNDED
    # -inf admits everything; +inf or NaN admits nothing (every comparison fails), like the floats
    lo_i = -big if lo == -math.inf else (big if not math.isfinite(lo) else min(max(math.ceil(lo), -big), big))
    hi_i = big if hi == math.inf else (-big if not math.isfinite(hi) else min(max(math.floor(hi), -big), big))
    if math.isnan(nodata) or nodata != math.floor(nodata) or abs(nodata) > INT_UNBOUNDED:
        nd_i = INT_NO_NODATA
    else:
        nd_i = float(nodata)
    return Validity(float(nd_i), float(lo_i), float(hi_i))
