"""Window and comparison products: one result per pixel from every scene of a time window, or
from the scenes of two windows (a baseline and the current one).

Each is a ``compute(ds, *, bands=None, **params) -> DataArray`` of a ``(time, y, x)`` scene
Dataset holding the window's scenes (raw bands with radiometry), registered with kind
``window``: production plans one unit per product x tile x window
(:mod:`landpulse.production.windows`). They are the library's own functions
(:func:`landpulse.change.composite`, :func:`landpulse.change.theil_sen`,
:func:`landpulse.water.summary`) applied to the window, so a unit equals what those functions
give on the same scenes.

Bounded memory: every reduction runs per spatial block over the window's dates
(``time_contiguous`` blocks of at most ``chunk_budget`` bytes; for the fused composites the stored
chunks of every date of one spatial chunk, at most
:data:`landpulse.backend.date_blocks.DATE_BLOCK_BYTES` per task), so one task holds one block of
every date of the window, never the window's pixels.

Observations are masked where the scenes carry a classification band (Sentinel-2 SCL, Landsat
QA_PIXEL: ``mask='auto'``, the sensor's default classes) and by every band's validity; a masked
or invalid observation never enters a result.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import xarray as xr

from landpulse.backend import apply_date_kernel
from landpulse.backend.chunking import DEFAULT_BLOCK_BYTES, time_contiguous
from landpulse.errors import InputError
from landpulse.products.change.bitemporal import DNBR_CLASSES, difference, dnbr
from landpulse.products.change.composites import composite
from landpulse.products.change.timeseries import bfast_monitor, theil_sen, zscore_anomaly
from landpulse.products.common import time_dim_of
from landpulse.products.indices import indices, prepare_indices
from landpulse.products.provenance import finish_product
from landpulse.products.registry import Product, register_product
from landpulse.products.water.classify import index_water
from landpulse.products.water.codes import (
    CHANGE_FLAG_MEANINGS,
    CHANGE_FLAG_VALUES,
    SUMMARY_FLAG_MEANINGS,
    SUMMARY_FLAG_VALUES,
)
from landpulse.products.water.periods import compare, summary
from landpulse.spec.radiometry import RADIOMETRY_ATTR, REFLECTANCE

MaskChoice = Literal["auto", "none"]

#: Attribute of a product whose runs write alerts (patch polygons, ``alerts.geojson``):
#: ``"break_date"``, a monitoring product whose finite values are break dates (decimal years), whose
#: runs report the breaks new since the previous run (``new_breaks`` of the unit's statistics);
#: ``"classes"``, a comparison product whose classes named in :data:`ALERT_CLASSES_ATTR` are the
#: changes (new and lost water, burnt land).
ALERTS_ATTR = "landpulse_alerts"
#: The class names (``flag_meanings``) of a ``"classes"`` alerts product that are changes.
ALERT_CLASSES_ATTR = "landpulse_alert_classes"
#: The change classes of the comparison products.
WATER_CHANGE_ALERTS = ("new_water", "lost_water")
BURN_ALERTS = ("low_severity", "moderate_low_severity", "moderate_high_severity", "high_severity")
CompositeMethod = Literal["median", "max", "percentile"]


def _mask_of(mask: MaskChoice) -> str | None:
    """``'auto'``: the sensor's default mask where the scenes carry a classification band (a
    ProductMeaningWarning, recorded in the unit's item, where they have none); ``'none'``: none."""
    if mask not in ("auto", "none"):
        raise InputError(f"mask must be 'auto' or 'none'; got {mask!r}")
    return "auto" if mask == "auto" else None


def index_series(ds: xr.Dataset, index: str = "ndvi", *, bands: Mapping[str, str] | None = None,
                 mask: MaskChoice = "auto") -> xr.DataArray:
    """The ``(time, y, x)`` float32 series of catalogue index ``index`` (NaN where masked or
    invalid), the input of every index window product."""
    return indices(ds, [index], bands=bands, mask=_mask_of(mask))[index.lower()]


#: Environment variable choosing the path of the composite products: ``fused`` (default: one fused
#: read-mask-index-reduce kernel per stored chunk, :func:`window_reduce`) or ``xarray`` (the index
#: series through :func:`landpulse.change.composite`; the same values). In a production unit on a
#: 2048^2 x 73-date store the fused path took 3.9 s against 10.3 s, 1.0 GB of worker memory against
#: 1.7 GB (benchmarks/RESULTS.md).
WINDOW_PATH_ENV = "LANDPULSE_WINDOW_PATH"


