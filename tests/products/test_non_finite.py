"""Non-finite values (NaN, +inf, -inf) are invalid observations in every product, never counted
(RELIABILITY): a series with +-inf gives exactly what the same series with NaN there gives, and a
scene band holding inf is no clear observation. Every backend, through the one fixture."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import xarray as xr

import landpulse
from landpulse import change, water
from landpulse.products.provenance import PROVENANCE_ATTR
from tests.support import Placement

DAY = np.timedelta64(1, "D")


def series(seed: int = 5, T: int = 60, npix: int = 12) -> xr.DataArray:
    """Generated seasonal NDVI-like values with gaps (float32, NaN gaps), (time, y, x) on a UTM grid."""
    rng = np.random.default_rng(seed)
    t = np.arange(T)
    y = 0.5 + 0.2 * np.sin(2 * np.pi * t / 23)[:, None] + 0.03 * rng.standard_normal((T, npix))
    y[rng.random(y.shape) < 0.2] = np.nan
    times = np.datetime64("2016-01-01", "ns") + (t * 16).astype("timedelta64[D]")
    da = xr.DataArray(y.astype(np.float32)[:, :, None], dims=("time", "y", "x"), name="ndvi",
                      coords={"time": times, "y": 5000.0 - 10 * np.arange(npix), "x": [100.0]})
    return da.rio.write_crs("EPSG:32632")


PRODUCTS: dict[str, Callable[[xr.DataArray], Any]] = {
    "bfast_monitor": lambda s: change.bfast_monitor(s, s.time.values[40], history="all"),
    "zscore_anomaly": lambda s: change.zscore_anomaly(s, s.time.values[30]),
    "theil_sen": lambda s: change.theil_sen(s),
    "median_composite": lambda s: change.composite(s, "median"),
}


@pytest.mark.parametrize("name", sorted(PRODUCTS))
def test_infinities_count_as_missing_in_time_series_products(name: str, backend: Placement) -> None:
    clean = series()
    values = clean.values.copy()
    rng = np.random.default_rng(1)
    where = np.isfinite(values) & (rng.random(values.shape) < 0.1)
    assert where.sum() > 10
    with_nan, with_inf = values.copy(), values.copy()
    with_nan[where] = np.nan
    with_inf[where] = np.where(rng.random(int(where.sum())) < 0.5, np.inf, -np.inf).astype(np.float32)
    a = backend.host(PRODUCTS[name](backend(clean.copy(data=with_nan)))).compute()
    b = backend.host(PRODUCTS[name](backend(clean.copy(data=with_inf)))).compute()
    xr.testing.assert_identical(_without_created(a), _without_created(b))


def _without_created(obj: Any) -> Any:
    """``obj`` with the creation time left out of its provenance (two computations a second apart
    differ only there)."""
    obj = obj.copy()
    for var in [obj] if isinstance(obj, xr.DataArray) else list(obj.data_vars.values()):
        text = var.attrs.get(PROVENANCE_ATTR)
        if text:
            var.attrs[PROVENANCE_ATTR] = json.dumps({k: v for k, v in json.loads(text).items() if k != "created"},
                                                    sort_keys=True)
    return obj


def test_an_infinite_band_is_no_clear_dry_observation_for_wofs_or_indices(backend: Placement) -> None:
    # float32 reflectance x 1e4 (the openEO export's kind), N44's values (water when clear)
    v = (100, 1000, 300, 450, 1857, 600)
    names = ("blue", "green", "red", "nir", "swir16", "swir22")
    bands = {n: np.full((1, 4), x, np.float32) for n, x in zip(names, v, strict=True)}
    bands["nir"][0, 1] = np.inf
    bands["swir16"][0, 2] = -np.inf
    for n in names:
        bands[n][0, 3] = np.inf
    ds = xr.Dataset({n: (("y", "x"), a) for n, a in bands.items()},
                    coords={"y": [5000.0], "x": 100.0 + 10 * np.arange(4)}).rio.write_crs("EPSG:32632")
    for n in names:
        ds[n].attrs["common_name"] = n
    ds = landpulse.declare_radiometry(ds, scale=1e-4, offset=0.0)
    out = water.wofs(backend(ds))
    flags = backend.host(out.wofs).values.tolist()
    assert flags == [[128, 2, 2, 1]]  # clear water; non-contiguous twice; every band missing -> nodata
    assert backend.host(out.water).values.tolist() == [[1, 255, 255, 255]]
    ndvi = backend.host(landpulse.ndvi(backend(ds))).values
    assert np.isfinite(ndvi[0, [0, 2]]).all() and np.isnan(ndvi[0, [1, 3]]).all()  # (NDVI reads no swir16)
