"""Per-parcel statistics of a product: one coverage matrix per grid and parcel set, every date.

``zonal_stats(product, parcels)`` reprojects the parcels to the product's CRS (the raster is
never resampled), builds the parcels x pixels coverage matrix once (or takes one already built
for the same grid and parcels) and reduces every date of the product with it through the backend
seam (Numba on NumPy blocks, CuPy on GPU blocks). The result is a long table: one row per parcel
and date (or window), with the parcels' attributes.

NaN semantics: a NaN pixel (masked by clouds, nodata, outside the swath) is excluded from every
statistic and counted in ``masked``; a parcel with no valid pixel on a date has NaN statistics
and ``clear_fraction`` 0; a parcel outside the grid (or with empty geometry) has ``count`` 0,
``covered_area_m2`` 0 and NaN statistics and ``clear_fraction``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr

from landpulse.backend.dispatch import spatial_dims
from landpulse.backend.parcels import STAT_FIELDS, CoverageMode, CoverageWeights, coverage_weights, parcel_statistics
from landpulse.errors import InputError

#: Columns of the long table, after the parcel identifier, the date and the product.
VALUE_COLUMNS = ("count", "masked", "covered_area_m2", "valid_area_m2", "clear_fraction", "mean", "std", "min", "max")


def quantile_column(q: float) -> str:
    """The column name of quantile ``q``: ``median`` for 0.5, else ``p<percent>`` (``p10``, ``p2.5``)."""
    return "median" if q == 0.5 else f"p{100 * q:g}"


def _grid(product: xr.DataArray) -> tuple[tuple[float, ...], tuple[int, int], Any]:
    ydim, xdim = spatial_dims(product)
    crs = product.rio.crs
    if crs is None:
        raise InputError(f"product {product.name!r} has no CRS: parcels cannot be placed on it")
    transform = tuple(product.rio.transform())[:6]
    return transform, (int(product.sizes[ydim]), int(product.sizes[xdim])), crs


def _in_crs(parcels: gpd.GeoDataFrame, crs: Any) -> gpd.GeoDataFrame:
    if parcels.crs is None:
        raise InputError("the parcels have no CRS: set one (GeoDataFrame.set_crs) before computing statistics")
    return parcels if parcels.crs == crs else parcels.to_crs(crs)


def parcel_weights(product: xr.DataArray, parcels: gpd.GeoDataFrame, mode: CoverageMode = "exact") -> CoverageWeights:
    """The coverage matrix of ``parcels`` on ``product``'s grid (built once, reusable).

    Parameters
    ----------
    product : xarray.DataArray
        Any array on the grid (only its CRS, transform and shape are used).
    parcels : geopandas.GeoDataFrame
        (Multi)polygons in any CRS; reprojected to the product's CRS.
    mode : {'exact', 'centre', 'all_touched'}
        Exact fractional coverage (exactextract's definition, the default), pixel centre inside,
        or every pixel touched.

    Returns
    -------
    CoverageWeights
        A CSR matrix ``(n_parcels, ny * nx)`` of float64 weights in ``(0, 1]``.
    """
    transform, shape, crs = _grid(product)
    return coverage_weights(_in_crs(parcels, crs).geometry.values, transform, shape, mode)


def zonal_stats(product: xr.DataArray, parcels: gpd.GeoDataFrame, *, quantiles: Sequence[float] = (0.5,),
                mode: CoverageMode = "exact", id_column: str | None = "id", attributes: bool = True,
                weights: CoverageWeights | None = None, product_name: str | None = None) -> pd.DataFrame:
    """Weighted statistics of ``product`` per parcel and date, as a long table.

    Parameters
    ----------
    product : xarray.DataArray
        ``(y, x)`` or ``(date, y, x)`` floating values (any date or window dimension: ``t``,
        ``time``, ``window``), NaN where masked; NumPy, CuPy or Dask backed; with a CRS.
    parcels : geopandas.GeoDataFrame
        (Multi)polygons in any CRS (reprojected to the product's). fiboa layers work unchanged.
    quantiles : sequence of float
        Weighted quantiles in ``[0, 1]`` (exactextract's definition); 0.5 is the column ``median``.
    mode : {'exact', 'centre', 'all_touched'}
        Coverage weights (see :func:`parcel_weights`); ignored when ``weights`` is given.
    id_column : str or None
        The parcels' identifier column (fiboa: ``id``); None or a missing column: the row number.
    attributes : bool
        Keep the parcels' other (non-geometry) columns in the table.
    weights : CoverageWeights, optional
        A matrix already built for this grid and these parcels (reused across products and bands).
    product_name : str, optional
        The ``product`` column; default the DataArray's name.

    Returns
    -------
    pandas.DataFrame
        One row per parcel and date: ``parcel_id``, the date column (when the product has one),
        ``product``, then ``count`` (int64, valid pixels of weight > 0), ``masked`` (int64, NaN
        pixels of weight > 0), ``covered_area_m2`` (sum of weights x pixel area, float64, in the
        CRS's squared units), ``valid_area_m2``, ``clear_fraction`` (valid / covered weight),
        ``mean``, ``std`` (weighted, population), ``min``, ``max``, the quantile columns (all
        float64, NaN where the parcel has no valid pixel), then the attributes.
    """
    transform, shape, _ = _grid(product)
    ydim, xdim = spatial_dims(product)
    other = [d for d in product.dims if d not in (ydim, xdim)]
    if len(other) > 1:
        raise InputError(f"zonal_stats takes one date or window dimension at most; {product.name!r} has {other}")
    if weights is None:
        weights = parcel_weights(product, parcels, mode)
    if weights.n_parcels != len(parcels) or weights.shape != shape:
        raise InputError(f"the coverage weights ({weights.n_parcels} parcels on {weights.shape}) do not belong to "
                         f"these {len(parcels)} parcels on the grid {shape}")
    da = product.transpose(*other, ydim, xdim)
    data = da.data
    if not other:
        data = data[None]
    qs = [float(q) for q in quantiles]
    res = parcel_statistics(data, weights, qs)  # (n, t, k)
    n, nt, _ = res.shape
    f = {name: res[:, :, i] for i, name in enumerate(STAT_FIELDS)}
    pixel_area = abs(transform[0] * transform[4] - transform[1] * transform[3])
    with np.errstate(invalid="ignore", divide="ignore"):
        clear = f["weight_valid"] / f["weight_total"]
    cols: dict[str, Any] = {}
    if id_column is not None and id_column in parcels.columns:
        ids = np.asarray(parcels[id_column])
    else:
        ids = np.arange(n)
    cols["parcel_id"] = np.repeat(ids, nt)
    if other:
        cols[str(other[0])] = np.tile(np.asarray(da[other[0]].values), n)
    cols["product"] = np.full(n * nt, product_name or str(product.name))
    cols["count"] = f["count"].reshape(-1).astype(np.int64)
    cols["masked"] = f["masked"].reshape(-1).astype(np.int64)
    cols["covered_area_m2"] = (f["weight_total"] * pixel_area).reshape(-1)
    cols["valid_area_m2"] = (f["weight_valid"] * pixel_area).reshape(-1)
    cols["clear_fraction"] = clear.reshape(-1)
    for name in ("mean", "std", "min", "max"):
        cols[name] = f[name].reshape(-1)
    for j, q in enumerate(qs):
        cols[quantile_column(q)] = res[:, :, len(STAT_FIELDS) + j].reshape(-1)
    table = pd.DataFrame(cols)
    if attributes:
        keep = [c for c in parcels.columns if c != parcels.geometry.name and c != id_column and c not in table.columns]
        for c in keep:
            table[c] = np.repeat(np.asarray(parcels[c]), nt)
    return table
