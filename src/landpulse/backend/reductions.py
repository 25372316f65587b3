"""Global reductions for products that must not depend on chunking (Otsu thresholds).

Histograms are sums of integer counts per block, so the result is the same whatever the chunks;
they run on the data's device (CuPy blocks are counted on the GPU) and come back to the host.
"""

from __future__ import annotations

import dask.array as dsa
import numpy as np
import xarray as xr

from .dispatch import array_module


def finite_max(da: xr.DataArray) -> float:
    """Largest finite value of ``da`` (NaN when there is none)."""
    v = da.where(np.isfinite(da)).max(skipna=True)
    out = v.data.compute() if isinstance(v.data, dsa.Array) else v.data
    out = out.get() if hasattr(out, "get") else out
    return float(out)


def finite_range(da: xr.DataArray) -> tuple[float, float]:
    """(smallest, largest) finite value of ``da`` in one pass over the data (NaN, NaN if none)."""
    import dask  # noqa: PLC0415

    v = da.where(np.isfinite(da))
    lo, hi = v.min(skipna=True).data, v.max(skipna=True).data
    if isinstance(lo, dsa.Array):
        lo, hi = dask.compute(lo, hi)
    lo, hi = (x.get() if hasattr(x, "get") else x for x in (lo, hi))
    return float(lo), float(hi)


def histogram(da: xr.DataArray, bins: int, value_range: tuple[float, float]) -> np.ndarray:
    """Counts of the finite values of ``da`` in ``bins`` equal bins over ``value_range``.

    Returns
    -------
    numpy.ndarray
        int64 counts on the host (NaN and values outside the range are not counted).
    """
    data = da.data
    lo, hi = float(value_range[0]), float(value_range[1])
    if isinstance(data, dsa.Array):
        counts, _ = dsa.histogram(data, bins=bins, range=(lo, hi))
        counts = counts.compute()
    else:
        xp = array_module(data)
        flat = data.reshape(-1)
        counts, _ = xp.histogram(flat[xp.isfinite(flat)], bins=bins, range=(lo, hi))
    counts = counts.get() if hasattr(counts, "get") else counts
    return np.asarray(counts, dtype=np.int64)
