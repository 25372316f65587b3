"""Shared pieces of the product modules: band lookup, class metadata, time axes, inputs as float32 values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from landpulse.backend import spatial_dims
from landpulse.errors import InputError, MissingBandError
from landpulse.products.provenance import finish_product
from landpulse.spec.bands import declared_sensors, find_band
from landpulse.spec.index_catalogue import BandSymbol
from landpulse.spec.radiometry import RADIOMETRY_ATTR, REFLECTANCE, BandRadiometry, has_radiometry, to_reflectance
from landpulse.spec.saturation import without_saturated
from landpulse.spec.sensors import sensors

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


def band_for(ds: xr.Dataset, symbol: BandSymbol, mapping: Mapping[str, str]) -> tuple[str, xr.DataArray]:
    """``(common name used, variable)`` for an ASI band symbol.

    The symbol's own common name first (``nir``; an explicit ``bands`` mapping counts as that
    name). A fallback band (``nir08`` for ``nir``) serves only where every sensor the dataset
    declares says it is equivalent (Landsat, whose only NIR band is the narrow one); elsewhere
    (Sentinel-2's B8A is not B08) it is refused with the fix named, never substituted silently.
    The band used is recorded by the products (``formula_bands``, provenance).
    """
    local = dict(mapping)
    if symbol.symbol in local:  # bands={"N": "B08"} works as well as bands={"nir": "B08"}
        local.setdefault(symbol.common_name, local.pop(symbol.symbol))
    found = find_band(ds, symbol.common_name, local)
    if found is not None:
        return symbol.common_name, without_saturated(ds, found)
    present = ", ".join(map(str, ds.data_vars)) or "none"
    for name in symbol.fallbacks:
        stand_in = find_band(ds, name, local)
        if stand_in is None:
            continue
        declared = declared_sensors(ds)
        known = sensors()
        if declared and all(s in known and name in known[s].equivalent_bands.get(symbol.common_name, ()) for s in declared):
            return name, without_saturated(ds, stand_in)
        who = ", ".join(declared) if declared else "a dataset that declares no sensor"
        raise MissingBandError(
            f"no {symbol.common_name!r} band in the dataset (variables: {present}); it has {name!r} "
            f"({stand_in.name}), but {who} does not declare {name!r} equivalent to {symbol.common_name!r} "
            f"(on Sentinel-2, B8A is a narrower band than B08 and gives other index values), so it is not "
            f"substituted; if you mean it, name it: bands={{'{symbol.common_name}': '{stand_in.name}'}} "
            f"(CLI: --band {symbol.common_name}={stand_in.name})")
    also = f" (or {', '.join(repr(f) for f in symbol.fallbacks)})" if symbol.fallbacks else ""
    raise MissingBandError(
        f"no {symbol.common_name!r} band{also} in the dataset (variables: {present}); name the variable "
        f"with bands={{'{symbol.common_name}': '<variable>'}} (CLI: --band {symbol.common_name}=<variable>)"
    )


def is_unscaled(da: xr.DataArray, rad: BandRadiometry) -> bool:
    """True when a band holds uncalibrated digital numbers on at least one date: integer data whose
    scale is 1 and offset 0 there (CBERS Level-2/4 products, a DN store declared as "reflectance").

    Per date, because a series may mix calibrated scenes with uncalibrated ones: one uncalibrated
    date is enough to bias a ratio series.
    """
    if not np.issubdtype(da.dtype, np.integer):
        return False

    def values(v: xr.DataArray | float) -> np.ndarray:
        return np.asarray(v.values if isinstance(v, xr.DataArray) else v, dtype=np.float64)

    return bool(np.any((values(rad.scale) == 1.0) & (values(rad.offset) == 0.0)))


def observation_dim(da: xr.DataArray, time_dim: str | None = None) -> str | None:
    """The dimension along which observations repeat (None for one 2-D scene)."""
    if time_dim is not None:
        if time_dim not in da.dims:
            raise InputError(f"{da.name or 'the array'} has no dimension {time_dim!r} (dims: {da.dims})")
        return time_dim
    ydim, xdim = spatial_dims(da)
    others = [str(d) for d in da.dims if d not in (ydim, xdim)]
    if not others:
        return None
    if len(others) > 1:
        raise InputError(f"{da.name or 'the array'} has several non-spatial dimensions {others}; pass time_dim=...")
    return others[0]
