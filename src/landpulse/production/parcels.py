"""Nightly parcel statistics under the ledger: one unit per product, tile and date, appended.

A unit ``<out>/parcels-<product>/<tile>/<period>/`` holds ``stats.parquet`` (the long table of that
date: every parcel's statistics) and its STAC item, written last inside a temporary folder that is
then renamed into place whole (:mod:`landpulse.production.commit`). The item records the input
date, a digest of what shapes the numbers (the parcels file's bytes, coverage mode, quantiles,
bands, masking, product parameters) and the checksums of its files, so ``landpulse verify`` checks
these units like any other. A run computes only the dates that have no committed unit with the
same digest: the coverage matrix is built once for all of them; a run with nothing new writes
nothing.

The input product is pluggable: a name of the product registry (every scene product: indices,
water, ...), or any ``compute(ds) -> DataArray`` given in ``functions`` (window composites of the
time-aware products can be fed in the same way: one DataArray per date or window).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pystac
import shapely
import xarray as xr

from landpulse.errors import InputError
from landpulse.io.parcels import PARQUET_MEDIA_TYPE, parcel_stats_item, read_parcels, write_parcel_stats
from landpulse.io.stac import write_item
from landpulse.io.store import open_store
from landpulse.production.commit import commit_folder, fsync_tree
from landpulse.production.ledger import ITEM_NAME, TMP_MARK, Ledger, build_manifest, clean_orphans, discard, store_lock
from landpulse.production.plan import period_label
from landpulse.products.indices import indices
from landpulse.products.parcels import parcel_weights, zonal_stats
from landpulse.products.parcels.tiles import combine_tiles, tile_pieces, tile_regions
from landpulse.products.registry import get_product
from landpulse.spec.radiometry import declare_radiometry

TABLE_NAME = "stats.parquet"
PIECES_NAME = "pieces.parquet"
#: The tile id of the units that combine every tile's parcels (``parcels-<product>/all-tiles/<day>/``).
COMBINED_TILE = "all-tiles"
CLASS_BANDS = ("SCL", "scl", "QA_PIXEL", "qa_pixel")


@dataclass
class ParcelRunResult:
    """What one run did: the units it committed and the ones already there."""

    committed: list[Path] = field(default_factory=list)
    skipped: int = 0

    @property
    def wrote_nothing(self) -> bool:
        return not self.committed


def _digest(parcels_file: Path, **settings: Any) -> str:
    h = hashlib.sha256()
    with open(parcels_file, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    h.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


def _registry_product(name: str, bands: Mapping[str, str] | None) -> Callable[[xr.Dataset], xr.DataArray]:
    spec = get_product(name)  # a clear error naming the known products

    def compute(ds: xr.Dataset) -> xr.DataArray:
        return spec.compute(ds, bands=bands)

    return compute


def _date_dim(ds: xr.Dataset) -> str:
    for d in ("t", "time"):
        if d in ds.dims:
            return d
    raise InputError(f"the scene store has no time dimension (t or time); its dimensions: {list(ds.dims)}")


def run_parcel_stats(store: str | Path | xr.Dataset, parcels: str | Path, out: str | Path, *,
                     products: Sequence[str] = ("ndvi",), tile: str | None = None, mode: str = "exact",
                     quantiles: Sequence[float] = (0.5,), bands: Mapping[str, str] | None = None,
                     radiometry: tuple[float, float] | tuple[float, float, Sequence[str] | None] | None = None,
                     mask: bool = True, id_column: str = "id",
                     functions: Mapping[str, Callable[[xr.Dataset], xr.DataArray]] | None = None,
                     wait: float = 0.0, locked: bool = False,
                     region: shapely.Geometry | None = None) -> ParcelRunResult:
    """Compute and commit the parcel statistics of every date not yet in ``out``.

    Parameters
    ----------
    store : path or xarray.Dataset
        A scene store (``(t, y, x)`` bands with radiometry), or the Dataset itself.
    parcels : path
        Field boundaries (GeoPackage, GeoParquet, GeoJSON, Shapefile); part of every unit's digest.
    out : path
        The product store the units go to (``parcels-<product>/<tile>/<period>/``).
    products : sequence of str
        Registry products (or keys of ``functions``).
    tile : str, optional
        Tile id of the units (default: the store folder's name, ``tile`` for a Dataset).
    mode, quantiles, id_column
        As :func:`landpulse.products.parcels.zonal_stats`.
    bands : mapping, optional
        Band mapping passed to the products.
    radiometry : (scale, offset) or (scale, offset, bands), optional
        Declared for a foreign store (all bands, or those named).
    mask : bool
        Mask pixels the store's classification band (SCL, QA_PIXEL) flags (NaN: excluded, counted).
    functions : mapping, optional
        Extra products ``name -> compute(ds) -> DataArray`` (e.g. window composites).
    wait : float
        Seconds to wait for another run's lock.
    locked : bool
        The caller holds ``out``'s lock already (a job run): it is not taken again.
    region : shapely geometry, optional
        The part of the store's grid this tile owns among several (in the store's CRS; see
        :func:`landpulse.products.parcels.tiles.tile_regions` and :func:`run_parcel_tiles`):
        parcels are clipped to it, and each unit also keeps the pixels of the parcels it splits
        (``pieces.parquet``) for the tiles' combined unit.

    Returns
    -------
    ParcelRunResult
    """
    ds = store if isinstance(store, xr.Dataset) else open_store(store)
    tile = tile or (Path(store).name.split(".")[0] if not isinstance(store, xr.Dataset) else "tile")
    if radiometry is not None:
        rad_bands = radiometry[2] if len(radiometry) > 2 else None
        ds = declare_radiometry(ds, scale=radiometry[0], offset=radiometry[1],
                                bands=list(rad_bands) if rad_bands else None)
    tdim = _date_dim(ds)
    parcels = Path(parcels)
    fields = read_parcels(parcels)
    functions = dict(functions or {})
    computes: dict[str, Callable[[xr.Dataset], xr.DataArray]] = {}
    for name in products:
        if name in functions:
            computes[name] = functions[name]
        else:
            computes[name] = _registry_product(name, bands)
    has_class = mask and any(b in ds for b in CLASS_BANDS)
    digest = _digest(parcels, mode=mode, quantiles=[float(q) for q in quantiles], bands=dict(bands or {}),
                     mask=has_class, id_column=id_column, radiometry=list(radiometry) if radiometry else None,
                     region=None if region is None else hashlib.sha256(shapely.to_wkb(region)).hexdigest())
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    result = ParcelRunResult()
    times = [pd.Timestamp(t).to_pydatetime() for t in ds[tdim].values]
    ledger = Ledger(out)
    # plan without the lock (reading only): a run with nothing new takes no lock and writes nothing
    todo: dict[str, list[int]] = {}
    for name in products:
        unit = f"parcels-{name}"
        todo[name] = [i for i, t in enumerate(times)
                      if (e := ledger.entry(unit, tile, period_label(t))) is None or e.params_hash != digest]
        result.skipped += len(times) - len(todo[name])
    if not any(todo.values()):
        return result
    with contextlib.nullcontext() if locked else store_lock(out, wait=wait):
        if not locked:
            clean_orphans(out)
        for name, idx in todo.items():
            unit = f"parcels-{name}"
            idx = [i for i in idx if (e := ledger.entry(unit, tile, period_label(times[i]))) is None
                   or e.params_hash != digest]  # another run may have committed some meanwhile
            if not idx:
                continue
            sub = ds.isel({tdim: idx})
            product = computes[name](sub)
            if has_class:
                codes = indices(sub, [], mask="auto", bands=bands)["mask"]
                product = product.where(codes == 0)
            product = product.astype(np.float32).compute()
            pieces = None
            if region is None:
                weights = parcel_weights(product, fields, mode)  # type: ignore[arg-type]
                table = zonal_stats(product, fields, weights=weights, quantiles=quantiles, id_column=id_column,
                                    product_name=name)
            else:
                table, pieces = tile_pieces(product, fields, region, mode=mode,  # type: ignore[arg-type]
                                            quantiles=quantiles, id_column=id_column, product_name=name)
            pdim = str(next(d for d in product.dims if d not in ("y", "x")))
            for i in idx:
                when = times[i]
                rows = table[table[pdim] == np.datetime64(pd.Timestamp(when))].reset_index(drop=True)
                cut = None if pieces is None else \
                    pieces[pieces[pdim] == np.datetime64(pd.Timestamp(when))].reset_index(drop=True)
                path = _commit(out, unit, tile, period_label(when), rows, fields, pdim, name, digest, pieces=cut,
                               replace=ledger.entry(unit, tile, period_label(when)) is not None,
                               input_id=f"{tile}/{period_label(when)}")
                if path is not None:
                    result.committed.append(path)
    return result


def _commit(out: Path, unit: str, tile: str, period: str, rows: pd.DataFrame, fields: Any, pdim: str,
            product: str, digest: str, *, replace: bool, input_id: str | list[str],
            pieces: pd.DataFrame | None = None) -> Path | None:
    target = out / unit / tile / period
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{period}{TMP_MARK}{uuid.uuid4().hex[:12]}")
    tmp.mkdir()
    handle = os.open(tmp, os.O_RDONLY)
    try:
        write_parcel_stats(rows, tmp / TABLE_NAME)
        item = parcel_stats_item(rows, f"./{TABLE_NAME}", fields, item_id=f"{unit}-{tile}-{period}",
                                 date_column=pdim, products=[product])
        if pieces is not None:
            pieces.to_parquet(tmp / PIECES_NAME, index=False)
            item.add_asset("pieces", pystac.Asset(href=f"./{PIECES_NAME}", media_type=PARQUET_MEDIA_TYPE,
                                                  roles=["metadata"],
                                                  title="pixels of the parcels this tile splits (value, area_m2)"))
        inputs = [input_id] if isinstance(input_id, str) else list(input_id)
        item.properties.update({"landpulse:inputs": inputs, "landpulse:params_hash": digest,
                                "landpulse:product": unit, "landpulse:tile": tile,
                                "landpulse:files": build_manifest(tmp, ["crc32c"])})
        write_item(item, tmp / ITEM_NAME)  # the commit marker, last
        fsync_tree(tmp)
        done = commit_folder(tmp, target, handle=handle, replace=replace)
    except BaseException:
        discard(tmp)
        raise
    finally:
        os.close(handle)
    return target if done else None


def run_parcel_tiles(stores: Sequence[tuple[str, str | Path | xr.Dataset]], parcels: str | Path, out: str | Path, *,
                     products: Sequence[str] = ("ndvi",), wait: float = 0.0, locked: bool = False,
                     **settings: Any) -> ParcelRunResult:
    """Parcel statistics over several tiles, parcels across tile edges combined exactly.

    Each tile owns its footprint less those of the tiles listed before it
    (:func:`landpulse.products.parcels.tiles.tile_regions`); its units
    (``parcels-<product>/<tile>/<date>/``) hold the parcels on that region, clipped to it, and the
    pixels of those it splits. Then one unit per product and UTC day,
    ``parcels-<product>/all-tiles/<YYYYMMDD>/``, holds every parcel once: whole parcels from their
    tile, split ones reduced from all their pixels at once
    (:func:`landpulse.products.parcels.tiles.combine_tiles`). Its inputs are the tile units of
    that day (by their digests): a tile's new date recomputes that day's combined unit only, and a
    run with nothing new writes nothing. One store: :func:`run_parcel_stats` alone.

    Parameters
    ----------
    stores : sequence of (tile id, store)
        The tiles in ownership order (where they overlap, the earlier one's pixels are used).
    parcels, out, products, wait, locked
        As :func:`run_parcel_stats`.
    **settings
        The other keywords of :func:`run_parcel_stats` (``mode``, ``quantiles``, ``bands``,
        ``radiometry``, ``mask``, ``id_column``, ``functions``).

    Returns
    -------
    ParcelRunResult
        The tile units and the combined units committed, and those already there.
    """
    if not stores:
        raise InputError("parcel statistics need at least one scene store")
    if len(stores) == 1:
        tile, store = stores[0]
        return run_parcel_stats(store, parcels, out, products=products, tile=tile, wait=wait, locked=locked,
                                **settings)
    tiles = [str(t) for t, _ in stores]
    if COMBINED_TILE in tiles:
        raise InputError(f"tile id {COMBINED_TILE!r} is the combined units' own: give that store another tile id")
    if len(set(tiles)) != len(tiles):
        raise InputError(f"tile ids repeat: {tiles}")
    opened = [s if isinstance(s, xr.Dataset) else open_store(s) for _, s in stores]
    regions = tile_regions(opened)
    result = ParcelRunResult()
    for tile, ds, region in zip(tiles, opened, regions, strict=True):
        done = run_parcel_stats(ds, parcels, out, products=products, tile=tile, wait=wait, locked=locked,
                                region=region, **settings)
        result.committed += done.committed
        result.skipped += done.skipped
    out = Path(out)
    ledger = Ledger(out)
    todo = {name: _combined_plan(ledger, f"parcels-{name}", tiles) for name in products}
    for name, days in todo.items():
        fresh = {d: v for d, v in days.items()
                 if (e := ledger.entry(f"parcels-{name}", COMBINED_TILE, d)) is None or e.params_hash != v[0]}
        result.skipped += len(days) - len(fresh)
        todo[name] = fresh
    if not any(todo.values()):
        return result
    fields = read_parcels(Path(parcels))
    quantiles = settings.get("quantiles", (0.5,))
    id_column = settings.get("id_column", "id")
    with contextlib.nullcontext() if locked else store_lock(out, wait=wait):
        for name, days in todo.items():
            unit = f"parcels-{name}"
            for day, (digest, inputs) in days.items():
                tables, pieces = [], []
                for tile, period in inputs:
                    folder = ledger.folder(unit, tile, period)
                    tables.append(pd.read_parquet(folder / TABLE_NAME))
                    pieces.append(pd.read_parquet(folder / PIECES_NAME))
                pdim = str(tables[0].columns[1])  # (parcel_id, then the date column)
                rows = combine_tiles(tables, pieces, fields, tiles=[t for t, _ in inputs], quantiles=quantiles,
                                     id_column=id_column, date_column=pdim, product_name=name)
                path = _commit(out, unit, COMBINED_TILE, day, rows, fields, pdim, name, digest,
                               replace=ledger.entry(unit, COMBINED_TILE, day) is not None,
                               input_id=[f"{unit}/{t}/{p}" for t, p in inputs])
                if path is not None:
                    result.committed.append(path)
    return result


def _combined_plan(ledger: Ledger, unit: str, tiles: Sequence[str]) -> dict[str, tuple[str, list[tuple[str, str]]]]:
    """Per UTC day: the combined unit's digest and its inputs (each tile's earliest unit that day)."""
    days: dict[str, list[tuple[str, str, str | None]]] = {}
    for tile in tiles:
        seen: set[str] = set()
        for period in ledger.periods(unit, tile):  # oldest first
            day = period[:8]
            e = ledger.entry(unit, tile, period)
            if day in seen or e is None:
                continue
            seen.add(day)
            days.setdefault(day, []).append((tile, period, e.params_hash))
    plan = {}
    for day, inputs in sorted(days.items()):
        digest = hashlib.sha256(json.dumps(["combined-v1", inputs]).encode()).hexdigest()[:16]
        plan[day] = (digest, [(t, p) for t, p, _ in inputs])
    return plan


def read_parcel_series(out: str | Path, product: str, tile: str = COMBINED_TILE) -> pd.DataFrame:
    """The committed per-parcel time series of ``product`` on ``tile``: every unit's table, in date order.

    ``tile`` defaults to the combined units of a run over several tiles (:func:`run_parcel_tiles`);
    name a tile for its own units (on several tiles, those hold only the parts it owns).
    """
    ledger = Ledger(out)
    unit = f"parcels-{product}"
    parts = [pd.read_parquet(ledger.folder(unit, tile, p) / TABLE_NAME) for p in ledger.periods(unit, tile)]
    if not parts:
        raise InputError(f"no committed parcel statistics of {product!r} on tile {tile!r} in {out}")
    return pd.concat(parts, ignore_index=True)
