"""A raster grid as ingest sees a band file: CRS, affine transform (pixel corners), shape."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from affine import Affine

from landpulse.backend.grid import same_coords


@dataclass(frozen=True)
class Grid:
    """A raster grid: CRS, affine transform (pixel corners) and shape (rows, cols)."""

    crs: str
    transform: Affine
    shape: tuple[int, int]
    dtype: str | None = field(default=None, compare=False)  # of the band file probed (remote reads need it)

    @property
    def resolution(self) -> float:
        return abs(self.transform.a)

    def x_coords(self) -> np.ndarray:
        return self.transform.c + self.transform.a * (np.arange(self.shape[1]) + 0.5)

    def y_coords(self) -> np.ndarray:
        return self.transform.f + self.transform.e * (np.arange(self.shape[0]) + 0.5)

    def same_as(self, other: Grid) -> bool:
        """Same CRS and shape, and pixel centres within a fraction of the pixel size
        (:func:`landpulse.backend.grid.same_coords`); a rotated transform must match exactly."""
        return (
            self.crs == other.crs
            and self.shape == other.shape
            and (self.transform.b, self.transform.d) == (other.transform.b, other.transform.d)
            and same_coords(self.x_coords(), other.x_coords(), self.resolution)
            and same_coords(self.y_coords(), other.y_coords(), abs(self.transform.e))
        )


__all__ = ["Grid"]
