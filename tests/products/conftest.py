"""Fixtures shared by the product tests."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import landpulse


@pytest.fixture(scope="module")
def ndvi(bolzano: xr.Dataset) -> xr.DataArray:
    """Real NDVI of two dates (2022-06-14 clear, 2022-06-20 two thirds cloudy), SCL 0, 3, 8, 9, 10 as NaN."""
    nd = landpulse.ndvi(bolzano).isel(t=[4, 6]).compute()
    scl = bolzano["SCL"].isel(t=[4, 6]).compute()
    return nd.where(~scl.isin([0, 3, 8, 9, 10])).astype(np.float32).rio.write_crs("EPSG:32632")
