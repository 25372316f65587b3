"""Any supported sensor in: the band registry, radiometry (applied once), and indices per sensor.

Pixel values in these tests are synthetic (GeoTIFFs written by the ``write_band`` fixture): they
check contracts (encodings, fill, saturation, scale/offset) where only a constructed value can
isolate one rule. Real imagery is tested in test_index_catalogue.py and test_masks.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr

import landpulse
from landpulse.io import ingest, scene_from_files, scene_from_stac_item
from landpulse.spec.index_catalogue import catalogue, index_names
from landpulse.spec.sensors import get_sensor, sensors
from tests.support import EARTH_SEARCH_ITEM, WriteBand, skip_or_fail
from tests.support.index_references import PAPER

STAC_COMMON_NAMES = {"coastal", "blue", "green", "red", "yellow", "pan", "rededge", "rededge1", "rededge2", "rededge3",
                     "nir", "nir08", "nir09", "cirrus", "swir16", "swir22", "lwir", "lwir11", "lwir12"}


def test_registry_has_every_required_sensor() -> None:
    ids = set(sensors())
    assert {"sentinel2-l1c", "sentinel2-l2a", "landsat8-9-c2-l2", "landsat4-7-c2-l2",
            "cbers4-mux", "cbers4-wfi", "cbers4a-mux", "cbers4a-wfi"} <= ids
    for spec in sensors().values():
        for b in spec.bands.values():
            assert b.common_name is None or b.common_name in STAC_COMMON_NAMES, (spec.id, b.id)
            assert b.kind in ("reflectance", "classification")
        assert spec.raw["radiometry"].get("reference"), spec.id


@pytest.mark.parametrize("sensor,band,wavelength,gsd", [
    ("landsat8-9-c2-l2", "red", 0.655, 30), ("landsat8-9-c2-l2", "nir08", 0.865, 30),
    ("landsat4-7-c2-l2", "red", 0.66, 30), ("landsat4-7-c2-l2", "swir22", 2.215, 30),
    ("cbers4-mux", "nir", 0.83, 20), ("cbers4a-mux", "red", 0.66, 16.5),
    ("cbers4-wfi", "blue", 0.485, 64), ("cbers4a-wfi", "green", 0.555, 55),
])
def test_band_facts(sensor: str, band: str, wavelength: float, gsd: float) -> None:
    b = get_sensor(sensor).band(band)
    assert b.center_wavelength == wavelength and b.gsd == gsd


def test_landsat_radiometry_facts() -> None:
    for sid in ("landsat8-9-c2-l2", "landsat4-7-c2-l2"):
        spec = get_sensor(sid)
        assert (spec.scale, spec.offset, spec.nodata, spec.valid_range) == (2.75e-5, -0.2, 0, (7273, 43636))
        # the valid range is reflectance 0..1 (USGS product guide)
        assert 7273 * 2.75e-5 - 0.2 == pytest.approx(0.0, abs=1e-5)
        assert 43636 * 2.75e-5 - 0.2 == pytest.approx(1.0, abs=1e-4)


# --- two encodings of one surface (Sentinel-2 processing baselines) -----------------------------

S2_BANDS = ["blue", "green", "red", "rededge1", "nir", "swir16", "swir22"]


def _surface(rng: np.random.Generator, shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """Reflectance x 1e4 as integers (what a baseline < 04.00 product stores)."""
    return {b: rng.integers(1, 9000, shape).astype(np.uint16) for b in S2_BANDS}


def test_two_baselines_give_identical_indices(tmp_path: Path, write_band: WriteBand) -> None:
    rng = np.random.default_rng(21)
    dn = _surface(rng, (30, 40))
    dn["red"][0, :5] = 0  # nodata stays nodata in both encodings
    old = {b: write_band(f"old/{b}.tif", v) for b, v in dn.items()}
    new = {b: write_band(f"new/{b}.tif", np.where(v == 0, 0, v + 1000).astype(np.uint16)) for b, v in dn.items()}
    store = tmp_path / "s.zarr"
    ingest(scene_from_files(old, datetime="2021-06-01T10:00:00Z", sensor="sentinel2-l2a", processing_baseline="03.01"), store)
    ingest(scene_from_files(new, datetime="2022-06-01T10:00:00Z", sensor="sentinel2-l2a", processing_baseline="05.09"),
           store, append=True)
    ds = landpulse.open_store(store)
    np.testing.assert_array_equal(ds["red_dn_offset"].values, [0.0, -0.1])
    out = landpulse.indices(ds, index_names()).compute()
    for name in index_names():
        a, b = out[name].values
        assert np.isfinite(a).mean() > 0.5, name
        np.testing.assert_array_equal(a, b, err_msg=name)  # bit for bit: the -1000 DN offset adds exactly


# --- Landsat Collection 2 Level-2 ---------------------------------------------------------------

def _landsat_store(tmp_path: Path, write_band: WriteBand, sensor: str = "landsat8-9-c2-l2",
                   extra: dict[str, Path] | None = None) -> tuple[Path, dict[str, np.ndarray]]:
    rng = np.random.default_rng(5)
    shape = (12, 16)
    ids = {"landsat8-9-c2-l2": {"blue": "SR_B2", "green": "SR_B3", "red": "SR_B4", "nir08": "SR_B5", "swir16": "SR_B6", "swir22": "SR_B7"},
           "landsat4-7-c2-l2": {"blue": "SR_B1", "green": "SR_B2", "red": "SR_B3", "nir08": "SR_B4", "swir16": "SR_B5", "swir22": "SR_B7"}}[sensor]
    dn = {b: rng.integers(7273, 20000, shape).astype(np.uint16) for b in ids}
    dn["red"][0, 0] = 0        # fill
    dn["nir08"][0, 1] = 65535  # saturated
    dn["nir08"][0, 2] = 43637  # just above the valid range
    dn["red"][0, 3] = 7272     # just below it
    qa = np.full(shape, 21824, np.uint16)  # clear, lows set
    qa[1, :4] = 22280                      # high-confidence cloud
    qa[2, 0] = 1                           # fill
    files = {band_id: write_band(f"{band_id}.tif", dn[b], res=30.0) for b, band_id in ids.items()}
    files["QA_PIXEL"] = write_band("QA_PIXEL.tif", qa, res=30.0, nodata=1)
    files.update(extra or {})
    store = tmp_path / "landsat.zarr"
    ingest(scene_from_files(files, datetime="2023-07-01T10:00:00Z", sensor=sensor), store)
    return store, {**dn, "qa": qa}


@pytest.mark.parametrize("sensor", ["landsat8-9-c2-l2", "landsat4-7-c2-l2"])
def test_landsat_fill_and_saturation_are_nan_and_nir08_serves_as_nir(tmp_path: Path, write_band: WriteBand, sensor: str) -> None:
    store, dn = _landsat_store(tmp_path, write_band, sensor)
    ds = landpulse.open_store(store)
    assert set(ds.data_vars) >= {"red", "nir08", "qa_pixel"}
    out = landpulse.indices(ds, ["ndvi", "evi", "mndwi", "aweinsh"], mask="auto").compute()
    ndvi = out["ndvi"].values[0]
    assert np.isnan(ndvi[0, :4]).all()  # fill, saturated, above range, below range
    refl = {b: dn[b].astype(np.float64) * 2.75e-5 - 0.2 for b in ("blue", "green", "red", "nir08", "swir16", "swir22")}
    refl["nir"] = refl["nir08"]
    ok = np.isfinite(ndvi)
    np.testing.assert_allclose(ndvi[ok], PAPER["NDVI"](refl)[ok], rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(out["evi"].values[0][np.isfinite(out["evi"].values[0])],
                               PAPER["EVI"](refl)[np.isfinite(out["evi"].values[0])], rtol=2e-5, atol=2e-6)
    mask = out["mask"].values[0]
    assert (mask[1, :4] == 1).all() and mask[2, 0] == 3 and mask[5, 5] == 0
    assert np.isnan(ndvi[1, :4]).all()
    prov = landpulse.products.provenance.provenance(out["ndvi"])
    assert prov["inputs"] == {"nir08": "nir08", "red": "red", "mask_band": "qa_pixel"}
    assert json.loads(out["mask"].attrs["mask_rules"])["sensor"] == sensor


@pytest.mark.parametrize("sensor", ["landsat8-9-c2-l2", "landsat4-7-c2-l2"])
def test_landsat_qa_radsat_saturated_band_is_invalid_where_it_is_used(tmp_path: Path, write_band: WriteBand,
                                                                    sensor: str) -> None:
    """QA_RADSAT bit n-1 flags band n saturated (USGS C2 L2 guides): NaN in every index using that
    band, untouched in the others; flags of bands an index does not use change nothing."""
    band_number = {"landsat8-9-c2-l2": {"red": 4, "nir08": 5, "swir16": 6},
                   "landsat4-7-c2-l2": {"red": 3, "nir08": 4, "swir16": 5}}[sensor]
    shape = (12, 16)
    radsat = np.zeros(shape, np.uint16)
    radsat[4, 0] = 1 << (band_number["red"] - 1)       # red saturated: NDVI invalid, MNDWI (green, swir16) not
    radsat[4, 1] = 1 << (band_number["swir16"] - 1)    # swir16 saturated: MNDWI, not NDVI
    radsat[4, 2] = 1 << 11 if sensor.startswith("landsat8") else 1 << 9  # terrain occlusion / dropped pixel: not a band
    radsat[4, 3] = (1 << (band_number["red"] - 1)) | (1 << (band_number["nir08"] - 1))
    radsat[4, 4] = 0x7F                               # every reflective band saturated
    _, _ = _landsat_store(tmp_path / "plain", write_band, sensor)
    store, dn = _landsat_store(tmp_path / "flagged", write_band, sensor,
                               extra={"QA_RADSAT": write_band("QA_RADSAT.tif", radsat, res=30.0, nodata=None)})
    plain = landpulse.indices(landpulse.open_store(tmp_path / "plain" / "landsat.zarr"), ["ndvi", "mndwi"]).compute()
    ds = landpulse.open_store(store)
    assert "qa_radsat" in ds.data_vars and ds["qa_radsat"].dtype == np.uint16
    assert ds["qa_radsat"].attrs.get("nodata") is None  # 0 means "nothing saturated", not fill
    out = landpulse.indices(ds, ["ndvi", "mndwi"]).compute()
    ndvi, mndwi = out["ndvi"].values[0], out["mndwi"].values[0]
    pndvi, pmndwi = plain["ndvi"].values[0], plain["mndwi"].values[0]
    assert np.isfinite(pndvi[4, :5]).all() and np.isfinite(pmndwi[4, :5]).all()
    assert np.isnan(ndvi[4, 0]) and np.isfinite(mndwi[4, 0])
    assert np.isfinite(ndvi[4, 1]) and np.isnan(mndwi[4, 1])
    assert ndvi[4, 2] == pndvi[4, 2] and mndwi[4, 2] == pmndwi[4, 2]
    assert np.isnan(ndvi[4, 3]) and np.isfinite(mndwi[4, 3])
    assert np.isnan(ndvi[4, 4]) and np.isnan(mndwi[4, 4])
    rest = np.ones(shape, bool)
    rest[4, [0, 1, 3, 4]] = False
    np.testing.assert_array_equal(ndvi[rest], pndvi[rest])  # NaNs included: nothing else changed
    np.testing.assert_array_equal(mndwi[rest], pmndwi[rest])
    # WOfS (uses every reflective band): a saturated band is "non-contiguous" (bit 1), as fill is
    flags = landpulse.products.water.wofs(ds)["wofs"].values[0]
    plain_flags = landpulse.products.water.wofs(landpulse.open_store(tmp_path / "plain" / "landsat.zarr"))["wofs"].values[0]
    assert (plain_flags[4, :5] & 2 == 0).all()
    assert (flags[4, [0, 1, 3]] & 2 == 2).all() and flags[4, 2] == plain_flags[4, 2]
    assert flags[4, 4] == 1  # every band invalid: nodata
    rad = json.loads(out.attrs["landpulse_provenance"])["radiometry"]
    assert rad["red"]["saturation"] == f"qa_radsat bit {band_number['red'] - 1}"
    # the raw band is untouched in the store; the flag band has no radiometry to be misread as a band
    assert int(ds["red"].values[0, 4, 0]) == int(dn["red"][4, 0])
    with pytest.raises(landpulse.RadiometryError, match="needs reflectance|no radiometric"):
        landpulse.indices(ds, ["ndvi"], bands={"red": "qa_radsat"})


def test_qa_radsat_in_a_store_mixing_landsat_7_and_8_uses_each_dates_bits(tmp_path: Path, write_band: WriteBand) -> None:
    """Bit 2 flags band 3 (red on Landsat 7, green on Landsat 8) and bit 4 band 5 (SWIR 1.6 on
    Landsat 7, NIR on Landsat 8): NDVI is invalid at the first pixel on the Landsat 7 date and at
    the second on the Landsat 8 date; the per-date platform decides."""
    shape = (6, 8)
    rng = np.random.default_rng(9)
    ids = {"landsat4-7-c2-l2": {"green": "SR_B2", "red": "SR_B3", "nir08": "SR_B4", "swir16": "SR_B5"},
           "landsat8-9-c2-l2": {"green": "SR_B3", "red": "SR_B4", "nir08": "SR_B5", "swir16": "SR_B6"}}
    scenes = []
    for k, (sensor, platform) in enumerate([("landsat4-7-c2-l2", "landsat-7"), ("landsat8-9-c2-l2", "landsat-8")]):
        radsat = np.zeros(shape, np.uint16)
        radsat[0, 0] = 1 << 2
        radsat[0, 1] = 1 << 4
        files = {bid: write_band(f"d{k}/{bid}.tif", rng.integers(8000, 20000, shape).astype(np.uint16), res=30.0)
                 for bid in ids[sensor].values()}
        files["QA_RADSAT"] = write_band(f"d{k}/QA_RADSAT.tif", radsat, res=30.0, nodata=None)
        scenes.append(scene_from_files(files, datetime=f"2013-0{k + 4}-01T10:00:00Z", sensor=sensor,
                                       platform=platform, scene_id=f"scene{k}"))
    ds = landpulse.open_store(ingest(scenes, tmp_path / "mixed.zarr"))
    ndvi = landpulse.indices(ds, ["ndvi"]).compute()["ndvi"].values
    assert np.isnan(ndvi[0, 0, 0]) and np.isfinite(ndvi[0, 0, 1])  # Landsat 7: red, SWIR flagged
    assert np.isfinite(ndvi[1, 0, 0]) and np.isnan(ndvi[1, 0, 1])  # Landsat 8: green, NIR flagged
    assert np.isfinite(ndvi[:, 1:, :]).all()
    # without platforms the bits cannot be decided: a clear error, not a guess
    with pytest.raises(landpulse.InputError, match="platform"):
        landpulse.indices(ds.drop_vars("platform"), ["ndvi"])


def test_foreign_landsat_store_resolves_band_ids_by_its_declared_sensor() -> None:
    # A foreign Landsat 4-7 store keeps USGS band ids; red is SR_B3 there, SR_B4 on Landsat 8-9.
    y, x = np.arange(3.0), np.arange(4.0)
    ds = xr.Dataset({k: (("y", "x"), np.full((3, 4), v, np.uint16)) for k, v in
                     {"SR_B1": 9000, "SR_B2": 9500, "SR_B3": 10000, "SR_B4": 20000}.items()}, coords={"y": y, "x": x})
    ds = landpulse.declare_radiometry(ds, scale=2.75e-5, offset=-0.2, nodata=0, valid_range=(7273, 43636))
    with pytest.raises(landpulse.MissingBandError, match="several variables could be the 'red' band|"
                                                         "declares no sensor does not declare 'nir08' equivalent"):
        landpulse.indices(ds, ["ndvi"])  # ambiguous without knowing the sensor: refused, not guessed
    ds.attrs["sensor"] = json.dumps(["landsat4-7-c2-l2"])
    got = landpulse.indices(ds, ["ndvi"])["ndvi"].values
    r, n = 10000 * 2.75e-5 - 0.2, 20000 * 2.75e-5 - 0.2
    np.testing.assert_allclose(got, (n - r) / (n + r), rtol=1e-5)


def test_landsat_stac_item_picks_the_sensor_by_platform(tmp_path: Path, write_band: WriteBand) -> None:
    arr = np.full((4, 4), 12000, np.uint16)
    assets = {}
    for key, common in [("red", "red"), ("nir08", "nir08"), ("swir16", "swir16")]:
        assets[key] = {"href": str(write_band(f"{key}.tif", arr, res=30.0)), "type": "image/tiff; application=geotiff",
                       "roles": ["data", "reflectance"], "eo:bands": [{"name": key.upper(), "common_name": common}],
                       "raster:bands": [{"scale": 2.75e-5, "offset": -0.2, "nodata": 0}]}
    assets["qa_pixel"] = {"href": str(write_band("qa.tif", np.full((4, 4), 21824, np.uint16), res=30.0, nodata=1)),
                          "type": "image/tiff; application=geotiff", "roles": ["cloud", "cloud-shadow", "snow-ice"]}
    item = {"type": "Feature", "id": "LC09_test", "collection": "landsat-c2-l2", "assets": assets,
            "properties": {"datetime": "2023-07-01T10:00:00Z", "platform": "landsat-9"}}
    scene = scene_from_stac_item(item)
    assert scene.sensor == "landsat8-9-c2-l2"
    assert scene.bands["qa_pixel"].kind == "classification"  # kept although its roles lack "data"
    item["properties"]["platform"] = "landsat-5"
    assert scene_from_stac_item(item).sensor == "landsat4-7-c2-l2"


@pytest.mark.shared_data
def test_earth_search_item_keeps_the_three_red_edge_bands_apart() -> None:
    if not EARTH_SEARCH_ITEM.exists():
        skip_or_fail("shared_data", "shared data absent")
    item = json.loads(EARTH_SEARCH_ITEM.read_text())
    for a in item["assets"].values():
        a["href"] = "/nonexistent/" + a["href"].rsplit("/", 1)[-1]  # parsed, never opened
    scene = scene_from_stac_item(item)
    # eo:bands says common_name "rededge" for bands 5, 6 and 7; the sensor registry tells them apart
    assert {k: Path(scene.bands[k].href).name for k in ("rededge1", "rededge2", "rededge3")} == \
        {"rededge1": "B05.tif", "rededge2": "B06.tif", "rededge3": "B07.tif"}
    assert scene.bands["rededge1"].offset == -0.1 and scene.bands["scl"].kind == "classification"


# --- CBERS-4/4A: digital numbers (calibration and STAC products: tests/io/test_cbers.py) ----------

@pytest.mark.parametrize("sensor,ids", [("cbers4a-wfi", ["B13", "B14", "B15", "B16"]), ("cbers4-mux", ["B5", "B6", "B7", "B8"])])
def test_cbers_digital_numbers_refused_unless_dn_ratios_are_asked_for(tmp_path: Path, write_band: WriteBand, sensor: str,
                                                                     ids: list[str]) -> None:
    rng = np.random.default_rng(8)
    dn = {i: rng.integers(20, 250, (6, 7)).astype(np.uint16) for i in ids}
    files = {i: write_band(f"{i}.tif", v, res=55.0) for i, v in dn.items()}
    store = ingest(scene_from_files(files, datetime="2023-05-01T13:00:00Z", sensor=sensor), tmp_path / "cbers.zarr")
    ds = landpulse.open_store(store)
    assert {"blue", "green", "red", "nir"} <= set(ds.data_vars)
    with pytest.raises(landpulse.RadiometryError, match="NDVI over band.*uncalibrated digital numbers.*scene_from_inpe"):
        landpulse.indices(ds, ["ndvi"])
    out = landpulse.indices(ds, ["ndvi", "ndwi", "arvi"], allow_digital_numbers=True)
    assert out["ndvi"].attrs["input_quantity"] == "digital_number"
    r, n = dn[ids[2]].astype(np.float64), dn[ids[3]].astype(np.float64)
    np.testing.assert_allclose(out["ndvi"].values[0], (n - r) / (n + r), rtol=1e-6)
    for name in ("evi", "savi", "msavi", "evi2"):
        with pytest.raises(landpulse.RadiometryError, match=f"{name.upper()} needs reflectance.*unscaled digital numbers.*declare"):
            landpulse.indices(ds, [name], allow_digital_numbers=True)
    # a surface-reflectance product declares its scale at ingest: then EVI is fine
    sr = ingest(scene_from_files(files, datetime="2023-05-01T13:00:00Z", sensor=sensor, scale=1e-3, offset=0.0),
                tmp_path / "cbers-sr.zarr")
    evi = landpulse.indices(landpulse.open_store(sr), ["evi"])["evi"]
    assert "input_quantity" not in evi.attrs


def test_unscaled_integer_bands_refused() -> None:
    ds = xr.Dataset({b: (("y", "x"), np.full((2, 2), 3000, np.uint16)) for b in ("red", "nir", "blue")},
                    coords={"y": [0.0, 1.0], "x": [0.0, 1.0]})
    raw = landpulse.declare_radiometry(ds, scale=1.0, offset=0.0)  # "these integers are what they are"
    with pytest.raises(landpulse.RadiometryError, match="NDVI over band"):
        landpulse.indices(raw, ["ndvi"])
    assert np.isfinite(landpulse.indices(raw, ["ndvi"], allow_digital_numbers=True)["ndvi"].values).all()
    with pytest.raises(landpulse.RadiometryError, match="EVI needs reflectance"):
        landpulse.indices(raw, ["evi"], allow_digital_numbers=True)
    with pytest.raises(landpulse.RadiometryError, match="no radiometric metadata"):
        landpulse.indices(ds, ["ndvi"])  # no radiometry at all: every index refuses
    scaled = landpulse.declare_radiometry(ds, scale=1e-4, offset=0.0)
    assert np.isfinite(landpulse.indices(scaled, ["evi"])["evi"].values).all()


# --- applying twice is impossible ---------------------------------------------------------------

def test_radiometry_cannot_be_applied_twice(sample_store: Path) -> None:
    ds = landpulse.open_store(sample_store)
    with pytest.raises(landpulse.RadiometryError, match="twice"):
        landpulse.declare_radiometry(ds, scale=1e-4, offset=-0.1, bands=["red"])
    both = ds.copy()
    both["red"] = both["red"].assign_attrs(scale_factor=1e-4)
    with pytest.raises(landpulse.RadiometryError, match="twice"):
        landpulse.indices(both, ["ndvi"])
    # reflectance made by to_reflectance is marked: the indices use it as is, values identical
    refl = ds.copy()
    for b in ("red", "nir"):
        refl[b] = ds.landpulse.to_reflectance(b)
    np.testing.assert_array_equal(landpulse.indices(refl, ["ndvi"])["ndvi"].values,
                                  landpulse.indices(ds, ["ndvi"])["ndvi"].values)


def test_cf_decoded_and_raw_paths_agree(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    dn = {b: rng.integers(1001, 9000, (2, 8, 9)).astype(np.uint16) for b in ("red", "nir", "blue")}
    ds = xr.Dataset({b: (("time", "y", "x"), v * 1e-4 - 0.1) for b, v in dn.items()},
                    coords={"time": np.array(["2023-01-01", "2023-01-02"], "datetime64[ns]"), "y": np.arange(8.0), "x": np.arange(9.0)})
    for b in ds.data_vars:  # xarray packs reflectance into uint16 DNs with CF scale_factor/add_offset
        ds[b].encoding.update({"dtype": "uint16", "scale_factor": 1e-4, "add_offset": -0.1, "_FillValue": 0})
    path = tmp_path / "cf.zarr"
    ds.to_zarr(path, consolidated=False)
    raw = landpulse.open_store(path)               # raw integers, CF attributes: applied by the kernel
    decoded = xr.open_zarr(path, consolidated=False)  # xarray applied them already: reflectance
    assert raw["red"].dtype == np.uint16 and decoded["red"].dtype.kind == "f"
    a = landpulse.indices(raw, ["ndvi", "evi"]).compute()
    b = landpulse.indices(decoded, ["ndvi", "evi"]).compute()
    for name in ("ndvi", "evi"):
        np.testing.assert_allclose(a[name].values, b[name].values, rtol=1e-5, atol=1e-6)


def test_every_catalogue_index_is_a_pipeline_product(tmp_path: Path, sample_store: Path) -> None:
    from landpulse.production.run import run_store
    from landpulse.products.registry import get_product, product_names

    assert set(index_names()) <= set(product_names())
    assert {"ndre", "bsi"} <= set(product_names())
    assert get_product("ndre").inputs == ("rededge1", "nir") or "nir" in get_product("ndre").inputs
    result = run_store(sample_store, tmp_path / "out", products=["mndwi", "aweinsh"], quicklooks=False, echo=print)
    assert [r.status for r in result.units] == ["written", "written"]

    def stored_of(res: Any) -> Path:
        return Path(res.folder) / f"{res.product}.zarr"

    stored = landpulse.open_product(stored_of(result.units[1]))["aweinsh"]
    # AWEI spans [-7, 4]: beyond int16 x 1e-4, so it is stored as float32, not wrapped around
    assert stored.attrs["landpulse_encoding"] == "float32"
    direct = landpulse.indices(landpulse.open_store(sample_store), ["aweinsh"])["aweinsh"].values
    np.testing.assert_array_equal(stored.values, direct)
    mndwi = landpulse.open_product(stored_of(result.units[0]))["mndwi"]
    assert mndwi.attrs["landpulse_encoding"] == "int16" and mndwi.attrs["valid_range"] == [-1.0, 1.0]


def test_catalogue_covers_sensor_bands() -> None:
    """Every catalogue band symbol is a STAC common name some sensor provides."""
    provided = {b.common_name for s in sensors().values() for b in s.bands.values()}
    for sym in catalogue().bands.values():
        assert sym.common_name in provided


def landsat_pair_sources(items: list[Path], bands: tuple[str, ...]) -> tuple[list[str], dict[str, np.ndarray],
                                                                          dict[str, list[tuple[float, float, int]]]]:
    """What the bundled Landsat pair's sources say, read without landpulse: the item ids, each
    band's GeoTIFF DNs stacked by date, and each band's ``raster:bands`` (scale, offset, nodata)
    per date."""
    import rasterio

    ids: list[str] = []
    dns: dict[str, list[np.ndarray]] = {b: [] for b in bands}
    radiometry: dict[str, list[tuple[float, float, int]]] = {b: [] for b in bands}
    for path in items:
        item = json.loads(path.read_text())
        ids.append(item["id"])
        for b in bands:
            asset = item["assets"][b]
            (rb,) = asset["raster:bands"]
            radiometry[b].append((rb["scale"], rb["offset"], rb["nodata"]))
            with rasterio.open(path.parent / asset["href"]) as src:
                dns[b].append(src.read(1))
    return ids, {b: np.stack(v) for b, v in dns.items()}, radiometry


def test_real_landsat_pair_every_index_matches_the_papers(tmp_path: Path) -> None:
    """The bundled real Landsat 7 / Landsat 8 pair (USGS, Marburg): per-band, per-date scale and
    offset (top-of-atmosphere reflectance from the MTL files), int16 DNs; every index that needs
    no red-edge band, one pass, against the papers' formulas on DN * scale + offset, with DN, scale
    and offset taken from the source items and their GeoTIFFs (not from what ingest stored)."""
    from landpulse.datasets import change_scene_items

    bands = ("blue", "green", "red", "nir", "swir16", "swir22")
    items = change_scene_items()
    scenes = [scene_from_stac_item(p) for p in items]
    ds = landpulse.open_store(ingest(scenes, tmp_path / "landsat.zarr"))
    ids, dns, radiometry = landsat_pair_sources(items, bands)
    # Landsat 7's gains differ per band: a store giving every band one band's numbers would be wrong
    assert len({radiometry[b][0][0] for b in bands}) == len(bands)
    # the store holds the items' dates in their order, each band with its own scale/offset
    assert [str(s) for s in ds["scene_id"].values] == ids
    refl = {}
    for b in bands:
        scale = np.array([r[0] for r in radiometry[b]])
        offset = np.array([r[1] for r in radiometry[b]])
        nodata = np.array([r[2] for r in radiometry[b]])
        np.testing.assert_array_equal(ds[f"{b}_dn_scale"].values, scale, err_msg=b)
        np.testing.assert_array_equal(ds[f"{b}_dn_offset"].values, offset, err_msg=b)
        np.testing.assert_array_equal(ds[b].values, dns[b], err_msg=b)
        r = dns[b].astype(np.float64) * scale[:, None, None] + offset[:, None, None]
        refl[b] = np.where(dns[b] == nodata[:, None, None], np.nan, r)
    names = [n for n in index_names() if "RE1" not in catalogue().get(n).bands]
    out = landpulse.indices(ds, names).compute()
    for name in names:
        spec = catalogue().get(name)
        with np.errstate(all="ignore"):
            ref = PAPER[spec.name](refl)
        got = out[name].values.astype(np.float64)
        inside = np.isfinite(ref) & (ref > spec.valid_range[0] + 1e-5) & (ref < spec.valid_range[1] - 1e-5)
        assert inside.mean() > (0.8 if spec.range_basis == "convention" else 0.9), name  # GARI: 10 % out on TOA data
        np.testing.assert_array_equal(np.isfinite(got[inside]), True, err_msg=name)
        np.testing.assert_allclose(got[inside], ref[inside], rtol=3e-5, atol=3e-6, err_msg=name)
    # July, central Germany: vegetated (NDVI > 0.5 on most pixels in 2013), no open water
    assert np.nanmedian(out["ndvi"].values[1]) > 0.5
    assert np.nanmedian(out["mndwi"].values[1]) < 0
