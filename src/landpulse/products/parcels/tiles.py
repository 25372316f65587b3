"""Parcels across tiles: each tile reduces the part of a parcel it owns, the parts combine exactly.

A parcel that crosses the edge of a tile (two MGRS tiles, a user's area cut into tiles, two UTM
zones) has pixels in more than one product. Tiles are put in an order (a job lists its stores;
the first listed wins where tiles overlap) and each tile *owns* its footprint less the footprints
of the tiles before it (:func:`tile_regions`), so every bit of ground belongs to one tile and
overlapping tiles (MGRS tiles overlap by about 10 km) never count a pixel twice.

On each tile (:func:`tile_pieces`):

- a parcel lying wholly in the tile's owned region is reduced there, exactly as by
  :func:`~landpulse.products.parcels.zonal_stats` (flagged ``whole``);
- a parcel crossing the region's edge is clipped to it; its row holds the statistics of that part
  only, and its *pieces* are kept: every covered pixel's value (NaN where masked) and its covered
  area in square metres.

:func:`combine_tiles` then reduces the pieces of each split parcel from every tile together with
the same kernel, so the combined statistics (weighted quantiles included) are those of one grid
holding all the parcel's pixels: on tiles of one grid (same CRS, pixel-aligned) they equal
``zonal_stats`` of the mosaic, to float64 rounding. Across CRSs the pieces are weighted by their
area on their own grid, and the ownership edge is the earlier tile's footprint reprojected
(densified): exact up to the map projections' area distortion along the edge.

Dates combine by UTC day (the tiles of one datatake carry acquisition times seconds apart). A tile
with several acquisitions on one day contributes its earliest. A parcel appears on a day when at
least one tile holding part of it has that day; its ``covered_area_m2`` is then what that day
covers (less than the parcel where a tile of another orbit holds the rest).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import xarray as xr

from landpulse.backend.dispatch import spatial_dims
from landpulse.backend.parcels import STAT_FIELDS, CoverageMode, CoverageWeights, parcel_statistics
from landpulse.errors import InputError
from landpulse.products.parcels.stats import VALUE_COLUMNS, _grid, _in_crs, parcel_weights, quantile_column, zonal_stats


def tile_footprint(grid: xr.DataArray | xr.Dataset) -> shapely.Polygon:
    """The footprint of a tile's grid (its outer pixel edges), in the grid's CRS."""
    x0, y0, x1, y1 = grid.rio.bounds()
    return shapely.box(x0, y0, x1, y1)


def _reprojected(poly: shapely.Polygon, src: Any, dst: Any) -> shapely.Geometry:
    from pyproj import Transformer

    x0, y0, x1, y1 = poly.bounds
    dense = shapely.segmentize(poly, max(x1 - x0, y1 - y0) / 1000.0)  # edges stay close to curved lines
    tf = Transformer.from_crs(src, dst, always_xy=True)
    return shapely.transform(dense, lambda xy: np.column_stack(tf.transform(xy[:, 0], xy[:, 1])))


def tile_regions(grids: Sequence[xr.DataArray | xr.Dataset]) -> list[shapely.Geometry]:
    """The region each tile owns: its footprint less those of the tiles before it.

    Parameters
    ----------
    grids : sequence of xarray objects
        The tiles' products or stores (only their CRS, transform and shape are used), in ownership
        order: where tiles overlap, the earlier one owns the overlap.

    Returns
    -------
    list of shapely geometries
        One (multi)polygon per tile, in that tile's CRS; empty for a tile the earlier ones cover.
    """
    feet = []
    for g in grids:
        crs = g.rio.crs
        if crs is None:
            raise InputError("a tile has no CRS: parcels cannot be placed on it")
        feet.append((crs, tile_footprint(g)))
    regions: list[shapely.Geometry] = []
    for k, (crs, own) in enumerate(feet):
        region: shapely.Geometry = own
        for crs_j, foot_j in feet[:k]:
            other = foot_j if crs_j == crs else _reprojected(foot_j, crs_j, crs)
            region = shapely.difference(region, other)
        regions.append(_polygonal(region))
    return regions


def _polygonal(geom: shapely.Geometry | None) -> shapely.Geometry:
    """The polygonal part of ``geom`` (an intersection can add lines and points where edges touch)."""
    if geom is None or geom.is_empty:
        return shapely.MultiPolygon()
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    polys: list[shapely.Polygon] = []
    todo = list(shapely.get_parts(geom))
    while todo:
        g = todo.pop(0)
        if g.geom_type == "Polygon":
            polys.append(g)
        elif g.geom_type in ("MultiPolygon", "GeometryCollection"):
            todo[:0] = list(shapely.get_parts(g))
    return shapely.MultiPolygon(polys) if len(polys) != 1 else polys[0]


def _ids(parcels: gpd.GeoDataFrame, id_column: str | None) -> np.ndarray:
    if id_column is not None and id_column in parcels.columns:
        ids = np.asarray(parcels[id_column])
        if pd.Series(ids).duplicated().any():
            raise InputError(f"parcel ids in column {id_column!r} repeat: parcels across tiles combine by id")
        return ids
    return np.arange(len(parcels))


def tile_pieces(product: xr.DataArray, parcels: gpd.GeoDataFrame, region: shapely.Geometry, *,
                mode: CoverageMode = "exact", quantiles: Sequence[float] = (0.5,), id_column: str | None = "id",
                attributes: bool = True, product_name: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Statistics of the parcels on one tile's owned ``region``, and the pieces of those it splits.

    Parameters
    ----------
    product : xarray.DataArray
        One tile's ``(y, x)`` or ``(date, y, x)`` floating values, NaN where masked, with a CRS.
    parcels : geopandas.GeoDataFrame
        All the parcels (any CRS); those not touching ``region`` are left out.
    region : shapely geometry
        The tile's owned region in the product's CRS (:func:`tile_regions`).
    mode, quantiles, id_column, attributes, product_name
        As :func:`~landpulse.products.parcels.zonal_stats`.

    Returns
    -------
    (table, pieces) : pandas.DataFrame
        ``table``: the long table of :func:`zonal_stats` for the parcels with a part of positive
        area in ``region`` (each clipped to it), plus a bool column ``whole`` (the parcel lies
        wholly in ``region``). ``pieces``: for the parcels not ``whole``, one row per covered
        pixel and date: ``parcel_id``, the date column, ``value`` (float32 or float64, NaN where
        masked) and ``area_m2`` (float64, the pixel's covered area), in the coverage matrix's order.
    """
    _, _, crs = _grid(product)
    ids = _ids(parcels, id_column)
    local = _in_crs(parcels, crs)
    geoms = np.asarray(local.geometry.values, dtype=object)
    geoms = np.array([shapely.Polygon() if g is None else g for g in geoms], dtype=object)
    shapely.prepare(region)
    touch = shapely.intersects(geoms, region)
    whole = touch & shapely.within(geoms, region)
    clipped = geoms.copy()
    cut = np.flatnonzero(touch & ~whole)
    if cut.size:
        clipped[cut] = [_polygonal(g) for g in shapely.intersection(geoms[cut], region)]
    keep = whole | (touch & (shapely.area(clipped) > 0))
    sub = local.iloc[np.flatnonzero(keep)].copy()
    sub = sub.set_geometry(gpd.GeoSeries(clipped[keep], index=sub.index, crs=crs))
    if id_column is None or id_column not in sub.columns:
        id_column = "__parcel_row"
        sub[id_column] = ids[keep]
    weights = parcel_weights(product, sub, mode)
    table = zonal_stats(product, sub, quantiles=quantiles, id_column=id_column, attributes=attributes,
                        weights=weights, product_name=product_name)
    table = table.drop(columns=["__parcel_row"], errors="ignore")
    ydim, xdim = spatial_dims(product)
    other = [d for d in product.dims if d not in (ydim, xdim)]
    nt = int(product.sizes[other[0]]) if other else 1
    whole_sub = whole[keep]
    table["whole"] = np.repeat(whole_sub, nt)
    return table, _pieces(product, weights, ids[keep], ~whole_sub, other)


