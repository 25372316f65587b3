"""Writing product blocks: one fused task per chunk (compute, pack, encode, write, summarise).

:func:`write_blocks` is the write path of production runs. For every chunk of a (lazy) product it
runs one task that computes the block (Dask fuses the input reads and the kernel into it), packs it
for storage (int16 scaled, or float32 as is), writes it as one whole Zarr chunk that no other task
touches, and returns only what a run report needs: the block's statistics and a thinned sample of
its pixels for the quick-look. Nothing is computed twice and nothing large travels back.

Device blocks (CuPy) are moved to the host here, at the I/O edge: codecs run on the CPU.
"""

from __future__ import annotations

import math
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import dask
import dask.array as dsa
import numpy as np
import xarray as xr

from landpulse.backend.dispatch import to_host
from landpulse.backend.ops.stats import combine_stats
from landpulse.errors import LandpulseError


@dataclass(frozen=True)
class Packing:
    """How float values are stored: ``int16`` (``round(value / scale)``, ``nodata``) or ``float32``."""

    dtype: str = "int16"
    scale: float = 1e-4
    nodata: int = -32768


@dataclass
class BlocksWritten:
    """What :func:`write_blocks` returns: statistics of the stored values and a thinned image.

    ``stats`` has ``valid_pixels``, ``unrepresentable_pixels`` (values the storage type cannot hold,
    stored as nodata) and, when any pixel is valid, ``min``, ``mean``, ``max``. ``thumbnail`` is a
    float32 ``(y, x)`` array of every ``stride``-th stored value of the first slice (NaN = nodata).
    """

    stats: dict[str, Any]  # floats; the production write adds ``areas_ha`` ({class: hectares})
    thumbnail: np.ndarray
    stride: int
    chunks_written: int
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    packing: Packing | None = None
    dtype: str = "float32"
    #: with ``class_values``: int64 ``(y, classes + 1)`` pixel counts per row of the first slice,
    #: one column per class value and a last one for anything else (nodata)
    row_counts: np.ndarray | None = None
    #: with ``keep_first_slice``: the stored values (storage dtype, packed) of the whole first
    #: slice, ``(y, x)``, for exports written from memory (the COG); None when not kept
    first_slice: np.ndarray | None = None


def thumbnail_stride(shape: tuple[int, ...], max_pixels: int) -> int:
    """Stride that brings the longest spatial side of ``shape`` to at most ``max_pixels``."""
    return max(1, math.ceil(max(shape[-2:]) / max(1, max_pixels)))


