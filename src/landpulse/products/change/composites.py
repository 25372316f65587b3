"""Period composites: per-pixel median and max-NDVI composites over a date range.

An observation (a date of a pixel) enters a composite only where every band is valid: finite,
not nodata, within its valid raw range, and not flagged by the optional mask. Composites of
bands are reflectance (radiometry applied once, marked ``landpulse_radiometry = reflectance``),
so they feed :func:`landpulse.ndvi` and the bi-temporal functions directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, cast

import numpy as np
import xarray as xr

from landpulse.backend import apply_kernel
from landpulse.backend.chunking import DEFAULT_BLOCK_BYTES, time_contiguous
from landpulse.errors import InputError
from landpulse.products.common import INDEX_NODATA, as_values, finish, time_dim_of
from landpulse.products.indices import ndvi as _ndvi
from landpulse.spec.radiometry import RADIOMETRY_ATTR, REFLECTANCE, has_radiometry

Method = Literal["median", "max"]


def _select_period(obj: Any, tdim: str, start: Any, end: Any) -> Any:
    if start is None and end is None:
        return obj
    return obj.sel({tdim: slice(start, end)})


def _one(stack: xr.Dataset | xr.DataArray, method: Method, tdim: str, mask: xr.DataArray | None,
         score: xr.DataArray | None, budget: int) -> xr.Dataset:
    is_ds = isinstance(stack, xr.Dataset)
    ds = cast(xr.Dataset, stack if is_ds else stack.to_dataset(name=str(stack.name or "value")))  # a Dataset either way
    names = [str(v) for v in ds.data_vars if tdim in ds[v].dims and ds[v].ndim >= 3]
    if not names:
        raise InputError(f"composite: no variable with dimensions ({tdim}, y, x)")
    if ds.sizes[tdim] == 0:
        raise InputError("composite: no date in the requested period")
    values = [as_values(ds[v], v) for v in names]
    if mask is not None:
        values = [v.where(~mask.astype(bool)) for v in values]
    bands = xr.concat(values, dim="band", coords="minimal", compat="override", join="exact").assign_coords(band=names)
    bands.name = "bands"
    bands = time_contiguous(bands, ["band", tdim], budget)
    template = ds[names[0]]
    params: dict[str, Any] = {"method": method, "dates": [str(t) for t in np.asarray(ds[tdim].values)]}
    inputs = {v: ds[v] for v in names}
    if method == "median":
        med, count = apply_kernel("median_composite", bands, core_dims=[["band", tdim]],
                                  output_core_dims=[["band"], []], output_dtypes=(np.float32, np.uint16))
        extra: dict[str, xr.DataArray] = {}
    elif method == "max":
        if score is None:
            if is_ds:
                score = _ndvi(ds)
            else:
                score = values[0]
        score = score if mask is None else score.where(~mask.astype(bool))
        score = time_contiguous(as_values(score).rename("score"), [tdim], budget)
        med, count, index = apply_kernel("max_composite", score, bands, core_dims=[[tdim], ["band", tdim]],
                                         output_core_dims=[["band"], [], []],
                                         output_dtypes=(np.float32, np.uint16, np.uint16))
        extra = {"source_index": finish(index, template, "source_index", {
            "long_name": "index of the date each pixel was taken from", "_FillValue": np.uint16(INDEX_NODATA),
            "source_times": " ".join(params["dates"])}, inputs, params)}
    else:
        raise InputError(f"composite method must be 'median' or 'max'; got {method!r}")
    out = {}
    for v in names:
        attrs = {k: a for k, a in ds[v].attrs.items() if k in ("long_name", "common_name", "units")}
        attrs[RADIOMETRY_ATTR] = REFLECTANCE if has_band_radiometry(ds[v]) else ds[v].attrs.get(RADIOMETRY_ATTR, REFLECTANCE)
        attrs["cell_methods"] = f"{tdim}: {'median' if method == 'median' else 'maximum score'}"
        out[v] = finish(med.sel(band=v, drop=True), template, v, attrs, inputs, params)
    out["n_obs"] = finish(count, template, "n_obs", {"long_name": "number of valid observations", "units": "1"},
                          inputs, params)
    out.update(extra)
    return xr.Dataset(out)


def has_band_radiometry(da: xr.DataArray) -> bool:
    return has_radiometry(da)


def composite(
    stack: xr.Dataset | xr.DataArray,
    method: Method = "median",
    *,
    start: Any = None,
    end: Any = None,
    by: Mapping[str, tuple[Any, Any]] | None = None,
    mask: xr.DataArray | None = None,
    score: xr.DataArray | None = None,
    time_dim: str | None = None,
    chunk_budget: int = DEFAULT_BLOCK_BYTES,
) -> xr.Dataset:
    """Per-pixel median or max-score (max-NDVI) composite over a date range.

    Parameters
    ----------
    stack : xarray.Dataset or xarray.DataArray
        ``(time, y, x)`` bands (raw with radiometry, or reflectance) or index values.
    method : {'median', 'max'}
        ``median``: per-band median of the valid observations (even counts: mean of the two
        middle values, as ``numpy.nanmedian``). ``max``: every band from the date with the
        largest score (NDVI of the stack by default, or the values themselves for a DataArray),
        first date on ties.
    start, end : date-like, optional
        Inclusive date range (``time`` label slice).
    by : mapping of str to (start, end), optional
        Several named periods at once; the result gets a ``period`` dimension.
    mask : xarray.DataArray of bool, optional
        True where an observation must be excluded (clouds, shadows), ``(time, y, x)``.
    score : xarray.DataArray, optional
        Score of the ``max`` method (default NDVI).
    time_dim : str, optional
        Name of the time dimension (default: the one non-spatial dimension).
    chunk_budget : int
        Bytes of one time-contiguous block (Dask data is rechunked to it when needed).

    Returns
    -------
    xarray.Dataset
        One float32 variable per band (NaN where no valid observation), ``n_obs`` uint16 (0
        where none), and for ``max`` ``source_index`` uint16 (65535 nodata) with the dates in
        its ``source_times`` attribute. CRS preserved.
    """
    first = stack if isinstance(stack, xr.DataArray) else next(iter(stack.data_vars.values()))
    tdim = time_dim_of(first, time_dim)
    if by is None:
        s = _select_period(stack, tdim, start, end)
        m = _select_period(mask, tdim, start, end) if mask is not None else None
        sc = _select_period(score, tdim, start, end) if score is not None else None
        return _one(s, method, tdim, m, sc, chunk_budget)
    parts = []
    for label, (a, b) in by.items():
        s = _select_period(stack, tdim, a, b)
        m = _select_period(mask, tdim, a, b) if mask is not None else None
        sc = _select_period(score, tdim, a, b) if score is not None else None
        parts.append(_one(s, method, tdim, m, sc, chunk_budget).expand_dims(period=[label]))
    return xr.concat(parts, dim="period", combine_attrs="override")
