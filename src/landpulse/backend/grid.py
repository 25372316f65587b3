"""When two grids are the same grid: coordinates within a fraction of the pixel size.

Coordinates are compared in pixels, never relative to their magnitude: at x ~ 600000 m (UTM) a
relative tolerance of 1e-6 is 0.6 m, most of a 1 m pixel, while float rounding of the same grid
stays far below a thousandth of a pixel. Grids that match within :data:`GRID_TOLERANCE` pixel are
one grid (callers then use one set of coordinates); any larger offset is a different grid, which
callers report as :class:`landpulse.errors.GridMismatchError` before xarray would align (or fail
to align) the arrays.
"""

from __future__ import annotations

import numpy as np

#: Largest offset, as a fraction of the pixel size, between coordinates of one grid.
GRID_TOLERANCE = 0.01


def pixel_step(coords: np.ndarray) -> float:
    """The pixel size of evenly spaced 1-D ``coords`` (absolute, in their unit; 0.0 for one coordinate)."""
    c = np.asarray(coords, dtype=np.float64)
    return float(abs(c[-1] - c[0]) / (c.size - 1)) if c.size > 1 else 0.0


def grid_offset(a: np.ndarray, b: np.ndarray, step: float | None = None) -> float:
    """Largest difference between coordinates ``a`` and ``b``, in pixels of ``step`` (default: ``a``'s).

    ``inf`` when the shapes differ or no pixel size is known.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return float("inf")
    if a.size == 0:
        return 0.0
    step = pixel_step(a) if step is None else abs(step)
    diff = float(np.nanmax(np.abs(a - b)))
    if diff == 0.0:
        return 0.0
    return diff / step if step > 0 else float("inf")


def same_coords(a: np.ndarray, b: np.ndarray, step: float | None = None, tolerance: float = GRID_TOLERANCE) -> bool:
    """True when ``a`` and ``b`` are the coordinates of one grid axis: within ``tolerance`` pixel."""
    return grid_offset(a, b, step) <= tolerance