def _row_class_counts(block: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``(rows, len(values) + 1)`` counts per row of a 2-D block: each class value, then the rest."""
    counts = np.empty((block.shape[0], values.size + 1), np.int64)
    for i, v in enumerate(values):
        counts[:, i] = (block == v).sum(axis=1)
    counts[:, -1] = block.shape[1] - counts[:, :-1].sum(axis=1)
    return counts


def _write_block(block: Any, target: Any, packing: Packing | None, stride: int, class_values: np.ndarray | None,
                 keep: bool = False, block_info: dict[Any, Any] | None = None) -> np.ndarray:
    loc = block_info[0]["array-location"]  # type: ignore[index]
    region = tuple(slice(a, b) for a, b in loc)
    block = np.asarray(block)  # write_blocks moved the product to the host first (counted there)
    # the CPU leaf's packing kernels (Numba), loaded with the first block written: importing the
    # writer (and landpulse) loads no Numba, so a GPU-only process never does
    from landpulse.backend.cpu.pack import float_stats, pack_int16

    if packing is not None and packing.dtype == "int16":
        stored, stats = pack_int16(block, packing.scale, packing.nodata)
    elif block.dtype.kind == "f":
        stored, stats = np.ascontiguousarray(block, dtype=np.float32), float_stats(block)
    else:  # class and count products keep their own dtype
        stored, stats = np.ascontiguousarray(block), float_stats(block)
    target[region] = stored
    # thinned sample of the first slice, on the global grid of every stride-th pixel
    (y0, _), (x0, _) = loc[-2], loc[-1]
    lead = (0,) * (block.ndim - 2)
    first = all(a == 0 for a, _ in loc[:-2])
    sample = None
    if first:
        piece = stored[lead + (slice((-y0) % stride, None, stride), slice((-x0) % stride, None, stride))]
        if packing is not None and packing.dtype == "int16":
            sample = np.where(piece == packing.nodata, np.float32(np.nan), (piece * packing.scale).astype(np.float32))
        else:
            sample = piece.astype(np.float32)
    rows = _row_class_counts(block[lead], class_values) if first and class_values is not None else None
    out = np.empty((1,) * block.ndim, dtype=object)
    kept = stored[lead] if first and keep else None
    out.flat[0] = (stats, sample, -(-y0 // stride), -(-x0 // stride), y0, rows, kept, x0)
    return out


def write_blocks(
    da: xr.DataArray,
    target: MutableMapping[Any, Any] | Any,
    *,
    packing: Packing | None = None,
    thumbnail_pixels: int = 512,
    scheduler: str | None = None,
    num_workers: int | None = None,
    class_values: Sequence[int] | None = None,
    keep_first_slice: int = 0,
) -> BlocksWritten:
    """Compute ``da`` chunk by chunk and write each chunk into ``target`` (a Zarr array).

    Parameters
    ----------
    da : xarray.DataArray
        Float product (NaN = invalid), Dask-backed (in-memory data is wrapped in one chunk). Its Dask
        chunks must equal the target's chunks, so every task writes whole chunks no other task
        touches (checked here, never assumed).
    target : zarr.Array
        Created beforehand with the storage dtype, chunks and codecs.
    packing : Packing, optional
        ``int16`` packing (index products); None: floats are stored as float32, other dtypes as they are.
    thumbnail_pixels : int
        Longest side of the returned thinned image.
    scheduler : str, optional
        Dask scheduler for this computation (default: the current one).
    num_workers : int, optional
        Threads of the ``threads`` scheduler.
    class_values : sequence of int, optional
        A class product's ``flag_values``: count each class per row of the first slice while
        writing (``BlocksWritten.row_counts``), so its areas need no second read of the store.
    keep_first_slice : int
        Keep the stored values of the first slice in memory (``BlocksWritten.first_slice``) when
        they take at most this many bytes (0: never), so an export needs no read of the store.

    Returns
    -------
    BlocksWritten

    Raises
    ------
    LandpulseError
        When the Dask chunks do not match the target's chunk grid.
    """
    da = to_host(da)
    data = da.data if isinstance(da.data, dsa.Array) else dsa.from_array(np.asarray(da.data), chunks=da.shape)
    zchunks = tuple(int(c) for c in cast(Any, target).chunks)  # target is a zarr.Array
    for axis, (sizes, z) in enumerate(zip(data.chunks, zchunks, strict=True)):
        if any(s != z for s in sizes[:-1]) or sizes[-1] > z:
            raise LandpulseError(
                f"chunks of axis {axis} {sizes} do not match the store's chunk size {z}: "
                "rechunk the product to the store's chunks before writing"
            )
    stride = thumbnail_stride(da.shape, thumbnail_pixels)
    values = np.asarray(class_values, dtype=da.dtype) if class_values is not None else None
    packed = packing is not None and packing.dtype == "int16"
    dtype = "int16" if packed else ("float32" if da.dtype.kind == "f" else str(da.dtype))
    keep = 0 < da.shape[-2] * da.shape[-1] * np.dtype(dtype).itemsize <= keep_first_slice
    # dask's Array.map_blocks is @wraps(map_blocks): its stub is an unbound _Wrapped (self not bound)
    parts = data.map_blocks(  # type: ignore[call-arg]
        _write_block, target=target, packing=packing, stride=stride, class_values=values, keep=keep,  # type: ignore[arg-type]
        dtype=object, chunks=tuple((1,) * len(c) for c in data.chunks), meta=np.empty((0,) * data.ndim, dtype=object),
    )
    kwargs: dict[str, Any] = {"scheduler": scheduler} if scheduler else {}
    if num_workers and scheduler == "threads":
        kwargs["num_workers"] = num_workers
    (results,) = dask.compute(parts, **kwargs)  # keywords, not dask.config: safe in threads
    flat = list(results.flat)
    stats = combine_stats(np.stack([r[0] for r in flat]))
    ny = -(-da.shape[-2] // stride)
    nx = -(-da.shape[-1] // stride)
    thumb = np.full((ny, nx), np.nan, dtype=np.float32)
    row_counts = np.zeros((da.shape[-2], len(values) + 1), np.int64) if values is not None else None
    first = np.empty(da.shape[-2:], dtype=dtype) if keep else None
    for _, sample, ty, tx, y0, rows, kept, x0 in flat:
        if sample is not None:
            thumb[ty:ty + sample.shape[0], tx:tx + sample.shape[1]] = sample
        if rows is not None and row_counts is not None:
            row_counts[y0:y0 + rows.shape[0]] += rows
        if kept is not None and first is not None:
            first[y0:y0 + kept.shape[0], x0:x0 + kept.shape[1]] = kept
    return BlocksWritten(stats, thumb, stride, len(flat), packing=packing if packed else None, dtype=dtype,
                         row_counts=row_counts, first_slice=first)
