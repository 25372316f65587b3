"""BFAST-Monitor (dates are float32 decimal years: 1.2e-4 year = 1 hour resolution): R's published examples, an independent NumPy reference, planted breaks, gaps,
all-NaN pixels, chunking, CRS, every backend.

Oracles
-------
* R ``bfast::bfastmonitor`` on the ``som`` NDVI series, as printed in the package's example
  output (tests/Examples/bfast-Ex.Rout.save, R 4.1.0): stable-history start (ROC), history size
  (residual degrees of freedom + 8 coefficients), residual standard error and break date.
* ``tests/bfast_reference.py``: a straightforward NumPy/SciPy implementation written from the R
  code (lstsq fits, refitted recursive residuals, explicit MOSUM window sums).
The ``bfast`` package on PyPI (0.7) was tried as an oracle: it does not install on Python 3.11
with NumPy >= 1.24 (setup.py imports pyopencl, the code uses ``np.warnings``/``np.float``), and its
boundary uses a day-count ratio rather than R's observation count, so it is not used.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from landpulse import change
from landpulse.errors import InputError
from tests.support import Placement
from tests.support import bfast_reference as ref

DATA = Path(__file__).resolve().parents[1] / "support" / "data" / "bfast_som_ndvi.json"


def som() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = json.loads(DATA.read_text())
    t = d["start"][0] + (d["start"][1] - 1) / d["frequency"] + np.arange(len(d["ndvi_a"])) / d["frequency"]
    a = np.array([np.nan if v is None else v for v in d["ndvi_a"]], np.float32)
    b = np.array([np.nan if v is None else v for v in d["ndvi_b"]], np.float32)
    return t, a, b


def ts(year: int, period: int) -> float:
    """R's c(year, period) with frequency 23 as a decimal year."""
    return year + (period - 1) / 23


def stack_of(series: list[np.ndarray], t: np.ndarray, *, crs: bool = True) -> xr.DataArray:
    y = np.stack(series, axis=1)[:, :, None]  # (time, y=len(series), x=1)
    da = xr.DataArray(y, dims=("time", "y", "x"), name="ndvi",
                      coords={"time": t, "y": 5000.0 - 10 * np.arange(y.shape[1]), "x": [100.0]})
    return da.rio.write_crs("EPSG:32632") if crs else da


# --- R's published examples --------------------------------------------------------------------

R_EXAMPLES = [
    # series, kwargs, history start, n_history (df + k), break date (R output)
    ("a", {}, ts(2000, 4), 229 + 8, ts(2011, 3)),
    ("b", {}, ts(2007, 19), 55 + 8, ts(2010, 22)),
    ("b", {"history": ts(2008, 7), "order": 4}, ts(2008, 7), 52, ts(2010, 22)),
    ("b", {"trend": False, "order": 6}, ts(2000, 4), 225 + 13, None),
]


@pytest.mark.parametrize("series,kwargs,hist_start,n_hist,brk", R_EXAMPLES)
def test_r_bfastmonitor_examples(backend: Placement, series: str, kwargs: dict, hist_start: float, n_hist: int,
                                 brk: float | None) -> None:
    t, a, b = som()
    y = a if series == "a" else b
    out = change.bfast_monitor(backend(stack_of([y], t)), ts(2010, 13), **kwargs)
    out = backend.host(out)
    assert int(out.n_history.values[0, 0]) == n_hist
    assert float(out.history_start.values[0, 0]) == pytest.approx(hist_start, abs=1.3e-4)
    if brk is not None:
        assert int(out.breaks.values[0, 0]) == 1
        assert float(out.break_date.values[0, 0]) == pytest.approx(brk, abs=1.3e-4)
    assert int(out.n_monitor.values[0, 0]) == int(np.isfinite(y[t >= ts(2010, 13) - 1e-9]).sum())


