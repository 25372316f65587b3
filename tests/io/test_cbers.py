"""CBERS-4/4A: no index from uncalibrated digital numbers; TOA reflectance from INPE's metadata;
surface-reflectance products through STAC.

Pixel values here are generated (small arrays with known answers); the calibration coefficients,
sun elevation and date are those INPE published for the real scene CBERS_4_MUX_20201031_003_073_L2
(tests/support/cbers.py), the solar irradiances those of the sensor registry (Charter OPT-Calib
Table 1, Thuillier 2003).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import landpulse
from landpulse import water
from landpulse.io import ingest, read_inpe_metadata, scene_from_files, scene_from_inpe, scene_from_stac_item
from landpulse.products.provenance import provenance
from landpulse.spec.index_catalogue import catalogue
from tests.support import Placement, WriteBand
from tests.support.cbers import MUX_SCENE, write_inpe_xml, write_sr_item

SCENE = str(MUX_SCENE["scene_id"])
MUX_IDS = {"blue": "B5", "green": "B6", "red": "B7", "nir": "B8"}

# --- the hand-worked example ---------------------------------------------------------------------
# Scene CBERS_4_MUX_20201031_003_073_L2, INPE metadata: band 7 (red) 1.55192, band 8 (nir) 1.1761
# W m-2 sr-1 um-1 per DN; sun elevation 48.4687 deg; acquired 2020-10-31 = day of year 305.
# ESUN red 1536.38, nir 981.91 W m-2 um-1 (Charter OPT-Calib Table 1, Thuillier 2003).
#   d       = 1 - 0.01672 cos(0.9856 * (305 - 4) deg) = 1 - 0.01672 * 0.4487825 = 0.9924964 AU; d^2 = 0.9850490
#   cos(theta_z) = sin(48.4687 deg) = 0.7485936
#   red DN 60: L = 1.55192 * 60 = 93.1152;  rho = pi * 93.1152 * 0.9850490 / (1536.38 * 0.7485936) = 0.2505437
#   nir DN 90: L = 1.1761  * 90 = 105.849;  rho = pi * 105.849 * 0.9850490 / (981.91  * 0.7485936) = 0.4456323
#   NDVI = (0.4456323 - 0.2505437) / (0.4456323 + 0.2505437) = 0.2802288   (the DN ratio would say 0.2)
RHO_RED_60, RHO_NIR_90, NDVI_TOA = 0.2505437, 0.4456323, 0.2802288


def _dn(value: int, shape: tuple[int, int] = (5, 6)) -> np.ndarray:
    a = np.full(shape, value, np.uint8)  # MUX digital numbers are 8-bit
    a[0, 0] = 0  # INPE's nodata
    return a


def _dn_store(tmp_path: Path, write_band: WriteBand, name: str = "dn.zarr") -> xr.Dataset:
    rng = np.random.default_rng(21)
    files = {bid: write_band(f"dn_{bid}.tif", rng.integers(1, 255, (5, 6)).astype(np.uint8), res=20.0)
             for bid in MUX_IDS.values()}
    store = ingest(scene_from_files(files, datetime="2020-10-31T03:16:10Z", sensor="cbers4-mux"), tmp_path / name)
    return landpulse.open_store(store)


def _inpe_scene(tmp_path: Path, write_band: WriteBand, values: dict[str, int] | None = None) -> Path:
    values = values or {"blue": 80, "green": 70, "red": 60, "nir": 90}
    for common, bid in MUX_IDS.items():
        write_band(f"{SCENE}_BAND{bid[1:]}.tif", _dn(values[common]), res=20.0)
    return write_inpe_xml(tmp_path)


# --- 1. every index over digital numbers refuses; the DN-ratio option records itself -------------

def test_every_index_refuses_uncalibrated_digital_numbers(tmp_path: Path, write_band: WriteBand) -> None:
    ds = _dn_store(tmp_path, write_band)
    present = {"blue", "green", "red", "nir"}
    names = [k.lower() for k, spec in catalogue().indices.items() if {catalogue().bands[b].common_name for b in spec.bands} <= present]
    assert {"ndvi", "ndwi", "gndvi", "evi", "savi", "evi2", "arvi"} <= set(names)
    for name in names:
        with pytest.raises(landpulse.RadiometryError) as err:
            landpulse.indices(ds, [name])
        msg = str(err.value)
        assert "digital numbers" in msg and "surface-reflectance product" in msg and "scene_from_inpe" in msg, msg
        if landpulse.get_index(name).scale_invariant:
            assert "allow_digital_numbers=True" in msg and "biased" in msg, msg
    # the whole catalogue (aliases too), on integer bands of every kind it reads, declared as DNs
    commons = sorted({b.common_name for b in catalogue().bands.values()})
    every = landpulse.declare_radiometry(xr.Dataset(
        {c: (("y", "x"), np.full((2, 3), 900 + i, np.uint16)) for i, c in enumerate(commons)},
        coords={"y": [10.0, 0.0], "x": [0.0, 10.0, 20.0]}), scale=1.0, offset=0.0)
    all_names = catalogue().all_names()
    assert len(all_names) >= 19
    for name in all_names:
        with pytest.raises(landpulse.RadiometryError, match="digital numbers"):
            landpulse.indices(every, [name])
    with pytest.raises(landpulse.RadiometryError, match="NDVI over band.*digital numbers"):
        landpulse.ndvi(ds)
    with pytest.raises(landpulse.RadiometryError, match="NDWI over band"):
        water.index_water(ds)  # water maps go through the same door


def test_dn_ratio_only_on_request_and_recorded_in_provenance(tmp_path: Path, write_band: WriteBand) -> None:
    ds = _dn_store(tmp_path, write_band)
    out = landpulse.indices(ds, ["ndvi", "ndwi"], allow_digital_numbers=True)
    r, n, g = (ds[b].values[0].astype(np.float64) for b in ("red", "nir", "green"))
    np.testing.assert_allclose(out["ndvi"].values[0], (n - r) / (n + r), rtol=1e-6)  # a plain DN ratio
    np.testing.assert_allclose(out["ndwi"].values[0], (g - n) / (g + n), rtol=1e-6)
    for name in ("ndvi", "ndwi"):
        assert out[name].attrs["input_quantity"] == "digital_number"
        assert "allow_digital_numbers=True" in out[name].attrs["comment"]
        assert provenance(out[name])["parameters"]["allow_digital_numbers"] is True
    assert json.loads(out.attrs["landpulse_provenance"])["allow_digital_numbers"] is True
    # the record survives into the shareable product (its STAC item)
    written = landpulse.write_product(landpulse.ndvi(ds, allow_digital_numbers=True), tmp_path / "ndvi.zarr")
    assert provenance(landpulse.open_product(written)["ndvi"])["parameters"]["allow_digital_numbers"] is True
    # indices with coefficients are meaningless on DNs: the option does not open them
    with pytest.raises(landpulse.RadiometryError, match="EVI needs reflectance.*even with allow_digital_numbers"):
        landpulse.indices(ds, ["evi"], allow_digital_numbers=True)


# --- 2. TOA reflectance from INPE's metadata, hand-worked --------------------------------------

def test_inpe_metadata_is_read(tmp_path: Path) -> None:
    meta = read_inpe_metadata(write_inpe_xml(tmp_path))
    assert (meta.sensor, meta.platform, meta.scene_id) == ("cbers4-mux", "cbers-4", SCENE)
    assert meta.gains == {"5": 1.51123, "6": 1.5762, "7": 1.55192, "8": 1.1761}
    assert meta.sun_elevation == 48.4687
    assert meta.datetime == np.datetime64("2020-10-31T03:16:10.865", "ns")
    for element in ("absoluteCalibrationCoefficient", "sunPosition", "viewing"):
        with pytest.raises(landpulse.RadiometryError, match=element):
            read_inpe_metadata(write_inpe_xml(tmp_path, drop=(element,), band="5"))
    (tmp_path / "bad.xml").write_text("<html/>")
    with pytest.raises(landpulse.UnreadableInputError, match="not INPE scene metadata"):
        read_inpe_metadata(tmp_path / "bad.xml")


def test_toa_reflectance_from_inpe_metadata_hand_worked(tmp_path: Path, write_band: WriteBand, backend: Placement) -> None:
    xml = _inpe_scene(tmp_path, write_band)
    scene = scene_from_inpe(xml)  # band files found beside the metadata by INPE's naming
    assert set(scene.bands) == {"blue", "green", "red", "nir"} and scene.sensor == "cbers4-mux"
    ds = landpulse.open_store(ingest(scene, tmp_path / "toa.zarr"))
    assert ds["red"].dtype == np.uint8  # the digital numbers are stored untouched
    dsb = backend(ds)
    out = landpulse.indices(dsb, ["ndvi", "evi"])
    ndvi = backend.host(out["ndvi"]).values[0]
    np.testing.assert_allclose(ndvi[1:, 1:], NDVI_TOA, rtol=2e-6)
    assert np.isnan(ndvi[0, 0])  # DN 0 is nodata
    assert abs(float(ndvi[1, 1]) - 0.2) > 0.08  # not the DN ratio
    red = landpulse.to_reflectance(ds["red"]).values[0]
    nir = landpulse.to_reflectance(ds["nir"]).values[0]
    np.testing.assert_allclose(red[1:, 1:], RHO_RED_60, rtol=2e-6)
    np.testing.assert_allclose(nir[1:, 1:], RHO_NIR_90, rtol=2e-6)
    # EVI (coefficients) is meaningful on TOA reflectance: 2.5 (N - R) / (N + 6R - 7.5B + 1)
    rho_blue = 0.2518246  # band 5: pi * 1.51123 * 80 * 0.9850490 / (1984.65 * 0.7485936)
    evi = 2.5 * (RHO_NIR_90 - RHO_RED_60) / (RHO_NIR_90 + 6 * RHO_RED_60 - 7.5 * rho_blue + 1)
    np.testing.assert_allclose(backend.host(out["evi"]).values[0][1:, 1:], evi, rtol=1e-5)
    # the coefficients and their sources are recorded with the product
    assert out["ndvi"].attrs["input_quantity"] == "toa_reflectance"
    rad = provenance(out["ndvi"])["radiometry"]
    [cal] = rad["red"]["calibration"]
    assert cal["gain"] == 1.55192 and cal["bias"] == 0.0 and cal["solar_irradiance"] == 1536.38
    assert cal["sun_elevation"] == 48.4687 and cal["date"] == "2020-10-31"
    assert cal["earth_sun_distance"] == pytest.approx(0.9924964, abs=1e-7)
    assert f"{SCENE}_BAND7.xml: absoluteCalibrationCoefficient band 7" in cal["gain_source"]
    assert "Thuillier 2003" in cal["irradiance_source"] and "Charter" in cal["irradiance_source"]
    assert rad["red"]["scale"] == pytest.approx(cal["scale"], rel=1e-12)
    assert not [c for c in out["ndvi"].coords if str(c).endswith("_calibration")]  # describes inputs, not products


def test_explicit_band_files_and_missing_coefficients(tmp_path: Path, write_band: WriteBand) -> None:
    xml = write_inpe_xml(tmp_path, {**MUX_SCENE, "gains": {"7": 1.55192}})
    red = write_band("r.tif", _dn(60), res=20.0)
    nir = write_band("n.tif", _dn(90), res=20.0)
    scene = scene_from_inpe(xml, {"red": red})
    assert scene.bands["red"].scale == pytest.approx(0.00417572869, rel=1e-8)
    with pytest.raises(landpulse.RadiometryError, match="no calibration coefficient for band 8"):
        scene_from_inpe(xml, {"red": red, "BAND8": nir})
    with pytest.raises(landpulse.RadiometryError, match="outside"):
        scene_from_inpe(write_inpe_xml(tmp_path, {**MUX_SCENE, "elevation": -3.0}, band="6"), {"red": red})


def test_a_series_mixing_calibrated_and_raw_scenes_refuses(tmp_path: Path, write_band: WriteBand) -> None:
    xml = _inpe_scene(tmp_path, write_band)
    raw = scene_from_files({bid: tmp_path / f"{SCENE}_BAND{bid[1:]}.tif" for bid in MUX_IDS.values()},
                           datetime="2020-11-26T03:16:10Z", sensor="cbers4-mux", scene_id="raw")
    ds = landpulse.open_store(ingest([scene_from_inpe(xml), raw], tmp_path / "mixed.zarr"))
    assert list(ds["red_calibration"].values[1:]) == [""]
    with pytest.raises(landpulse.RadiometryError, match="NDVI over band"):
        landpulse.indices(ds, ["ndvi"])  # one DN date biases the whole series
    first = landpulse.indices(ds.isel(time=[0]), ["ndvi"])["ndvi"].values[0]
    np.testing.assert_allclose(first[1:, 1:], NDVI_TOA, rtol=2e-6)


# --- 3. surface-reflectance products through STAC ----------------------------------------------

def _sr_item(tmp_path: Path, write_band: WriteBand, sr: dict[str, np.ndarray]) -> Path:
    """The CBERS-4 WFI surface-reflectance item of :func:`tests.support.cbers.write_sr_item` (CMASK
    without a class table), plus INPE's own NDVI asset, which must not be taken for a band."""
    path = write_sr_item(write_band, "sr", sr, np.full(next(iter(sr.values())).shape, 127, np.uint8), classes=None)
    item = json.loads(path.read_text())
    item["assets"]["NDVI"] = {"href": "NDVI.tif", "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                              "roles": ["data"], "eo:bands": [{"name": "NDVI"}],
                              "raster:bands": [{"data_type": "int16", "nodata": -9999, "scale": 0.0001}]}
    path.write_text(json.dumps(item))
    return path


