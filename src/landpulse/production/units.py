"""Compute and commit one unit (product x tile x date): the task every worker runs.

:func:`run_unit` is self-contained and idempotent, so Dask may run it anywhere, again after a
lost worker, or not at all after a driver crash:

1. If the unit's item already records the same inputs and parameters, do nothing.
2. Remove temporary folders that earlier, killed attempts at this unit left behind.
3. Into a new temporary sibling folder ``.<period>.tmp-<random>``: the product's Zarr store (every
   chunk written, one pass: compute, pack, encode, write, summarise), its quick-look, optionally a
   Cloud-Optimized GeoTIFF, then the STAC item with the size and checksums of every file, last.
4. Check that every chunk file of every array is there, flush everything to disk, and rename the
   folder into place. A rename onto an existing unit fails, so a unit another attempt committed
   meanwhile is never overwritten; a unit that must be replaced (new inputs or parameters) is
   renamed aside first and removed after.

A killed attempt leaves only a temporary folder, which no reader looks at and the next attempt
or run removes. Errors become a ``failed`` result naming the scene; they never stop other units.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import importlib
import json
import os
import socket
import threading
import time
import traceback
import uuid
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dask
import numpy as np
import pystac
import xarray as xr

from landpulse._version import __version__
from landpulse.backend import device_info, resolve_device, set_options, to_device
from landpulse.backend.oom_recovery import FAULTS
from landpulse.errors import EnvironmentFaultError, InputError, ProductMeaningWarning, environment_fault
from landpulse.io.alerts import ALERTS_NAME, GEOJSON_MEDIA_TYPE, change_patches, class_patches, write_alerts
from landpulse.io.cog import write_cog
from landpulse.io.ingest import choose_chunk, scene_dataset, scene_grid
from landpulse.io.load import load_on_grid
from landpulse.io.products import item_encoding, open_product, stored_first_slice, write_product_blocks
from landpulse.io.remote import DEFAULT_OPTIONS
from landpulse.io.scenes import scene_from_stac_item
from landpulse.io.stac import COG_MEDIA_TYPE, EO_EXTENSION, FILE_EXTENSION, product_item, write_item
from landpulse.io.store import WARNINGS_LOCK, datetime_dim, open_store
from landpulse.production.commit import UnitFolderReplacedError, check_complete, commit_folder, fsync_tree
from landpulse.production.ledger import ITEM_NAME, LOCK_NAME, TMP_MARK, Ledger, build_manifest, discard
from landpulse.production.plan import ItemSource, SceneRef, Unit, ZarrSource
from landpulse.products.areas import areas_from_row_counts
from landpulse.products.provenance import PROVENANCE_ATTR
from landpulse.products.registry import get_product, reflectance_inputs
from landpulse.products.temporal import ALERT_CLASSES_ATTR, ALERTS_ATTR
from landpulse.spec.bands import bands_read
from landpulse.spec.radiometry import RADIOMETRY_WARNING_ATTR, declare_radiometry
from landpulse.thumbnails import class_colour_table, is_class_product, thumbnail_png

#: Asset file names inside a unit folder.
THUMBNAIL_NAME = "thumbnail.png"


@dataclass(frozen=True)
class UnitSettings:
    """Output settings every unit task needs (no credentials, nothing large)."""

    store: str
    run_id: str
    backend: str = "auto"
    chunk: int | None = None
    clevel: int = 5
    cog: bool = False
    quicklooks: bool = True
    checksums: tuple[str, ...] = ("crc32c",)
    fsync: bool = True
    thumbnail_pixels: int = 512
    plugins: tuple[str, ...] = ()


@dataclass
class UnitResult:
    """What happened to one unit (JSON-ready through :meth:`as_dict`)."""

    unit: str
    product: str
    tile: str
    period: str
    datetime: str
    inputs: list[str]
    status: str  # written | replaced | skipped | failed | stopped (an environment fault, not the scene's)
    folder: str
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    bytes: int = 0
    error: str | None = None
    error_type: str | None = None
    traceback: str | None = None
    host: str = ""
    pid: int = 0
    device: dict[str, Any] = field(default_factory=dict)
    cleaned: int = 0
    bbox: list[float] | None = None
    shape: list[int] | None = None
    #: GPU out-of-memory events while the unit ran (blocks retried smaller or on the CPU); exact
    #: on workers that run one unit at a time, shared between concurrent units in threads mode
    gpu_faults: dict[str, int] = field(default_factory=dict)
    #: warnings that change what the product means (ProductMeaningWarning), also in its item
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _base_result(unit: Unit, settings: UnitSettings, status: str) -> UnitResult:
    return UnitResult(unit.id, unit.product, unit.tile, unit.period, unit.datetime.isoformat() + "Z",
                      unit.inputs, status, str(unit.folder(settings.store)),
                      host=socket.gethostname(), pid=os.getpid())


#: the largest first slice (stored bytes) whose COG is written from the values kept in memory while
#: the store is written (5490 x 5490 int16, a 20 m Sentinel-2 tile); larger ones are read back
COG_FROM_MEMORY_BYTES = 64 << 20

#: the input stores opened in this process for the current run: {(run id, store path): Dataset}
_OPENED: dict[tuple[str, str], xr.Dataset] = {}
_OPENED_LOCK = threading.Lock()


def _open_input_store(path: str, run_id: str | None) -> xr.Dataset:
    """A Zarr input store, opened once per run and process (a lazy Dataset: metadata only).

    Every unit of a run reads its scenes from the stores the plan saw, so the units of one run
    share one opened store instead of reading and decoding its metadata again each (about a tenth
    of a second a unit for a Sentinel-2 store); a new run forgets the previous run's stores, so a
    store changed between runs (an appended date) is opened afresh. ``run_id`` None: not cached.
    """
    if run_id is None:
        return open_store(path)
    key = (run_id, str(path))
    with _OPENED_LOCK:
        ds = _OPENED.get(key)
    if ds is None:
        ds = open_store(path)
        with _OPENED_LOCK:
            for old in [k for k in _OPENED if k[0] != run_id]:
                del _OPENED[old]
            ds = _OPENED.setdefault(key, ds)
    return ds.copy(deep=False)  # each unit its own attributes (no unit sees another's changes)


def open_unit_input(unit: Unit, run_id: str | None = None) -> xr.Dataset:
    """The input scenes of a unit as a lazy ``(time, y, x)`` Dataset of raw bands: the one scene
    of a scene unit, every scene of a window unit's window (oldest first). ``run_id``: the run
    it is opened for (input stores are opened once per run and process)."""

    if unit.window is not None:
        return _open_scenes(unit, unit.scenes, run_id)
    first = unit.scenes[0]
    on_grid = isinstance(first.source, ItemSource) and first.source.grid is not None
    if len(unit.scenes) != 1 and not on_grid:
        raise InputError(f"unit {unit.id} has {len(unit.scenes)} input scenes; only a target grid mosaics scenes")
    return _open_scene(first, unit.scenes, unit=unit, run_id=run_id)


def open_comparison_input(unit: Unit, run_id: str | None = None) -> tuple[xr.Dataset, xr.Dataset]:
    """The baseline window's scenes and the current window's scenes of a comparison unit."""
    assert unit.window is not None and unit.baseline is not None
    base, current = unit.baseline, unit.window
    return (_open_scenes(unit, [s for s in unit.scenes if base.contains(s.datetime)], run_id),
            _open_scenes(unit, [s for s in unit.scenes if current.contains(s.datetime)], run_id))


def _open_scenes(unit: Unit, chosen: Iterable[SceneRef], run_id: str | None = None) -> xr.Dataset:
    """Scenes of a window unit, lazily, in time order. Scenes of one Zarr store are one
    selection along its time dimension (no copy; chunks stay the store's, read block by block);
    scenes from STAC items are stacked along ``time`` and must share one grid."""
    scenes = sorted(chosen, key=lambda s: (s.datetime, s.id))
    sources = [s.source for s in scenes]
    if all(isinstance(src, ZarrSource) for src in sources) and len({src.store for src in sources}) == 1:  # type: ignore[union-attr]
        first = sources[0]
        assert isinstance(first, ZarrSource)
        ds = _open_input_store(first.store, run_id)
        tdim = datetime_dim(ds)
        index = [src.index for src in sources]  # type: ignore[union-attr]
        ds = ds.isel({tdim: index})
        if "scene_id" in ds.coords:
            found = [str(v) for v in ds["scene_id"].values]
            expected = [s.id for s in scenes]
            if found != expected:
                raise InputError(f"{first.store} changed since planning: dates {index} are now scenes {found}, "
                                 f"not {expected}; rerun the job")
        if first.radiometry is not None:
            ds = _declared(ds, first.radiometry, unit)
        return ds
    parts = [_open_scene(s, unit=unit, run_id=run_id) for s in scenes]
    tdims = {datetime_dim(p) or "time" for p in parts}
    if len(tdims) != 1:
        raise InputError(f"the scenes of window {unit.period} name their time dimension differently: {sorted(tdims)}")
    tdim = tdims.pop()
    parts = [p if tdim in p.dims else p.expand_dims(tdim) for p in parts]
    try:
        return xr.concat(parts, dim=tdim, join="exact", coords="minimal", compat="override", combine_attrs="override")
    except ValueError as err:
        raise InputError(f"the scenes of window {unit.period} on tile {unit.tile} are not on one grid ({err}); "
                         "window products need the scenes of a tile on one grid (ingest them into one store)") from None


def _open_scene(scene: SceneRef, mosaic: Sequence[SceneRef] = (), *, unit: Unit | None = None,
                run_id: str | None = None) -> xr.Dataset:
    """One scene as a lazy Dataset of raw bands; on a target grid, ``mosaic`` (the scenes of its
    solar day, ``scene`` among them) warped onto the grid and mosaicked (first scene wins).
    ``unit``: the unit it is read for (its product's bands are warned about doubtful declared scales)."""
    src = scene.source
    if isinstance(src, ItemSource) and src.grid is not None:  # onto the job's grid; one solar day mosaicked
        items = [s.source for s in (mosaic or (scene,)) if isinstance(s.source, ItemSource)]
        scenes = [scene_from_stac_item(json.loads(i.document) if i.document is not None else i.item) for i in items]
        chunk = src.chunk or min(choose_chunk(src.grid.shape[0]), choose_chunk(src.grid.shape[1]))
        return load_on_grid(scenes, src.grid, chunks=(chunk, chunk), resampling=dict(src.resampling),
                            remote=src.remote or DEFAULT_OPTIONS)
    if isinstance(src, ZarrSource):
        ds = _open_input_store(src.store, run_id)
        tdim = datetime_dim(ds)
        ds = ds.isel({tdim: slice(src.index, src.index + 1)})  # a slice: whole chunks, no copies
        if "scene_id" in ds.coords and str(ds["scene_id"].values[0]) != scene.id:
            raise InputError(f"{src.store} changed since planning: date {src.index} is now scene "
                             f"{ds['scene_id'].values[0]}, not {scene.id}; rerun the job")
        if src.radiometry is not None:
            ds = _declared(ds, src.radiometry, unit)
        return ds
    assert isinstance(src, ItemSource)

    sc = scene_from_stac_item(json.loads(src.document) if src.document is not None else src.item)
    remote = src.remote or DEFAULT_OPTIONS
    grid, band_grids = scene_grid(sc, src.resolution, remote)
    cy = src.chunk or choose_chunk(grid.shape[0])
    cx = src.chunk or choose_chunk(grid.shape[1])
    return scene_dataset(sc, grid, band_grids, (cy, cx), remote=remote)


def _declared(ds: xr.Dataset, radiometry: tuple[float, float, Sequence[str] | None], unit: Unit | None) -> xr.Dataset:
    """``ds`` with the job's declared radiometry, checked against the pixels of every declared band
    (any of them can rule the offset out); doubtful scales are warned about only for the bands the
    unit's product reads (:func:`landpulse.spec.bands.bands_read`; every band where it does not say)."""
    scale, offset, bands = radiometry
    declared = list(bands) if bands else None
    read = _product_bands(unit, ds) if unit is not None else None
    if read is not None and declared is not None:
        read = [b for b in read if b in declared]
    return declare_radiometry(ds, scale=scale, offset=offset, bands=declared, warn=read)


def _product_bands(unit: Unit, ds: xr.Dataset) -> list[str] | None:
    """The variables of ``ds`` the unit's product reads as reflectance; None when it cannot be told."""
    return bands_read(ds, reflectance_inputs(unit.product, dict(unit.params)), dict(unit.bands) if unit.bands else None)


def _radiometry_notes(unit: Unit, inputs: Sequence[xr.Dataset]) -> list[str]:
    """The radiometry warnings recorded on the input bands the unit's product reads (a declared
    scale the pixels make doubtful: :func:`landpulse.spec.radiometry.declare_radiometry`), each once:
    they become notes of the unit (its item and the run report), not only lines on a worker's stderr."""
    notes: list[str] = []
    for ds in inputs:
        read = _product_bands(unit, ds)
        for band in read if read is not None else list(ds.data_vars):
            message = ds[band].attrs.get(RADIOMETRY_WARNING_ATTR)
            if message and message not in notes:
                notes.append(str(message))
    return notes


def _inner_scheduler() -> dict[str, Any]:
    """Dask settings for the chunks of one unit: the worker's threads (serial for one thread).

    Workers that landpulse starts run one unit at a time (the ``landpulse-unit`` resource), so a
    unit uses all of its worker's threads for its chunks.
    """
    try:
        from distributed import get_worker  # optional (the cluster extra)

        n = get_worker().state.nthreads
    except Exception:
        return {"scheduler": "sync"}
    return {"scheduler": "threads", "num_workers": n} if n > 1 else {"scheduler": "sync"}


@contextlib.contextmanager
def _capture_meaning_warnings() -> Iterator[list[str]]:
    """Collect the :class:`ProductMeaningWarning` messages the block emits (they go into the
    unit's item and the run report, and the driver prints each once as a note under the unit's
    progress line); other warnings are passed on as they came."""
    notes: list[str] = []
    # one unit at a time builds its product graph while warnings are captured (the filters are
    # process-wide); the chunks are computed outside the lock
    with WARNINGS_LOCK:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield notes
        for w in caught:
            if issubclass(w.category, ProductMeaningWarning):
                if str(w.message) not in notes:
                    notes.append(str(w.message))
                continue  # recorded, not printed by the worker (its stderr would show a traceback-like line)
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def _strip_created(product: xr.DataArray) -> xr.DataArray:
    """Drop the creation time from the stored provenance: the Zarr metadata of a unit is then the
    same, byte for byte, whenever and however often it is computed (the item carries ``created``)."""

    text = product.attrs.get(PROVENANCE_ATTR)
    if text:
        prov = json.loads(text)
        prov.pop("created", None)
        product = product.copy()
        product.attrs[PROVENANCE_ATTR] = json.dumps(prov, sort_keys=True)
    return product


def run_unit(unit: Unit, settings: UnitSettings) -> UnitResult:
    """Compute, write and commit one unit; never raises for a bad scene (returns ``failed``).

    Parameters
    ----------
    unit : Unit
        From :func:`landpulse.production.plan.make_plan`.
    settings : UnitSettings

    Returns
    -------
    UnitResult
    """
    t0 = time.perf_counter()
    folder = unit.folder(settings.store)
    result = _base_result(unit, settings, "written")
    ledger = Ledger(settings.store)
    if not unit.force and unit.is_committed(ledger):
        entry = ledger.entry(unit.product, unit.tile, unit.period)
        # committed by this very run: a worker that died after the commit lost the task's result and
        # the scheduler ran the task again; the unit was written by this run, not found from an earlier one
        result.status = "written" if entry is not None and entry.run == settings.run_id else "skipped"
        return result
    tmp = folder.with_name(f".{folder.name}{TMP_MARK}{uuid.uuid4().hex[:12]}")
    faults_before = FAULTS.as_dict()
    try:
        for stale in folder.parent.glob(f".{folder.name}{TMP_MARK}*"):
            discard(stale)  # what an earlier, killed attempt at this unit left
            result.cleaned += 1
        tmp.mkdir(parents=True)
        handle = os.open(tmp, os.O_RDONLY)
        try:
            synced = _compute_unit(unit, settings, tmp, result)
            t = time.perf_counter()
            if settings.fsync:
                fsync_tree(tmp, done=synced)
            committed = commit_folder(tmp, folder, handle=handle, replace=unit.replace)
        finally:
            os.close(handle)
        result.timings["commit"] = round(time.perf_counter() - t, 4)
        if not committed:
            result.status = "skipped"
        elif unit.replace:
            result.status = "replaced"
    except Exception as err:  # a bad scene fails its unit only; a full or read-only disk stops the run
        with contextlib.suppress(OSError):  # (such a disk may refuse even the clean-up: the next run's)
            if tmp.exists():
                discard(tmp)
        fault = environment_fault(err, settings.store) or _store_removed(err, settings.store)
        result.status = "stopped" if fault else "failed"
        result.error = str(fault) if fault else (str(err) or repr(err))
        result.error_type = type(fault).__name__ if fault else type(err).__name__
        result.traceback = traceback.format_exc(limit=8)
    result.gpu_faults = FAULTS.since(faults_before)
    result.seconds = round(time.perf_counter() - t0, 4)
    return result


def _store_removed(err: BaseException, store: str | Path) -> EnvironmentFaultError | None:
    """The environment fault of a unit whose temporary folder vanished with the whole store.

    The run holds the store's lock file while its units run and nothing of landpulse deletes it,
    so a temporary folder replaced while the lock file is gone means the store itself was removed
    (an operator's ``rm -rf``; the writers then recreated the folders they wrote into): the run's
    fault, not the scene's. A temporary folder replaced under an intact store is another attempt's
    cleaning (a unit retried while a presumed-dead worker still wrote it): that attempt alone fails.
    """
    lock = Path(store) / LOCK_NAME
    if isinstance(err, UnitFolderReplacedError) and not lock.exists():
        return environment_fault(FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(lock)), store)
    return None


def _compute_unit(unit: Unit, settings: UnitSettings, tmp: Path, result: UnitResult) -> list[str]:
    """Write the unit's files into ``tmp``; return the files already flushed to disk."""

    for module in settings.plugins:
        importlib.import_module(module)
    # Everything this unit computes runs here, in this task (with its worker's threads): never
    # through the cluster's scheduler, which a task calling compute() would otherwise reach.

    inner = _inner_scheduler()
    with dask.config.set(inner):  # what the unit computes besides its chunks (small coordinates)
        return _compute_unit_locally(unit, settings, tmp, result, inner)


def _compute_unit_locally(unit: Unit, settings: UnitSettings, tmp: Path, result: UnitResult,
                          inner: dict[str, Any]) -> list[str]:
    definition = get_product(unit.product)
    style = definition.quicklook
    timings = result.timings
    t = time.perf_counter()
    with set_options(backend=settings.backend):  # type: ignore[arg-type]
        placed = resolve_device()
        device = device_info(placed).as_dict()
        # the I/O edge (on a GPU): each input chunk crosses to the GPU once and every step of the
        # product (mask, indices, water, change) runs there; write_blocks brings only the product back
        if unit.baseline is not None:
            inputs = [to_device(d) if placed == "gpu" else d for d in open_comparison_input(unit, settings.run_id)]
        else:
            ds = open_unit_input(unit, settings.run_id)
            inputs = [to_device(ds) if placed == "gpu" else ds]
        kwargs = dict(unit.params)
        if unit.bands:
            kwargs["bands"] = dict(unit.bands)
        # the stored variable is named like the product in the registry (and the unit's files)
        with _capture_meaning_warnings() as notes:
            product = _strip_created(definition.compute(*inputs, **kwargs)).rename(unit.product)
        radiometry = _radiometry_notes(unit, inputs)
        result.warnings = radiometry + [n for n in notes if n not in radiometry]
        chunks = {str(product.dims[-2]): settings.chunk, str(product.dims[-1]): settings.chunk} if settings.chunk else None
        zarr_path = tmp / f"{unit.product}.zarr"
        written = write_product_blocks(product, zarr_path, encoding=unit.encoding,  # type: ignore[arg-type]
                                       chunks=chunks, clevel=settings.clevel,
                                       thumbnail_pixels=settings.thumbnail_pixels,
                                       scheduler=inner["scheduler"], num_workers=inner.get("num_workers"),
                                       checksums=settings.checksums, fsync=settings.fsync,
                                       keep_first_slice=COG_FROM_MEMORY_BYTES if settings.cog else 0)
    timings["compute_write"] = round(time.perf_counter() - t, 4)
    chunk_files = {f"{zarr_path.name}/{k}": v for k, v in written.files.items()}
    if written.row_counts is not None:
        # class products (water, change): hectares per class of the first slice, from the pixel
        # counts per row taken while the chunks were written

        first = product.isel({d: 0 for d in product.dims[:-2]}) if product.ndim > 2 else product
        written.stats["areas_ha"] = areas_from_row_counts(first, written.row_counts)
    if product.attrs.get(ALERTS_ATTR) == "break_date":
        written.stats["new_breaks"] = new_breaks(zarr_path, unit.folder(settings.store) / zarr_path.name, unit.product,
                                                 alerts=tmp / ALERTS_NAME)
    elif product.attrs.get(ALERTS_ATTR) == "classes":
        written.stats["alerts"] = class_alerts(zarr_path, unit.product, tmp / ALERTS_NAME)
    result.device = device
    result.stats = written.stats
    result.shape = [int(product.shape[-2]), int(product.shape[-1])]
    t = time.perf_counter()
    check_complete(zarr_path, [str(v) for v in product.to_dataset().variables])
    thumb = None
    if settings.quicklooks:
        thumb = thumbnail_png(written.thumbnail, tmp / THUMBNAIL_NAME, style=style, attrs=product.attrs)
    timings["quicklook"] = round(time.perf_counter() - t, 4)
    cog = None
    if settings.cog:
        t = time.perf_counter()
        colours = class_colour_table(product.attrs) if is_class_product(product.attrs) else None
        # from the values kept while writing (small and medium tiles), else read back from the store
        source = stored_first_slice(product, written, unit.encoding)  # type: ignore[arg-type]
        cog = write_cog(zarr_path if source is None else source, unit.product, tmp / f"{unit.product}.tif",
                        style=style, colours=colours)
        timings["cog"] = round(time.perf_counter() - t, 4)
    t = time.perf_counter()
    manifest = build_manifest(tmp, settings.checksums, known=chunk_files)
    timings["checksums"] = round(time.perf_counter() - t, 4)
    result.bytes = sum(int(v["size"]) for v in manifest.values())
    # what was actually stored (an index whose range overflows int16 x 1e-4 is kept as float32)
    item = unit_item(unit, settings, product, device=device, encoding=item_encoding(written, product.attrs),
                     manifest=manifest, stats=written.stats, thumbnail=thumb is not None, cog=cog is not None,
                     warnings_noted=result.warnings)

    write_item(item, tmp / ITEM_NAME)
    result.bbox = list(item.bbox) if item.bbox else None
    return list(chunk_files) if settings.fsync else []


def new_breaks(new: Path, previous: Path, name: str, alerts: Path | None = None) -> dict[str, Any]:
    """The breaks of the break-date map at ``new`` that the previously committed one at ``previous``
    did not have (all of them without one): pixel count, hectares and their dates (decimal years,
    with the pixels of each). Reads both maps whole: one float32 band of one tile.

    ``alerts``: also write those breaks as polygons there, one per patch of new-break pixels with
    its area and break dates (:func:`landpulse.io.alerts.change_patches`, GeoJSON in WGS 84);
    the count of patches is returned as ``patches``."""
    now = open_product(new)[name]
    values = now.values.reshape(now.shape[-2:]) if now.ndim > 2 else now.values
    fresh = np.isfinite(values)
    if previous.exists():
        old = open_product(previous)[name].values
        fresh &= ~np.isfinite(old.reshape(values.shape))
    res = now.rio.resolution()
    area = abs(float(res[0]) * float(res[1]))
    ha = area / 1e4
    dates, counts = np.unique(values[fresh], return_counts=True)
    since = "the previous run" if previous.exists() else "the start of monitoring"
    out = {"pixels": int(fresh.sum()), "hectares": round(float(fresh.sum()) * ha, 4),
           "dates": {f"{d:.6f}": int(c) for d, c in zip(dates, counts, strict=True)}, "since": since}
    if alerts is not None:
        patches = change_patches(fresh, values, now.rio.transform(), area)
        write_alerts(patches, alerts, now.rio.crs, properties={
            "landpulse:product": name, "landpulse:values": "break date (decimal year) of each pixel",
            "landpulse:since": since})
        out["patches"] = len(patches)
    return out


def _alerts_title(product: str, stats: Mapping[str, Any]) -> str:
    if "new_breaks" in stats:
        return f"{product}: patches of breaks new since {stats['new_breaks'].get('since', 'the last run')}"
    return f"{product}: patches of {', '.join(stats.get('alerts', {}).get('classes', [])) or 'change'}"


def class_alerts(store: Path, name: str, alerts: Path) -> dict[str, Any]:
    """Write the change classes of a comparison product's class map (those its
    ``landpulse_alert_classes`` names: new and lost water, burnt land) as polygons at ``alerts``,
    one per patch of one class (:func:`landpulse.io.alerts.class_patches`, GeoJSON in WGS 84);
    return the count of patches and the hectares of each class in them. Reads the stored map
    whole: one uint8 band of one tile."""
    stored = xr.open_zarr(store, consolidated=None, mask_and_scale=False, decode_coords="all", chunks=None)[name]
    codes = stored.values.reshape(stored.shape[-2:])
    meanings = str(stored.attrs.get("flag_meanings", "")).split()
    values = [int(v) for v in np.atleast_1d(stored.attrs.get("flag_values", []))]
    wanted = str(stored.attrs.get(ALERT_CLASSES_ATTR, "")).split()
    classes = {v: m for v, m in zip(values, meanings, strict=False) if m in wanted}
    res = stored.rio.resolution()
    area = abs(float(res[0]) * float(res[1]))
    patches = class_patches(codes, classes, stored.rio.transform(), area)
    write_alerts(patches, alerts, stored.rio.crs, properties={
        "landpulse:product": name, "landpulse:classes": list(classes.values())})
    hectares = {m: round(sum(f["properties"]["hectares"] for f in patches if f["properties"]["class"] == m), 4)
                for m in classes.values()}
    return {"patches": len(patches), "classes": list(classes.values()), "hectares": hectares}


def _input_properties(unit: Unit) -> dict[str, Any]:
    """Properties of the input scene worth carrying over (cloud cover, platform), where known
    (none for window units: they are made of many scenes)."""
    if unit.window is not None:
        return {}
    scene = unit.scenes[0]  # a mosaic's first scene
    if not isinstance(scene.source, ItemSource):
        return {}
    try:
        doc = scene.source.document if scene.source.document is not None else Path(scene.source.item).read_text()
        props = json.loads(doc).get("properties", {})
    except (OSError, ValueError):
        return {}
    return {k: props[k] for k in ("eo:cloud_cover", "platform", "constellation", "instruments") if k in props}


def unit_item(unit: Unit, settings: UnitSettings, stored: xr.DataArray, *, device: dict[str, Any], encoding: dict[str, Any],
              manifest: dict[str, dict[str, Any]], stats: dict[str, Any], thumbnail: bool, cog: bool,
              warnings_noted: list[str] | None = None) -> pystac.Item:
    """The STAC item of a unit: grid, provenance, processing, checksums; the unit's commit marker."""


    item = product_item(stored, item_id=unit.id, data_href=f"./{unit.product}.zarr",
                        quicklook_href=f"./{THUMBNAIL_NAME}" if thumbnail else None,
                        device=device, input_ids=unit.inputs, encoding=encoding)
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    props = item.properties
    props.update(_input_properties(unit))
    if "eo:cloud_cover" in props:
        item.stac_extensions.append(EO_EXTENSION)
    props.update({
        "created": now,
        "processing:datetime": now,
        "processing:facility": socket.gethostname(),
        "processing:level": "L3",
        "landpulse:tile": unit.tile,
        "landpulse:period": unit.period,
        "landpulse:run": settings.run_id,
        "landpulse:params_hash": unit.params_hash,
        "landpulse:parameters": dict(unit.params),
        "landpulse:backend": settings.backend,
        "landpulse:stats": stats,
        "landpulse:files": manifest,
    })
    if warnings_noted:
        props["landpulse:warnings"] = list(warnings_noted)
    if unit.window is not None:
        # the product's time is its window (STAC: datetime null, start and end inclusive)
        item.datetime = None
        props["start_datetime"] = unit.window.start.isoformat(timespec="seconds") + "Z"
        props["end_datetime"] = unit.window.last_second.isoformat(timespec="seconds") + "Z"
        props["landpulse:window"] = unit.window.as_dict()
        props["landpulse:provisional"] = bool(unit.provisional)
    if unit.baseline is not None:
        props["landpulse:baseline"] = unit.baseline.as_dict()
    props["processing:software"] = {"landpulse": __version__}
    item.collection_id = unit.product
    item.add_link(pystac.Link("collection", "../../collection.json", media_type="application/json"))
    item.add_link(pystac.Link("parent", "../../collection.json", media_type="application/json"))
    item.add_link(pystac.Link("root", "../../../catalog.json", media_type="application/json"))
    # asset keys: "data" the Zarr store, "<product>" the COG (the band name odc-stac and stackstac
    # load it by, distinct between collections), "quicklook" the PNG thumbnail (README "STAC assets")
    for key, href in (("quicklook", THUMBNAIL_NAME), (unit.product, f"{unit.product}.tif")):
        if key in item.assets or (key == unit.product and cog):
            info = manifest.get(href)
            extra = {"file:size": info["size"]} if info else {}
            if info and "sha256" in info:
                extra["file:checksum"] = "1220" + info["sha256"]
            if key == unit.product:
                band = dict(item.assets["data"].extra_fields["raster:bands"][0])
                item.add_asset(key, pystac.Asset(href=f"./{href}", media_type=COG_MEDIA_TYPE, roles=["data"],
                                                 title=f"{unit.product} (Cloud-Optimized GeoTIFF)",
                                                 extra_fields={"raster:bands": [band], **extra}))
            else:
                item.assets[key].extra_fields.update(extra)
                item.assets[key].roles = ["thumbnail", "overview"]
    if ALERTS_NAME in manifest:  # monitoring products: the new changes as polygons
        info = manifest[ALERTS_NAME]
        extra = {"file:size": info["size"], **({"file:checksum": "1220" + info["sha256"]} if "sha256" in info else {})}
        item.add_asset("alerts", pystac.Asset(href=f"./{ALERTS_NAME}", media_type=GEOJSON_MEDIA_TYPE, roles=["data"],
                                              title=_alerts_title(unit.product, stats),
                                              extra_fields=extra))
    if thumbnail or cog or ALERTS_NAME in manifest:
        if FILE_EXTENSION not in item.stac_extensions:
            item.stac_extensions.append(FILE_EXTENSION)
    return item
