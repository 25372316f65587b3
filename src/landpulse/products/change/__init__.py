"""Change detection: bi-temporal change and per-pixel time-series breaks, on CPUs or GPUs.

xarray in, xarray out; the per-pixel work runs in fused kernels through the backend seam
(Numba on the CPU, CUDA through CuPy on the GPU), lazily over Dask chunks.

Bi-temporal (two dates or two period composites)
    :func:`difference` (any index, classed by thresholds), :func:`dndvi`, :func:`dnbr` (USGS
    burn-severity classes), :func:`cva` (change-vector magnitude, direction, Otsu change mask).
Period composites
    :func:`composite` (per-pixel median or max-NDVI over a date range, masked observations out).
Time series (one result per pixel over a stack with gaps)
    :func:`zscore_anomaly`, :func:`theil_sen` (with Mann-Kendall), :func:`bfast_monitor`.

Index values come from :func:`landpulse.ndvi` (or the index catalogue); this package has no
index formulas of its own.
"""

from landpulse.products.change.bitemporal import DNBR_CLASSES, DNBR_EDGES, cva, difference, dnbr, dndvi, otsu_threshold
from landpulse.products.change.composites import composite
from landpulse.products.change.timeseries import bfast_design, bfast_monitor, theil_sen, zscore_anomaly

__all__ = [
    "DNBR_CLASSES",
    "DNBR_EDGES",
    "bfast_design",
    "bfast_monitor",
    "composite",
    "cva",
    "difference",
    "dnbr",
    "dndvi",
    "otsu_threshold",
    "theil_sen",
    "zscore_anomaly",
]