def _pieces(product: xr.DataArray, weights: CoverageWeights, ids: np.ndarray, split: np.ndarray,
            other: list[Any]) -> pd.DataFrame:
    transform, _, _ = _grid(product)
    pixel_area = abs(transform[0] * transform[4] - transform[1] * transform[3])
    rows = np.flatnonzero(split)
    starts = weights.indptr[rows]
    lengths = weights.indptr[rows + 1] - starts
    offsets = np.cumsum(lengths) - lengths  # each row's first position among the pieces
    take = np.repeat(starts, lengths) + np.arange(int(lengths.sum())) - np.repeat(offsets, lengths)
    pid = np.repeat(ids[rows], lengths)
    ydim, xdim = spatial_dims(product)
    values = np.asarray(product.transpose(*other, ydim, xdim).values)
    values = values.reshape(values.shape[0] if other else 1, -1)
    cols: dict[str, Any] = {"parcel_id": np.tile(pid, values.shape[0])}
    if other:
        cols[str(other[0])] = np.repeat(np.asarray(product[other[0]].values), take.size)
    cols["value"] = values[:, weights.indices[take]].reshape(-1)
    cols["area_m2"] = np.tile(weights.weights[take] * pixel_area, values.shape[0])
    return pd.DataFrame(cols)


def _day_rows(frame: pd.DataFrame, date_column: str | None) -> pd.DataFrame:
    """The rows of a tile's earliest acquisition on each UTC day."""
    if date_column is None or frame.empty:
        return frame
    t = pd.to_datetime(frame[date_column])
    first = t.groupby(t.dt.floor("D")).transform("min")
    return frame[t == first]