def _fused_path() -> bool:
    path = os.environ.get(WINDOW_PATH_ENV, "fused")
    if path not in ("fused", "xarray"):
        raise InputError(f"{WINDOW_PATH_ENV} must be 'fused' or 'xarray'; got {path!r}")
    return path == "fused"


def window_reduce(ds: xr.Dataset, index: str = "ndvi", *, method: str = "median", q: float = 50.0,
                  mask: MaskChoice = "auto", bands: Mapping[str, str] | None = None,
                  chunk_budget: int = DEFAULT_BLOCK_BYTES) -> tuple[xr.DataArray, xr.DataArray]:
    """Index ``index`` of the window's raw scenes, masked and reduced over time in one fused kernel.

    Each stored chunk of the window's scenes is read once as raw integers, and each task gets the
    stored chunks of every date of one spatial chunk, never joined into a time stack
    (:func:`landpulse.backend.apply_date_kernel`; stored chunks too large for that, and in-memory
    data, go in time-contiguous blocks of at most ``chunk_budget`` bytes); per pixel the kernel
    checks each date's DNs, applies that date's radiometry, the mask and the index formula (the
    kernel of :func:`landpulse.indices`), and reduces the valid values (backend op
    ``window_reduce``). Equal to :func:`landpulse.change.composite` (median, max) of
    :func:`index_series` and to ``numpy.nanpercentile`` (linear) of it.

    Parameters
    ----------
    ds : xarray.Dataset
        ``(time, y, x)`` raw bands with radiometry.
    index : str
        Catalogue index.
    method : {'median', 'max', 'percentile', 'count'}
    q : float
        Percentile in [0, 100] of ``method='percentile'``.
    mask : {'auto', 'none'}
    bands : mapping, optional
        Explicit variables by common name or ASI symbol.
    chunk_budget : int
        Bytes of one time-contiguous block of every input together (where one is formed).

    Returns
    -------
    (xarray.DataArray, xarray.DataArray)
        ``(y, x)`` float32 values (NaN where no valid observation; NaN for ``count``) and uint16
        counts of the valid observations (0 where none); lazy when ``ds`` is.
    """
    if method not in ("median", "max", "percentile", "count"):
        raise InputError(f"window method must be 'median', 'max', 'percentile' or 'count'; got {method!r}")
    if not 0.0 <= float(q) <= 100.0:
        raise InputError(f"q must be a percentile in [0, 100]; got {q}")
    prep = prepare_indices(ds, [index], mask=_mask_of(mask), bands=bands)
    info, resolved = prep.info, prep.resolved
    symbols = list(info.symbols)
    images = [prep.used[s][1] for s in symbols] + ([resolved.band] if resolved is not None else [])
    tdim = time_dim_of(images[0])
    if any(tdim not in a.dims for a in images):
        raise InputError(f"window products need every band over {tdim!r}")
    radiometry = [np.asarray(v.values if isinstance(v, xr.DataArray) else v, np.float64).reshape(-1)
                  for v in ([prep.rad[s].scale for s in symbols] + [prep.rad[s].offset for s in symbols])]
    program = dataclasses.replace(info.program, write_mask=False)
    plain = [a.drop_vars([c for c in a.coords if c not in a.dims and c != "spatial_ref"]) for a in images]
    val, cnt = apply_date_kernel(
        "window_reduce", plain, radiometry, tdim=tdim,
        kwargs={"program": program, "method": method, "q": float(q),
                "valid": tuple(tuple(prep.rad[s].validity) for s in symbols),
                "constants": tuple(info.constant_values), "lut": resolved.lut if resolved is not None else None},
        output_dtypes=(np.float32, np.uint16), block_bytes=chunk_budget)
    name = info.names[0]
    spec = prep.requested[0][1]
    inputs = {prep.used[s][0]: prep.used[s][1] for s in spec.bands}
    if resolved is not None:
        inputs["mask_band"] = resolved.band
    params: dict[str, Any] = {"method": method, "dates": [str(t) for t in np.asarray(ds[tdim].values)],
                              "mask": resolved.describe() if resolved is not None else None}
    if method == "percentile":
        params["q"] = float(q)
    attrs = {k: v for k, v in spec.attrs(info.constants[name]).items() if k in ("long_name", "units")}
    attrs[RADIOMETRY_ATTR] = REFLECTANCE
    attrs["cell_methods"] = f"{tdim}: {method}" + (f" {q:g}" if method == "percentile" else "")
    template = images[0]
    value = finish_product(val, template, name=name, attrs=attrs, inputs=inputs, parameters=params,
                           radiometry={prep.used[s][0]: prep.rad[s].describe() for s in spec.bands})
    count = finish_product(cnt, template, name="n_obs",
                           attrs={"long_name": "number of valid observations", "units": "1"},
                           inputs=inputs, parameters=params)
    return value, count


