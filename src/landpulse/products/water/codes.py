"""The codes of the water products: per-scene classes, WOfS bits, summary and change classes."""

from __future__ import annotations

from typing import Any

from landpulse.products.common import class_attrs

WATER_DRY, WATER_WET, WATER_MASKED, WATER_NODATA = 0, 1, 2, 255
#: Codes and names of the per-scene water product.
WATER_FLAG_VALUES = (WATER_DRY, WATER_WET, WATER_MASKED)
WATER_FLAG_MEANINGS = ("not_water", "water", "cloud_or_shadow")

#: WOfS feature-layer bits, in bit order.
WOFS_BITS: tuple[tuple[str, int], ...] = (
    ("nodata", 1), ("noncontiguous", 2), ("sea", 4), ("terrain_shadow_or_low_solar_angle", 8),
    ("high_slope", 16), ("cloud_shadow", 32), ("cloud", 64), ("water", 128),
)
#: Bits this implementation never sets (they need a coastline, a DEM and sun angles).
WOFS_BITS_NEVER_SET = ("sea", "terrain_shadow_or_low_solar_angle", "high_slope")
WOFS_REFERENCE = ("Mueller, N. et al. (2016), Water observations from space: Mapping surface water from 25 years of "
                  "Landsat imagery across Australia, Remote Sensing of Environment 174, 341-352, "
                  "https://doi.org/10.1016/j.rse.2015.11.003")

#: Summary classes.
SUMMARY_FLAG_VALUES = (0, 1, 2)
SUMMARY_FLAG_MEANINGS = ("never", "seasonal", "permanent")
#: Default frequency thresholds of the summary classes (see :func:`summary`).
PERMANENT_FREQUENCY = 0.9
SEASONAL_FREQUENCY = 0.1

#: Change classes.
CHANGE_FLAG_VALUES = (0, 1, 2, 3)
CHANGE_FLAG_MEANINGS = ("stable_not_water", "stable_water", "new_water", "lost_water")

#: The WOfS bands as catalogue band symbols, in tree order (TM bands 1, 2, 3, 4, 5, 7).
WOFS_SYMBOLS = ("B", "G", "R", "N", "S1", "S2")


def water_attrs(method: str, **extra: Any) -> dict[str, Any]:
    """CF attributes of a per-scene water class product (nodata 255)."""
    return class_attrs(f"water extent ({method})", WATER_FLAG_MEANINGS, WATER_FLAG_VALUES, method=method, **extra)