def test_cbers_surface_reflectance_stac_item_to_ndvi(tmp_path: Path, write_band: WriteBand) -> None:
    rng = np.random.default_rng(4)
    sr = {c: rng.integers(100, 4000, (7, 8)).astype(np.int16) for c in ("blue", "green", "red", "nir")}
    sr["red"][2, 3] = -9999
    scene = scene_from_stac_item(_sr_item(tmp_path, write_band, sr))
    assert scene.sensor == "cbers4-wfi"  # recognised by platform and instrument
    # INPE's NDVI asset is no band; the CMASK quality asset is kept as the classification band,
    # without a class table here (masks from it: tests/io/test_item_class_tables.py)
    assert set(scene.bands) == {"blue", "green", "red", "nir", "cmask"}
    assert scene.bands["cmask"].kind == "classification"
    assert all(b.scale == 1e-4 and b.offset == 0.0 and b.nodata == -9999 for n, b in scene.bands.items() if n != "cmask")
    ds = landpulse.open_store(ingest(scene, tmp_path / "sr.zarr"))
    out = landpulse.indices(ds, ["ndvi", "evi"])
    red, nir, blue = (sr[c].astype(np.float64) * 1e-4 for c in ("red", "nir", "blue"))
    expect = (nir - red) / (nir + red)
    expect[2, 3] = np.nan
    np.testing.assert_allclose(out["ndvi"].values[0], expect, rtol=1e-6, atol=1e-7)  # float32
    evi = 2.5 * (nir - red) / (nir + 6 * red - 7.5 * blue + 1)  # scale matters for EVI
    evi[2, 3] = np.nan
    evi[(evi < -1) | (evi > 1)] = np.nan
    np.testing.assert_allclose(out["evi"].values[0], evi, rtol=1e-5, atol=1e-7)
    assert "input_quantity" not in out["ndvi"].attrs
    rad = provenance(out["ndvi"])["radiometry"]["red"]
    assert rad["scale"] == 1e-4 and rad["nodata"] == -9999 and "calibration" not in rad


