"""Areas of class products in hectares, from the pixel size and the CRS.

Used by water and change products and by production runs (every class product unit's STAC item
and run-report entry carry its areas). A projected grid's cell is ``dx * dy`` in the CRS units,
converted to metres (map areas, without the projection's scale factor); a geographic grid's cell
is the exact area on the CRS's ellipsoid between its meridians and parallels, row by row.
"""

from __future__ import annotations

import math
from typing import Any, cast

import numpy as np
import xarray as xr
from pyproj import CRS

from landpulse.backend import spatial_dims, to_host
from landpulse.backend.grid import pixel_step, same_coords
from landpulse.errors import GridMismatchError, InputError


def grid_steps(da: xr.DataArray) -> tuple[float, float]:
    """``(step_y, step_x)``: the pixel size along the spatial coordinates, in the CRS's units.

    Raises
    ------
    GridMismatchError
        When a spatial axis has fewer than two coordinates or is not evenly spaced.
    """
    steps = []
    for dim in spatial_dims(da):
        c = np.asarray(da[dim].values, dtype=np.float64)
        if c.size < 2:
            raise GridMismatchError(f"cannot tell the pixel size from a single {dim} coordinate")
        step = pixel_step(c)
        regular = np.linspace(c[0], c[-1], c.size)
        if step == 0.0 or not same_coords(c, regular, step):
            raise GridMismatchError(f"{dim} coordinates are not evenly spaced: not a regular grid")
        steps.append(step)
    return steps[0], steps[1]


def row_cell_areas(da: xr.DataArray) -> np.ndarray:
    """Area in square metres of one cell of each row (float64, one value per y)."""

    ydim, xdim = spatial_dims(da)
    try:
        crs = da.rio.crs
    except Exception:
        crs = None
    if crs is None:
        raise GridMismatchError(f"{da.name or 'the product'} has no CRS: areas need one (write it with .rio.write_crs)")
    dy, dx = grid_steps(da)
    pcrs = CRS.from_user_input(crs.to_wkt() if hasattr(crs, "to_wkt") else crs)
    ny = da.sizes[ydim]
    if pcrs.is_geographic:
        # cells bounded by meridians and parallels on the ellipsoid: dlon * b^2 / 2 * [f(phi2) - f(phi1)],
        # f(phi) = sin(phi) / (1 - e^2 sin^2 phi) + ln((1 + e sin phi) / (1 - e sin phi)) / (2 e)
        ell = pcrs.ellipsoid
        a = ell.semi_major_metre if ell is not None else 6378137.0
        b = ell.semi_minor_metre if ell is not None else 6356752.314245179
        e = math.sqrt(max(0.0, 1.0 - (b / a) ** 2))
        lats = np.asarray(da[ydim].values, dtype=np.float64)
        s1 = np.sin(np.radians(np.minimum(lats - dy / 2, lats + dy / 2)))
        s2 = np.sin(np.radians(np.maximum(lats - dy / 2, lats + dy / 2)))

        def f(sp: np.ndarray) -> np.ndarray:
            if e == 0.0:
                return 2.0 * sp
            return sp / (1.0 - e * e * sp * sp) + np.log((1.0 + e * sp) / (1.0 - e * sp)) / (2.0 * e)

        return np.radians(dx) * b * b / 2.0 * (f(s2) - f(s1))
    factor = pcrs.axis_info[0].unit_conversion_factor if pcrs.axis_info else 1.0
    return np.full(ny, dy * dx * factor * factor, np.float64)


def areas_from_row_counts(da: xr.DataArray, row_counts: np.ndarray) -> dict[str, float]:
    """:func:`class_areas` of a 2-D class map from its pixel counts per row (``(y, classes + 1)``,
    the last column anything else), as the production write takes them (no second read).

    ``da`` gives the grid, the CRS and the CF flags (its values are not read).
    """
    names = [*str(da.attrs["flag_meanings"]).split(), "nodata"]
    ydim, _ = spatial_dims(da)
    if row_counts.shape != (da.sizes[ydim], len(names)):
        raise InputError(f"row counts {row_counts.shape} do not match {da.sizes[ydim]} rows x {len(names)} classes")
    weights = row_cell_areas(da) / 1e4
    return {n: round(float((row_counts[:, i] * weights).sum()), 4) for i, n in enumerate(names)}


def class_areas(da: xr.DataArray) -> dict[str, Any]:
    """Area in hectares of each class of a class product (uint8 with CF flags), per 2-D map.

    Areas come from the pixel size and the CRS: a projected grid's cell is ``dx * dy`` in the CRS
    units (converted to metres; map areas, without the projection's scale factor), a geographic
    grid's cell is the exact area on the CRS's ellipsoid between its meridians and parallels,
    row by row.

    Parameters
    ----------
    da : xarray.DataArray
        ``(y, x)`` or ``(time, y, x)`` classes with ``flag_values``/``flag_meanings``; nodata 255
        (NaN after CF decoding).

    Returns
    -------
    dict
        ``{class name: hectares}`` for a 2-D map; for a stack, ``{label: {class name: hectares}}``
        per slice of its leading dimension (dates as ``YYYY-MM-DD``), with a ``nodata`` entry for
        pixels of no class. JSON-serialisable.
    """
    if "flag_values" not in da.attrs or "flag_meanings" not in da.attrs:
        raise InputError(f"{da.name or 'the array'} has no flag_values/flag_meanings: not a class product")
    values = [int(v) for v in np.atleast_1d(da.attrs["flag_values"])]
    names = str(da.attrs["flag_meanings"]).split()
    if len(values) != len(names):
        raise InputError(f"{da.name}: {len(values)} flag_values but {len(names)} flag_meanings")
    ydim, xdim = spatial_dims(da)
    host = to_host(da)
    counts = {n: (host == v).sum(dim=xdim, dtype=np.int64) for n, v in zip(names, values, strict=True)}
    counts["nodata"] = (~host.isin(values)).sum(dim=xdim, dtype=np.int64)
    table = xr.Dataset(counts).compute()
    weights = xr.DataArray(row_cell_areas(da) / 1e4, dims=(ydim,))
    hectares = {cast(str, n): (table[n] * weights).sum(dim=ydim) for n in table.data_vars}  # names: str
    others = [d for d in da.dims if d not in (ydim, xdim)]
    if not others:
        return {n: round(float(v), 4) for n, v in hectares.items()}
    if len(others) > 1:
        raise InputError(f"class_areas: one leading dimension at most; got {others}")
    lead = others[0]
    labels = (np.datetime_as_string(da[lead].values, unit="D") if lead in da.coords
              and np.issubdtype(da[lead].dtype, np.datetime64) else
              [str(v) for v in (da[lead].values if lead in da.coords else range(da.sizes[lead]))])
    return {str(lab): {n: round(float(v.isel({lead: i})), 4) for n, v in hectares.items()}
            for i, lab in enumerate(labels)}