def index_composite(ds: xr.Dataset, *, index: str = "ndvi", method: CompositeMethod = "median", q: float = 50.0,
                    mask: MaskChoice = "auto", bands: Mapping[str, str] | None = None) -> xr.DataArray:
    """Per-pixel composite of an index over the window.

    The fused window kernel (:func:`window_reduce`: the raw bands of each stored chunk read once,
    masked, indexed and reduced per pixel), equal to :func:`landpulse.change.composite` of
    :func:`index_series` (which ``LANDPULSE_WINDOW_PATH=xarray`` computes instead).

    Parameters
    ----------
    ds : xarray.Dataset
        ``(time, y, x)`` raw bands with radiometry.
    index : str
        Catalogue index (``ndvi``, ``ndwi``, ``nbr``...).
    method : {'median', 'max', 'percentile'}
        ``median`` (even counts: the mean of the two middle values, as ``numpy.nanmedian``) and
        ``max`` (max-NDVI for ``index='ndvi'``), as :func:`landpulse.change.composite`;
        ``percentile``: the ``q``-th percentile of the valid observations (linear interpolation,
        as ``numpy.nanpercentile``).
    q : float
        Percentile in [0, 100] of ``method='percentile'``.
    mask : {'auto', 'none'}
        Mask observations by the scenes' classification band where they have one.

    Returns
    -------
    xarray.DataArray
        float32 index values, NaN where no valid observation; ``(y, x)``, CRS kept.
    """
    if method not in ("median", "max", "percentile"):
        raise InputError(f"composite method must be 'median', 'max' or 'percentile'; got {method!r}")
    if method == "percentile" and not 0.0 <= float(q) <= 100.0:
        raise InputError(f"q must be a percentile in [0, 100]; got {q}")
    if _fused_path():
        out, _ = window_reduce(ds, index, method=method, q=float(q), mask=mask, bands=bands)
        name = str(out.name)
    else:
        series = index_series(ds, index, bands=bands, mask=mask)
        name = str(series.name)
        if method == "percentile":
            out = composite_percentile(series, float(q), str(series.dims[0]))
        else:
            out = composite(series, method)[name]
    out.attrs.update({"long_name": f"{method} composite of {name}" + (f" (q={q:g})" if method == "percentile" else "")})
    return out.rename(f"{name}_{method}")


def composite_percentile(series: xr.DataArray, q: float, tdim: str) -> xr.DataArray:
    """``q``-th percentile over ``tdim`` of the valid values, per spatial block (time whole)."""
    blocks = time_contiguous(series, [tdim], DEFAULT_BLOCK_BYTES)
    out = blocks.quantile(q / 100.0, dim=tdim, skipna=True, method="linear").drop_vars("quantile")
    out = out.astype("float32")
    out.attrs = {k: v for k, v in series.attrs.items() if k not in ("cell_methods",)}
    out.attrs["cell_methods"] = f"{tdim}: percentile {q:g}"
    return out.rio.write_crs(series.rio.crs) if series.rio.crs is not None else out


def clear_count(ds: xr.Dataset, *, index: str = "ndvi", mask: MaskChoice = "auto",
                bands: Mapping[str, str] | None = None) -> xr.DataArray:
    """Number of clear observations in the window: dates where ``index`` is valid (not masked,
    every band valid). uint16, 0 where none."""
    if _fused_path():
        out = window_reduce(ds, index, method="count", mask=mask, bands=bands)[1]
    else:
        out = composite(index_series(ds, index, bands=bands, mask=mask), "median")["n_obs"]
    return out.rename("clear_count")


def _trend(ds: xr.Dataset, index: str, alpha: float, min_obs: int, mask: MaskChoice,
           bands: Mapping[str, str] | None) -> xr.Dataset:
    return theil_sen(index_series(ds, index, bands=bands, mask=mask), alpha=alpha, min_obs=min_obs)