def test_reference_reproduces_r_model_fit() -> None:
    """The reference itself against R: coefficients, sigma and R-squared of ``mona``/``monb``."""
    t, a, b = som()
    idx = np.arange(1, t.size + 1, dtype=float)  # R's trend: observation number of the regular ts
    ra = ref.bfastmonitor(a.astype(float), t, ts(2010, 13), trend_index=idx)
    assert ra is not None and ra.n_history == 237
    np.testing.assert_allclose(ra.coef, [0.3906913721, 0.0001376278, 0.0034256312, 0.0479024139, 0.0152613429,
                                         -0.0092576950, -0.1071534760, -0.0200069655], rtol=2e-6, atol=1e-9)
    assert ra.sigma == pytest.approx(0.08415, abs=5e-6)
    assert ra.breakpoint == pytest.approx(ts(2011, 3))
    rb = ref.bfastmonitor(b.astype(float), t, ts(2010, 13), trend_index=idx)
    assert rb is not None and rb.history_start == pytest.approx(ts(2007, 19))
    np.testing.assert_allclose(rb.coef, [0.403786818, 0.000517089, -0.058053468, 0.040185053, -0.007416574,
                                         -0.062640841, -0.048084840, 0.002732460], rtol=5e-6, atol=1e-8)
    assert rb.sigma == pytest.approx(0.09437, abs=5e-6)


# --- against the independent reference on many series with gaps --------------------------------

def synthetic(n_pix: int, seed: int, *, years: float = 4.0, per_year: int = 23, gap: float = 0.3,
              drop: float = -0.15, noise: float = 0.03) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    """Seasonal NDVI with noise and cloud gaps; half the pixels drop by ``drop`` at a planted date."""
    rng = np.random.default_rng(seed)
    T = int(years * per_year)
    t = 2016.0 + np.arange(T) / per_year
    season = 0.5 + 0.2 * np.sin(2 * np.pi * t) + 0.05 * np.cos(4 * np.pi * t)
    y = season[:, None] + noise * rng.standard_normal((T, n_pix)) + 0.01 * (t - t[0])[:, None]
    planted = 2019.3
    has_break = np.arange(n_pix) % 2 == 0
    y[np.ix_(t >= planted, has_break)] += drop
    y[rng.random(y.shape) < gap] = np.nan
    return t, y.astype(np.float32), planted, has_break


@pytest.mark.parametrize("history", ["roc", "all"])
def test_matches_independent_reference_with_gaps(history: str) -> None:
    t, y, _, _ = synthetic(120, seed=3)
    start = 2019.0
    out = change.bfast_monitor(stack_of(list(y.T), t), start, history=history)
    agree_date = 0
    for p in range(y.shape[1]):
        r = ref.bfastmonitor(y[:, p].astype(float), t, start, history=history)
        flag = int(out.breaks.values[p, 0])
        if r is None:
            assert flag == 255
            continue
        assert int(out.n_history.values[p, 0]) == r.n_history
        assert float(out.history_start.values[p, 0]) == pytest.approx(r.history_start, abs=1.3e-4)
        assert int(out.n_monitor.values[p, 0]) == r.n_monitor
        assert float(out.magnitude.values[p, 0]) == pytest.approx(r.magnitude, abs=2e-6)
        assert flag == (0 if math.isnan(r.breakpoint) else 1)
        if flag == 1:
            assert float(out.break_date.values[p, 0]) == pytest.approx(r.breakpoint, abs=1.3e-4)
            agree_date += 1
    assert agree_date > 20  # the comparison covered breaks, not only no-break pixels


def test_planted_break_found_after_it_happens(backend: Placement) -> None:
    t, y, planted, has_break = synthetic(200, seed=11, gap=0.2, drop=-0.2, noise=0.02)
    out = backend.host(change.bfast_monitor(backend(stack_of(list(y.T), t)), 2019.0, history="all"))
    flags = out.breaks.values[:, 0]
    dates = out.break_date.values[:, 0]
    assert (flags[has_break] == 1).mean() > 0.95
    assert np.all(dates[has_break & (flags == 1)] >= planted - 1e-6)
    assert np.all(dates[has_break & (flags == 1)] < planted + 0.5)  # within half a year of the drop
    assert (flags[~has_break] == 1).mean() < 0.15  # false alarms near the 5 % level
    np.testing.assert_allclose(out.magnitude.values[has_break, 0], -0.2 * 0.7, atol=0.08)  # part of monitoring is pre-break


