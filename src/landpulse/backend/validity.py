"""The raw-value validity contract shared by every kernel: ``(nodata, lo, hi)`` per band.

A raw digital number is valid unless it is NaN, equals ``nodata``, or lies outside ``[lo, hi]``
(saturated or defective). It is decided before any scale or offset is applied.
"""

from __future__ import annotations

import math
from typing import NamedTuple


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