def trend_slope(ds: xr.Dataset, *, index: str = "ndvi", alpha: float = 0.05, min_obs: int = 3,
                mask: MaskChoice = "auto", bands: Mapping[str, str] | None = None) -> xr.DataArray:
    """Theil-Sen slope of ``index`` over the window (:func:`landpulse.change.theil_sen`), index
    units per year, float32, NaN with fewer than ``min_obs`` valid observations."""
    return _trend(ds, index, alpha, min_obs, mask, bands)["slope"].rename("trend_slope")


def trend_class(ds: xr.Dataset, *, index: str = "ndvi", alpha: float = 0.05, min_obs: int = 3,
                mask: MaskChoice = "auto", bands: Mapping[str, str] | None = None) -> xr.DataArray:
    """Mann-Kendall trend class of ``index`` over the window at level ``alpha``: uint8, 0 no
    significant trend, 1 increase, 2 decrease, 255 nodata."""
    return _trend(ds, index, alpha, min_obs, mask, bands)["trend"].rename("trend_class")


def _water_summary(ds: xr.Dataset, bands: Mapping[str, str] | None, min_clear: int) -> xr.Dataset:
    return summary(index_water(ds, bands=bands), min_clear=min_clear)


def water_frequency(ds: xr.Dataset, *, min_clear: int = 1, bands: Mapping[str, str] | None = None) -> xr.DataArray:
    """Frequency of water in the window's clear observations (:func:`landpulse.water.summary` of
    :func:`landpulse.water.index_water`): float32 in [0, 1], NaN without a clear observation."""
    return _water_summary(ds, bands, min_clear)["frequency"].rename("water_frequency")


def water_wet(ds: xr.Dataset, *, min_clear: int = 1, bands: Mapping[str, str] | None = None) -> xr.DataArray:
    """Clear observations classified as water in the window; uint16."""
    return _water_summary(ds, bands, min_clear)["wet_count"].rename("water_wet")


def water_clear(ds: xr.Dataset, *, min_clear: int = 1, bands: Mapping[str, str] | None = None) -> xr.DataArray:
    """Clear observations (the water classifier's, masked and nodata not counted); uint16."""
    return _water_summary(ds, bands, min_clear)["clear_count"].rename("water_clear")


def water_permanence(ds: xr.Dataset, *, min_clear: int = 1, bands: Mapping[str, str] | None = None) -> xr.DataArray:
    """Water permanence class over the window (:func:`landpulse.water.summary`'s ``water_class``):
    uint8, 0 never, 1 seasonal, 2 permanent, 255 nodata."""
    return _water_summary(ds, bands, min_clear)["water_class"].rename("water_permanence")


# ---- comparison products: a baseline window against a current one ---------------------------------
#
# compute(before, after, *, bands=None, **params): ``before`` holds the scenes of the baseline
# (reference period, pre-event) window, ``after`` those of the current (post-event) window.


def water_change(before: xr.Dataset, after: xr.Dataset, *, threshold: float = 0.5, min_clear: int = 1,
                 bands: Mapping[str, str] | None = None) -> xr.DataArray:
    """Water change between a reference window and the current one: :func:`landpulse.water.compare`
    of the two windows' summaries. uint8: 0 stable not water, 1 stable water (permanent),
    2 new water (flooding), 3 lost water (drying), 255 nodata; hectares per class in the unit's
    statistics."""
    a = _water_summary(before, bands, min_clear)
    b = _water_summary(after, bands, min_clear)
    out = compare(a, b, threshold=threshold, min_clear=min_clear)["water_change"].rename("water_change")
    return out.assign_attrs({ALERTS_ATTR: "classes", ALERT_CLASSES_ATTR: " ".join(WATER_CHANGE_ALERTS)})


def _composite_index(ds: xr.Dataset, index: str, mask: MaskChoice, bands: Mapping[str, str] | None) -> xr.DataArray:
    series = index_series(ds, index, bands=bands, mask=mask)
    return composite(series, "median")[str(series.name)]


def dndvi_composite(before: xr.Dataset, after: xr.Dataset, *, mask: MaskChoice = "auto",
                    bands: Mapping[str, str] | None = None) -> xr.DataArray:
    """NDVI difference (after - before) of the two windows' median NDVI composites (one cloudy date
    cannot break it); float32, NaN where either window has no valid observation."""
    return difference(_composite_index(before, "ndvi", mask, bands), _composite_index(after, "ndvi", mask, bands),
                      name="dndvi")["dndvi"].rename("dndvi_composite")


