"""The radiometric contract: scale/offset from metadata, the S2 baseline offset applied once."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import landpulse
from landpulse.errors import ProductMeaningWarning
from landpulse.io import ingest, scene_from_files, scene_from_stac_item
from landpulse.products.provenance import provenance
from landpulse.spec.sensors import get_sensor, parse_baseline
from tests.support import BOLZANO, EARTH_SEARCH_ITEM, WriteBand, skip_or_fail


@pytest.mark.parametrize("text,expected", [("05.09", (5, 9)), ("4.0", (4, 0)), ("N0509", (5, 9)), ("0400", (4, 0)), ("02.01", (2, 1))])
def test_parse_baseline(text: str, expected: tuple[int, int]) -> None:
    assert parse_baseline(text) == expected


def test_s2_offset_follows_the_baseline_not_the_date() -> None:
    l2a = get_sensor("sentinel2-l2a")
    assert l2a.offset_for("03.01") == 0.0
    assert l2a.offset_for("04.00") == -0.1
    assert l2a.offset_for("05.09") == -0.1
    with pytest.raises(landpulse.InputError, match="processing baseline"):
        l2a.offset_for(None)


def _surface(shape: tuple[int, int] = (6, 8)) -> tuple[np.ndarray, np.ndarray]:
    """Reflectances of one surface (values chosen to be exact in DN)."""
    rng = np.random.default_rng(3)
    red = rng.integers(100, 3000, shape) / 1e4
    nir = rng.integers(100, 6000, shape) / 1e4
    return red, nir


def test_mixed_baselines_give_identical_indices(write_band: WriteBand) -> None:
    # The same surface encoded by an old baseline (DN = 1e4 R) and a new one (DN = 1e4 R + 1000),
    # ingested into ONE store: identical NDVI on both dates, each offset applied once.
    red, nir = _surface()
    old = {b: write_band(f"old/{b}.tif", np.round(v * 1e4).astype(np.uint16)) for b, v in (("B04", red), ("B08", nir))}
    new = {b: write_band(f"new/{b}.tif", np.round(v * 1e4 + 1000).astype(np.uint16)) for b, v in (("B04", red), ("B08", nir))}
    s_old = scene_from_files(old, datetime="2021-06-01T10:00:00Z", sensor="sentinel2-l2a", processing_baseline="03.00", scene_id="old")
    s_new = scene_from_files(new, datetime="2022-06-01T10:00:00Z", sensor="sentinel2-l2a", processing_baseline="04.00", scene_id="new")
    store = ingest([s_new, s_old], old["B04"].parent.parent / "mixed.zarr")
    ds = landpulse.open_store(store)
    np.testing.assert_array_equal(ds["red_dn_offset"].values, [0.0, -0.1])
    np.testing.assert_array_equal(ds["processing_baseline"].values.astype(str), ["03.00", "04.00"])
    out = landpulse.ndvi(ds).values
    np.testing.assert_array_equal(out[0], out[1])
    np.testing.assert_allclose(out[0], (nir - red) / (nir + red), rtol=1e-6, atol=1e-6)
    refl = landpulse.to_reflectance(ds["red"]).values
    np.testing.assert_allclose(refl[1], red, atol=1e-7)  # offset applied once, not twice
    np.testing.assert_array_equal(refl[0], refl[1])


def test_offset_from_stac_raster_bands(tmp_path: Path, write_band: WriteBand) -> None:
    # The real Earth Search item (baseline 05.09) declares scale 1e-4, offset -0.1 in raster:bands.
    if not EARTH_SEARCH_ITEM.exists():
        skip_or_fail("shared_data", "shared data not found")
    item = json.loads(EARTH_SEARCH_ITEM.read_text())
    red, nir = _surface((10, 12))
    # Rewrite the remote hrefs to small local files on the same grid (the test needs no internet).
    for key, values in (("red", red), ("nir", nir)):
        path = write_band(f"{key}.tif", np.round(values * 1e4 + 1000).astype(np.uint16), origin=(600000.0, 5200020.0))
        item["assets"][key]["href"] = str(path)
    scene = scene_from_stac_item(item, bands=["red", "nir"])
    assert scene.processing_baseline == "05.09" and scene.sensor == "sentinel2-l2a"
    assert (scene.bands["red"].scale, scene.bands["red"].offset, scene.bands["red"].nodata) == (1e-4, -0.1, 0.0)
    ds = landpulse.open_store(ingest(scene, tmp_path / "es.zarr"))
    np.testing.assert_allclose(landpulse.ndvi(ds).values[0], (nir - red) / (nir + red), rtol=1e-6, atol=1e-6)


def test_remote_hrefs_are_kept_other_schemes_refused_clearly() -> None:
    if not EARTH_SEARCH_ITEM.exists():
        skip_or_fail("shared_data", "shared data not found")
    # https assets are read in place (landpulse.io.remote; tests/io/test_remote.py reads them)
    scene = scene_from_stac_item(EARTH_SEARCH_ITEM, bands=["red"])
    assert scene.bands["red"].href.startswith("https://")
    item = json.loads(EARTH_SEARCH_ITEM.read_text())
    item["assets"]["red"]["href"] = "gs://bucket/B04.tif?token=secret"
    with pytest.raises(landpulse.UnreadableInputError, match="gs://") as err:
        scene_from_stac_item(item, bands=["red"])
    assert "secret" not in str(err.value)


def _band(values: np.ndarray, **attrs: object) -> xr.Dataset:
    ds = xr.Dataset({"red": (("y", "x"), values), "nir": (("y", "x"), values)}, coords={"y": [0.0], "x": [0.0, 1.0]})
    for v in ds.data_vars:
        ds[v].attrs.update(attrs)
    return ds


def test_declaring_twice_is_impossible() -> None:
    ds = landpulse.declare_radiometry(_band(np.array([[1000, 2000]], np.uint16)), scale=1e-4, offset=-0.1)
    with pytest.raises(landpulse.RadiometryError, match="twice"):
        landpulse.declare_radiometry(ds, scale=1e-4, offset=-0.1, bands=["red"])


def test_reflectance_cannot_be_scaled_again() -> None:
    ds = landpulse.declare_radiometry(_band(np.array([[1000, 3000]], np.uint16)), scale=1e-4, offset=0.0)
    refl = ds.assign(red=landpulse.to_reflectance(ds["red"]), nir=landpulse.to_reflectance(ds["nir"]))
    np.testing.assert_allclose(landpulse.ndvi(refl).values, landpulse.ndvi(ds).values, rtol=1e-6)
    with pytest.raises(landpulse.RadiometryError, match="twice"):
        landpulse.declare_radiometry(refl, scale=1e-4, offset=0.0, bands=["red"])
    # a reflectance band that also carries CF scaling is contradictory
    bad = refl.copy()
    bad["red"].attrs["scale_factor"] = 1e-4
    with pytest.raises(landpulse.RadiometryError, match="twice"):
        landpulse.ndvi(bad)


def test_missing_radiometry_is_an_error_that_names_the_fix() -> None:
    with pytest.raises(landpulse.RadiometryError, match="declare_radiometry"):
        landpulse.ndvi(_band(np.array([[1000, 3000]], np.uint16)))


def test_xarray_decoded_cf_data_counts_as_reflectance(tmp_path: Path) -> None:
    # A foreign store with CF scale_factor: opened raw, landpulse applies it; decoded by xarray,
    # landpulse must not apply it again. Both give the same NDVI.
    raw = _band(np.array([[1000, 3000]], np.int16))
    for v in raw.data_vars:
        raw[v].encoding.update({"scale_factor": 1e-4, "add_offset": 0.0, "dtype": "int16"})
    refl = _band(np.array([[0.1, 0.3]], np.float32))
    refl["nir"] = refl["nir"] * 3
    refl.to_zarr(tmp_path / "cf.zarr", zarr_format=3, consolidated=False,
                 encoding={v: {"scale_factor": 1e-4, "add_offset": 0.0, "dtype": "int16", "_FillValue": -32768} for v in ("red", "nir")})
    via_landpulse = landpulse.ndvi(landpulse.open_store(tmp_path / "cf.zarr")).values
    via_xarray = landpulse.ndvi(xr.open_zarr(tmp_path / "cf.zarr", consolidated=False)).values
    np.testing.assert_allclose(via_landpulse, via_xarray, rtol=1e-6)
    np.testing.assert_allclose(via_landpulse, 0.5, rtol=1e-5)


def test_to_reflectance_masks_invalid_raw_values() -> None:
    ds = landpulse.declare_radiometry(_band(np.array([[0, 65535]], np.uint16)), scale=1e-4, offset=0.0,
                                      nodata=0, valid_range=(1, 65534))
    assert np.isnan(landpulse.to_reflectance(ds["red"]).values).all()


# --- declarations the pixels rule out (issue 18) ------------------------------------------------

def _bolzano_raw() -> xr.Dataset:
    if not BOLZANO.exists():
        skip_or_fail("shared_data", f"shared data not found at {BOLZANO}")
    return landpulse.open_store(BOLZANO)


@pytest.mark.shared_data
def test_declaring_the_s2_offset_again_on_bolzano_is_refused() -> None:
    # The real openEO series is reflectance x 1e4 with the -1000 DN offset already removed
    # (../shared/data/README.md): declaring offset -0.1 subtracts it a second time.
    raw = _bolzano_raw()
    with pytest.raises(landpulse.RadiometryError, match=r"offset of -1000 DN .* ruled out by the pixels.*offset=0"):
        landpulse.declare_radiometry(raw, scale=1e-4, offset=-0.1, bands=["B02", "B03", "B04", "B08"])
    ok = landpulse.declare_radiometry(raw, scale=1e-4, bands=["B02", "B03", "B04", "B08"])  # right: nothing recorded
    assert "landpulse_radiometry_warnings" not in ok.attrs
    assert not any("landpulse_radiometry_warning" in ok[b].attrs for b in ("B02", "B03", "B04", "B08"))


@pytest.mark.shared_data
def test_a_scale_that_puts_reflectance_out_of_range_is_warned_and_recorded() -> None:
    # Declaring the real x 1e4 values to be reflectance (scale 1) puts them in the hundreds.
    with pytest.warns(ProductMeaningWarning, match=r"band 'B04': scale 1 and offset 0 put 100% .* above 1\.5"):
        ds = landpulse.declare_radiometry(_bolzano_raw(), scale=1.0, bands=["B02", "B03", "B04", "B08"])
    recorded = json.loads(ds.attrs["landpulse_radiometry_warnings"])
    assert len(recorded) == 4 and all("probably wrong" in m for m in recorded)
    prov = provenance(landpulse.ndvi(ds.isel(t=[5])))
    assert "above 1.5" in prov["radiometry"]["red"]["warning"] and "above 1.5" in prov["radiometry"]["nir"]["warning"]


def test_check_against_pixels_thresholds() -> None:
    from landpulse.spec.radiometry import check_against_pixels

    # Hand-worked, generated values: DNs 2000..4000 with scale -1e-4 give -0.2..-0.4 (plausible);
    # with scale -1e-3, -2..-4: all below -0.5, median -3.
    values = np.linspace(2000, 4000, 201)
    assert check_against_pixels([("red", values, -1e-4, 0.0)], what="t", fix="") == {}
    found = check_against_pixels([("red", values, -1e-3, 0.0)], what="t", fix="")
    assert "100% of the sampled reflectances below -0.5 (median -3)" in found["red"]
    # the offset rule at its boundary: 50 of 100 values below 1000 DN is not "most"; 52 of 102 is
    half = np.r_[np.full(50, 999.0), np.full(50, 1001.0)]
    assert check_against_pixels([("red", half, 1e-4, -0.1)], what="t", fix="") == {}
    with pytest.raises(landpulse.RadiometryError, match="51% of the valid values sampled are below 1000"):
        check_against_pixels([("red", np.r_[half, 999.0, 999.0], 1e-4, -0.1)], what="t", fix="")
    # fewer than MIN_SAMPLE valid values decide nothing
    assert check_against_pixels([("red", np.full(99, 10.0), 1e-4, -0.1)], what="t", fix="") == {}
