"""Masks from the class tables STAC items publish (classification extension) for their quality
bands: CBERS surface-reflectance CMASK, and Sentinel-2 SCL where an item states its classes.

Pixels are generated (small arrays with known answers). The CMASK class table is the tests' own
(tests/support/cbers.py: NOT INPE's meaning of CMASK, which landpulse never assumes); the
Sentinel-2 item is the real Earth Search item with a classification:classes table added to its
scl asset by the test, the names those of ESA's SCL table (Sen2Cor, L2A product specification:
0 no data ... 11 snow), because the real item carries none.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import landpulse
from landpulse.errors import ClassTableMissingError, InputError, ProductMeaningWarning
from landpulse.io import ingest, scene_from_stac_item
from landpulse.products.masking import (
    MASK_CLEAR,
    MASK_MASKED,
    MASK_NODATA,
    NAME_RULE,
    Mask,
    class_name_meaning,
    item_table_rules,
)
from landpulse.products.provenance import provenance
from landpulse.spec.radiometry import CLASSIFICATION_ATTR
from tests.support import EARTH_SEARCH_ITEM, Placement, WriteBand, skip_or_fail
from tests.support.cbers import CMASK_CLASSES, CMASK_NOT_CLEAR, write_sr_item

SHAPE = (9, 11)


def _pixels(seed: int = 7) -> tuple[dict[str, np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    sr = {c: rng.integers(100, 4000, SHAPE).astype(np.int16) for c in ("blue", "green", "red", "nir")}
    sr["nir"][1, 1] = -9999  # a reflectance nodata pixel on a clear CMASK pixel
    cmask = rng.integers(0, 7, SHAPE).astype(np.uint8)  # every class of CMASK_CLASSES...
    cmask[0, :7] = np.arange(7)
    cmask[1, 1] = 1
    cmask[8, 10] = 9  # ...and one value the table lacks: no data
    return sr, cmask


def _ndvi_reference(sr: dict[str, np.ndarray], masked: np.ndarray) -> np.ndarray:
    red, nir = (sr[c].astype(np.float64) * 1e-4 for c in ("red", "nir"))
    out = (nir - red) / (nir + red)
    out[(sr["red"] == -9999) | (sr["nir"] == -9999) | masked] = np.nan
    return out


def test_the_name_rule() -> None:
    # hand-chosen names in the spellings publishers use (ESA's SCL names, Landsat-style bit classes)
    masked = ["cloud", "Cloud Shadow", "cloud_shadows", "CloudShadow", "cloud_high_probability", "thin_cirrus",
              "saturated_or_defective", "haze"]
    nodata = ["nodata", "no_data", "NoData", "fill", "No Data", "missing"]
    clear = ["clear", "not_cloud", "cloud_free", "no_shadow", "not_fill", "vegetation", "water", "unclassified",
             "dark_area_pixels", "not_vegetated", "high", "low"]
    assert {n: class_name_meaning(n) for n in masked} == dict.fromkeys(masked, "masked")
    assert {n: class_name_meaning(n) for n in nodata} == dict.fromkeys(nodata, "nodata")
    assert {n: class_name_meaning(n) for n in clear} == dict.fromkeys(clear, "clear")
    assert class_name_meaning("snow") == class_name_meaning("Snow/Ice") == "snow"  # on request only


def test_cbers_cmask_classes_mask_ndvi_exactly(tmp_path: Path, write_band: WriteBand, backend: Placement) -> None:
    sr, cmask = _pixels()
    scene = scene_from_stac_item(write_sr_item(write_band, "sr", sr, cmask))
    assert set(scene.bands) == {"blue", "green", "red", "nir", "cmask"}
    assert scene.bands["cmask"].kind == "classification" and scene.bands["cmask"].scale == 1.0
    ds = landpulse.open_store(ingest(scene, tmp_path / "sr.zarr"))
    # the mask band and its class table survive ingest
    np.testing.assert_array_equal(ds["cmask"].values[0], cmask)
    record = json.loads(ds["cmask"].attrs[CLASSIFICATION_ATTR])
    assert record == {"asset": "CMASK", "classes": CMASK_CLASSES}

    ds = backend(ds)  # the same lookup table on every backend (the fused kernel applies it)
    out = backend.host(landpulse.indices(ds, ["ndvi"], mask="auto"))
    not_clear = np.isin(cmask, CMASK_NOT_CLEAR) | ~np.isin(cmask, [c["value"] for c in CMASK_CLASSES])
    np.testing.assert_allclose(out["ndvi"].values[0], _ndvi_reference(sr, not_clear), rtol=1e-6, atol=1e-7)
    assert np.isnan(out["ndvi"].values[0][not_clear]).all() and np.isfinite(out["ndvi"].values[0][cmask == 4]).all()
    codes = out["mask"].values[0]
    np.testing.assert_array_equal(codes == MASK_NODATA, np.isin(cmask, [0, 9]))
    np.testing.assert_array_equal(codes == MASK_MASKED, np.isin(cmask, [2, 3, 5]))
    np.testing.assert_array_equal(codes == MASK_CLEAR, np.isin(cmask, [1, 4, 6]))

    # the table and the rule are in the product's provenance
    rec = provenance(out["ndvi"])["parameters"]["mask"]
    assert rec["source"] == "item" and rec["band"] == "CMASK" and rec["class_table"] == {"classes": CMASK_CLASSES}
    assert rec["masked_by_default"] == ["cloud", "cloud_shadow", "Thin Cirrus"] and rec["nodata_classes"] == ["NoData"]
    assert rec["name_rule"] == NAME_RULE

    # snow is masked on request, by the name the item gives it
    snow = backend.host(landpulse.indices(ds, ["ndvi"], mask=Mask(classes=["cloud", "snow"])))["ndvi"].values[0]
    np.testing.assert_allclose(snow, _ndvi_reference(sr, np.isin(cmask, [0, 2, 4, 9])), rtol=1e-6, atol=1e-7)
    with pytest.raises(InputError, match="no class or flag .*'cirrus'.*known: NoData, clear, cloud"):
        landpulse.mask(ds, Mask(classes=["cirrus"]))


def test_the_table_on_the_asset_and_buffers(tmp_path: Path, write_band: WriteBand) -> None:
    sr, cmask = _pixels(3)
    cmask[:] = 1
    cmask[4, 5] = 2  # one cloud pixel; a 64 m buffer covers its 4-neighbours (64 m WFI pixels)
    ds = landpulse.open_store(ingest(scene_from_stac_item(
        write_sr_item(write_band, "a", sr, cmask, on_raster_band=False)), tmp_path / "a.zarr"))
    codes = landpulse.mask(ds, Mask(buffer=64.0)).values[0]
    expect = np.zeros(SHAPE, np.uint8)
    expect[4, 5] = MASK_MASKED
    expect[[3, 5, 4, 4], [5, 5, 4, 6]] = 2  # MASK_BUFFER
    np.testing.assert_array_equal(codes, expect)


def test_no_class_table_no_guess(tmp_path: Path, write_band: WriteBand) -> None:
    sr, cmask = _pixels()
    scene = scene_from_stac_item(write_sr_item(write_band, "n", sr, cmask, classes=None))
    ds = landpulse.open_store(ingest(scene, tmp_path / "n.zarr"))
    assert json.loads(ds["cmask"].attrs[CLASSIFICATION_ATTR]) == {"asset": "CMASK"}
    msg = "cannot tell which values are clouds: the item's CMASK has no classification:classes"
    for asked in (Mask(), True, Mask(band="cmask"), Mask(source="item")):
        with pytest.raises(ClassTableMissingError, match=msg):
            landpulse.indices(ds, ["ndvi"], mask=asked)
    with pytest.warns(ProductMeaningWarning, match=msg):  # 'auto' masks where it can, says so where not
        out = landpulse.indices(ds, ["ndvi"], mask="auto")
    assert "mask" not in out
    np.testing.assert_allclose(out["ndvi"].values[0], _ndvi_reference(sr, np.zeros(SHAPE, bool)), rtol=1e-6, atol=1e-7)


def test_a_store_holds_one_class_table(tmp_path: Path, write_band: WriteBand) -> None:
    sr, cmask = _pixels()
    first = scene_from_stac_item(write_sr_item(write_band, "t1", sr, cmask))
    other = [dict(c, name="cloud") if c["value"] == 1 else c for c in CMASK_CLASSES]
    second = scene_from_stac_item(write_sr_item(write_band, "t2", sr, cmask, classes=other,
                                                item_id="CBERS4-WFI-16D_V2_007004_20200117",
                                                when="2020-01-17T00:00:00Z"))
    with pytest.raises(InputError, match="another class table"):
        ingest([first, second], tmp_path / "two.zarr")
    store = ingest(first, tmp_path / "one.zarr")
    with pytest.raises(InputError, match="another class table"):
        ingest(second, store, append=True)


def test_bitfields() -> None:
    # classification:bitfields as the extension defines them (offset, length, classes), Landsat-like
    # names; hand-worked: value 0b1 fill -> no data; 0b1000 (bit 3) cloud -> masked; 0b1_0000_0000
    # (cloud confidence low, bits 8-9 = 1) -> clear; 0b10000 (bit 4, shadow) -> masked
    fields = [
        {"name": "fill", "offset": 0, "length": 1, "classes": [{"value": 0, "name": "not_fill"}, {"value": 1, "name": "fill"}]},
        {"name": "cloud", "offset": 3, "length": 1, "classes": [{"value": 0, "name": "not_cloud"}, {"value": 1, "name": "cloud"}]},
        {"name": "shadow", "offset": 4, "length": 1,
         "classes": [{"value": 0, "name": "not_shadow"}, {"value": 1, "name": "cloud_shadow"}]},
        {"name": "cloud_confidence", "offset": 8, "length": 2,
         "classes": [{"value": v, "name": n} for v, n in enumerate(["not_set", "low", "medium", "high"])]},
    ]
    band = xr.DataArray(np.zeros((2, 2), np.uint16), dims=("y", "x"), name="qa",
                        attrs={CLASSIFICATION_ATTR: json.dumps({"asset": "QA", "bitfields": fields})})
    rules = item_table_rules(band)
    assert rules.rules["default"] == ["cloud:cloud", "shadow:cloud_shadow"] and rules.rules["nodata"] == ["fill:fill"]
    lut, blut = rules.tables(Mask())
    assert [int(lut[v]) for v in (0, 0b1, 0b1000, 0b1_0000_0000, 0b10000, 0b1001)] == [
        MASK_CLEAR, MASK_NODATA, MASK_MASKED, MASK_CLEAR, MASK_MASKED, MASK_NODATA]
    assert int(blut[0b1000]) == 1 and int(blut[0b1001]) == 0
    lut, _ = rules.tables(Mask(classes=["cloud_confidence:high"]))
    assert [int(lut[v]) for v in (0b11_0000_0000, 0b10_0000_0000, 0b1000)] == [MASK_MASKED, MASK_CLEAR, MASK_CLEAR]


# ESA's SCL classes (Sen2Cor; L2A product specification), as a STAC classification table names them
ESA_SCL_NAMES = ["no_data", "saturated_or_defective", "dark_area_pixels", "cloud_shadows", "vegetation",
                 "not_vegetated", "water", "unclassified", "cloud_medium_probability", "cloud_high_probability",
                 "thin_cirrus", "snow"]


def test_sentinel2_item_table_agrees_with_the_sensor_rule(tmp_path: Path, write_band: WriteBand) -> None:
    if not EARTH_SEARCH_ITEM.exists():
        skip_or_fail("shared_data", "shared data not found")
    item = json.loads(EARTH_SEARCH_ITEM.read_text())
    assert "classification:classes" not in item["assets"]["scl"]["raster:bands"][0]  # the real item has none
    item["assets"]["scl"]["raster:bands"][0]["classification:classes"] = [
        {"value": v, "name": n} for v, n in enumerate(ESA_SCL_NAMES)]
    rng = np.random.default_rng(11)
    scl = rng.integers(0, 13, (8, 10)).astype(np.uint8)  # every class, and 12, which neither table has
    scl[0, :] = np.arange(10)
    scl[1, :3] = [10, 11, 12]
    scl[5, 5] = 9  # a cloud for the buffer
    for key, arr, res in (("red", rng.integers(1000, 3000, (16, 20)), 10.0),
                          ("nir", rng.integers(1000, 5000, (16, 20)), 10.0), ("scl", scl, 20.0)):
        dtype = np.uint8 if key == "scl" else np.uint16
        item["assets"][key]["href"] = str(write_band(f"s2/{key}.tif", arr.astype(dtype), res=res))
    scene = scene_from_stac_item(item, bands=["red", "nir", "scl"])
    ds = landpulse.open_store(ingest(scene, tmp_path / "s2.zarr"))
    assert json.loads(ds["scl"].attrs[CLASSIFICATION_ATTR])["classes"][3] == {"value": 3, "name": "cloud_shadows"}
    for buffer in (0.0, 20.0):
        by_sensor = landpulse.mask(ds, Mask(source="sensor", buffer=buffer))
        by_item = landpulse.mask(ds, Mask(source="item", buffer=buffer))
        np.testing.assert_array_equal(by_item.values, by_sensor.values)
        assert by_item.values.min() == MASK_CLEAR and (by_item.values == MASK_MASKED).any()
        assert (by_item.values == MASK_NODATA).any()
    # by default the registry's rule decides for SCL; the item's table is recorded, not needed
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rec = provenance(landpulse.indices(ds, ["ndvi"], mask="auto")["ndvi"])["parameters"]["mask"]
    assert rec["sensor"] == "sentinel2-l2a" and "class_table" not in rec