def combine_tiles(tables: Sequence[pd.DataFrame], pieces: Sequence[pd.DataFrame], parcels: gpd.GeoDataFrame, *,
                  tiles: Sequence[str], quantiles: Sequence[float] = (0.5,), id_column: str | None = "id",
                  date_column: str | None = None, attributes: bool = True,
                  product_name: str | None = None) -> pd.DataFrame:
    """Combine the tiles' tables of :func:`tile_pieces` into one row per parcel and UTC day.

    Parameters
    ----------
    tables, pieces : sequences of pandas.DataFrame
        What :func:`tile_pieces` gave on each tile (in ownership order).
    parcels : geopandas.GeoDataFrame
        The parcels (their order orders the rows; their attributes are joined).
    tiles : sequence of str
        The tiles' ids, recorded in the ``tiles`` column.
    quantiles, id_column, attributes, product_name
        As :func:`~landpulse.products.parcels.zonal_stats`; ``quantiles`` as the tables were made.
    date_column : str, optional
        The tables' date column (None for products without one).

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`zonal_stats` plus ``tiles`` (the ids of the tiles that hold the
        parcel's pixels that day, comma-separated). The date of a day's rows is the earliest
        acquisition time of that day among the tiles. Whole parcels keep their tile's row;
        split ones are reduced from all their pieces at once (covered areas in m2).
    """
    if not (len(tables) == len(pieces) == len(tiles)) or not tiles:
        raise InputError("combine_tiles needs one table and one pieces table per tile, and at least one tile")
    ids = _ids(parcels, id_column)
    order = pd.Series(np.arange(len(ids)), index=ids)
    qs = [float(q) for q in quantiles]
    qcols = [quantile_column(q) for q in qs]
    whole_parts, piece_parts = [], []
    for tile, table, part in zip(tiles, tables, pieces, strict=True):
        table = _day_rows(table, date_column)
        w = table[table["whole"]].drop(columns=["whole"]).copy()
        w["tiles"] = tile
        whole_parts.append(w)
        part = _day_rows(part, date_column).copy()
        part["tile"] = tile
        piece_parts.append(part)
    whole = pd.concat(whole_parts, ignore_index=True)  # (one part per tile, at least one tile)
    cuts = pd.concat(piece_parts, ignore_index=True)
    day_col = "__day"
    if date_column is not None:
        whole[day_col] = pd.to_datetime(whole[date_column]).dt.floor("D")
        cuts[day_col] = pd.to_datetime(cuts[date_column]).dt.floor("D")
        firsts = pd.concat([whole[[day_col, date_column]], cuts[[day_col, date_column]]]).groupby(day_col)[date_column]
        first = firsts.min()
    else:
        whole[day_col] = 0
        cuts[day_col] = 0
    lead = ["parcel_id", *([date_column] if date_column else []), "product", *VALUE_COLUMNS, *qcols, "tiles"]
    whole = whole[[*lead, day_col]] if len(whole) else pd.DataFrame(columns=[*lead, day_col])
    rows = [whole]
    if len(cuts):
        rows.append(_reduce_pieces(cuts, order, qs, qcols, day_col, date_column, product_name)[[*lead, day_col]])
    out = pd.concat([r for r in rows if len(r)], ignore_index=True) if any(len(r) for r in rows) else whole
    if date_column is not None and len(out):
        out[date_column] = pd.to_datetime(out[day_col].map(first))
    out["__order"] = order.reindex(out["parcel_id"]).to_numpy()
    out = out.sort_values([day_col, "__order"], kind="stable").drop(columns=[day_col, "__order"]).reset_index(drop=True)
    if attributes:
        keep = [c for c in parcels.columns if c != parcels.geometry.name and c != id_column and c not in out.columns]
        for c in keep:
            out[c] = pd.Series(np.asarray(parcels[c]), index=ids).reindex(out["parcel_id"]).to_numpy()
    return out


