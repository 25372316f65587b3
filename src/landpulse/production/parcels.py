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
import xarray as xr

from landpulse.errors import InputError
from landpulse.io.parcels import parcel_stats_item, read_parcels, write_parcel_stats
from landpulse.io.stac import write_item
from landpulse.io.store import open_store
from landpulse.production.commit import commit_folder, fsync_tree
from landpulse.production.ledger import ITEM_NAME, TMP_MARK, Ledger, build_manifest, clean_orphans, discard, store_lock
from landpulse.production.plan import period_label
from landpulse.products.indices import indices
from landpulse.products.parcels import parcel_weights, zonal_stats
from landpulse.products.registry import get_product
from landpulse.spec.radiometry import declare_radiometry

TABLE_NAME = "stats.parquet"
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
                     wait: float = 0.0, locked: bool = False) -> ParcelRunResult:
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
                     mask=has_class, id_column=id_column, radiometry=list(radiometry) if radiometry else None)
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
            weights = parcel_weights(product, fields, mode)  # type: ignore[arg-type]
            table = zonal_stats(product, fields, weights=weights, quantiles=quantiles, id_column=id_column,
                                product_name=name)
            pdim = str(next(d for d in product.dims if d not in ("y", "x")))
            for i in idx:
                when = times[i]
                rows = table[table[pdim] == np.datetime64(pd.Timestamp(when))].reset_index(drop=True)
                path = _commit(out, unit, tile, period_label(when), rows, fields, pdim, name, digest,
                               replace=ledger.entry(unit, tile, period_label(when)) is not None,
                               input_id=f"{tile}/{period_label(when)}")
                if path is not None:
                    result.committed.append(path)
    return result


def _commit(out: Path, unit: str, tile: str, period: str, rows: pd.DataFrame, fields: Any, pdim: str,
            product: str, digest: str, *, replace: bool, input_id: str) -> Path | None:
    target = out / unit / tile / period
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{period}{TMP_MARK}{uuid.uuid4().hex[:12]}")
    tmp.mkdir()
    handle = os.open(tmp, os.O_RDONLY)
    try:
        write_parcel_stats(rows, tmp / TABLE_NAME)
        item = parcel_stats_item(rows, f"./{TABLE_NAME}", fields, item_id=f"{unit}-{tile}-{period}",
                                 date_column=pdim, products=[product])
        item.properties.update({"landpulse:inputs": [input_id], "landpulse:params_hash": digest,
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


def read_parcel_series(out: str | Path, product: str, tile: str) -> pd.DataFrame:
    """The committed per-parcel time series of ``product`` on ``tile``: every unit's table, in date order."""
    ledger = Ledger(out)
    unit = f"parcels-{product}"
    parts = [pd.read_parquet(ledger.folder(unit, tile, p) / TABLE_NAME) for p in ledger.periods(unit, tile)]
    if not parts:
        raise InputError(f"no committed parcel statistics of {product!r} on tile {tile!r} in {out}")
    return pd.concat(parts, ignore_index=True)
