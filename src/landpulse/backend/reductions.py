"""Global reductions for products that must not depend on chunking (Otsu thresholds).

Histograms are sums of integer counts per block, so the result is the same whatever the chunks;
they run on the data's device (CuPy blocks are counted on the GPU) and come back to the host
through :func:`landpulse.backend.transfers.to_host_array` (counted, like every copy landpulse asks for).
"""

from __future__ import annotations

from typing import Any

import dask
import dask.array as dsa
import dask.local
import numpy as np
import xarray as xr

from landpulse.backend.dispatch import array_module, block_device
from landpulse.backend.registry import get_kernel
from landpulse.backend.transfers import to_host_array


def finite_range(da: xr.DataArray) -> tuple[float, float]:
    """(smallest, largest) finite value of ``da`` in one pass over the data (NaN, NaN if none)."""

    v = da.where(np.isfinite(da))
    lo, hi = v.min(skipna=True).data, v.max(skipna=True).data
    if isinstance(lo, dsa.Array):
        lo, hi = dask.compute(lo, hi)
    lo, hi = (to_host_array(x) for x in (lo, hi))
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
    return to_host_array(counts).astype(np.int64, copy=False)


def _slice_counts(block: Any, lo: float, hi: float, bins: int) -> Any:
    """Histogram of each leading slice of a ``(slices, ...)`` block: ``(slices, 1, 1, bins)`` int64,
    by the registered ``slice_histogram`` kernel of the block's device (Numba on the CPU, CuPy on
    the GPU; the same float64 binning on both)."""

    counts = get_kernel("slice_histogram", block_device(block))(block, lo=lo, hi=hi, bins=bins)
    return counts.reshape(block.shape[0], 1, 1, bins)


def histograms(da: xr.DataArray, dim: str | None, bins: int, value_range: tuple[float, float]) -> np.ndarray:
    """Counts of the finite values of each slice of ``da`` along ``dim``, in one pass.

    Parameters
    ----------
    da : xarray.DataArray
        ``(dim, y, x)`` values (or ``(y, x)`` with ``dim=None``: one slice); NumPy, CuPy or Dask.
    dim : str or None
        The dimension whose slices are counted separately (dates: one histogram per scene).
    bins : int
        Equal bins over ``value_range``.
    value_range : (float, float)
        Values outside it (and NaN) are not counted.

    Returns
    -------
    numpy.ndarray
        int64 counts ``(n_slices, bins)`` on the host. Integer sums of per-block counts: the same
        whatever the chunking.
    """
    lo, hi = float(value_range[0]), float(value_range[1])
    if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo) or bins < 2:
        raise ValueError(f"histograms need a finite range lo < hi and at least 2 bins; got {value_range}, {bins}")
    expected = 2 if dim is None else 3
    if da.ndim != expected:
        raise ValueError(f"histograms: expected a {'(y, x)' if dim is None else f'({dim}, y, x)'} array; got dims {da.dims}")
    data = da.data[None] if dim is None else da.transpose(dim, ...).data
    if isinstance(data, dsa.Array):
        # dask's Array.map_blocks is @wraps(map_blocks): its stub is an unbound _Wrapped (self not bound)
        per_block = data.map_blocks(_slice_counts, lo, hi, bins, new_axis=3, dtype=np.int64,  # type: ignore[arg-type]
                                    chunks=(data.chunks[0], (1,) * len(data.chunks[1]), (1,) * len(data.chunks[2]), (bins,)),
                                    meta=array_module(data).empty((0, 0, 0, 0), dtype=np.int64))
        counts = per_block.sum(axis=(1, 2)).compute()
    else:
        counts = _slice_counts(data, lo, hi, bins).sum(axis=(1, 2))
    return to_host_array(counts).astype(np.int64, copy=False)


def otsu_from_counts(counts: np.ndarray, value_range: tuple[float, float]) -> float:
    """Otsu's threshold (1979) from a histogram of equal bins over ``value_range``.

    Maximises the between-class variance over the bin edges (bin centres as values); returns the
    upper edge of the last background bin (values >= it are foreground), or NaN when fewer than
    two bins are populated.
    """
    counts = np.asarray(counts, dtype=np.float64)
    bins = counts.size
    edges = np.linspace(value_range[0], value_range[1], bins + 1)
    centres = 0.5 * (edges[:-1] + edges[1:])
    w0 = np.cumsum(counts)[:-1]
    total = counts.sum()
    w1 = total - w0
    s0 = np.cumsum(counts * centres)[:-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        m0 = s0 / w0
        m1 = (np.sum(counts * centres) - s0) / w1
        between = w0 * w1 * (m0 - m1) ** 2
    between[~np.isfinite(between)] = -1.0
    if total == 0 or between.max() <= 0:
        return float("nan")
    return float(edges[int(np.argmax(between)) + 1])


def sample_blocks(da: xr.DataArray, max_blocks: int = 2, max_values: int = 1 << 18) -> np.ndarray:
    """A bounded sample of ``da``'s values, for cheap statistics (never a full pass over the data).

    Parameters
    ----------
    da : xarray.DataArray
        Any dtype, NumPy, Dask or CuPy backed.
    max_blocks : int
        Dask-backed data: at most this many blocks are read, spread evenly over the block grid
        (block ``k`` of ``n`` picked is the one at ``(k + 0.5) / n`` of the flattened grid), on the
        synchronous scheduler (safe inside a task of a distributed worker).
    max_values : int
        Each block (or in-memory array) is thinned by a stride to at most about this many values.

    Returns
    -------
    numpy.ndarray
        1-D float64 values on the host, NaN included (the caller decides what is valid).
    """
    data = da.data
    if isinstance(data, dsa.Array):
        grid = data.numblocks
        total = int(np.prod(grid))
        n = max(1, min(max_blocks, total))
        picks = sorted({int((k + 0.5) * total / n) for k in range(n)})
        blocks = dask.compute(*[data.blocks[tuple(int(i) for i in np.unravel_index(p, grid))] for p in picks],
                              # the synchronous scheduler as a function: the name "sync" makes Dask import
                              # distributed to look for a client, which costs a nothing-to-do run ~0.5 s
                              scheduler=dask.local.get_sync)
    else:
        blocks = (data,)
    out = []
    for block in blocks:
        flat = np.ravel(to_host_array(block))
        out.append(flat[:: max(1, flat.size // max_values)].astype(np.float64))
    return np.concatenate(out) if out else np.empty(0, np.float64)