def _reduce_pieces(cuts: pd.DataFrame, order: pd.Series, qs: list[float], qcols: list[str], day_col: str,
                   date_column: str | None, product_name: str | None) -> pd.DataFrame:
    """Reduce the pieces of every (day, parcel) with the statistics kernel: one CSR row each."""
    pos = order.reindex(cuts["parcel_id"]).to_numpy()
    if np.isnan(pos.astype(float)).any():
        raise InputError("the pieces name parcels that are not in the parcel set")
    cuts = cuts.assign(__pos=pos.astype(np.int64))
    cuts = cuts.sort_values([day_col, "__pos"], kind="stable")  # tile order, then pixel order, kept
    keys = cuts[[day_col, "__pos"]]
    starts = np.flatnonzero(keys.ne(keys.shift()).any(axis=1).to_numpy())
    m = len(cuts)
    indptr = np.append(starts, m).astype(np.int64)
    cw = CoverageWeights(indptr, np.arange(m, dtype=np.int64), cuts["area_m2"].to_numpy(np.float64), (1, m), "exact")
    values = cuts["value"].to_numpy()
    if not np.issubdtype(values.dtype, np.floating):
        values = values.astype(np.float64)
    res = parcel_statistics(values[None, None, :], cw, qs)[:, 0, :]  # (groups, k)
    f = {name: res[:, i] for i, name in enumerate(STAT_FIELDS)}
    head = cuts.iloc[starts]
    tiles = cuts.groupby([day_col, "__pos"], sort=False)["tile"].agg(lambda s: ",".join(dict.fromkeys(s)))
    cols: dict[str, Any] = {"parcel_id": head["parcel_id"].to_numpy(), day_col: head[day_col].to_numpy()}
    if date_column is not None:
        cols[date_column] = head[date_column].to_numpy()
    cols["product"] = np.full(len(head), product_name)  # (pieces carry no product column)
    cols["count"] = f["count"].astype(np.int64)
    cols["masked"] = f["masked"].astype(np.int64)
    cols["covered_area_m2"] = f["weight_total"]
    cols["valid_area_m2"] = f["weight_valid"]
    with np.errstate(invalid="ignore", divide="ignore"):
        cols["clear_fraction"] = f["weight_valid"] / f["weight_total"]
    for name in ("mean", "std", "min", "max"):
        cols[name] = f[name]
    for j, c in enumerate(qcols):
        cols[c] = res[:, len(STAT_FIELDS) + j]
    cols["tiles"] = tiles.to_numpy()
    return pd.DataFrame(cols)


def zonal_stats_tiles(products: Sequence[xr.DataArray], parcels: gpd.GeoDataFrame, *,
                      tiles: Sequence[str] | None = None, quantiles: Sequence[float] = (0.5,),
                      mode: CoverageMode = "exact", id_column: str | None = "id", attributes: bool = True,
                      product_name: str | None = None) -> pd.DataFrame:
    """Per-parcel statistics of a product held on several tiles, parcels across tile edges combined.

    Parameters
    ----------
    products : sequence of xarray.DataArray
        The product on each tile (``(y, x)`` or ``(date, y, x)``, floating, NaN where masked, each
        with its CRS), in ownership order: where tiles overlap, the earlier one's pixels are used.
    parcels : geopandas.GeoDataFrame
        (Multi)polygons in any CRS, with unique ids in ``id_column`` (or none: the row number).
    tiles : sequence of str, optional
        The tiles' ids (default ``"0"``, ``"1"``, ...), recorded in the ``tiles`` column.
    quantiles, mode, id_column, attributes, product_name
        As :func:`~landpulse.products.parcels.zonal_stats`.

    Returns
    -------
    pandas.DataFrame
        One row per parcel and UTC day (see :func:`combine_tiles`); parcels on no tile are left out.
    """
    if not products:
        raise InputError("zonal_stats_tiles needs at least one tile")
    tiles = [str(i) for i in range(len(products))] if tiles is None else [str(t) for t in tiles]
    if len(tiles) != len(products):
        raise InputError(f"{len(products)} products but {len(tiles)} tile ids")
    regions = tile_regions(products)
    name = product_name or str(products[0].name)
    parts = [tile_pieces(p, parcels, r, mode=mode, quantiles=quantiles, id_column=id_column, attributes=False,
                         product_name=name) for p, r in zip(products, regions, strict=True)]
    ydim, xdim = spatial_dims(products[0])
    other = [d for d in products[0].dims if d not in (ydim, xdim)]
    return combine_tiles([t for t, _ in parts], [p for _, p in parts], parcels, tiles=tiles, quantiles=quantiles,
                         id_column=id_column, date_column=str(other[0]) if other else None, attributes=attributes,
                         product_name=name)
