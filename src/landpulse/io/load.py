"""Scenes onto one target grid, lazily: what a STAC search returns, as an ordinary landpulse dataset.

:func:`load_on_grid` puts every band of every scene onto a :class:`~landpulse.io.warp.TargetGrid`
(read where a scene already sits on it, warped per block where it does not, with the resampling
declared per band), mosaics the scenes of one solar day (first valid pixel wins) and stacks the
days along ``time``, with the radiometry coordinates (``<band>_dn_scale``, ``<band>_dn_offset``)
of an ingested store, so every product works on it unchanged. Scenes may come from different CRSs
(two UTM zones) and different sensors, provided they share band names.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr
from rasterio.warp import transform as transform_points

from landpulse.errors import InputError
from landpulse.io.ingest import scene_dataset, scene_grid
from landpulse.io.remote import DEFAULT_OPTIONS, RemoteOptions
from landpulse.io.scenes import Scene
from landpulse.io.warp import TargetGrid, mosaic


def solar_day(scene: Scene, longitude: float) -> np.datetime64:
    """The local solar day of a scene at ``longitude`` (UTC time + longitude / 15 hours), as a date."""
    shift = np.timedelta64(int(round(longitude / 15.0 * 3600)), "s")
    return (scene.datetime + shift).astype("datetime64[D]")


def grid_longitude(grid: TargetGrid) -> float:
    """Longitude (degrees) of the centre of ``grid``."""
    left, bottom, right, top = grid.bounds()
    (lon,), _ = transform_points(grid.crs, "EPSG:4326", [(left + right) / 2], [(bottom + top) / 2])
    return float(lon)


def solar_day_at(when: Any, grid: TargetGrid) -> str:
    """The local solar day (``YYYY-MM-DD``) at the centre of ``grid`` of a UTC time (datetime or datetime64)."""
    t = np.datetime64(when.replace(tzinfo=None) if hasattr(when, "tzinfo") else when, "s")
    shift = np.timedelta64(int(round(grid_longitude(grid) / 15.0 * 3600)), "s")
    return str((t + shift).astype("datetime64[D]"))


def load_on_grid(scenes: Sequence[Scene], grid: TargetGrid, *, bands: Sequence[str] | None = None,
                 chunks: tuple[int, int] = (512, 512), resampling: Mapping[str, str] | None = None,
                 remote: RemoteOptions = DEFAULT_OPTIONS, group_by_solar_day: bool = True) -> xr.Dataset:
    """A lazy ``(time, y, x)`` Dataset of raw DNs of ``scenes`` on ``grid``.

    Parameters
    ----------
    scenes : sequence of Scene
        Local or remote (:func:`landpulse.io.scenes.scene_from_stac_item`).
    grid : TargetGrid
    bands : sequence of str, optional
        Band names to load (default: the first scene's).
    chunks : (int, int)
        Block shape on the target grid (one read + warp per block and band).
    resampling : mapping, optional
        Method per band name (``{"red": "average"}``); classification bands are always nearest,
        other bands bilinear unless named here.
    remote : RemoteOptions
        Timeouts and retries of remote assets.
    group_by_solar_day : bool
        Mosaic the scenes of one local solar day (at the grid's centre) into one date, whose time
        is the earliest scene's; scenes are taken in time order, the first valid pixel wins.

    Returns
    -------
    xarray.Dataset
        Bands in the DN dtype of their files (nodata: the band's ``nodata`` attribute), the
        radiometry coordinates per date, ``scene_id`` (``+``-joined for a mosaic), CRS and
        transform of ``grid``.

    Raises
    ------
    InputError, MissingBandError, UnreadableInputError, RemoteReadError
    """
    if not scenes:
        raise InputError("no scenes to load")
    names = list(bands) if bands is not None else list(scenes[0].bands)
    ordered = sorted((s.select(names) for s in scenes), key=lambda s: (s.datetime, s.id))
    lon = grid_longitude(grid)
    groups: dict[object, list[Scene]] = {}
    for s in ordered:
        groups.setdefault(solar_day(s, lon) if group_by_solar_day else s.id, []).append(s)
    days = []
    for group in groups.values():
        parts = []
        for s in group:
            _, band_grids = scene_grid(s, None, remote)
            parts.append(scene_dataset(s, grid, band_grids, chunks, remote=remote, resampling=resampling))
        for name in names:
            scales = {(float(p[f"{name}_dn_scale"][0]), float(p[f"{name}_dn_offset"][0]))
                      for p in parts if f"{name}_dn_scale" in p.coords}
            if len(scales) > 1:
                raise InputError(f"the scenes of {group[0].datetime.astype('datetime64[D]')} declare different "
                                 f"radiometry for band {name} ({sorted(scales)}): they cannot share one date")
        days.append(mosaic(parts) if len(parts) > 1 else parts[0])
    ds = xr.concat(days, dim="time", join="exact", combine_attrs="override", data_vars="all", coords="different",
                   compat="equals") if len(days) > 1 else days[0]
    ds = ds.rio.write_crs(grid.crs).rio.write_transform(grid.transform)
    ds.attrs = {"Conventions": "CF-1.9", "landpulse_store": "landpulse-scenes", "landpulse_store_version": 1,
                "sensor": json.dumps(sorted({s.sensor or "unknown" for s in ordered})),
                "landpulse_grid": f"{grid.crs} {grid.resolution} m, {grid.shape[0]} x {grid.shape[1]}"}
    return ds