def _dnbr(before: xr.Dataset, after: xr.Dataset, offset: float, mask: MaskChoice,
          bands: Mapping[str, str] | None) -> xr.Dataset:
    return dnbr(_composite_index(before, "nbr", mask, bands), _composite_index(after, "nbr", mask, bands), offset=offset)


def dnbr_composite(before: xr.Dataset, after: xr.Dataset, *, offset: float = 0.0, mask: MaskChoice = "auto",
                   bands: Mapping[str, str] | None = None) -> xr.DataArray:
    """dNBR (pre - post - offset) of the pre- and post-event windows' median NBR composites
    (:func:`landpulse.change.dnbr`); float32, unscaled."""
    return _dnbr(before, after, offset, mask, bands)["dnbr"].rename("dnbr_composite")


def burn_severity(before: xr.Dataset, after: xr.Dataset, *, offset: float = 0.0, mask: MaskChoice = "auto",
                  bands: Mapping[str, str] | None = None) -> xr.DataArray:
    """USGS burn-severity classes of :func:`dnbr_composite` (uint8, 1..7, 255 nodata; hectares per
    class in the unit's statistics)."""
    out = _dnbr(before, after, offset, mask, bands)["burn_severity"].rename("burn_severity")
    return out.assign_attrs({ALERTS_ATTR: "classes", ALERT_CLASSES_ATTR: " ".join(BURN_ALERTS)})


def index_anomaly(before: xr.Dataset, after: xr.Dataset, *, index: str = "ndvi", min_obs: int = 2,
                  mask: MaskChoice = "auto", bands: Mapping[str, str] | None = None) -> xr.DataArray:
    """Z-score of the current window's median composite of ``index`` against the pixel's baseline
    observations (:func:`landpulse.change.zscore_anomaly`: mean and sample standard deviation of
    the baseline's valid observations); float32, NaN with fewer than ``min_obs`` baseline
    observations or zero spread. The baseline must end before the current window's first scene."""
    base = index_series(before, index, bands=bands, mask=mask)
    current = index_series(after, index, bands=bands, mask=mask)
    tdim = str(base.dims[0])
    first = current[tdim].values.min()
    if base[tdim].values.max() >= first:
        raise InputError("index_anomaly: the baseline window must end before the current window's first scene")
    comp = composite(current, "median")[str(current.name)].expand_dims({tdim: [first]})
    # per-date coordinates (scene ids) have no value for the composite: the stack goes without them
    base = base.drop_vars([c for c in base.coords if c != tdim and tdim in base[c].dims])
    stack = xr.concat([base, comp.astype(base.dtype)], dim=tdim, join="exact", coords="minimal", compat="override",
                      combine_attrs="override")
    z = zscore_anomaly(stack, baseline_end=first, min_obs=min_obs)["zscore"].isel({tdim: 0}, drop=True)
    return z.rename("index_anomaly")


# ---- monitoring products: a fixed history and a monitoring period that grows -------------------------
#
# compute(history, monitor, *, bands=None, **params): ``history`` holds the scenes of the stable
# history window, ``monitor`` every scene since (it grows by one scene a night).


def _bfast(history: xr.Dataset, monitor: xr.Dataset, index: str, order: int, trend: bool, h: float, end: int,
           level: float, mask: MaskChoice, bands: Mapping[str, str] | None) -> xr.Dataset:
    hist = index_series(history, index, bands=bands, mask=mask)
    mon = index_series(monitor, index, bands=bands, mask=mask)
    tdim = str(hist.dims[0])
    if hist[tdim].values.max() >= mon[tdim].values.min():
        raise InputError("BFAST-Monitor: the history window must end before the monitoring period")
    stack = xr.concat([hist, mon], dim=tdim, join="exact", coords="minimal", compat="override", combine_attrs="override")
    # the monitoring period starts at its first scene: fixed once it has arrived, so a night's run
    # only appends observations (the first boundary crossing depends on the observations up to it)
    return bfast_monitor(stack, mon[tdim].values.min(), history="all", order=order, trend=trend, h=h, end=end,
                         level=level)


