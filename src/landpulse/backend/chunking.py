"""Chunk plans for time-series work: the whole time axis in one chunk, bounded spatial tiles.

Per-pixel time-series kernels (trend, anomaly, BFAST-Monitor, composites) need every date of a
pixel in one block. Stores written one date per chunk (the usual layout of ingest) are rechunked
to time-contiguous blocks here; the spatial chunk is halved (along its longer side) until a block
of the whole series fits the memory budget. Spatial chunk sizes stay divisors of the store's own
where they can, so each stored chunk is read by few tasks. Reading a block still decodes every
stored chunk it touches (one per date), so a task transiently holds about dates x stored chunk
bytes: the store's spatial chunking, not this budget, bounds that part.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TypeVar, cast

import dask.array as dsa
import numpy as np
import xarray as xr

from landpulse.backend.dispatch import spatial_dims

#: Default bytes of one time-contiguous input block (per variable).
DEFAULT_BLOCK_BYTES = 128 * 2**20

XarrayT = TypeVar("XarrayT", xr.DataArray, xr.Dataset)


def plan_chunks(
    sizes: Mapping[str, int],
    chunks: Mapping[str, int],
    whole: Iterable[str],
    spatial: tuple[str, str],
    itemsize: int,
    budget_bytes: int = DEFAULT_BLOCK_BYTES,
) -> dict[str, int]:
    """Chunk sizes with the ``whole`` dimensions in one chunk and a block within ``budget_bytes``.

    Parameters
    ----------
    sizes : mapping
        Dimension sizes.
    chunks : mapping
        Current (largest) chunk size per dimension.
    whole : iterable of str
        Dimensions that must be one chunk (time, band).
    spatial : (str, str)
        The (y, x) dimension names; these are halved until the block fits.
    itemsize : int
        Bytes per element.
    budget_bytes : int
        Upper bound of one block's bytes (a 1 x 1 pixel block is the floor).

    Returns
    -------
    dict
        Chunk size per dimension.
    """
    whole = set(whole)
    plan = {d: (sizes[d] if d in whole else min(int(chunks.get(d, sizes[d])), sizes[d])) for d in sizes}
    ydim, xdim = spatial

    def nbytes() -> int:
        return int(np.prod([plan[d] for d in plan], dtype=np.int64)) * itemsize

    while nbytes() > budget_bytes and (plan[ydim] > 1 or plan[xdim] > 1):
        d = ydim if plan[ydim] >= plan[xdim] else xdim
        plan[d] = -(-plan[d] // 2)
    return plan


def time_contiguous(obj: XarrayT, dims: Iterable[str] = ("time",), budget_bytes: int = DEFAULT_BLOCK_BYTES) -> XarrayT:
    """Rechunk Dask-backed ``obj`` so that ``dims`` are whole and each block fits ``budget_bytes``.

    In-memory (NumPy/CuPy) data is returned unchanged, as is data already chunked that way.

    Parameters
    ----------
    obj : xarray.DataArray or xarray.Dataset
    dims : iterable of str
        Dimensions each block must hold whole (``time``; ``band`` for band stacks).
    budget_bytes : int
        Largest block (per variable), default :data:`DEFAULT_BLOCK_BYTES`.
    """
    dims = [d for d in dims if d in obj.dims]
    arrays = [obj] if isinstance(obj, xr.DataArray) else [obj[v] for v in obj.data_vars]
    lazy = [a for a in arrays if isinstance(a.data, dsa.Array) and a.ndim >= 2]
    if not lazy:
        return obj
    ref = max(lazy, key=lambda a: a.dtype.itemsize)
    spatial = spatial_dims(ref)
    assert ref.chunks is not None  # ref is Dask-backed (in lazy)
    current = {cast(str, d): max(c) for d, c in zip(ref.dims, ref.chunks, strict=True)}
    block = int(np.prod(list(current.values()), dtype=np.int64)) * ref.dtype.itemsize
    if all(len(ref.chunks[ref.get_axis_num(d)]) == 1 for d in dims) and block <= budget_bytes:
        return obj  # already time-contiguous and small enough: no rechunk, no extra graph layer
    sizes = dict(cast(Mapping[str, int], ref.sizes))  # dims are str
    plan = plan_chunks(sizes, current, dims, spatial, ref.dtype.itemsize, budget_bytes)
    return obj.chunk(plan)
