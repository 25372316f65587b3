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

import datetime as dt
import json
import os
import shutil
import socket
import time
import traceback
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._version import __version__
from .backend.faults import FAULTS
from .io.manifest_store import fsync_path
from .ledger import ITEM_NAME, OLD_MARK, TMP_MARK, Ledger, build_manifest, discard
from .plan import ItemSource, Unit, ZarrSource

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
    status: str  # written | replaced | skipped | failed
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

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _base_result(unit: Unit, settings: UnitSettings, status: str) -> UnitResult:
    return UnitResult(unit.id, unit.product, unit.tile, unit.period, unit.datetime.isoformat() + "Z",
                      unit.inputs, status, str(unit.folder(settings.store)),
                      host=socket.gethostname(), pid=os.getpid())


def open_unit_input(unit: Unit) -> Any:
    """The input scene of a unit as a lazy ``(time=1, y, x)`` Dataset of raw bands."""
    from .errors import InputError  # noqa: PLC0415

    (scene,) = unit.scenes
    src = scene.source
    if isinstance(src, ZarrSource):
        from .io.store import datetime_dim, open_store  # noqa: PLC0415
        from .radiometry import declare_radiometry  # noqa: PLC0415

        ds = open_store(src.store)
        tdim = datetime_dim(ds)
        ds = ds.isel({tdim: slice(src.index, src.index + 1)})  # a slice: whole chunks, no copies
        if "scene_id" in ds.coords and str(ds["scene_id"].values[0]) != scene.id:
            raise InputError(f"{src.store} changed since planning: date {src.index} is now scene "
                             f"{ds['scene_id'].values[0]}, not {scene.id}; rerun the job")
        if src.radiometry is not None:
            scale, offset, bands = src.radiometry
            ds = declare_radiometry(ds, scale=scale, offset=offset, bands=list(bands) if bands else None)
        return ds
    assert isinstance(src, ItemSource)
    from .io.ingest import choose_chunk, scene_dataset, scene_grid  # noqa: PLC0415
    from .io.scenes import scene_from_stac_item  # noqa: PLC0415

    sc = scene_from_stac_item(src.item)
    grid, band_grids = scene_grid(sc, src.resolution)
    cy = src.chunk or choose_chunk(grid.shape[0])
    cx = src.chunk or choose_chunk(grid.shape[1])
    return scene_dataset(sc, grid, band_grids, (cy, cx))


def _inner_scheduler() -> dict[str, Any]:
    """Dask settings for the chunks of one unit: the worker's threads (serial for one thread).

    Workers that landpulse starts run one unit at a time (the ``landpulse-unit`` resource), so a
    unit uses all of its worker's threads for its chunks.
    """
    try:
        from distributed import get_worker  # noqa: PLC0415

        n = get_worker().state.nthreads
    except Exception:
        return {"scheduler": "sync"}
    return {"scheduler": "threads", "num_workers": n} if n > 1 else {"scheduler": "sync"}


def _strip_created(product: Any) -> Any:
    """Drop the creation time from the stored provenance: the Zarr metadata of a unit is then the
    same, byte for byte, whenever and however often it is computed (the item carries ``created``)."""
    from .provenance import PROVENANCE_ATTR  # noqa: PLC0415

    text = product.attrs.get(PROVENANCE_ATTR)
    if text:
        prov = json.loads(text)
        prov.pop("created", None)
        product = product.copy()
        product.attrs[PROVENANCE_ATTR] = json.dumps(prov, sort_keys=True)
    return product


def check_complete(zarr_store: Path, arrays: Sequence[str]) -> int:
    """Raise unless ``zarr_store`` holds every array in ``arrays`` with every chunk file; return
    the number of chunk files.

    Products are written with every chunk (also all-nodata ones), so a missing file means a write
    that did not finish, never "fill value".
    """
    import math  # noqa: PLC0415

    from .errors import LandpulseError  # noqa: PLC0415

    if not (zarr_store / "zarr.json").is_file():
        raise LandpulseError(f"incomplete product: {zarr_store.name}/zarr.json is missing")
    count = 0
    for name in arrays:
        meta = zarr_store / name / "zarr.json"
        try:
            doc = json.loads(meta.read_text())
        except (OSError, ValueError) as err:
            raise LandpulseError(f"incomplete product: array {name} has no readable metadata ({err})") from err
        shape = doc["shape"]
        chunks = doc["chunk_grid"]["configuration"]["chunk_shape"]
        sep = doc.get("chunk_key_encoding", {}).get("configuration", {}).get("separator", "/")
        grid = [math.ceil(s / c) if s else 0 for s, c in zip(shape, chunks, strict=True)]
        for idx in _grid_indices(grid):
            key = "c" + (sep + sep.join(map(str, idx)) if idx else "")
            if not (meta.parent / key).is_file():
                raise LandpulseError(f"incomplete product: chunk {name}/{key} was not written")
            count += 1
    return count


