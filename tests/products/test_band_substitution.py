"""A band is never substituted for another unless the sensor registry declares them equivalent
(RELIABILITY): a Sentinel-2 scene without its nir (B08) asset is refused, not computed from nir08
(B8A); on Landsat, whose only NIR band is the narrow one, nir08 serves and the products say so."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

import landpulse
from landpulse.errors import MissingBandError


def scene(sensor: str, bands: dict[str, str]) -> xr.Dataset:
    """A small raw-DN scene (generated values) with the given ``{variable: common_name}`` bands."""
    rng = np.random.default_rng(0)
    ds = xr.Dataset({v: (("y", "x"), rng.integers(1000, 5000, (4, 5)).astype(np.uint16)) for v in bands},
                    coords={"y": 5000.0 - 10 * np.arange(4), "x": 100.0 + 10 * np.arange(5)}).rio.write_crs("EPSG:32632")
    for v, common in bands.items():
        ds[v].attrs["common_name"] = common
    ds.attrs["sensor"] = json.dumps([sensor])
    return landpulse.declare_radiometry(ds, scale=1e-4, offset=0.0)


def test_sentinel2_without_nir_is_refused_not_computed_from_b8a() -> None:
    ds = scene("sentinel2-l2a", {"B04": "red", "B8A": "nir08"})
    with pytest.raises(MissingBandError, match="does not declare 'nir08' equivalent to 'nir'") as err:
        landpulse.ndvi(ds)
    assert "bands={'nir': 'B8A'}" in str(err.value)
    explicit = landpulse.ndvi(ds, bands={"nir": "B8A"})  # the user's explicit choice is honoured
    assert json.loads(explicit.attrs["landpulse_provenance"])["inputs"] == {"nir": "B8A", "red": "B04"}  # recorded
    assert np.isfinite(explicit.values).all()


def test_a_store_declaring_no_sensor_gets_no_substitution() -> None:
    ds = scene("sentinel2-l2a", {"B04": "red", "B8A": "nir08"})
    del ds.attrs["sensor"]
    with pytest.raises(MissingBandError, match="declares no sensor"):
        landpulse.ndvi(ds)


def test_landsat_nir08_serves_as_nir_and_the_product_records_it() -> None:
    ds = scene("landsat8-9-c2-l2", {"SR_B4": "red", "SR_B5": "nir08"})
    out = landpulse.ndvi(ds)
    assert out.attrs["formula_bands"] == "N=nir08 R=red"  # the substitution is recorded
    red, nir = (ds[v].values.astype(np.float64) * 1e-4 for v in ("SR_B4", "SR_B5"))
    np.testing.assert_allclose(out.values, (nir - red) / (nir + red), rtol=1e-6)