def bfast_break_date(history: xr.Dataset, monitor: xr.Dataset, *, index: str = "ndvi", order: int = 1,
                     trend: bool = True, h: float = 0.25, end: int = 10, level: float = 0.05,
                     mask: MaskChoice = "auto", bands: Mapping[str, str] | None = None) -> xr.DataArray:
    """BFAST-Monitor (:func:`landpulse.change.bfast_monitor`, OLS-MOSUM, the whole history window
    as the stable history) of ``index``: the decimal year of the first break in the monitoring
    period, float32, NaN where there is none (or too few observations)."""
    out = _bfast(history, monitor, index, order, trend, h, end, level, mask, bands)
    date = out["break_date"].where(out["breaks"] == 1).astype("float32").rename("bfast_break_date")
    date.attrs = {**out["break_date"].attrs, ALERTS_ATTR: "break_date"}
    return date


def bfast_magnitude(history: xr.Dataset, monitor: xr.Dataset, *, index: str = "ndvi", order: int = 1,
                    trend: bool = True, h: float = 0.25, end: int = 10, level: float = 0.05,
                    mask: MaskChoice = "auto", bands: Mapping[str, str] | None = None) -> xr.DataArray:
    """BFAST-Monitor's magnitude (median residual of the monitoring period, index units), float32."""
    out = _bfast(history, monitor, index, order, trend, h, end, level, mask, bands)
    return out["magnitude"].rename("bfast_magnitude")


_TREND = ((0, 1, 2, 255), ("no_trend", "increasing", "decreasing", "nodata"))
for _product in (
    Product("index_composite", index_composite, kind="window", quicklook="index",
            description="median, max or percentile composite of an index over a window, float32"),
    Product("clear_count", clear_count, kind="window", dtype="uint16", quicklook="magnitude",
            description="clear observations of an index over a window, uint16"),
    Product("trend_slope", trend_slope, kind="window", quicklook="difference",
            description="Theil-Sen slope of an index over a window (per year), float32"),
    Product("trend_class", trend_class, kind="window", dtype="uint8", flags=_TREND,
            description="Mann-Kendall trend class of an index over a window, uint8, nodata 255"),
    Product("water_frequency", water_frequency, kind="window", quicklook="frequency",
            description="wet / clear observations of index water over a window, float32, NaN without a clear one"),
    Product("water_wet", water_wet, kind="window", dtype="uint16", quicklook="magnitude",
            description="clear observations classified as water over a window, uint16"),
    Product("water_clear", water_clear, kind="window", dtype="uint16", quicklook="magnitude",
            description="clear observations of the water classifier over a window, uint16"),
    Product("water_permanence", water_permanence, kind="window", dtype="uint8",
            flags=(SUMMARY_FLAG_VALUES, SUMMARY_FLAG_MEANINGS),
            description="never / seasonal / permanent water over a window, uint8, nodata 255"),
    Product("water_change", water_change, kind="comparison", dtype="uint8",
            flags=(CHANGE_FLAG_VALUES, CHANGE_FLAG_MEANINGS),
            description="water change between a reference window and the current one, uint8, nodata 255"),
    Product("dndvi_composite", dndvi_composite, kind="comparison", inputs=("red", "nir"), quicklook="difference",
            description="NDVI difference of two windows' median composites, float32"),
    Product("dnbr_composite", dnbr_composite, kind="comparison", inputs=("nir", "swir22"), quicklook="difference",
            description="dNBR of pre- and post-event median composites, float32"),
    Product("burn_severity", burn_severity, kind="comparison", inputs=("nir", "swir22"), dtype="uint8",
            flags=(tuple(range(1, len(DNBR_CLASSES) + 1)), tuple(DNBR_CLASSES)),
            description="USGS burn-severity classes of pre/post median composites, uint8, nodata 255"),
    Product("index_anomaly", index_anomaly, kind="comparison", quicklook="difference",
            description="z-score of a window's median composite against a baseline window, float32"),
    Product("bfast_break_date", bfast_break_date, kind="monitoring", inputs=("red", "nir"), quicklook="magnitude",
            description="BFAST-Monitor date of the first break since the history (decimal year), float32"),
    Product("bfast_magnitude", bfast_magnitude, kind="monitoring", inputs=("red", "nir"), quicklook="difference",
            description="BFAST-Monitor magnitude of the monitoring period, float32"),
):
    register_product(_product)


__all__ = ["ALERTS_ATTR", "ALERT_CLASSES_ATTR", "bfast_break_date", "bfast_magnitude", "burn_severity", "clear_count", "dnbr_composite", "dndvi_composite", "index_anomaly", "water_change", "composite_percentile", "index_composite", "index_series", "trend_class", "trend_slope",
           "WINDOW_PATH_ENV", "window_reduce", "water_clear", "water_frequency", "water_permanence", "water_wet"]