def test_cli_ingests_an_inpe_scene_calibrated(tmp_path: Path, write_band: WriteBand, capsys: pytest.CaptureFixture[str]) -> None:
    from landpulse.cli import main

    xml = _inpe_scene(tmp_path, write_band)
    assert main(["ingest", str(tmp_path / "cli.zarr"), "--inpe", str(xml)]) == 0
    assert "ingested 1 scene" in capsys.readouterr().out
    ndvi = landpulse.ndvi(landpulse.open_store(tmp_path / "cli.zarr")).values[0]
    np.testing.assert_allclose(ndvi[1:, 1:], NDVI_TOA, rtol=2e-6)


def test_calibration_adds_no_pass(tmp_path: Path, write_band: WriteBand) -> None:
    """TOA calibration is the per-date scale of the fused kernel: the same graph as a DN-ratio run."""
    toa = landpulse.open_store(ingest(scene_from_inpe(_inpe_scene(tmp_path, write_band)), tmp_path / "a.zarr"))
    raw = landpulse.open_store(ingest(scene_from_files(
        {bid: tmp_path / f"{SCENE}_BAND{bid[1:]}.tif" for bid in MUX_IDS.values()},
        datetime="2020-10-31T03:16:10Z", sensor="cbers4-mux"), tmp_path / "b.zarr"))
    a = landpulse.indices(toa, ["ndvi", "ndwi"])
    b = landpulse.indices(raw, ["ndvi", "ndwi"], allow_digital_numbers=True)

    def passes(ds: xr.Dataset) -> list[str]:  # graph layers by kind; "array" layers hold the scale/offset constants
        kinds = (str(name).rsplit("-", 1)[0] for name in ds.__dask_graph__().layers)
        return sorted(k for k in kinds if k != "array")

    assert passes(a) == passes(b)
    assert passes(a).count("run_block") == 1  # one fused kernel reads the bands once, calibrated or not
    np.testing.assert_array_equal(np.isnan(a["ndvi"].values), np.isnan(b["ndvi"].values))
