"""Per-pixel time series: z-score anomalies, Theil-Sen/Mann-Kendall trends, BFAST-Monitor.

Every function takes a ``(time, y, x)`` stack of index values with NaN where an observation is
missing or masked (clouds), and returns one result per pixel. The kernels need the whole time
axis of a pixel in one block: Dask stacks are rechunked to time-contiguous blocks of bounded
size (:func:`landpulse.backend.chunking.time_contiguous`), so a store written one date per
chunk works too; a task then holds about (dates x stored chunk bytes) while reading.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any, Literal

import numpy as np
import xarray as xr

from landpulse.backend import apply_kernel
from landpulse.backend.chunking import DEFAULT_BLOCK_BYTES, time_contiguous
from landpulse.errors import InputError
from landpulse.products.change.critvals import mosum_critical_value, rec_cusum_critical_value
from landpulse.products.common import (
    as_values,
    check_sorted,
    class_attrs,
    days_since_first,
    decimal_years,
    finish,
    time_dim_of,
    time_point,
)

MAX_DATES = 65535  # counts are uint16


def _prepare(stack: xr.DataArray, time_dim: str | None, budget: int) -> tuple[xr.DataArray, str]:
    if not isinstance(stack, xr.DataArray):
        raise InputError("time-series functions take a DataArray (time, y, x) of index values")
    tdim = time_dim_of(stack, time_dim)
    if stack.sizes[tdim] > MAX_DATES:
        raise InputError(f"at most {MAX_DATES} dates per series; got {stack.sizes[tdim]}")
    y = as_values(stack)
    y.name = stack.name or "values"
    return time_contiguous(y, [tdim], budget), tdim


def zscore_anomaly(
    stack: xr.DataArray,
    baseline_end: Any,
    *,
    baseline_start: Any = None,
    min_obs: int = 2,
    time_dim: str | None = None,
    chunk_budget: int = DEFAULT_BLOCK_BYTES,
) -> xr.Dataset:
    """Z-score of each new observation against the pixel's baseline statistics.

    ``z = (y_t - mean) / std`` with the mean and sample standard deviation (ddof 1, computed in
    float64) of the pixel's valid observations in ``[baseline_start, baseline_end)``.

    Parameters
    ----------
    stack : xarray.DataArray
        ``(time, y, x)`` values, NaN where missing.
    baseline_end : date-like or float
        End of the baseline (exclusive); observations from it on are scored.
    baseline_start : date-like or float, optional
        Start of the baseline (inclusive; default: the first date).
    min_obs : int
        Fewest valid baseline observations for a score (at least 2).

    Returns
    -------
    xarray.Dataset
        ``zscore`` float32 ``(time, y, x)`` over the dates >= ``baseline_end`` (NaN where the
        observation is missing, the baseline has fewer than ``min_obs`` observations or zero
        spread), ``baseline_count`` uint16 (0 for all-NaN pixels), ``baseline_mean`` and
        ``baseline_std`` float32.
    """
    y, tdim = _prepare(stack, time_dim, chunk_budget)
    ty = decimal_years(stack[tdim].values)
    end = time_point(baseline_end, ty)
    start = time_point(baseline_start, ty) if baseline_start is not None else -math.inf
    base = ((ty >= start) & (ty < end)).astype(np.uint8)
    if not base.any():
        raise InputError(f"no date of the stack falls in the baseline [{baseline_start}, {baseline_end})")
    new = ty >= end
    z, count, mean, std = apply_kernel("zscore", y, core_dims=[[tdim]], output_core_dims=[[tdim], [], [], []],
                                       kwargs={"baseline": base, "min_obs": max(2, int(min_obs))},
                                       output_dtypes=(np.float32, np.uint16, np.float32, np.float32))
    inputs = {"stack": stack}
    params = {"baseline_start": str(baseline_start), "baseline_end": str(baseline_end), "min_obs": int(min_obs)}
    z = z.isel({tdim: np.flatnonzero(new)})
    return xr.Dataset({
        "zscore": finish(z, stack, "zscore", {"long_name": "z-score against the baseline", "units": "1"}, inputs, params),
        "baseline_count": finish(count, stack, "baseline_count", {"long_name": "valid baseline observations", "units": "1"}, inputs, params),
        "baseline_mean": finish(mean, stack, "baseline_mean", {"long_name": "baseline mean"}, inputs, params),
        "baseline_std": finish(std, stack, "baseline_std", {"long_name": "baseline sample standard deviation"}, inputs, params),
    })


def theil_sen(
    stack: xr.DataArray,
    *,
    alpha: float = 0.05,
    min_obs: int = 3,
    time_dim: str | None = None,
    chunk_budget: int = DEFAULT_BLOCK_BYTES,
) -> xr.Dataset:
    """Theil-Sen slope with the Mann-Kendall trend test (tie-corrected variance), per pixel.

    The slope is the median of the pairwise slopes ``(y_j - y_i) / (t_j - t_i)`` over valid
    pairs (Sen 1968), per year (days / 365.25). The test statistic is Mann-Kendall's S with
    ``Var(S) = [n(n-1)(2n+5) - sum_g t_g(t_g-1)(2t_g+5)] / 18`` (ties in the values) and the
    continuity-corrected ``Z = (S - sign S) / sqrt(Var S)``; p-value two-sided, normal.

    Parameters
    ----------
    stack : xarray.DataArray
        ``(time, y, x)`` values, NaN where missing.
    alpha : float
        Significance level of the trend class.
    min_obs : int
        Fewest valid observations for a result.

    Returns
    -------
    xarray.Dataset
        ``slope`` float32 (units per year), ``p_value`` float32, ``trend`` uint8 (0 no
        significant trend, 1 significant increase, 2 significant decrease, 255 nodata) and
        ``n_obs`` uint16 (valid observations; 0 for all-NaN pixels).
    """
    if not 0.0 < alpha < 1.0:
        raise InputError(f"alpha must be in (0, 1); got {alpha}")
    y, tdim = _prepare(stack, time_dim, chunk_budget)
    times = stack[tdim].values
    check_sorted(decimal_years(times), "theil_sen")
    tdays = days_since_first(times).astype(np.float32)
    z_crit = NormalDist().inv_cdf(1.0 - alpha / 2.0)
    slope, pval, cls, count = apply_kernel(
        "trend", y, core_dims=[[tdim]],
        kwargs={"tdays": tdays, "min_obs": max(2, int(min_obs)), "z_crit": z_crit, "per_year": 365.25},
        output_dtypes=(np.float32, np.float32, np.uint8, np.uint16))
    inputs = {"stack": stack}
    params = {"alpha": alpha, "min_obs": int(min_obs)}
    units = stack.attrs.get("units", "1")
    return xr.Dataset({
        "slope": finish(slope, stack, "slope", {"long_name": "Theil-Sen slope", "units": f"{units} per year"}, inputs, params),
        "p_value": finish(pval, stack, "p_value", {"long_name": "Mann-Kendall two-sided p-value", "units": "1"}, inputs, params),
        "trend": finish(cls, stack, "trend", class_attrs(
            "Mann-Kendall trend class", ["no_trend", "increase", "decrease"], [0, 1, 2], alpha=alpha), inputs, params),
        "n_obs": finish(count, stack, "n_obs", {"long_name": "valid observations", "units": "1"}, inputs, params),
    })


def bfast_design(tyear: np.ndarray, order: int, trend: bool) -> np.ndarray:
    """Season-trend regressors of BFAST: intercept, trend (years since the first date; R uses the
    observation index, an affine reparametrisation with the same fit), cos(2 pi j t) and
    sin(2 pi j t) for j = 1..order (t in decimal years), float64 ``(time, k)``."""
    cols = [np.ones_like(tyear)]
    if trend:
        cols.append(tyear - tyear[0])
    w = 2.0 * np.pi * tyear
    cols += [np.cos(j * w) for j in range(1, order + 1)]
    cols += [np.sin(j * w) for j in range(1, order + 1)]
    return np.ascontiguousarray(np.stack(cols, axis=1))


def bfast_monitor(
    stack: xr.DataArray,
    monitor_start: Any,
    *,
    history: Literal["roc", "all"] | Any = "roc",
    order: int = 3,
    trend: bool = True,
    h: float = 0.25,
    end: int = 10,
    level: float = 0.05,
    time_dim: str | None = None,
    chunk_budget: int = DEFAULT_BLOCK_BYTES,
) -> xr.Dataset:
    """BFAST-Monitor (Verbesselt, Zeileis & Herold 2012), per pixel, on the CPU or the GPU.

    Follows R ``bfast::bfastmonitor`` with ``type = "OLS-MOSUM"``: a season-trend model
    (intercept, linear trend, ``order`` harmonics) is fitted by ordinary least squares on the
    stable history period; the MOSUM of the residuals over a window of ``floor(h n)``
    observations, scaled by ``sigma sqrt(n)``, is monitored from ``monitor_start`` on against the
    boundary ``lambda sqrt(2 log+(m / n))`` (``log+ x = max(1, log x)``, ``n`` valid history
    observations, ``m`` the observation number; lambda from strucchange's table for ``h``,
    ``end`` and ``level``). Missing observations (NaN) are dropped per pixel, as R's
    ``bfastpp(na.action = na.omit)``.

    Parameters
    ----------
    stack : xarray.DataArray
        ``(time, y, x)`` index values (NDVI...), NaN where missing; time strictly increasing,
        datetime64 or decimal years.
    monitor_start : date-like or float
        First date of the monitoring period.
    history : {'roc', 'all'} or date-like
        Stable history: reverse-ordered CUSUM test (``'roc'``, R's default: the history starts
        after the last break the test finds at ``level``), every date before
        ``monitor_start`` (``'all'``), or from a given date.
    order : int
        Harmonic order (1..6; R default 3).
    trend : bool
        Include the linear trend term (R ``response ~ trend + harmon``; False gives
        ``response ~ harmon``).
    h : {0.25, 0.5, 1}
        MOSUM bandwidth relative to the history size (R default 0.25).
    end : {2, 4, 6, 8, 10}
        Monitoring horizon relative to the history that the critical value is tabulated for
        (R default 10).
    level : float
        Significance level of the monitoring and of the ROC test (0.001..0.05; R default 0.05).

    Returns
    -------
    xarray.Dataset
        ``breaks`` uint8 (0 no break, 1 break, 255 nodata: too few observations, fewer than
        k + 1 or ``floor(h n) <= 1``), ``break_date`` float32 decimal year of the first boundary
        crossing (NaN if none), ``magnitude`` float32 median residual of the monitoring period
        (as R), ``history_start`` float32 decimal year where the stable history starts,
        ``n_history`` and ``n_monitor`` uint16 valid observations used (0 for all-NaN pixels).
    """
    if not 1 <= int(order) <= 6:
        raise InputError(f"order must be 1..6; got {order}")
    lam = mosum_critical_value(h, end, level)
    lam_roc = rec_cusum_critical_value(level)
    y, tdim = _prepare(stack, time_dim, chunk_budget)
    ty = decimal_years(stack[tdim].values)
    check_sorted(ty, "bfast_monitor")
    start = time_point(monitor_start, ty)
    mon0 = int(np.searchsorted(ty, start, side="left"))
    if mon0 == 0:
        raise InputError(f"monitor_start {monitor_start} leaves no history: it is on or before the first date")
    roc = False
    hist0 = 0
    if isinstance(history, str) and history.lower() in ("roc", "all"):
        roc = history.lower() == "roc"
    elif history is not None:
        hist0 = int(np.searchsorted(ty, time_point(history, ty), side="left"))
        if hist0 >= mon0:
            raise InputError(f"history start {history} is not before monitor_start {monitor_start}")
    X = bfast_design(ty, int(order), bool(trend))
    logtab = np.log(np.maximum(np.arange(ty.size + 1, dtype=np.float64), 1.0))
    flag, bdate, mag, hstart, nh, nm = apply_kernel(
        "bfast_monitor", y, core_dims=[[tdim]],
        kwargs={"design": X, "tyear": ty, "logtab": logtab, "hist0": hist0, "mon0": mon0, "roc": roc,
                "hfrac": float(h), "lam": lam, "lam_roc": lam_roc},
        output_dtypes=(np.uint8, np.float32, np.float32, np.float32, np.uint16, np.uint16))
    inputs = {"stack": stack}
    params = {"monitor_start": str(monitor_start), "history": str(history), "order": int(order), "trend": bool(trend),
              "h": float(h), "end": int(end), "level": float(level), "lambda": lam, "lambda_roc": lam_roc,
              "type": "OLS-MOSUM"}
    ref = "Verbesselt, J., Zeileis, A. and Herold, M. (2012), Near real-time disturbance detection using satellite image time series, Remote Sensing of Environment 123, 98-108"
    return xr.Dataset({
        "breaks": finish(flag, stack, "breaks", class_attrs("BFAST-Monitor break", ["no_break", "break"], [0, 1],
                                                             references=ref), inputs, params),
        "break_date": finish(bdate, stack, "break_date", {"long_name": "date of the first break", "units": "year (decimal)"},
                             inputs, params),
        "magnitude": finish(mag, stack, "magnitude", {"long_name": "median residual in the monitoring period",
                                                      "units": stack.attrs.get("units", "1")}, inputs, params),
        "history_start": finish(hstart, stack, "history_start", {"long_name": "start of the stable history",
                                                                 "units": "year (decimal)"}, inputs, params),
        "n_history": finish(nh, stack, "n_history", {"long_name": "valid observations in the stable history", "units": "1"},
                            inputs, params),
        "n_monitor": finish(nm, stack, "n_monitor", {"long_name": "valid observations in the monitoring period", "units": "1"},
                            inputs, params),
    })
