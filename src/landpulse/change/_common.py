"""Shared pieces of the change products: metadata, time axes, inputs as float32 values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from ..backend import spatial_dims
from ..errors import InputError
from ..provenance import finish_product
from ..radiometry import RADIOMETRY_ATTR, REFLECTANCE, has_radiometry, to_reflectance

CLASS_NODATA = 255
INDEX_NODATA = 65535


def class_attrs(long_name: str, meanings: Sequence[str], values: Sequence[int] | None = None, **extra: Any) -> dict[str, Any]:
    """CF attributes of a uint8 class product with nodata 255."""
    vals = list(values) if values is not None else list(range(1, len(meanings) + 1))
    return {
        "long_name": long_name,
        "flag_values": np.asarray(vals, dtype=np.uint8),
        "flag_meanings": " ".join(meanings),
        "_FillValue": np.uint8(CLASS_NODATA),
        "valid_range": [min(vals), max(vals)],
        **extra,
    }


def finish(out: xr.DataArray, template: xr.DataArray, name: str, attrs: Mapping[str, Any],
           inputs: Mapping[str, xr.DataArray], parameters: Mapping[str, Any]) -> xr.DataArray:
    """Name, grid metadata (CRS, ``spatial_ref``) and provenance of one product variable."""
    return finish_product(out, template, name=name, attrs=attrs, inputs=inputs, parameters=parameters)


def as_values(da: xr.DataArray, name: str | None = None) -> xr.DataArray:
    """float32 values of an index or band: reflectance (radiometry applied once, invalid -> NaN)
    when the band carries radiometric metadata, else the values as they are, cast to float32."""
    if has_radiometry(da) and da.attrs.get(RADIOMETRY_ATTR) != REFLECTANCE:
        return to_reflectance(da, name)
    return da if da.dtype == np.float32 else da.astype(np.float32)


def drop_scalar_coords(da: xr.DataArray) -> xr.DataArray:
    """Drop scalar leftovers (``time`` of one date) so two dates can meet in one kernel."""
    drop = [c for c, v in da.coords.items() if v.ndim == 0 and c != "spatial_ref"]
    return da.drop_vars(drop)


def time_dim_of(da: xr.DataArray, time_dim: str | None = None) -> str:
    """The one non-spatial dimension of a ``(time, y, x)`` stack."""
    if time_dim is not None:
        if time_dim not in da.dims:
            raise InputError(f"{da.name or 'the stack'} has no dimension {time_dim!r} (dims: {da.dims})")
        return time_dim
    ydim, xdim = spatial_dims(da)
    others = [d for d in da.dims if d not in (ydim, xdim)]
    if len(others) != 1:
        raise InputError(
            f"a time-series stack needs exactly one dimension besides ({ydim}, {xdim}); "
            f"{da.name or 'the stack'} has {da.dims}: pass time_dim=..."
        )
    return str(others[0])


def decimal_years(values: Any) -> np.ndarray:
    """Dates as decimal years (float64): datetime64 -> year + elapsed fraction of that year;
    numbers are taken as decimal years already (R ``ts`` time, for example)."""
    v = np.asarray(values)
    if np.issubdtype(v.dtype, np.datetime64):
        t = v.astype("datetime64[ns]")
        year = t.astype("datetime64[Y]")
        start = year.astype("datetime64[ns]")
        end = (year + 1).astype("datetime64[ns]")
        frac = (t - start).astype(np.float64) / (end - start).astype(np.float64)
        return year.astype(np.int64).astype(np.float64) + 1970.0 + frac
    if np.issubdtype(v.dtype, np.number):
        return v.astype(np.float64)
    raise InputError(f"time coordinate of dtype {v.dtype} is neither datetime64 nor numeric")


def days_since_first(values: Any) -> np.ndarray:
    """Days since the first date (float64): datetime64 exactly, decimal years x 365.25."""
    v = np.asarray(values)
    if np.issubdtype(v.dtype, np.datetime64):
        t = v.astype("datetime64[ns]")
        return (t - t[0]).astype(np.float64) / 86400e9
    return (decimal_years(v) - float(decimal_years(v)[0])) * 365.25


def time_point(value: Any, like: np.ndarray) -> float:
    """A date (string, datetime, datetime64 or decimal year) as a decimal year."""
    if isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool):
        return float(value)
    try:
        t = np.datetime64(value, "ns")
    except (ValueError, TypeError) as err:
        raise InputError(f"cannot read {value!r} as a date (use 'YYYY-MM-DD' or a decimal year)") from err
    return float(decimal_years(np.array([t]))[0])


def check_sorted(tyear: np.ndarray, what: str) -> None:
    if tyear.size > 1 and not np.all(np.diff(tyear) > 0):
        raise InputError(f"{what}: the time coordinate must be strictly increasing; sort it with .sortby(time)")
