"""A target grid, and scenes put onto it: reprojection per block, resampling per band, mosaics.

A :class:`TargetGrid` is a CRS, a pixel size and an extent snapped to an alignment (by default the
pixel size: corners on multiples of it, as Sentinel-2's and Landsat's UTM grids are). A band is put
onto it block by block (:func:`band_on_grid`): each target block reads only the source window
that covers it (plus a margin for the resampling kernel), locally or over HTTP(S)/S3 with
:mod:`landpulse.io.remote`'s retries, and GDAL warps that window into the block
(``rasterio.warp.reproject``). A source already on the grid (same CRS and pixel size, corners on
the grid) is read, not warped: pixel-exact, no half-pixel shift.

Resampling is declared per band (:func:`resampling_for`): classification bands are always
``nearest`` (a class is never averaged); reflectance bands ``bilinear`` unless told otherwise
(``average`` for a coarser grid, ``cubic``, ...).

:func:`mosaic` joins the scenes of one solar day on one grid: the first scene's valid pixel wins
(scenes in the order given, normally by acquisition time), others fill its nodata.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dask.array
import numpy as np
import xarray as xr
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.warp import reproject, transform_bounds
from rasterio.windows import Window

from landpulse.errors import GridMismatchError, InputError
from landpulse.io.remote import DEFAULT_OPTIONS, RemoteOptions, is_remote, opened, read_window
from landpulse.io.resampling import RESAMPLINGS


@dataclass(frozen=True)
class TargetGrid:
    """A raster grid to put scenes on: CRS, transform of the pixel corners, shape (rows, cols)."""

    crs: str
    transform: Affine
    shape: tuple[int, int]

    @classmethod
    def from_bounds(cls, crs: str, resolution: float, bounds: tuple[float, float, float, float],
                    alignment: tuple[float, float] | None = None) -> TargetGrid:
        """The grid of pixel size ``resolution`` covering ``bounds`` (left, bottom, right, top in ``crs``),
        its corners snapped outwards to ``alignment`` + k * resolution (default alignment: 0, 0).

        Raises
        ------
        InputError
            For a non-positive resolution or empty bounds.
        """
        if not resolution > 0:
            raise InputError(f"grid resolution must be positive, not {resolution}")
        left, bottom, right, top = bounds
        if not (right > left and top > bottom):
            raise InputError(f"grid bounds {bounds} are empty (left < right and bottom < top needed)")
        ax, ay = alignment or (0.0, 0.0)
        x0 = ax + math.floor(round((left - ax) / resolution, 9)) * resolution
        y0 = ay + math.ceil(round((top - ay) / resolution, 9)) * resolution
        x1 = ax + math.ceil(round((right - ax) / resolution, 9)) * resolution
        y1 = ay + math.floor(round((bottom - ay) / resolution, 9)) * resolution
        shape = (round((y0 - y1) / resolution), round((x1 - x0) / resolution))
        return cls(CRS.from_user_input(crs).to_string(), Affine(resolution, 0.0, x0, 0.0, -resolution, y0), shape)

    @property
    def resolution(self) -> float:
        return abs(self.transform.a)

    def x_coords(self) -> np.ndarray:
        return self.transform.c + self.transform.a * (np.arange(self.shape[1]) + 0.5)

    def y_coords(self) -> np.ndarray:
        return self.transform.f + self.transform.e * (np.arange(self.shape[0]) + 0.5)

    def bounds(self) -> tuple[float, float, float, float]:
        left, top = self.transform.c, self.transform.f
        return (left, top + self.transform.e * self.shape[0], left + self.transform.a * self.shape[1], top)


def resampling_for(kind: str, name: str, declared: Mapping[str, str] | None = None, default: str = "bilinear") -> str:
    """The resampling of one band: ``nearest`` for a classification band (whatever is declared for
    reflectance), else the band's declared method, else ``default``.

    Raises
    ------
    InputError
        For an unknown method, or anything but ``nearest``/``mode`` declared for a classification band.
    """
    method = (declared or {}).get(name)
    if kind == "classification":
        if method not in (None, "nearest", "mode"):
            raise InputError(f"band {name!r} holds classes: resample it with nearest or mode, not {method}")
        return method or "nearest"
    method = method or default
    if method not in RESAMPLINGS:
        raise InputError(f"unknown resampling {method!r} for band {name!r}; one of {', '.join(RESAMPLINGS)}")
    return method


def _on_grid(src_crs: str, src_transform: Affine, grid: TargetGrid) -> tuple[int, int] | None:
    """(row, col) offset of the grid's corner in source pixels when the source sits on the grid, else None."""
    if CRS.from_user_input(src_crs) != CRS.from_user_input(grid.crs):
        return None
    t, g = src_transform, grid.transform
    if (t.b, t.d, g.b, g.d) != (0.0, 0.0, 0.0, 0.0) or not (math.isclose(t.a, g.a) and math.isclose(t.e, g.e)):
        return None
    col = (g.c - t.c) / t.a
    row = (g.f - t.f) / t.e
    if abs(col - round(col)) > 0.01 or abs(row - round(row)) > 0.01:
        return None  # same pixel size, shifted by a fraction of a pixel: warp it
    return round(row), round(col)


def _read(href: str, band: int, rows: tuple[int, int], cols: tuple[int, int], dtype: str, what: str,
          options: RemoteOptions) -> np.ndarray:
    if is_remote(href):
        return read_window(href, band, rows, cols, dtype, what, options)
    stat = os.stat(href)
    src = opened(href, (stat.st_size, stat.st_mtime_ns))  # this thread's open dataset of that version
    out: np.ndarray = src.read(band, window=Window(cols[0], rows[0], cols[1] - cols[0], rows[1] - rows[0]))
    return out.astype(dtype, copy=False)


