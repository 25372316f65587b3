"""Names of the resampling methods a target grid accepts (GDAL's, through rasterio), in a module
of their own so that validating a job spec imports neither rasterio nor the warping code."""

from __future__ import annotations

RESAMPLINGS = ("nearest", "bilinear", "cubic", "average", "mode", "min", "max", "med", "q1", "q3")

__all__ = ["RESAMPLINGS"]
