"""Parcels in, per-parcel time series out: GeoPackage, GeoParquet, GeoJSON, Shapefile (geopandas +
pyogrio); the long table as Parquet or GeoParquet with a STAC item describing it.

Real layers are read unchanged: a fiboa GeoParquet file keeps its ``id`` column and its other
properties (``determination_datetime``, ``area``, ...) as they are.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pystac

from landpulse.errors import InputError, UnreadableInputError

#: File suffixes read with pyogrio, and the Parquet ones read with pyarrow.
OGR_SUFFIXES = (".gpkg", ".geojson", ".json", ".shp", ".fgb", ".zip")
PARQUET_SUFFIXES = (".parquet", ".geoparquet", ".pq")
PARQUET_MEDIA_TYPE = "application/vnd.apache.parquet"


def read_parcels(path: str | Path, *, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read parcels (field boundaries) from a GeoPackage, GeoParquet, GeoJSON or Shapefile.

    Parameters
    ----------
    path : str or Path
        ``.gpkg``, ``.parquet``/``.geoparquet`` (GeoParquet 1.x, fiboa), ``.geojson``/``.json``,
        ``.shp`` (or ``.zip``), ``.fgb``.
    layer : str, optional
        The layer of a multi-layer GeoPackage.

    Returns
    -------
    geopandas.GeoDataFrame
        The file's columns unchanged, with its CRS.

    Raises
    ------
    UnreadableInputError
        When the file is missing or cannot be read; InputError when it has no CRS or holds
        geometries other than (multi)polygons.
    """
    p = Path(path)
    if not p.exists():
        raise UnreadableInputError(f"parcels file {p} does not exist")
    suffix = p.suffix.lower()
    try:
        if suffix in PARQUET_SUFFIXES:
            gdf = gpd.read_parquet(p)
        elif suffix in OGR_SUFFIXES:
            gdf = gpd.read_file(p, layer=layer, engine="pyogrio")
        else:
            raise InputError(f"parcels file {p}: unknown format {suffix!r}; use one of "
                             f"{sorted(OGR_SUFFIXES + PARQUET_SUFFIXES)}")
    except InputError:
        raise
    except Exception as err:  # pyogrio and pyarrow raise their own errors for unreadable files
        raise UnreadableInputError(f"cannot read parcels from {p}: {err}") from err
    if gdf.crs is None:
        raise InputError(f"parcels file {p} has no CRS; parcels must carry one to be placed on a raster")
    kinds = set(gdf.geometry.dropna().geom_type.unique())
    if not kinds <= {"Polygon", "MultiPolygon"}:
        raise InputError(f"parcels file {p} holds {sorted(kinds - {'Polygon', 'MultiPolygon'})} geometries; "
                         "parcels must be polygons or multipolygons")
    return gdf


def write_parcel_stats(table: pd.DataFrame, path: str | Path, *, parcels: gpd.GeoDataFrame | None = None,
                       id_column: str = "id") -> Path:
    """Write the long per-parcel table as Parquet, or GeoParquet when ``parcels`` give geometry.

    The file is written beside its destination and renamed into place (never half-written).

    Parameters
    ----------
    table : pandas.DataFrame
        The table of :func:`landpulse.products.parcels.zonal_stats` (``parcel_id`` first).
    path : str or Path
    parcels : geopandas.GeoDataFrame, optional
        Joined on ``parcel_id`` = ``parcels[id_column]`` to add each row's geometry (GeoParquet).
    id_column : str

    Returns
    -------
    Path
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.tmp-{os.getpid()}")
    try:
        if parcels is not None:
            geo = parcels[[id_column, parcels.geometry.name]].rename(columns={id_column: "parcel_id"})
            out = gpd.GeoDataFrame(table.merge(geo, on="parcel_id", how="left"), geometry=parcels.geometry.name,
                                   crs=parcels.crs)
            out.to_parquet(tmp, index=False)
        else:
            table.to_parquet(tmp, index=False)
        os.replace(tmp, p)
    finally:
        if tmp.exists():
            tmp.unlink()
    return p


def read_parcel_stats(path: str | Path) -> pd.DataFrame:
    """Read a table written by :func:`write_parcel_stats` (a GeoDataFrame when it has geometry)."""
    p = Path(path)
    try:
        return gpd.read_parquet(p)
    except ValueError:  # plain Parquet: no geo metadata
        return pd.read_parquet(p)


def _utc(value: Any) -> dt.datetime:
    t = pd.Timestamp(value)
    return (t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")).to_pydatetime()


def parcel_stats_item(table: pd.DataFrame, href: str, parcels: gpd.GeoDataFrame, *, item_id: str,
                      date_column: str | None = None, products: Sequence[str] = ()) -> pystac.Item:
    """A STAC item for a per-parcel table: the parcels' footprint, the dates it covers, its columns.

    Parameters
    ----------
    table : pandas.DataFrame
        The long table.
    href : str
        The table's asset href (relative to the item, or absolute).
    parcels : geopandas.GeoDataFrame
        The parcels (their union's bounding box in WGS 84 is the item's geometry).
    item_id : str
    date_column : str, optional
        The table's date column (``start_datetime``/``end_datetime`` from its range).
    products : sequence of str
        Product names, recorded as ``landpulse:products``.

    Returns
    -------
    pystac.Item
        With an asset ``table`` (Parquet media type, roles ``data``) and the table extension's
        ``table:columns`` and ``table:row_count``.
    """
    if len(parcels) == 0:
        raise InputError("a parcel-statistics item needs at least one parcel")
    x0, y0, x1, y1 = (float(v) for v in parcels.to_crs("EPSG:4326").total_bounds)
    geometry = {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}
    props: dict[str, Any] = {"landpulse:products": list(products), "landpulse:parcels": int(len(parcels)),
                             "table:row_count": int(len(table)),
                             "table:columns": [{"name": str(c), "type": str(t)} for c, t in table.dtypes.items()]}
    start = end = None
    if date_column is not None and date_column in table and len(table):
        dates = np.asarray(table[date_column])
        start, end = _utc(dates.min()), _utc(dates.max())
        props["start_datetime"] = start.isoformat().replace("+00:00", "Z")
        props["end_datetime"] = end.isoformat().replace("+00:00", "Z")
    item = pystac.Item(id=item_id, geometry=geometry, bbox=[x0, y0, x1, y1],
                       datetime=start if start is not None else dt.datetime.now(dt.UTC), properties=props,
                       stac_extensions=["https://stac-extensions.github.io/table/v1.2.0/schema.json"])
    item.add_asset("table", pystac.Asset(href=href, media_type=PARQUET_MEDIA_TYPE, roles=["data"],
                                         title="per-parcel statistics (long table)"))
    return item
