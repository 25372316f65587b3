"""The two paths of the composite products give the same maps on the real Bolzano series.

The default path composites the index series with :func:`landpulse.change.composite`; the fused
kernel (``LANDPULSE_WINDOW_PATH=fused``) reads the raw bands of each block once. Both must agree on
real data (cloudy and clear dates, SCL mask, per-date radiometry), and the fused path must not
depend on the chunking.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import landpulse
from landpulse.errors import InputError
from landpulse.products.registry import get_product
from landpulse.products.temporal import WINDOW_PATH_ENV
from tests.support import BOLZANO, skip_or_fail

RADIOMETRY = {"scale": 1e-4, "offset": 0.0}


@pytest.fixture(scope="module")
def window() -> xr.Dataset:
    if not BOLZANO.exists():
        skip_or_fail("shared_data", f"shared data not found at {BOLZANO}")
    ds = landpulse.open_store(BOLZANO).isel(y=slice(200, 360), x=slice(300, 500))
    return landpulse.declare_radiometry(ds, **RADIOMETRY)  # type: ignore[arg-type]


def _both(monkeypatch: pytest.MonkeyPatch, name: str, ds: xr.Dataset, **params: object) -> tuple[np.ndarray, np.ndarray]:
    compute = get_product(name).compute
    monkeypatch.setenv(WINDOW_PATH_ENV, "xarray")
    reference = compute(ds, **params).values
    monkeypatch.setenv(WINDOW_PATH_ENV, "fused")
    fused = compute(ds.chunk({"t": 5, "y": 64, "x": 96}), **params).values
    return reference, fused


@pytest.mark.parametrize("params", [{"method": "median"}, {"method": "max"}, {"method": "percentile", "q": 90.0},
                                    {"method": "median", "index": "ndwi"}])
def test_fused_composites_equal_the_default_path(window: xr.Dataset, monkeypatch: pytest.MonkeyPatch,
                                                 params: dict[str, object]) -> None:
    reference, fused = _both(monkeypatch, "index_composite", window, **params)
    assert np.isfinite(reference).mean() > 0.5  # real values, not an all-cloudy window
    # the default path's percentile may differ by a float32 rounding of its interpolation (1 ulp;
    # near NDVI 0 that is ~1e-9 absolute); median, max and the count are bit-equal
    exact = params["method"] != "percentile"
    np.testing.assert_allclose(fused, reference, rtol=0 if exact else 2e-7, atol=0 if exact else 1e-8)
    np.testing.assert_array_equal(np.isnan(fused), np.isnan(reference))


def test_fused_clear_count_equals_the_default_path(window: xr.Dataset, monkeypatch: pytest.MonkeyPatch) -> None:
    reference, fused = _both(monkeypatch, "clear_count", window)
    np.testing.assert_array_equal(fused, reference)
    assert 0 < reference.max() <= window.sizes["t"]


def test_an_unknown_path_is_refused(window: xr.Dataset, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WINDOW_PATH_ENV, "numba")
    with pytest.raises(InputError, match=WINDOW_PATH_ENV):
        get_product("index_composite").compute(window)