def _block(href: str, band: int, src_crs: str, src_transform: Affine, src_shape: tuple[int, int], dst_crs: str,
           dst_transform: Affine, dst_shape: tuple[int, int], method: str, nodata: float | None, dtype: str,
           what: str, options: RemoteOptions, offset: tuple[int, int] | None) -> np.ndarray:
    fill = 0 if nodata is None else nodata
    out = np.full(dst_shape, fill, dtype=dtype)
    if offset is not None:  # on the grid: a window read, pixel for pixel
        r0, c0 = offset
        rows = (max(r0, 0), min(r0 + dst_shape[0], src_shape[0]))
        cols = (max(c0, 0), min(c0 + dst_shape[1], src_shape[1]))
        if rows[1] > rows[0] and cols[1] > cols[0]:
            data = _read(href, band, rows, cols, dtype, what, options)
            out[rows[0] - r0:rows[1] - r0, cols[0] - c0:cols[1] - c0] = data
        return out
    h, w = dst_shape
    left, top = dst_transform * (0, 0)
    right, bottom = dst_transform * (w, h)
    sx0, sy0, sx1, sy1 = transform_bounds(dst_crs, src_crs, left, bottom, right, top, densify_pts=21)
    inv = ~src_transform
    cs, rs = zip(*(inv * (x, y) for x in (sx0, sx1) for y in (sy0, sy1)), strict=True)
    margin = 3  # the widest kernel (cubic) reaches 2 pixels out
    r0, r1 = max(math.floor(min(rs)) - margin, 0), min(math.ceil(max(rs)) + margin, src_shape[0])
    c0, c1 = max(math.floor(min(cs)) - margin, 0), min(math.ceil(max(cs)) + margin, src_shape[1])
    if r1 <= r0 or c1 <= c0:
        return out
    data = _read(href, band, (r0, r1), (c0, c1), dtype, what, options)
    reproject(data, out, src_transform=src_transform * Affine.translation(c0, r0), src_crs=src_crs,
              src_nodata=nodata, dst_transform=dst_transform, dst_crs=dst_crs, dst_nodata=nodata,
              resampling=Resampling[method], init_dest_nodata=False)
    return out


_names = itertools.count()


def band_on_grid(href: str, band: int, src_crs: str, src_transform: Affine, src_shape: tuple[int, int], dtype: str,
                 nodata: float | None, grid: TargetGrid, chunks: tuple[int, int], method: str = "nearest",
                 what: str = "", options: RemoteOptions = DEFAULT_OPTIONS) -> dask.array.Array:
    """A lazy ``(y, x)`` Dask array of one band put onto ``grid``, one read + warp per block.

    Pixels the source does not cover are ``nodata`` (0 where the band has none). Read, not warped,
    where the source sits on the grid (pixel-exact).
    """
    if method not in RESAMPLINGS:
        raise InputError(f"unknown resampling {method!r}; one of {', '.join(RESAMPLINGS)}")
    exact = _on_grid(src_crs, src_transform, grid)
    ny, nx = grid.shape
    cy, cx = chunks
    rows = list(range(0, ny, cy)) + [ny]
    cols = list(range(0, nx, cx)) + [nx]
    name = f"on-grid-{next(_names)}-{abs(hash((href, band, grid, method))):x}"
    graph: dict[Any, Any] = {}
    for i in range(len(rows) - 1):
        for j in range(len(cols) - 1):
            shape = (rows[i + 1] - rows[i], cols[j + 1] - cols[j])
            block_t = grid.transform * Affine.translation(cols[j], rows[i])
            off = None if exact is None else (exact[0] + rows[i], exact[1] + cols[j])
            graph[(name, i, j)] = (_block, href, band, src_crs, src_transform, src_shape, grid.crs, block_t, shape,
                                   method, nodata, dtype, what, options, off)
    return dask.array.Array(graph, name, (tuple(np.diff(rows).tolist()), tuple(np.diff(cols).tolist())),
                            dtype=np.dtype(dtype))


def mosaic(datasets: Sequence[xr.Dataset]) -> xr.Dataset:
    """One dataset from scenes of one solar day on one grid: the first valid pixel wins.

    A pixel is valid where it is not the band's ``nodata`` attribute (all values count where the
    band has none). The result keeps the first dataset's coordinates and attributes, and the
    scene ids of all (``scene_id`` joined by ``+``).

    Raises
    ------
    GridMismatchError
        When the datasets are not on one grid (same CRS and coordinates).
    """
    if not datasets:
        raise InputError("nothing to mosaic")
    first = datasets[0]
    for ds in datasets[1:]:
        if ds.rio.crs != first.rio.crs or not (np.array_equal(ds["x"].values, first["x"].values)
                                               and np.array_equal(ds["y"].values, first["y"].values)):
            raise GridMismatchError("scenes of a mosaic must be on one grid: put them on a TargetGrid first")
    out = first.copy()
    for name in first.data_vars:
        nodata = first[name].attrs.get("nodata")
        merged = first[name]
        for ds in datasets[1:]:
            other = ds[name]
            if nodata is None:
                continue
            merged = merged.where(merged != nodata, other)
        out[name] = merged.astype(first[name].dtype)
        out[name].attrs = dict(first[name].attrs)
    if "scene_id" in first.coords:
        ids = "+".join(str(ds["scene_id"].values.ravel()[0]) for ds in datasets)
        out = out.assign_coords(scene_id=(first["scene_id"].dims, np.array([ids], dtype=object)))
    return out
