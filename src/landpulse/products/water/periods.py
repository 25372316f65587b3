"""Water over periods: observation summaries (wet, clear, frequency, classes) and the change
between two periods (new, lost, stable water)."""

from __future__ import annotations

import warnings
from typing import Any, cast

import numpy as np
import xarray as xr

from landpulse.backend import apply_kernel
from landpulse.backend.chunking import DEFAULT_BLOCK_BYTES, time_contiguous
from landpulse.errors import InputError
from landpulse.products.common import class_attrs, drop_scalar_coords, finish, observation_dim
from landpulse.products.water.codes import (
    CHANGE_FLAG_MEANINGS,
    CHANGE_FLAG_VALUES,
    PERMANENT_FREQUENCY,
    SEASONAL_FREQUENCY,
    SUMMARY_FLAG_MEANINGS,
    SUMMARY_FLAG_VALUES,
    WATER_DRY,
    WATER_FLAG_MEANINGS,
    WATER_WET,
)


def _codes_of(water: xr.Dataset | xr.DataArray) -> tuple[xr.DataArray, int, int]:
    """The class series and its (wet, dry) codes: 1/0 for the water product, 128/0 for WOfS flags."""
    if isinstance(water, xr.Dataset):
        if "water" not in water.data_vars:
            raise InputError(f"no 'water' variable in the dataset (variables: {', '.join(map(str, water.data_vars))})")
        water = water["water"]
    if "flag_masks" in water.attrs and "water" in str(water.attrs.get("flag_meanings", "")).split():
        return water, 128, 0
    meanings = str(water.attrs.get("flag_meanings", "")).split()
    if meanings and meanings[:2] != list(WATER_FLAG_MEANINGS[:2]):
        raise InputError(f"{water.name or 'the array'} is not a water product (flag_meanings {' '.join(meanings)!r}); "
                         "give the 'water' variable of index_water, otsu_water or wofs")
    return water, WATER_WET, WATER_DRY


def summary(
    water: xr.Dataset | xr.DataArray,
    *,
    start: Any = None,
    end: Any = None,
    time_dim: str | None = None,
    min_clear: int = 1,
    seasonal: float = SEASONAL_FREQUENCY,
    permanent: float = PERMANENT_FREQUENCY,
    chunk_budget: int = DEFAULT_BLOCK_BYTES,
) -> xr.Dataset:
    """Water-observation summaries of a series of water maps over a period.

    Parameters
    ----------
    water : xarray.Dataset or xarray.DataArray
        ``(time, y, x)`` water classes (the ``water`` variable of :func:`index_water`,
        :func:`otsu_water` or :func:`wofs`, or a Dataset holding it), or WOfS flags.
    start, end : date-like, optional
        Inclusive period (a ``time`` label slice).
    time_dim : str, optional
        The time dimension (default: the one non-spatial dimension).
    min_clear : int
        Fewest clear observations for a summary class (fewer: class 255).
    seasonal, permanent : float
        Frequency thresholds of the classes. Defaults: permanent at frequency >= 0.9 (wet in at
        least nine clear observations in ten, after the "permanent water" of Pekel et al. 2016,
        Nature 540, 418-422, with room for one misclassified or unmasked-cloud observation in
        ten); seasonal at >= 0.1 (wet in at least one clear observation in ten); never below 0.1
        (isolated wet observations are treated as noise).

    Returns
    -------
    xarray.Dataset
        ``wet_count`` and ``clear_count`` uint16 (masked and nodata observations never count; 0
        where every date is masked), ``frequency`` float32 = wet / clear (NaN where no clear
        observation), ``water_class`` uint8 (0 never, 1 seasonal, 2 permanent, 255 nodata). CRS
        kept; lazy when the input is. An all-cloudy stack gives counts of 0, frequency NaN and
        class 255, never an exception.
    """
    da, wet, dry = _codes_of(water)
    tdim = observation_dim(da, time_dim)
    if tdim is None:
        raise InputError("a summary needs a time dimension; this is a single water map")
    if start is not None or end is not None:
        da = da.sel({tdim: slice(start, end)})
    if not (0.0 <= seasonal <= permanent <= 1.0):
        raise InputError(f"need 0 <= seasonal <= permanent <= 1; got seasonal={seasonal}, permanent={permanent}")
    if min_clear < 1:
        raise InputError(f"min_clear must be at least 1; got {min_clear}")
    if da.sizes[tdim] == 0:
        raise InputError(f"no date in the period {start}..{end}")
    if da.sizes[tdim] > 65535:
        raise InputError(f"at most 65535 dates per summary (uint16 counts); got {da.sizes[tdim]}")
    blocks = time_contiguous(da, [tdim], chunk_budget)
    nw, nc, freq, cls = apply_kernel(
        "water_summary", blocks, core_dims=[[tdim]],
        kwargs={"wet": int(wet), "dry": int(dry), "min_clear": int(min_clear), "seasonal": float(seasonal),
                "permanent": float(permanent)},
        output_dtypes=(np.uint16, np.uint16, np.float32, np.uint8))
    template = da.isel({tdim: 0}, drop=True)
    dates = [str(v)[:19] for v in np.asarray(da[tdim].values)] if tdim in da.coords else []
    params = {"start": str(start) if start is not None else None, "end": str(end) if end is not None else None,
              "dates": dates, "min_clear": int(min_clear), "seasonal": float(seasonal), "permanent": float(permanent)}
    period = {"period_start": dates[0] if dates else "", "period_end": dates[-1] if dates else "",
              "n_dates": int(da.sizes[tdim])}
    inputs = {"water": da}
    out = {
        "wet_count": finish(nw, template, "wet_count", {
            "long_name": "number of clear observations classified as water", "units": "1", **period}, inputs, params),
        "clear_count": finish(nc, template, "clear_count", {
            "long_name": "number of clear observations (masked and nodata observations not counted)", "units": "1",
            **period}, inputs, params),
        "frequency": finish(freq, template, "frequency", {
            "long_name": "frequency of water in clear observations (wet_count / clear_count)", "units": "1",
            "valid_range": [0.0, 1.0], **period}, inputs, params),
        "water_class": finish(cls, template, "water_class", class_attrs(
            "water permanence over the period", SUMMARY_FLAG_MEANINGS, SUMMARY_FLAG_VALUES,
            seasonal_frequency=float(seasonal), permanent_frequency=float(permanent), min_clear=int(min_clear),
            rule=f"permanent: frequency >= {permanent}; seasonal: {seasonal} <= frequency < {permanent}; never: "
                 f"frequency < {seasonal}; nodata: fewer than {min_clear} clear observation(s)", **period),
            inputs, params),
    }
    return xr.Dataset(out)


