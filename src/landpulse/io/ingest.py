"""Ingest: band files of one or more scenes -> one tiled Zarr v3 store ``(time, y, x)`` per band.

What the store records, so nothing has to be guessed later:

* raw digital numbers, untouched (``uint16`` for Sentinel-2), nodata as the Zarr fill value;
* per band and per date, the scale and offset (coordinates ``<band>_dn_scale`` /
  ``<band>_dn_offset`` named by the band's ``landpulse_radiometry`` attribute), so a series that
  mixes processing baselines stays exact; for calibrated digital numbers (CBERS with INPE
  metadata) also ``<band>_calibration``, the JSON record of the TOA calibration per date;
* per date, ``scene_id``, ``platform`` and ``processing_baseline``;
* the CRS as a ``spatial_ref`` grid mapping, and the transform.

Bands at coarser resolution (Sentinel-2 20 m) are put on the finest band's grid by nearest
neighbour, which is exact replication when the grids are nested, as Sentinel-2's are. Inputs on
different CRSs are refused. Every file is opened and checked before anything is written, and
the store is written to a temporary folder first: bad input writes nothing.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import rasterio
from affine import Affine

from landpulse.errors import GridMismatchError, InputError, MissingBandError, UnreadableInputError
from landpulse.io.files import is_zarr_store
from landpulse.io.raster_grid import Grid
from landpulse.io.remote import (
    DEFAULT_OPTIONS,
    RemoteInfo,
    RemoteOptions,
    is_remote,
    probe_remote,
    public_href,
    remote_band,
)
from landpulse.io.scene_writer import (
    append_scene_store,
    band_attrs,
    direct_append_possible,
    direct_write_possible,
    radiometry_problems,
    reading_errors,
    replication_indices,
    write_scene_store,
)
from landpulse.io.scenes import BandSource, Scene
from landpulse.io.store_metadata import cf_units_hold, scene_time_encoding
from landpulse.spec.radiometry_check import CLASSIFICATION_ATTR, RADIOMETRY_WARNINGS_ATTR

if TYPE_CHECKING:  # xarray, rioxarray and Dask load only on the xarray path (appends, remote, float bands)
    import xarray as xr

    from landpulse.io.warp import TargetGrid

PathLike = str | os.PathLike[str]

STORE_KIND = "landpulse-scenes"
STORE_VERSION = 1


def choose_chunk(n: int, target: int = 2048) -> int:
    """A chunk length for an axis of ``n`` pixels: all of it when small, else a divisor near 2048.

    Chunks that divide the axis avoid padded edge chunks (10980 -> 2196; a 2048 chunk would pad
    a Sentinel-2 tile by 25 %, DESIGN.md section 7).
    """
    if n <= int(target * 1.25):
        return n
    divisors = [d for d in range(target // 2, target * 2 + 1) if n % d == 0]
    return min(divisors, key=lambda d: abs(d - target)) if divisors else target


def _probe(src: BandSource, scene: Scene, remote: RemoteOptions = DEFAULT_OPTIONS) -> Grid:
    if is_remote(src.href):
        info = probe_remote(src.href, f"scene {scene.id}, band {src.name}", remote)
        if src.band_index > info.count:
            raise UnreadableInputError(f"{public_href(src.href)} has {info.count} band(s); band {src.band_index} was asked for")
        if info.crs is None:
            raise UnreadableInputError(f"{public_href(src.href)} has no CRS")
        return Grid(info.crs, info.transform, info.shape, info.dtype)
    try:
        with rasterio.open(src.href) as ds:
            if src.band_index > ds.count:
                raise UnreadableInputError(f"{src.href} has {ds.count} band(s); band {src.band_index} was asked for")
            if ds.crs is None:
                raise UnreadableInputError(f"{src.href} has no CRS")
            return Grid(ds.crs.to_string(), ds.transform, (ds.height, ds.width), str(ds.dtypes[src.band_index - 1]))
    except rasterio.errors.RasterioIOError as err:
        raise UnreadableInputError(f"scene {scene.id}, band {src.name}: cannot read {src.href}: {err}") from err


def _read_band(src: BandSource, grid: Grid | TargetGrid, source_grid: Grid, chunks: tuple[int, int],
               remote: RemoteOptions = DEFAULT_OPTIONS, what: str = "",
               resampling: Mapping[str, str] | None = None) -> xr.DataArray:
    import rioxarray
    import xarray as xr

    from landpulse.io.warp import TargetGrid, band_on_grid, resampling_for

    if isinstance(grid, TargetGrid):  # onto a target grid: read (on the grid) or warp per block
        assert source_grid.dtype is not None
        method = resampling_for(src.kind, src.name, resampling)
        data = band_on_grid(src.href, src.band_index, source_grid.crs, source_grid.transform, source_grid.shape,
                            source_grid.dtype, src.nodata, grid, chunks, method, what or f"band {src.name}", remote)
        da = xr.DataArray(data, dims=("y", "x"), coords={"y": grid.y_coords(), "x": grid.x_coords()})
        da.attrs = {}
        return da
    if is_remote(src.href):  # windowed range reads with retries (landpulse.io.remote)
        assert source_grid.dtype is not None
        info = RemoteInfo(source_grid.crs, source_grid.transform, source_grid.shape, source_grid.dtype,
                          src.band_index, src.nodata)
        data = remote_band(src.href, src.band_index, info, chunks, what or f"band {src.name}", remote)
        da = xr.DataArray(data, dims=("y", "x"), coords={"y": source_grid.y_coords(), "x": source_grid.x_coords()})
    else:
        opened = rioxarray.open_rasterio(src.href, chunks={"y": chunks[0], "x": chunks[1]}, lock=False,
                                         masked=False, mask_and_scale=False)
        assert isinstance(opened, xr.DataArray)
        da = opened.isel(band=src.band_index - 1, drop=True)
    indices = replication_indices(src.href, source_grid, grid)
    if indices is not None:
        da = da.isel(y=indices[0], x=indices[1])
    da = da.assign_coords(x=grid.x_coords(), y=grid.y_coords()).chunk({"y": chunks[0], "x": chunks[1]})
    da = da.drop_vars([c for c in da.coords if c not in ("x", "y")])
    da.attrs = {}
    da.encoding = {}
    return da


def _check_class_tables(scenes: Sequence[Scene], existing: xr.Dataset | None, store: PathLike) -> None:
    """One class table per classification band in a store: refuse dates whose items state another."""
    seen: dict[str, tuple[str | None, str]] = {}
    if existing is not None:
        for name in existing.data_vars:
            if existing[name].attrs.get("kind") == "classification":
                seen[str(name)] = (existing[name].attrs.get(CLASSIFICATION_ATTR), f"the store {store}")
    for scene in scenes:
        for name, src in scene.bands.items():
            if src.kind != "classification":
                continue
            # a band without any record (SCL, QA_PIXEL read by the registry's rules) agrees with all
            if name in seen and None not in (seen[name][0], src.classification) and seen[name][0] != src.classification:
                raise InputError(
                    f"the {name} band of scene {scene.id} comes with another class table than {seen[name][1]} "
                    f"({src.classification!r} vs {seen[name][0]!r}); one store holds one meaning per "
                    "classification value: ingest these scenes into separate stores")
            if seen.get(name, (None, ""))[0] is None:
                seen[name] = (src.classification, f"scene {scene.id}")


def scene_grid(scene: Scene, resolution: float | None = None,
               remote: RemoteOptions = DEFAULT_OPTIONS) -> tuple[Grid, dict[str, Grid]]:
    """Open every band file of ``scene`` (metadata only) and choose the scene's target grid.

    The target is the finest band grid, or the band grid with ``resolution`` metres. Remote
    bands (``http(s)``, ``s3``) are probed with ``remote``'s timeouts and retries.

    Raises
    ------
    UnreadableInputError, GridMismatchError
    """
    grids = {name: _probe(src, scene, remote) for name, src in scene.bands.items()}
    crss = {g.crs for g in grids.values()}
    if len(crss) > 1:
        raise GridMismatchError(f"scene {scene.id} mixes CRSs {sorted(crss)}; reproject to one first")
    candidates = list(grids.values())
    if resolution is not None:
        candidates = [g for g in candidates if math.isclose(g.resolution, resolution)]
        if not candidates:
            raise GridMismatchError(
                f"scene {scene.id} has no band at {resolution} m (resolutions: "
                f"{sorted({g.resolution for g in grids.values()})})"
            )
    return min(candidates, key=lambda g: g.resolution), grids


def check_scene_radiometry(scene: Scene, ds: xr.Dataset) -> dict[str, str]:
    """:func:`~landpulse.io.scene_writer.radiometry_problems` on the lazy scene ``ds`` (at most
    two blocks per band, :func:`landpulse.spec.radiometry.valid_sample`)."""
    from landpulse.spec.radiometry import valid_sample

    return radiometry_problems(scene, lambda name, validity: valid_sample(ds[name], validity))


def scene_dataset(scene: Scene, grid: Grid | TargetGrid, band_grids: dict[str, Grid], chunks: tuple[int, int],
                  calibrated: frozenset[str] = frozenset(), remote: RemoteOptions = DEFAULT_OPTIONS,
                  resampling: Mapping[str, str] | None = None) -> xr.Dataset:
    """Lazy ``(time=1, y, x)`` Dataset of one scene on ``grid``, with its radiometry coordinates.

    Bands named in ``calibrated`` get a ``<band>_calibration`` coordinate (the JSON calibration
    record, ``""`` for a scene without one) named by their radiometry attribute. Remote bands are
    read by windows with ``remote``'s timeouts and retries (:func:`landpulse.io.remote.remote_band`).
    With a :class:`~landpulse.io.warp.TargetGrid` as ``grid``, every band is put onto it per block
    (:func:`landpulse.io.warp.band_on_grid`) with its resampling (:func:`landpulse.io.warp.resampling_for`:
    ``resampling`` by band name; nearest for classification bands, bilinear for reflectance).
    """
    import rioxarray  # noqa: F401  (the .rio accessor)
    import xarray as xr

    data_vars = {}
    coords: dict[str, object] = {
        "time": [scene.datetime],
        "scene_id": ("time", np.array([scene.id], dtype=object)),
        "platform": ("time", np.array([scene.platform or ""], dtype=object)),
        "processing_baseline": ("time", np.array([scene.processing_baseline or ""], dtype=object)),
    }
    for name, src in scene.bands.items():
        da = _read_band(src, grid, band_grids[name], chunks, remote,
                        f"scene {scene.id}, band {name}", resampling).expand_dims(time=1)
        da.attrs = band_attrs(src, name in calibrated)
        data_vars[name] = da
        if src.kind == "reflectance":
            coords[f"{name}_dn_scale"] = ("time", [src.scale])
            coords[f"{name}_dn_offset"] = ("time", [src.offset])
            if name in calibrated:
                coords[f"{name}_calibration"] = ("time", np.array([src.calibration or ""], dtype=object))
    ds = xr.Dataset(data_vars)
    ds = ds.assign_coords(time=[scene.datetime]).assign_coords({k: v for k, v in coords.items() if k != "time"})
    ds = ds.rio.write_crs(grid.crs).rio.write_transform(grid.transform)
    return ds


def _store_grid(ds: xr.Dataset) -> Grid:
    import rioxarray  # noqa: F401  (the .rio accessor)

    x, y = ds["x"].values, ds["y"].values
    dx = float(x[1] - x[0]) if x.size > 1 else float(ds.rio.resolution()[0])
    dy = float(y[1] - y[0]) if y.size > 1 else float(ds.rio.resolution()[1])
    t = Affine(dx, 0.0, float(x[0]) - dx / 2, 0.0, dy, float(y[0]) - dy / 2)
    return Grid(ds.rio.crs.to_string(), t, (y.size, x.size))


def ingest(
    scenes: Scene | Sequence[Scene],
    store: PathLike,
    *,
    bands: Sequence[str] | None = None,
    resolution: float | None = None,
    chunks: tuple[int, int] | None = None,
    overwrite: bool = False,
    append: bool = False,
    progress: bool = False,
    remote: RemoteOptions = DEFAULT_OPTIONS,
) -> Path:
    """Ingest scenes into a Zarr v3 store (create it, or append new dates to it).

    Parameters
    ----------
    scenes : Scene or sequence of Scene
        From :func:`scene_from_stac_item` or :func:`scene_from_files`.
    store : path
        The Zarr store to create (or append to, with ``append=True``).
    bands : sequence of str, optional
        Band names to ingest (default: every band the first scene has). Every scene must have
        all of them: a missing band is an error, never a band of zeros.
    resolution : float, optional
        Target pixel size in metres (default: the finest band's).
    chunks : (int, int), optional
        Spatial chunk shape (default: a divisor of each axis near 2048; one date per chunk).
    overwrite : bool
        Replace an existing store.
    append : bool
        Append the scenes' dates to an existing store (same bands and grid); dates already in
        the store (same ``scene_id``) are skipped, so re-running an ingest is harmless.
    progress : bool
        Show a progress bar while writing.
    remote : RemoteOptions
        Timeouts and retries of ``http(s)``/``s3`` assets, read in place by windows.

    Returns
    -------
    pathlib.Path
        The store.

    Raises
    ------
    MissingBandError, UnreadableInputError, GridMismatchError, InputError
        Before anything is written.
    RemoteReadError
        When a remote asset cannot be read after its retries (nothing is written).
    """
    scene_list = [scenes] if isinstance(scenes, Scene) else list(scenes)
    if not scene_list:
        raise InputError("no scenes to ingest")
    names = list(bands) if bands is not None else list(scene_list[0].bands)
    scene_list = sorted((s.select(names) for s in scene_list), key=lambda s: s.datetime)
    ids = [s.id for s in scene_list]
    if len(set(ids)) != len(ids):
        raise InputError(f"duplicate scene ids in one ingest: {sorted({i for i in ids if ids.count(i) > 1})}")
    same_time = [(a, b) for a, b in zip(scene_list, scene_list[1:], strict=False) if a.datetime == b.datetime]
    if same_time:
        a, b = same_time[0]
        raise InputError(
            f"scenes {a.id} and {b.id} have the same acquisition time ({a.datetime}): a store holds one scene per "
            "time, and one of them would be lost; ingest them into separate stores, or leave one out")

    store = Path(store)
    existing = None
    sensors_before: set[str] = set()
    if append and store.exists():
        from landpulse.io.store import open_store, roll_back_append
        from landpulse.spec.bands import declared_sensors

        if is_zarr_store(store):
            roll_back_append(store)  # an earlier append that died: its unfinished dates go first
        existing = open_store(store)
        sensors_before = set(declared_sensors(existing))
        missing = [n for n in names if n not in existing.data_vars]
        extra = [str(n) for n in existing.data_vars if n not in names and existing[n].ndim >= 2]
        if missing or extra:
            raise MissingBandError(
                f"{store} holds bands {sorted(map(str, existing.data_vars))}; the scenes bring {sorted(names)}"
            )
        known = set(map(str, existing["scene_id"].values))
        scene_list = [s for s in scene_list if s.id not in known]
        if not scene_list:
            return store
        last = existing["time"].values.max()
        if scene_list[0].datetime <= last:
            raise InputError(
                f"scene {scene_list[0].id} ({scene_list[0].datetime}) is not later than the store's "
                f"last date ({last}); stores keep dates in order: ingest into a new store"
            )
        time_encoding = existing["time"].encoding
        new_times = np.array([s.datetime for s in scene_list], dtype="datetime64[ns]")
        if np.dtype(time_encoding.get("dtype", "float64")).kind in "iu" and not cf_units_hold(time_encoding, new_times):
            raise InputError(
                f"{store} stores its times as integer {time_encoding.get('units')!r}, which cannot hold the "
                f"acquisition time of scene {scene_list[0].id} ({scene_list[0].datetime}) exactly (an older "
                "landpulse took its time unit from the first ingest): re-ingest these scenes into a new store, "
                "whose time axis holds any acquisition time")
    elif store.exists() and not overwrite:
        if is_zarr_store(store):
            raise InputError(f"{store} already exists; use append (--append) to add dates or overwrite (--overwrite)")
        raise InputError(f"{store} exists and is not a Zarr store")

    # 1. Check everything before writing anything.
    planned = []
    ref_grid: Grid | None = _store_grid(existing) if existing is not None else None
    for scene in scene_list:
        grid, band_grids = scene_grid(scene, resolution, remote)
        if ref_grid is None:
            ref_grid = grid
        elif not grid.same_as(ref_grid):
            raise GridMismatchError(
                f"scene {scene.id} is on a different grid ({grid.crs}, {grid.shape}, origin "
                f"{grid.transform.c:.1f},{grid.transform.f:.1f}) than the store/first scene "
                f"({ref_grid.crs}, {ref_grid.shape}, origin {ref_grid.transform.c:.1f},{ref_grid.transform.f:.1f})"
            )
        planned.append((scene, grid, band_grids))
    assert ref_grid is not None
    if existing is not None:
        ychunk, xchunk = existing[names[0]].encoding["chunks"][-2:]
        cy, cx = int(ychunk), int(xchunk)
    else:
        cy, cx = chunks or (choose_chunk(ref_grid.shape[0]), choose_chunk(ref_grid.shape[1]))

    _check_class_tables(scene_list, existing, store)
    calibrated = frozenset(n for s in scene_list for n, b in s.bands.items() if b.calibration)
    if existing is not None:
        in_store = frozenset(n for n in names if f"{n}_calibration" in existing.coords)
        if calibrated - in_store:
            raise InputError(
                f"the scenes bring calibration records for {sorted(calibrated - in_store)}, which {store} has no "
                "place for (it was ingested without calibration): ingest calibrated scenes into a new store")
        calibrated = in_store
    store_attrs = {
        "Conventions": "CF-1.9",
        "landpulse_store": STORE_KIND,
        "landpulse_store_version": STORE_VERSION,
        # an append keeps the sensors already in the store (its attributes are replaced)
        "sensor": json.dumps(sorted({s.sensor or "unknown" for s in scene_list}
                                    | sensors_before)),
    }
    if existing is None and direct_write_possible(planned):  # zarr and rasterio alone, one pass
        return write_scene_store(planned, names, ref_grid, (cy, cx), calibrated, store_attrs, store,
                                 overwrite=overwrite, progress=progress)
    if existing is not None and direct_append_possible(planned, names, calibrated, store):
        return append_scene_store(planned, names, ref_grid, calibrated, store_attrs, store, progress=progress)
    return _ingest_with_xarray(planned, names, ref_grid, (cy, cx), calibrated, store_attrs, store, existing,
                               overwrite=overwrite, progress=progress, remote=remote)


def _ingest_with_xarray(planned: Sequence[tuple[Scene, Grid, dict[str, Grid]]], names: Sequence[str],
                        ref_grid: Grid, chunks: tuple[int, int], calibrated: frozenset[str],
                        store_attrs: Mapping[str, object], store: Path, existing: xr.Dataset | None, *,
                        overwrite: bool, progress: bool, remote: RemoteOptions) -> Path:
    """Write or append through :func:`scene_dataset` and xarray's ``to_zarr`` (appends, remote
    assets, float bands)."""
    import rioxarray  # noqa: F401  (the .rio accessor)
    import xarray as xr

    from landpulse.io.store import append_zarr, open_store, write_zarr
    from landpulse.spec.radiometry import record_radiometry_warnings

    cy, cx = chunks
    datasets = [scene_dataset(s, g, bg, (cy, cx), calibrated, remote) for s, g, bg in planned]
    with reading_errors():  # two blocks per band and scene: cheap statistics, not a pass over the tile
        found = {band: message for (s, _, _), sds in zip(planned, datasets, strict=True)
                 for band, message in check_scene_radiometry(s, sds).items()}
    ds = xr.concat(datasets, dim="time", join="exact", combine_attrs="override", data_vars="all",
                   coords="different", compat="equals")
    ds = ds[list(names)].rio.write_crs(ref_grid.crs).rio.write_transform(ref_grid.transform)
    ds.attrs = dict(store_attrs)
    if existing is not None and RADIOMETRY_WARNINGS_ATTR in existing.attrs:  # the store's warnings stay
        ds.attrs[RADIOMETRY_WARNINGS_ATTR] = existing.attrs[RADIOMETRY_WARNINGS_ATTR]
    ds = record_radiometry_warnings(ds, found)
    zchunks = {"time": 1, "y": cy, "x": cx}

    # 2. Write: a new store atomically; an append goes through a complete temporary store first,
    # so unreadable pixels fail before the real store is touched.
    with reading_errors():
        if existing is None:  # a fixed time unit, so that later appends at any time of day fit
            return write_zarr(ds, store, overwrite=overwrite, chunks=zchunks, progress=progress,
                              encoding={"time": scene_time_encoding(ds["time"].values)})
        with tempfile.TemporaryDirectory(dir=store.parent, prefix=f".{store.name}.staging-") as staging:
            staged = open_store(write_zarr(ds, Path(staging) / "new.zarr", chunks=zchunks, progress=progress))
            # the staged store is complete and local: only now is the real store touched
            append_zarr(staged, store, progress=progress)
    return store
