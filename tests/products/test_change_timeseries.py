"""Trend (Theil-Sen + Mann-Kendall), z-score anomalies and period composites.

Oracles: ``scipy.stats.theilslopes``; a direct Mann-Kendall (S by double loop, tie-corrected
variance by ``numpy.unique`` group sizes, normal p-value from SciPy); ``numpy.nanmedian``,
``numpy.nanmean``/``nanstd``; planted trends and anomalies.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import landpulse
from landpulse import change
from landpulse.errors import InputError
from tests.support import Placement

DAY = np.timedelta64(1, "D")


def stack(y: np.ndarray, days: np.ndarray | None = None, name: str = "ndvi") -> xr.DataArray:
    T, ny, nx = y.shape
    days = np.arange(T) * 16 if days is None else days
    times = (np.datetime64("2020-01-01") + days.astype("timedelta64[D]")).astype("datetime64[ns]")
    da = xr.DataArray(y.astype(np.float32), dims=("time", "y", "x"), name=name,
                      coords={"time": times, "y": 5200015.0 - 10 * np.arange(ny), "x": 600005.0 + 10 * np.arange(nx)})
    return da.rio.write_crs("EPSG:32632")


def mann_kendall_reference(y: np.ndarray) -> tuple[int, float, float]:
    y = y[np.isfinite(y)].astype(np.float64)
    n = y.size
    s = sum(np.sign(y[j] - y[i]) for i in range(n) for j in range(i + 1, n))
    _, counts = np.unique(y, return_counts=True)
    var = (n * (n - 1) * (2 * n + 5) - np.sum(counts * (counts - 1) * (2 * counts + 5))) / 18
    z = 0.0 if s == 0 or var <= 0 else (s - np.sign(s)) / np.sqrt(var)
    return int(s), z, 2 * stats.norm.sf(abs(z))


def noisy(T: int, npix: int, seed: int, gap: float = 0.25) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y = 0.3 + 0.002 * rng.integers(-20, 21, (T, 1, npix)) * np.arange(T)[:, None, None] / T \
        + 0.05 * rng.standard_normal((T, 1, npix))
    y = np.round(y, 2)  # ties
    y[rng.random(y.shape) < gap] = np.nan
    return y.astype(np.float32)


def test_theil_sen_and_mann_kendall_match_references() -> None:
    T = 24
    y = noisy(T, 300, 0)
    days = np.arange(T) * 16
    out = change.theil_sen(stack(y, days))
    t_days = days.astype(np.float64)
    for p in range(y.shape[2]):
        v = y[:, 0, p]
        ok = np.isfinite(v)
        ref_slope = stats.theilslopes(v[ok].astype(np.float64), t_days[ok])[0] * 365.25
        assert float(out.slope.values[0, p]) == pytest.approx(ref_slope, rel=1e-5, abs=1e-6)
        s, z, pv = mann_kendall_reference(v)
        assert float(out.p_value.values[0, p]) == pytest.approx(pv, rel=1e-5, abs=1e-7)
        expected = 0 if pv >= 0.05 else (1 if s > 0 else 2)
        if abs(pv - 0.05) > 1e-6:
            assert int(out.trend.values[0, p]) == expected
        assert int(out.n_obs.values[0, p]) == ok.sum()


def test_planted_trend(backend: Placement) -> None:
    T = 46
    t = np.arange(T) * 16
    rng = np.random.default_rng(1)
    y = np.empty((T, 2, 3), np.float32)
    y[:, 0] = (0.2 + 0.1 * t / 365.25)[:, None] + 0.01 * rng.standard_normal((T, 3))  # +0.1 per year
    y[:, 1] = (0.8 - 0.05 * t / 365.25)[:, None] + 0.01 * rng.standard_normal((T, 3))
    y[::5] = np.nan
    out = backend.host(change.theil_sen(backend(stack(y, t))))
    np.testing.assert_allclose(out.slope.values[0], 0.1, atol=0.01)
    np.testing.assert_allclose(out.slope.values[1], -0.05, atol=0.01)
    assert np.all(out.trend.values[0] == 1) and np.all(out.trend.values[1] == 2)
    assert out.slope.attrs["units"].endswith("per year")


def test_trend_all_nan_and_short_pixels() -> None:
    y = noisy(12, 3, 2, gap=0.0)
    y[:, 0, 0] = np.nan
    y[2:, 0, 1] = np.nan
    out = change.theil_sen(stack(y))
    assert out.n_obs.values[0, 0] == 0 and out.trend.values[0, 0] == 255 and np.isnan(out.slope.values[0, 0])
    assert out.n_obs.values[0, 1] == 2 and out.trend.values[0, 1] == 255
    assert out.trend.dtype == np.uint8 and out.n_obs.dtype == np.uint16


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(-5, 5)), min_size=3, max_size=20))
def test_mann_kendall_property(values: list[int | None]) -> None:
    y = np.array([np.nan if v is None else v / 10 for v in values], np.float32)
    out = change.theil_sen(stack(y[:, None, None]), min_obs=3)
    n = int(np.isfinite(y).sum())
    assert int(out.n_obs.values[0, 0]) == n
    if n >= 3:
        _, _, pv = mann_kendall_reference(y)
        assert float(out.p_value.values[0, 0]) == pytest.approx(pv, rel=1e-5, abs=1e-7)


def test_zscore_anomaly(backend: Placement) -> None:
    T = 20
    y = noisy(T, 50, 3, gap=0.2)
    y[15, 0, :10] = 2.0  # planted anomaly
    y[:, 0, 40] = np.nan
    da = stack(y)
    end = da.time.values[12]
    out = backend.host(change.zscore_anomaly(backend(da), end))
    assert out.zscore.sizes["time"] == T - 12
    base = y[:12, 0]
    with np.errstate(invalid="ignore"), pytest.warns(RuntimeWarning):
        mean, sd = np.nanmean(base.astype(np.float64), axis=0), np.nanstd(base.astype(np.float64), axis=0, ddof=1)
    with np.errstate(invalid="ignore"):
        ref = (y[12:, 0] - mean) / sd
    np.testing.assert_allclose(out.zscore.values[:, 0], ref, rtol=1e-5, atol=1e-6)
    assert np.all(out.zscore.values[3, 0, :10] > 5)
    assert out.baseline_count.values[0, 40] == 0 and np.all(np.isnan(out.zscore.values[:, 0, 40]))
    np.testing.assert_array_equal(out.baseline_count.values[0], np.isfinite(base).sum(axis=0))


def test_zscore_chunked_equals_unchunked_and_time_chunks_are_merged() -> None:
    y = noisy(16, 40, 4)
    da = stack(y)
    whole = change.zscore_anomaly(da, da.time.values[8], min_obs=3)
    lazy = change.zscore_anomaly(da.chunk({"time": 1, "x": 7}), da.time.values[8], min_obs=3)
    for v in whole.data_vars:
        np.testing.assert_array_equal(lazy[v].values, whole[v].values)


def test_zscore_needs_a_baseline() -> None:
    da = stack(noisy(5, 2, 0))
    with pytest.raises(InputError, match="baseline"):
        change.zscore_anomaly(da, da.time.values[0])


def test_trend_chunked_equals_unchunked() -> None:
    da = stack(noisy(18, 60, 5))
    whole = change.theil_sen(da)
    lazy = change.theil_sen(da.chunk({"time": 3, "x": 11}), chunk_budget=18 * 11 * 4)
    for v in whole.data_vars:
        np.testing.assert_array_equal(lazy[v].values, whole[v].values)


# --- composites ------------------------------------------------------------------------------------

def bands_stack(seed: int = 0) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    T, ny, nx = 9, 6, 7
    red = rng.uniform(0.02, 0.2, (T, ny, nx))
    nir = rng.uniform(0.2, 0.5, (T, ny, nx))
    red[rng.random(red.shape) < 0.3] = np.nan   # clouds masked as NaN
    ds = xr.Dataset({"red": stack(red, name="red"), "nir": stack(nir, name="nir")})
    return landpulse.declare_radiometry(ds, scale=1.0, offset=0.0)


def test_median_composite_matches_nanmedian_and_counts(backend: Placement) -> None:
    ds = bands_stack()
    out = backend.host(change.composite(backend(ds), "median"))
    valid = np.isfinite(ds.red.values) & np.isfinite(ds.nir.values)
    for v in ("red", "nir"):
        ref = np.nanmedian(np.where(valid, ds[v].values, np.nan).astype(np.float32), axis=0)
        np.testing.assert_array_equal(out[v].values, ref)
    np.testing.assert_array_equal(out["n_obs"].values, valid.sum(axis=0))
    assert out.red.attrs["landpulse_radiometry"] == "reflectance"
    assert out.red.rio.crs.to_epsg() == 32632
    landpulse.ndvi(out)  # a composite feeds the index functions directly


def test_max_ndvi_composite_picks_the_greenest_valid_date(backend: Placement) -> None:
    ds = bands_stack(1)
    out = backend.host(change.composite(backend(ds), "max"))
    ndvi = ((ds.nir - ds.red) / (ds.nir + ds.red)).values
    best = np.nanargmax(np.where(np.isfinite(ndvi), ndvi, -np.inf), axis=0)
    np.testing.assert_array_equal(out.source_index.values, best)
    np.testing.assert_array_equal(out.red.values, np.take_along_axis(ds.red.values, best[None], 0)[0].astype(np.float32))


def test_composite_mask_period_and_all_nan() -> None:
    ds = bands_stack(2)
    ds["red"][:, 0, 0] = np.nan
    mask = xr.zeros_like(ds.red, dtype=bool)
    mask[0:3] = True
    out = change.composite(ds, "median", mask=mask, start=ds.time.values[0], end=ds.time.values[5])
    assert out["n_obs"].values[0, 0] == 0 and np.isnan(out.red.values[0, 0]) and np.isnan(out.nir.values[0, 0])
    valid = np.isfinite(ds.red.values[3:6]) & np.isfinite(ds.nir.values[3:6])
    np.testing.assert_array_equal(out["n_obs"].values, valid.sum(axis=0))
    two = change.composite(ds, "median", by={"early": (ds.time.values[0], ds.time.values[3]),
                                              "late": (ds.time.values[4], ds.time.values[8])})
    assert list(two.period.values) == ["early", "late"]


def test_composite_chunked_equals_unchunked(tmp_path: Path) -> None:
    ds = bands_stack(3)
    whole = change.composite(ds, "max")
    lazy = change.composite(ds.chunk({"time": 1, "y": 4}), "max")
    for v in whole.data_vars:
        np.testing.assert_array_equal(lazy[v].values, whole[v].values)


def test_composite_bad_method() -> None:
    with pytest.raises(InputError, match="median"):
        change.composite(bands_stack(), "mean")  # type: ignore[arg-type]