# ---- change between two periods -------------------------------------------------------------------

def _frequency_and_clear(s: xr.Dataset | xr.DataArray, what: str) -> tuple[xr.DataArray, xr.DataArray]:
    if isinstance(s, xr.Dataset) and {"frequency", "clear_count"} <= set(s.data_vars):
        return drop_scalar_coords(s["frequency"]), drop_scalar_coords(s["clear_count"])
    raise InputError(f"{what} must be a summary (landpulse.products.water.summary(...)) with 'frequency' and 'clear_count'")


def compare(before: xr.Dataset, after: xr.Dataset, *, threshold: float = 0.5, min_clear: int = 1) -> xr.Dataset:
    """Change in water between two periods, from their summaries.

    A pixel is water in a period when its frequency is at least ``threshold`` (default 0.5: wet in
    at least half of its clear observations).

    Parameters
    ----------
    before, after : xarray.Dataset
        :func:`summary` of each period, on one grid (checked, never joined).
    threshold : float
        Frequency from which a pixel counts as water in a period.
    min_clear : int
        Fewest clear observations in each period (fewer: nodata).

    Returns
    -------
    xarray.Dataset
        ``water_change`` uint8: 0 stable not water, 1 stable water, 2 new water (flooding),
        3 lost water (drying), 255 nodata (CF flags). Areas: :func:`class_areas`.
    """
    if not (0.0 <= threshold <= 1.0):
        raise InputError(f"threshold must be a frequency in [0, 1]; got {threshold}")
    fa, ca = _frequency_and_clear(before, "before")
    fb, cb = _frequency_and_clear(after, "after")
    for da, label in ((fa, "frequency_before"), (ca, "clear_before"), (fb, "frequency_after"), (cb, "clear_after")):
        da.name = label
    out = cast(xr.DataArray,  # one output dtype: one DataArray
               apply_kernel("water_change", fa, ca, fb, cb, kwargs={"min_clear": int(min_clear), "threshold": float(threshold)},
                            output_dtypes=(np.uint8,)))
    periods = {f"{label}_{k}": str(s["frequency"].attrs.get(k, "")) for label, s in (("before", before), ("after", after))
               for k in ("period_start", "period_end")}
    params = {"threshold": float(threshold), "min_clear": int(min_clear), **periods}
    attrs = class_attrs("change in water between two periods", CHANGE_FLAG_MEANINGS, CHANGE_FLAG_VALUES,
                        threshold=float(threshold), min_clear=int(min_clear),
                        rule=f"water in a period where frequency >= {threshold}; new_water: not water before, water "
                             "after (flooding); lost_water: water before, not after (drying)", **periods)
    return xr.Dataset({"water_change": finish(out, fa, "water_change", attrs, {"before": fa, "after": fb}, params)})


def period_change(
    water: xr.Dataset | xr.DataArray,
    *,
    before: tuple[Any, Any],
    after: tuple[Any, Any],
    threshold: float = 0.5,
    min_clear: int = 1,
    **summary_kwargs: Any,
) -> xr.Dataset:
    """Summaries of two periods of one series of water maps, and the change between them.

    Parameters
    ----------
    water : xarray.Dataset or xarray.DataArray
        ``(time, y, x)`` water classes (see :func:`summary`).
    before, after : (start, end)
        Inclusive date ranges.
    threshold, min_clear
        As :func:`compare`.
    **summary_kwargs
        Passed to :func:`summary` (``seasonal``, ``permanent``, ``time_dim``...).

    Returns
    -------
    xarray.Dataset
        ``frequency_before``, ``frequency_after`` (float32), ``clear_count_before``,
        ``clear_count_after`` (uint16) and ``water_change`` (uint8, see :func:`compare`).
    """
    a = summary(water, start=before[0], end=before[1], min_clear=min_clear, **summary_kwargs)
    b = summary(water, start=after[0], end=after[1], min_clear=min_clear, **summary_kwargs)
    c = compare(a, b, threshold=threshold, min_clear=min_clear)
    return xr.Dataset({
        "frequency_before": a["frequency"], "frequency_after": b["frequency"],
        "clear_count_before": a["clear_count"], "clear_count_after": b["clear_count"],
        "water_change": c["water_change"],
    })


def change(before: xr.Dataset, after: xr.Dataset, *, threshold: float = 0.5, min_clear: int = 1) -> xr.Dataset:
    """Deprecated name of :func:`compare` (it clashed with the ``landpulse.change`` package)."""
    warnings.warn("landpulse.water.change is deprecated; use landpulse.water.compare", DeprecationWarning, stacklevel=2)
    return compare(before, after, threshold=threshold, min_clear=min_clear)