def _grid_indices(grid: list[int]) -> list[tuple[int, ...]]:
    import itertools  # noqa: PLC0415

    return list(itertools.product(*(range(n) for n in grid)))


def _fsync_tree(folder: Path, *, done: Sequence[str] = ()) -> None:
    """fsync every file and folder under ``folder`` (deepest first), except files in ``done``."""
    skip = set(done)
    for p in sorted(folder.rglob("*"), key=lambda q: len(q.parts), reverse=True):
        if p.relative_to(folder).as_posix() not in skip:
            fsync_path(p)
    fsync_path(folder)


def commit_folder(tmp: Path, target: Path, *, handle: int, replace: bool) -> bool:
    """Rename the finished ``tmp`` folder to ``target``; return False when ``target`` was committed
    by another attempt meanwhile (``tmp`` is then removed and the existing unit kept).

    ``handle`` is a file descriptor this attempt opened on ``tmp`` when it created it. While it is
    open the folder's inode cannot be reused, so if the folder now at ``tmp`` is another one (a
    cleanup moved ours away and a late write recreated the path), the inodes differ and nothing is
    committed.
    """
    from .errors import LandpulseError  # noqa: PLC0415

    # checked before anything is moved: a failed check leaves the committed unit where it is
    if os.stat(tmp).st_ino != os.fstat(handle).st_ino or os.fstat(handle).st_nlink == 0:
        raise LandpulseError(f"{tmp} was replaced while this attempt wrote it (a newer run cleaned it up)")
    old = None
    if replace and target.exists():
        old = target.with_name(f".{target.name}{OLD_MARK}{uuid.uuid4().hex[:12]}")
        os.replace(target, old)
    try:
        os.rename(tmp, target)  # fails with ENOTEMPTY/EEXIST when a committed unit is there
    except BaseException as err:  # an interrupt between the two renames must not hide the unit either
        if old is not None and not target.exists():
            os.replace(old, target)  # put the previous unit back
        if isinstance(err, OSError) and (target / ITEM_NAME).is_file():
            discard(tmp)
            return False
        raise
    fsync_path(target.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return True


def run_unit(unit: Unit, settings: UnitSettings) -> UnitResult:
    """Compute, write and commit one unit; never raises for a bad scene (returns ``failed``).

    Parameters
    ----------
    unit : Unit
        From :func:`landpulse.plan.make_plan`.
    settings : UnitSettings

    Returns
    -------
    UnitResult
    """
    t0 = time.perf_counter()
    folder = unit.folder(settings.store)
    result = _base_result(unit, settings, "written")
    if unit.is_committed(Ledger(settings.store)):
        result.status = "skipped"
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
                _fsync_tree(tmp, done=synced)
            committed = commit_folder(tmp, folder, handle=handle, replace=unit.replace)
        finally:
            os.close(handle)
        result.timings["commit"] = round(time.perf_counter() - t, 4)
        if not committed:
            result.status = "skipped"
        elif unit.replace:
            result.status = "replaced"
    except Exception as err:  # a bad scene fails its unit only
        if tmp.exists():
            discard(tmp)
        result.status = "failed"
        result.error = str(err) or repr(err)
        result.error_type = type(err).__name__
        result.traceback = traceback.format_exc(limit=8)
    result.gpu_faults = FAULTS.since(faults_before)
    result.seconds = round(time.perf_counter() - t0, 4)
    return result


def _compute_unit(unit: Unit, settings: UnitSettings, tmp: Path, result: UnitResult) -> list[str]:
    """Write the unit's files into ``tmp``; return the files already flushed to disk."""
    import importlib  # noqa: PLC0415

    for module in settings.plugins:
        importlib.import_module(module)
    # Everything this unit computes runs here, in this task (with its worker's threads): never
    # through the cluster's scheduler, which a task calling compute() would otherwise reach.
    import dask  # noqa: PLC0415

    inner = _inner_scheduler()
    with dask.config.set(inner):  # what the unit computes besides its chunks (small coordinates)
        return _compute_unit_locally(unit, settings, tmp, result, inner)


def _compute_unit_locally(unit: Unit, settings: UnitSettings, tmp: Path, result: UnitResult,
                          inner: dict[str, Any]) -> list[str]:
    from .backend import device_info, resolve_device, set_options, to_device  # noqa: PLC0415
    from .io.products import item_encoding, write_product_blocks  # noqa: PLC0415
    from .pipeline import PRODUCTS  # noqa: PLC0415
    from .viz import thumbnail_png  # noqa: PLC0415

    fn, style = PRODUCTS[unit.product]
    timings = result.timings
    t = time.perf_counter()
    with set_options(backend=settings.backend):  # type: ignore[arg-type]
        placed = resolve_device()
        device = device_info(placed).as_dict()
        ds = open_unit_input(unit)
        if placed == "gpu":
            # the I/O edge: each input chunk crosses to the GPU once and every step of the product
            # (mask, indices, water, change) runs there; write_blocks brings only the product back
            ds = to_device(ds)
        kwargs = dict(unit.params)
        if unit.bands:
            kwargs["bands"] = dict(unit.bands)
        # the stored variable is named like the product in the registry (and the unit's files)
        product = _strip_created(fn(ds, **kwargs)).rename(unit.product)
        chunks = {product.dims[-2]: settings.chunk, product.dims[-1]: settings.chunk} if settings.chunk else None
        zarr_path = tmp / f"{unit.product}.zarr"
        written = write_product_blocks(product, zarr_path, encoding=unit.encoding,  # type: ignore[arg-type]
                                       chunks=chunks, clevel=settings.clevel,
                                       thumbnail_pixels=settings.thumbnail_pixels,
                                       scheduler=inner["scheduler"], num_workers=inner.get("num_workers"),
                                       checksums=settings.checksums, fsync=settings.fsync)
    timings["compute_write"] = round(time.perf_counter() - t, 4)
    chunk_files = {f"{zarr_path.name}/{k}": v for k, v in written.files.items()}
    if written.row_counts is not None:
        # class products (water, change): hectares per class of the first slice, from the pixel
        # counts per row taken while the chunks were written
        from .areas import areas_from_row_counts  # noqa: PLC0415

        first = product.isel({d: 0 for d in product.dims[:-2]}) if product.ndim > 2 else product
        written.stats["areas_ha"] = areas_from_row_counts(first, written.row_counts)
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
        from .io.cog import write_cog  # noqa: PLC0415

        t = time.perf_counter()
        cog = write_cog(zarr_path, unit.product, tmp / f"{unit.product}.tif", style=style)
        timings["cog"] = round(time.perf_counter() - t, 4)
    t = time.perf_counter()
    manifest = build_manifest(tmp, settings.checksums, known=chunk_files)
    timings["checksums"] = round(time.perf_counter() - t, 4)
    result.bytes = sum(int(v["size"]) for v in manifest.values())
    # what was actually stored (an index whose range overflows int16 x 1e-4 is kept as float32)
    item = unit_item(unit, settings, product, device=device, encoding=item_encoding(written),
                     manifest=manifest, stats=written.stats, thumbnail=thumb is not None, cog=cog is not None)
    from .io.stac import write_item  # noqa: PLC0415

    write_item(item, tmp / ITEM_NAME)
    result.bbox = list(item.bbox) if item.bbox else None
    return list(chunk_files) if settings.fsync else []


def _input_properties(unit: Unit) -> dict[str, Any]:
    """Properties of the input scene worth carrying over (cloud cover, platform), where known."""
    (scene,) = unit.scenes
    if not isinstance(scene.source, ItemSource):
        return {}
    try:
        props = json.loads(Path(scene.source.item).read_text()).get("properties", {})
    except (OSError, ValueError):
        return {}
    return {k: props[k] for k in ("eo:cloud_cover", "platform", "constellation", "instruments") if k in props}


def unit_item(unit: Unit, settings: UnitSettings, stored: Any, *, device: dict[str, Any], encoding: dict[str, Any],
              manifest: dict[str, dict[str, Any]], stats: dict[str, Any], thumbnail: bool, cog: bool) -> Any:
    """The STAC item of a unit: grid, provenance, processing, checksums; the unit's commit marker."""
    import pystac  # noqa: PLC0415

    from .io.stac import COG_MEDIA_TYPE, EO_EXTENSION, FILE_EXTENSION, product_item  # noqa: PLC0415

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
    props["processing:software"] = {"landpulse": __version__}
    item.collection_id = unit.product
    item.add_link(pystac.Link("collection", "../../collection.json", media_type="application/json"))
    item.add_link(pystac.Link("parent", "../../collection.json", media_type="application/json"))
    item.add_link(pystac.Link("root", "../../../catalog.json", media_type="application/json"))
    for key, href in (("quicklook", THUMBNAIL_NAME), ("cog", f"{unit.product}.tif")):
        if key in item.assets or (key == "cog" and cog):
            info = manifest.get(href)
            extra = {"file:size": info["size"]} if info else {}
            if info and "sha256" in info:
                extra["file:checksum"] = "1220" + info["sha256"]
            if key == "cog":
                band = dict(item.assets["data"].extra_fields["raster:bands"][0])
                item.add_asset("cog", pystac.Asset(href=f"./{href}", media_type=COG_MEDIA_TYPE, roles=["data"],
                                                   title=f"{unit.product} (Cloud-Optimized GeoTIFF)",
                                                   extra_fields={"raster:bands": [band], **extra}))
            else:
                item.assets[key].extra_fields.update(extra)
                item.assets[key].roles = ["thumbnail", "overview"]
    if thumbnail or cog:
        item.stac_extensions.append(FILE_EXTENSION)
    return item
