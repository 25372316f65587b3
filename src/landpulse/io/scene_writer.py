"""Scene stores written with zarr and rasterio alone: every band and its metadata in one pass.

``landpulse ingest`` of local integer band files comes here: into a new store
(:func:`write_scene_store`) or appended to a landpulse store (:func:`append_scene_store`).
Remote assets and float bands still go through :func:`landpulse.io.ingest.scene_dataset` and
xarray's ``to_zarr``. The store is the one the xarray path writes, array for array, attribute for
attribute and chunk for chunk: ``tests/io/test_scene_writer.py`` compares the two, for new stores
and appends. What it leaves out is what a one-pass copy does not need: xarray, Dask and rioxarray
(about 1 s of imports on a 2-core machine), a Dask graph per band, the rechunking of every band,
and (appends) the staged copy of the new dates.

How it writes:

* the radiometry is checked first, on the same blocks the xarray path samples (at most two per
  band and scene, :func:`landpulse.backend.reductions.sample_blocks`'s picks), so a refused
  offset writes nothing; the blocks read for it are kept for the write (up to a byte budget);
* then one task per band, date and Zarr chunk, on a thread pool: a windowed rasterio read (a
  coarser band is put on the finest grid by nearest neighbour, as in the xarray path), the chunk
  encoded and written by zarr (blosc-lz4 + shuffle + crc32c). Each task writes its own chunk;
* a new store: all of it into a temporary folder renamed into place when complete
  (:func:`landpulse.io.files.atomic_directory`): a failed or killed ingest leaves no store;
* an append: under the append mark (:data:`landpulse.io.store_metadata.APPEND_MARK`), rolled
  back on failure, and by the next append after a kill.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from landpulse.backend.validity import Validity
from landpulse.errors import GridMismatchError, ProductMeaningWarning, UnreadableInputError
from landpulse.io.files import atomic_directory
from landpulse.io.raster_grid import Grid
from landpulse.io.remote import is_remote
from landpulse.io.scenes import BandSource, Scene
from landpulse.io.store_metadata import APPEND_MARK, encode_cf_times, roll_back_append, scene_time_encoding
from landpulse.spec.radiometry_check import (
    CLASSIFICATION_ATTR,
    RADIOMETRY_ATTR,
    RADIOMETRY_WARNING_ATTR,
    RADIOMETRY_WARNINGS_ATTR,
    check_against_pixels,
    valid_values,
)

#: Blocks read for the radiometry check are kept for the write up to this many bytes.
SAMPLE_CACHE_BYTES = 256 << 20
#: ``sample_blocks``' thinning: each sampled block is strided to at most about this many values.
_SAMPLE_VALUES = 1 << 18
#: The Blosc level of raw bands (``landpulse.io.store.DEFAULT_CLEVEL``).
_CLEVEL = 5
_NAN_FILL = "AAAAAAAA+H8="  # xarray's _FillValue attribute for a NaN fill (float64, base64)


def band_attrs(src: BandSource, calibrated: bool = False) -> dict[str, object]:
    """The attributes of one band variable in a scene store (``kind``, radiometry, nodata...)."""
    attrs: dict[str, object] = {"kind": src.kind}
    if src.kind == "reflectance":
        attrs["common_name"] = src.name
        attrs[RADIOMETRY_ATTR] = f"{src.name}_dn_scale {src.name}_dn_offset" + (f" {src.name}_calibration" if calibrated else "")
        attrs["long_name"] = f"{src.name} band, raw digital numbers (reflectance = DN * {src.name}_dn_scale + {src.name}_dn_offset)"
    else:
        attrs["long_name"] = f"{src.name} classification band"
        if src.classification is not None:
            attrs[CLASSIFICATION_ATTR] = src.classification
    if src.nodata is not None:
        attrs["nodata"] = src.nodata
    if src.valid_range is not None:
        attrs["valid_range"] = list(src.valid_range)
    return attrs


def nearest_index(target: np.ndarray, origin: float, step: float, n: int, what: str) -> np.ndarray:
    """Indices of the source pixels (``n`` along the axis from ``origin`` by ``step``) holding the
    ``target`` pixel centres: nearest neighbour, exact replication on nested grids.

    Raises
    ------
    GridMismatchError
        When the source does not cover every target centre.
    """
    idx = np.floor((target - origin) / step).astype(np.int64)
    if idx.min() < 0 or idx.max() >= n:
        raise GridMismatchError(f"{what} does not cover the target grid; crop or reproject it first")
    return idx


def radiometry_problems(scene: Scene, sample: Callable[[str, Validity], np.ndarray]) -> dict[str, str]:
    """Check ``scene``'s declared scales and offsets on ``sample(band, validity)`` (valid raw values).

    Returns the warnings of :func:`landpulse.spec.radiometry_check.check_against_pixels` by band.

    Raises
    ------
    RadiometryError
        When the offset is ruled out: a Sentinel-2 scene of processing baseline 04.00 or later
        (offset -1000 DN) whose valid DNs are mostly below 1000.
    """
    samples = [(name, sample(name, Validity.of(src.nodata, src.valid_range)), float(src.scale), float(src.offset))
               for name, src in scene.bands.items() if src.kind == "reflectance"]
    baseline = f"processing baseline {scene.processing_baseline}" if scene.processing_baseline else "no processing baseline"
    return check_against_pixels(
        samples, what=f"scene {scene.id} ({baseline})",
        fix="Check the scene's processing baseline (s2:processing_baseline: 04.00 and later add 1000 to every DN) "
            "or the offset its metadata declares (raster:bands offset), and correct the item; DNs that already "
            "had the offset removed need offset 0.")


def direct_write_possible(planned: Sequence[tuple[Scene, Grid, Mapping[str, Grid]]]) -> bool:
    """Whether :func:`write_scene_store` writes these scenes: local files, integer bands (float
    bands get xarray's NaN fill value), one dtype per band across the scenes."""
    dtypes: dict[str, str | None] = {}
    for scene, _, band_grids in planned:
        for name, src in scene.bands.items():
            dtype = band_grids[name].dtype
            if is_remote(src.href) or dtype is None or np.dtype(dtype).kind not in "iu":
                return False
            if dtypes.setdefault(name, dtype) != dtype:
                return False
    return True


@dataclass(frozen=True)
class _Band:
    """How to read one band of one scene onto the store's grid."""

    src: BandSource
    rows: np.ndarray | None  # source row of each target row (None: the band is on the grid)
    cols: np.ndarray | None


def replication_indices(href: str, source: Grid, grid: Grid) -> tuple[np.ndarray, np.ndarray] | None:
    """The source rows and columns (nearest neighbour) that put a band file on ``grid``; None when
    it is on the grid already. Both ingest paths use it.

    Raises
    ------
    GridMismatchError
        When the file is in another CRS or does not cover the grid.
    """
    if source.same_as(grid):
        return None
    if source.crs != grid.crs:
        raise GridMismatchError(f"{href} is in {source.crs}, the scene grid in {grid.crs}")
    t = source.transform
    return (nearest_index(grid.y_coords(), t.f, t.e, source.shape[0], href),
            nearest_index(grid.x_coords(), t.c, t.a, source.shape[1], href))


def _band_reader(src: BandSource, source: Grid, grid: Grid) -> _Band:
    indices = replication_indices(src.href, source, grid)
    return _Band(src, None, None) if indices is None else _Band(src, *indices)


class _Readers:
    """Open rasterio datasets, one set per thread (a dataset is not to be shared by threads)."""

    def __init__(self) -> None:
        self.local = threading.local()
        self.every: list[Any] = []  # of all threads, closed by :meth:`close_all`
        self.lock = threading.Lock()

    def get(self, href: str) -> Any:
        opened: dict[str, Any] = self.local.__dict__.setdefault("open", {})
        ds = opened.get(href)
        if ds is None:
            import rasterio

            ds = opened[href] = rasterio.open(href)
            with self.lock:
                self.every.append(ds)
        return ds

    def close_all(self) -> None:
        with self.lock:
            for ds in self.every:
                ds.close()
            self.every.clear()


def _read_block(band: _Band, rows: slice, cols: slice, readers: _Readers) -> np.ndarray:
    from rasterio.windows import Window

    ds = readers.get(band.src.href)
    if band.rows is None or band.cols is None:
        window = Window(cols.start, rows.start, cols.stop - cols.start, rows.stop - rows.start)
        return np.asarray(ds.read(band.src.band_index, window=window))
    r, c = band.rows[rows], band.cols[cols]
    r0, c0 = int(r.min()), int(c.min())
    window = Window(c0, r0, int(c.max()) - c0 + 1, int(r.max()) - r0 + 1)
    data = ds.read(band.src.band_index, window=window)
    return np.asarray(data[np.ix_(r - r0, c - c0)])


def _crs_attrs(crs: str, transform: Any) -> dict[str, object]:
    """The ``spatial_ref`` attributes rioxarray's ``write_crs`` and ``write_transform`` write."""
    import pyproj
    from rasterio.crs import CRS

    rio_crs = CRS.from_user_input(crs)
    attrs: dict[str, object] = {}
    with contextlib.suppress(KeyError):
        attrs = dict(pyproj.CRS.from_user_input(rio_crs).to_cf())
    wkt = rio_crs.to_wkt()
    attrs["spatial_ref"] = wkt
    attrs["crs_wkt"] = wkt
    attrs["GeoTransform"] = " ".join(str(v) for v in transform.to_gdal())
    return attrs


def _codecs(dtype: np.dtype) -> dict[str, Any]:
    from zarr.codecs import BloscCodec, Crc32cCodec

    shuffle: Literal["shuffle", "noshuffle"] = "shuffle" if dtype.itemsize > 1 else "noshuffle"
    return {"compressors": (BloscCodec(cname="lz4", clevel=_CLEVEL, shuffle=shuffle, typesize=dtype.itemsize),
                            Crc32cCodec())}


class _Progress:
    """A text progress bar on stderr, shown once the write has taken a second (as Dask's)."""

    def __init__(self, total: int, show: bool) -> None:
        self.total, self.done, self.show = total, 0, show
        self.start = self.last = time.monotonic()
        self.drawn = False
        self.lock = threading.Lock()

    def step(self) -> None:
        with self.lock:
            self.done += 1
            now = time.monotonic()
            if self.show and now - self.start >= 1.0 and (now - self.last >= 0.1 or self.done == self.total):
                self.last, self.drawn = now, True
                frac = self.done / self.total
                bar = "#" * int(40 * frac)
                print(f"\r[{bar:<40}] | {frac:4.0%} Completed | {now - self.start:.1f}s", end="", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.drawn:
            print(file=sys.stderr, flush=True)


def write_scene_store(
    planned: Sequence[tuple[Scene, Grid, Mapping[str, Grid]]],
    names: Sequence[str],
    grid: Grid,
    chunks: tuple[int, int],
    calibrated: frozenset[str],
    attrs: Mapping[str, object],
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    progress: bool = False,
    workers: int | None = None,
) -> Path:
    """Write a new scene store from local band files, with zarr and rasterio alone.

    Parameters
    ----------
    planned : sequence of (Scene, Grid, mapping of band name to Grid)
        The scenes in time order, each with its grid (``grid``, checked by the caller) and the
        grid of each band file (:func:`landpulse.io.ingest.scene_grid`); every band file local,
        of an integer dtype (:func:`direct_write_possible`).
    names : sequence of str
        The bands, in the store's order.
    grid : Grid
        The store's grid.
    chunks : (int, int)
        Spatial Zarr chunk shape (one date per chunk).
    calibrated : frozenset of str
        Bands that get a ``<band>_calibration`` coordinate.
    attrs : mapping
        The store's attributes (radiometry warnings are added to them).
    path : path
        The store to create (atomically).
    overwrite : bool
        Replace an existing store.
    progress : bool
        Show a progress bar on stderr once the write has taken a second.
    workers : int, optional
        Threads reading and writing chunks (default: the CPU count).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    RadiometryError
        Before anything is written, when a scene's declared offset is ruled out by its pixels.
    UnreadableInputError
        When a band file cannot be read (nothing is left at ``path``).
    """
    path = Path(path)
    ny, nx = grid.shape
    cy, cx = min(chunks[0], ny), min(chunks[1], nx)
    readers = _Readers()
    try:
        return _write(planned, names, grid, (cy, cx), calibrated, attrs, path, overwrite, progress,
                      workers or os.cpu_count() or 1, readers)
    finally:
        readers.close_all()


Planned = Sequence[tuple[Scene, Grid, Mapping[str, Grid]]]


@dataclass
class _Layout:
    """The blocks of a store's grid and how each scene's bands are read onto it."""

    blocks: list[tuple[slice, slice]]
    bands: list[dict[str, _Band]]  # per scene, by band name

    @classmethod
    def of(cls, planned: Planned, names: Sequence[str], grid: Grid, chunks: tuple[int, int]) -> _Layout:
        ny, nx = grid.shape
        cy, cx = chunks
        rows = [slice(y, min(y + cy, ny)) for y in range(0, ny, cy)]
        cols = [slice(x, min(x + cx, nx)) for x in range(0, nx, cx)]
        return cls([(r, c) for r in rows for c in cols],
                   [{name: _band_reader(scene.bands[name], band_grids[name], grid) for name in names}
                    for scene, _, band_grids in planned])


def _check_radiometry(planned: Planned, layout: _Layout, readers: _Readers, stacklevel: int
                      ) -> tuple[dict[str, str], dict[tuple[int, str, int], np.ndarray]]:
    """The radiometry warnings by band (warned here, ``stacklevel`` pointing at the caller of
    ingest) and the blocks read for them, kept for the write up to :data:`SAMPLE_CACHE_BYTES`.
    Samples the blocks the xarray path samples."""
    kept: dict[tuple[int, str, int], np.ndarray] = {}
    kept_bytes = 0
    found: dict[str, str] = {}
    blocks = layout.blocks
    n = max(1, min(2, len(blocks)))
    picks = sorted({int((k + 0.5) * len(blocks) / n) for k in range(n)})
    for t, (scene, _, _) in enumerate(planned):
        def sample(name: str, validity: Validity, t: int = t) -> np.ndarray:
            nonlocal kept_bytes
            out = []
            for p in picks:
                with reading_errors():
                    block = _read_block(layout.bands[t][name], *blocks[p], readers)
                if kept_bytes + block.nbytes <= SAMPLE_CACHE_BYTES:
                    kept[(t, name, p)] = block
                    kept_bytes += block.nbytes
                flat = block.ravel()
                out.append(flat[:: max(1, flat.size // _SAMPLE_VALUES)].astype(np.float64))
            return valid_values(np.concatenate(out), validity)

        found.update(radiometry_problems(scene, sample))
    for message in found.values():
        warnings.warn(message, ProductMeaningWarning, stacklevel=stacklevel)
    return found, kept


def _write_pixels(arrays: Mapping[str, Any], first: int, n: int, names: Sequence[str], layout: _Layout,
                  kept: dict[tuple[int, str, int], np.ndarray], readers: _Readers, progress: bool,
                  workers: int) -> None:
    """Every chunk of the ``n`` scenes into dates ``first, first + 1...`` of ``arrays``: one task
    per scene, band and chunk on a thread pool."""
    tasks = [(t, name, p) for t in range(n) for name in names for p in range(len(layout.blocks))]
    bar = _Progress(len(tasks), progress)

    def write(task: tuple[int, str, int]) -> None:
        t, name, p = task
        rows, cols = layout.blocks[p]
        block = kept.pop(task, None)
        if block is None:
            with reading_errors():
                block = _read_block(layout.bands[t][name], rows, cols, readers)
        arrays[name][first + t, rows, cols] = block
        bar.step()

    try:
        _run_all(write, tasks, workers)
    finally:
        bar.close()


def _write(planned: Planned, names: Sequence[str], grid: Grid, chunks: tuple[int, int], calibrated: frozenset[str],
           attrs: Mapping[str, object], path: Path, overwrite: bool, progress: bool, workers: int,
           readers: _Readers) -> Path:
    import zarr

    ny, nx = grid.shape
    cy, cx = chunks
    layout = _Layout.of(planned, names, grid, chunks)
    # 1. The radiometry, on the blocks the xarray path samples; those blocks are kept for step 2.
    found, kept = _check_radiometry(planned, layout, readers, 5)  # <- _write <- write_scene_store <- ingest
    store_attrs: dict[str, Any] = dict(attrs)
    if found:
        store_attrs[RADIOMETRY_WARNINGS_ATTR] = _json_list(list(found.values()))

    # 2. The arrays, then the pixels, into a temporary folder renamed into place when complete.
    times = np.array([s.datetime for s, _, _ in planned], dtype="datetime64[ns]")
    enc = scene_time_encoding(times)
    with atomic_directory(path, overwrite=overwrite) as tmp:
        root = zarr.open_group(str(tmp), mode="w", zarr_format=3, attributes=store_attrs)
        coords = _write_coords(root, planned, names, grid, times, enc, calibrated)
        arrays = {}
        for name in names:
            first = planned[0][0].bands[name]
            dtype = np.dtype(planned[0][2][name].dtype)
            band: dict[str, Any] = band_attrs(first, name in calibrated)
            if name in found:
                band[RADIOMETRY_WARNING_ATTR] = found[name]
            band["grid_mapping"] = "spatial_ref"
            band["coordinates"] = " ".join(coords)
            arrays[name] = root.create_array(name, shape=(len(planned), ny, nx), dtype=dtype, chunks=(1, cy, cx),
                                             fill_value=0, dimension_names=("time", "y", "x"), attributes=band,
                                             **_codecs(dtype))
        _write_pixels(arrays, 0, len(planned), names, layout, kept, readers, progress, workers)
    return path


def direct_append_possible(planned: Planned, names: Sequence[str], calibrated: frozenset[str],
                           path: str | os.PathLike[str]) -> bool:
    """Whether :func:`append_scene_store` appends these scenes to the store at ``path``: what
    :func:`direct_write_possible` asks of the scenes, a Zarr v3 store whose bands have these
    dtypes and one date per chunk, and every per-date coordinate a landpulse store has."""
    import zarr

    if not direct_write_possible(planned) or not (Path(path) / "zarr.json").is_file():
        return False
    try:
        group = zarr.open_group(str(path), mode="r", zarr_format=3)
        arrays = dict(group.arrays())
    except Exception:
        return False
    per_date = ["time", *_PER_DATE]
    for name in names:
        src = planned[0][0].bands[name]
        if src.kind == "reflectance":
            per_date += [f"{name}_dn_scale", f"{name}_dn_offset"] + ([f"{name}_calibration"] if name in calibrated else [])
        band = arrays.get(name)
        if band is None or band.ndim != 3 or band.chunks[0] != 1 or np.dtype(planned[0][2][name].dtype) != band.dtype:
            return False
    if any(k not in arrays or arrays[k].ndim != 1 for k in per_date):
        return False
    time_array = arrays["time"]
    return time_array.dtype.kind in "iu" and "units" in time_array.attrs


def append_scene_store(
    planned: Planned,
    names: Sequence[str],
    grid: Grid,
    calibrated: frozenset[str],
    attrs: Mapping[str, object],
    path: str | os.PathLike[str],
    *,
    progress: bool = False,
    workers: int | None = None,
) -> Path:
    """Append scenes (later than the store's last date, on its grid) to a scene store in one pass.

    All or nothing, as :func:`landpulse.io.store.append_zarr`: the radiometry is checked first
    (a refused offset writes nothing); the store is then marked (:data:`~landpulse.io.store_metadata.APPEND_MARK`),
    its arrays grown, the coordinates and pixels written; a failure cuts the arrays back to their
    old length and removes the mark; a killed process leaves the mark, which the next
    ``landpulse ingest --append`` rolls back first. ``attrs`` replace the store's attributes
    (radiometry warnings: the store's and the new ones).

    Parameters
    ----------
    planned, names, grid, calibrated, progress, workers
        As :func:`write_scene_store`; ``calibrated`` the bands with a calibration coordinate in
        the store (:func:`direct_append_possible` checked).
    attrs : mapping
        The store's new attributes.
    path : path
        The store.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    RadiometryError
        Before anything is written, when a scene's declared offset is ruled out by its pixels.
    UnreadableInputError
        When a band file cannot be read (the store is left as it was).
    """
    import zarr

    path = Path(path)
    group = zarr.open_group(str(path), mode="r+", zarr_format=3)
    arrays = dict(group.arrays())
    chunks = tuple(int(c) for c in arrays[names[0]].chunks[1:])
    layout = _Layout.of(planned, names, grid, (chunks[0], chunks[1]))
    readers = _Readers()
    try:
        found, kept = _check_radiometry(planned, layout, readers, 4)  # <- append_scene_store <- ingest
        new_attrs: dict[str, Any] = dict(attrs)
        before = json.loads(str(group.attrs.get(RADIOMETRY_WARNINGS_ATTR, "[]")))
        merged = before + [m for m in found.values() if m not in before]
        if merged:
            new_attrs[RADIOMETRY_WARNINGS_ATTR] = _json_list(merged)
        n0, n = int(arrays["time"].shape[0]), len(planned)
        mark: dict[str, Any] = {"dim": "time", "length": n0}
        group.attrs[APPEND_MARK] = mark
        try:
            times = np.array([s.datetime for s, _, _ in planned], dtype="datetime64[ns]")
            columns: dict[str, np.ndarray] = {"time": encode_cf_times(times, arrays["time"].attrs).astype(arrays["time"].dtype)}
            columns.update({k: np.array(v, dtype=object) for k, v in _per_date_strings(planned, names, calibrated).items()})
            columns.update({k: np.array(v, dtype=np.float64) for k, v in _per_date_numbers(planned, names).items()})
            for key, values in columns.items():
                arrays[key].resize((n0 + n,))
                arrays[key][n0:] = values
            for name in names:
                band = arrays[name]
                band.resize((n0 + n, *band.shape[1:]))
                if name in found:
                    band.attrs[RADIOMETRY_WARNING_ATTR] = found[name]
            _write_pixels(arrays, n0, n, names, layout, kept, readers, progress, workers or os.cpu_count() or 1)
            group.attrs.put({**new_attrs, APPEND_MARK: mark})
        except BaseException:
            roll_back_append(path)
            raise
        del group.attrs[APPEND_MARK]
    finally:
        readers.close_all()
    return path


_PER_DATE = ("scene_id", "platform", "processing_baseline")


def _per_date_strings(planned: Planned, names: Sequence[str], calibrated: frozenset[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {
        "scene_id": [s.id for s, _, _ in planned],
        "platform": [s.platform or "" for s, _, _ in planned],
        "processing_baseline": [s.processing_baseline or "" for s, _, _ in planned],
    }
    for name in names:
        if name in calibrated and planned[0][0].bands[name].kind == "reflectance":
            out[f"{name}_calibration"] = [s.bands[name].calibration or "" for s, _, _ in planned]
    return out


def _per_date_numbers(planned: Planned, names: Sequence[str]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for name in names:
        if planned[0][0].bands[name].kind == "reflectance":
            out[f"{name}_dn_scale"] = [float(s.bands[name].scale) for s, _, _ in planned]
            out[f"{name}_dn_offset"] = [float(s.bands[name].offset) for s, _, _ in planned]
    return out


def _json_list(values: list[str]) -> str:
    return json.dumps(values)


def _write_coords(root: Any, planned: Sequence[tuple[Scene, Grid, Mapping[str, Grid]]], names: Sequence[str],
                  grid: Grid, times: np.ndarray, enc: Mapping[str, str], calibrated: frozenset[str]) -> list[str]:
    """Write the coordinates (as xarray writes them) and return the non-index ones, sorted."""
    f8 = np.dtype("float64")
    nan = {"fill_value": float("nan"), "attributes": {"_FillValue": _NAN_FILL}, **_codecs(f8)}
    n = len(planned)
    for dim, values in (("y", grid.y_coords()), ("x", grid.x_coords())):
        root.create_array(dim, shape=values.shape, dtype=f8, chunks=values.shape, dimension_names=(dim,),
                          **nan)[:] = values
    root.create_array("time", shape=(n,), dtype="int64", chunks=(n,), fill_value=0, dimension_names=("time",),
                      attributes={"units": enc["units"], "calendar": enc["calendar"]},
                      **_codecs(np.dtype("int64")))[:] = encode_cf_times(times, enc).astype(np.int64)
    per_date = _per_date_strings(planned, names, calibrated)
    numbers = _per_date_numbers(planned, names)
    for key, strings in per_date.items():
        root.create_array(key, shape=(n,), dtype=str, chunks=(n,), dimension_names=("time",),
                          attributes={})[:] = np.array(strings, dtype=object)
    for key, floats in numbers.items():
        root.create_array(key, shape=(n,), dtype=f8, chunks=(n,), dimension_names=("time",), **nan)[:] = floats
    root.create_array("spatial_ref", shape=(), dtype="int64", fill_value=0, attributes=_crs_attrs(grid.crs, grid.transform))
    return sorted([*per_date, *numbers, "spatial_ref"])


def _run_all(fn: Callable[[Any], None], tasks: Sequence[Any], workers: int) -> None:
    """Run ``fn`` on every task on a thread pool; at the first failure, cancel what has not
    started and wait for what runs before raising (no writer outlives the store's removal)."""
    if workers <= 1 or len(tasks) <= 1:
        for task in tasks:
            fn(task)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(fn, task) for task in tasks]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        failed = next((f for f in done if f.exception() is not None), None)
        if failed is not None:
            for f in futures:
                f.cancel()
            wait(futures)
            raise failed.exception()  # type: ignore[misc]


@contextlib.contextmanager
def reading_errors() -> Iterator[None]:
    """Turn GDAL read failures (corrupt or truncated files, also inside Dask tasks) into
    :class:`~landpulse.errors.UnreadableInputError`.

    rasterio raises ``RasterioIOError`` or, depending on where GDAL notices, one of its
    ``CPLE_*`` errors (which do not derive from ``RasterioError``): both come from rasterio.
    """
    try:
        yield
    except Exception as err:
        if not type(err).__module__.startswith("rasterio"):
            raise
        cause = f" ({err.__cause__})" if err.__cause__ else ""
        raise UnreadableInputError(f"reading pixels failed: {err}{cause}") from err


__all__ = ["append_scene_store", "band_attrs", "direct_append_possible", "direct_write_possible", "nearest_index", "radiometry_problems", "reading_errors", "replication_indices",
           "write_scene_store"]