def test_all_nan_and_short_pixels_are_nodata_with_counts() -> None:
    t, y, _, _ = synthetic(4, seed=1, gap=0.0)
    y[:, 0] = np.nan                  # all NaN
    y[: int(np.sum(t < 2019)) - 5, 1] = np.nan  # 5 history observations < k + 1
    y[t >= 2019, 2] = np.nan          # no monitoring observation
    out = change.bfast_monitor(stack_of(list(y.T), t), 2019.0, history="all")
    assert out.breaks.values[0, 0] == 255 and out.n_history.values[0, 0] == 0 and out.n_monitor.values[0, 0] == 0
    assert np.isnan(out.break_date.values[0, 0]) and np.isnan(out.magnitude.values[0, 0])
    assert np.isnan(out.history_start.values[0, 0])
    assert out.breaks.values[1, 0] == 255 and out.n_history.values[1, 0] == 5
    assert out.breaks.values[2, 0] == 0 and out.n_monitor.values[2, 0] == 0 and np.isnan(out.magnitude.values[2, 0])
    assert out.breaks.dtype == np.uint8 and out.n_history.dtype == np.uint16 and out.magnitude.dtype == np.float32


def test_chunked_equals_unchunked_and_date_chunked_store_is_rechunked(tmp_path: Path) -> None:
    t, y, _, _ = synthetic(60, seed=5)
    da = stack_of(list(y.T), t)
    whole = change.bfast_monitor(da, 2019.0)
    da.to_dataset().chunk({"time": 1, "y": 7}).to_zarr(tmp_path / "s.zarr", consolidated=False)
    lazy = xr.open_zarr(tmp_path / "s.zarr", consolidated=False)["ndvi"]
    assert lazy.chunks[0] == (1,) * t.size  # one date per chunk, as ingest writes
    chunked = change.bfast_monitor(lazy, 2019.0, chunk_budget=4 * t.size * 16)
    assert chunked.breaks.chunks is not None
    for v in whole.data_vars:
        np.testing.assert_array_equal(chunked[v].values, whole[v].values)


def test_metadata_crs_and_flags() -> None:
    t, y, _, _ = synthetic(3, seed=2)
    out = change.bfast_monitor(stack_of(list(y.T), t), 2019.0)
    assert out.breaks.rio.crs.to_epsg() == 32632
    assert list(out.breaks.attrs["flag_values"]) == [0, 1]
    assert out.breaks.attrs["flag_meanings"] == "no_break break"
    assert out.breaks.attrs["_FillValue"] == 255
    assert "time" not in out.dims


def test_datetime_axis_uses_decimal_years() -> None:
    t, y, _, _ = synthetic(6, seed=4, gap=0.1)
    days = np.round((t - 2016.0) * 365.0).astype("timedelta64[D]")
    times = (np.datetime64("2016-01-01") + days).astype("datetime64[ns]")
    out = change.bfast_monitor(stack_of(list(y.T), times), "2019-01-01", history="all")
    assert np.nanmax(out.break_date.values) < 2020.1 and np.nanmin(out.history_start.values) >= 2016.0


@pytest.mark.parametrize("kwargs,msg", [
    ({"h": 0.3}, "h = 0.3"),
    ({"end": 5}, "end = 5"),
    ({"level": 0.1}, "level"),
    ({"order": 7}, "order"),
])
def test_bad_parameters_are_clear_errors(kwargs: dict, msg: str) -> None:
    t, y, _, _ = synthetic(2, seed=0)
    with pytest.raises(InputError, match=msg):
        change.bfast_monitor(stack_of(list(y.T), t), 2019.0, **kwargs)


def test_monitor_start_before_data_is_an_error() -> None:
    t, y, _, _ = synthetic(2, seed=0)
    with pytest.raises(InputError, match="no history"):
        change.bfast_monitor(stack_of(list(y.T), t), 2010.0)
