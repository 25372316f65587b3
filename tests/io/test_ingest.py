"""Ingest and stores: layout, multi-resolution bands, appends, and bad input that writes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio

import landpulse
from landpulse.errors import InputError
from landpulse.io import choose_chunk, ingest, open_product, scene_from_files, write_product
from tests.support import WriteBand


def _siblings(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir()) if path.parent.exists() else []


def test_sample_store_layout(sample_store: Path, sample_item: Path) -> None:
    ds = landpulse.open_store(sample_store)
    assert (sample_store / "zarr.json").is_file()
    assert ds.rio.crs == "EPSG:32618"
    assert ds.sizes == {"time": 1, "y": 800, "x": 800}
    assert set(ds.data_vars) >= {"blue", "green", "red", "nir", "swir16", "swir22", "rededge1", "nir08"}
    red = ds["red"]
    assert red.dtype == np.uint16 and red.dims == ("time", "y", "x")
    assert red.attrs["nodata"] == 0 and red.attrs["landpulse_radiometry"] == "red_dn_scale red_dn_offset"
    assert float(ds["red_dn_scale"][0]) == 1e-4 and float(ds["red_dn_offset"][0]) == 0.0
    assert ds["scene_id"].values[0] == "S2A_18SVG_20160112_L1C_crop"
    # chunks carry crc32c checksums
    import json

    codecs = json.loads((sample_store / "red" / "zarr.json").read_text())["codecs"]
    assert [c["name"] for c in codecs][-1] == "crc32c"
    # the 10 m band round-trips bit for bit
    with rasterio.open(sample_item.parent / "B04.tif") as src:
        np.testing.assert_array_equal(red.values[0], src.read(1))


def test_20m_bands_are_replicated_exactly_onto_the_10m_grid(sample_store: Path, sample_item: Path) -> None:
    ds = landpulse.open_store(sample_store)
    with rasterio.open(sample_item.parent / "B11.tif") as src:
        native = src.read(1)
        assert src.res == (20.0, 20.0)
    np.testing.assert_array_equal(ds["swir16"].values[0], np.repeat(np.repeat(native, 2, axis=0), 2, axis=1))


@pytest.mark.parametrize("n,expected", [(800, 800), (2500, 2500), (10980, 2196), (5490, 1830), (5000, 2500), (4099, 2048)])
def test_chunk_choice_divides_the_tile(n: int, expected: int) -> None:
    assert choose_chunk(n) == expected


def _pair(write_band: WriteBand, folder: str, value: int = 2000, **kw: object) -> dict[str, Path]:
    data = np.full((16, 20), value, np.uint16)
    return {"red": write_band(f"{folder}/B04.tif", data, **kw), "nir": write_band(f"{folder}/B08.tif", data * 2, **kw)}


def test_append_adds_new_dates_and_skips_known_ones(tmp_path: Path, write_band: WriteBand) -> None:
    s1 = scene_from_files(_pair(write_band, "a"), datetime="2023-01-01", sensor="sentinel2-l2a", processing_baseline="05.09", scene_id="a")
    s2 = scene_from_files(_pair(write_band, "b", 3000), datetime="2023-01-05", sensor="sentinel2-l2a", processing_baseline="05.09", scene_id="b")
    store = ingest(s1, tmp_path / "s.zarr", chunks=(8, 10))
    ingest([s1, s2], store, append=True)
    ingest([s2], store, append=True)  # nothing new: no change
    ds = landpulse.open_store(store)
    assert list(ds["scene_id"].values) == ["a", "b"]
    assert ds["red"].chunks == ((1, 1), (8, 8), (10, 10))
    np.testing.assert_array_equal(ds["red"].values[:, 0, 0], [2000, 3000])
    with pytest.raises(landpulse.InputError, match="not later"):
        s0 = scene_from_files(_pair(write_band, "c"), datetime="2022-12-01", sensor="sentinel2-l2a", processing_baseline="05.09", scene_id="c")
        ingest(s0, store, append=True)


def test_two_scenes_with_one_acquisition_time_are_refused(tmp_path: Path, write_band: WriteBand) -> None:
    """RELIABILITY: same acquisition time twice in one store -> ERROR at ingest, never a silent drop."""
    s1 = scene_from_files(_pair(write_band, "a"), datetime="2023-01-01T10:00:00", sensor="sentinel2-l2a",
                          processing_baseline="05.09", scene_id="a")
    s2 = scene_from_files(_pair(write_band, "b", 3000), datetime="2023-01-01T10:00:00", sensor="sentinel2-l2a",
                          processing_baseline="05.09", scene_id="b")
    with pytest.raises(InputError, match="same acquisition time"):
        ingest([s1, s2], tmp_path / "s.zarr")
    assert not (tmp_path / "s.zarr").exists()
    ingest([s1], tmp_path / "s.zarr")
    with pytest.raises(InputError, match="not later than the store's last date"):
        ingest([s2], tmp_path / "s.zarr", append=True)
    assert list(landpulse.open_store(tmp_path / "s.zarr")["scene_id"].values) == ["a"]


@pytest.mark.parametrize("writer", ["one-pass", "xarray"])
def test_append_is_all_or_nothing(tmp_path: Path, write_band: WriteBand, monkeypatch: pytest.MonkeyPatch,
                                  writer: str) -> None:
    """An append grows the arrays and writes the new scene ids before any pixel: a failed append is
    cut back; one whose process died leaves a mark that refuses the store until the next append
    removes the unfinished dates (a rerun must not skip a scene whose pixels were never written).
    Both writers: the one-pass one (``scene_writer.append_scene_store``) and xarray's."""
    import importlib

    import landpulse.io.scene_writer as writer_module
    import landpulse.io.store as store_module

    ingest_module = importlib.import_module("landpulse.io.ingest")
    s1 = scene_from_files(_pair(write_band, "a"), datetime="2023-01-01", sensor="sentinel2-l2a", processing_baseline="05.09", scene_id="a")
    s2 = scene_from_files(_pair(write_band, "b", 3000), datetime="2023-01-05", sensor="sentinel2-l1c", processing_baseline="05.09", scene_id="b")
    store = ingest(s1, tmp_path / "s.zarr", chunks=(8, 10))

    calls: list[int] = []
    if writer == "xarray":
        monkeypatch.setattr(ingest_module, "direct_append_possible", lambda *a: False)
        real_compute = store_module._compute

        def disk_full(delayed: object, progress: bool) -> None:
            """The staged copy writes (first call of each ingest), the append's pixels do not."""
            calls.append(1)
            if len(calls) % 2 == 0:
                raise OSError("No space left on device")
            real_compute(delayed, progress)

        monkeypatch.setattr(store_module, "_compute", disk_full)
    else:
        real_pixels = writer_module._write_pixels

        def disk_full_pixels(arrays: Any, first: int, n: int, *args: Any) -> None:
            """The first chunk of the new date is written, then the disk is full."""
            calls.append(1)
            arrays["red"][first, 0:8, 0:10] = np.full((8, 10), 3000, np.uint16)
            raise OSError("No space left on device")

        monkeypatch.setattr(writer_module, "_write_pixels", disk_full_pixels)
    with pytest.raises(OSError, match="No space"):
        ingest(s2, store, append=True)
    assert len(calls) == (2 if writer == "xarray" else 1)  # the append itself failed, after the arrays grew
    ds = landpulse.open_store(store)  # opens: the failed append was cut back
    assert list(ds["scene_id"].values) == ["a"] and ds["red"].shape[0] == 1

    # the process dies during the append: nothing runs the roll-back
    monkeypatch.setattr(store_module if writer == "xarray" else writer_module, "roll_back_append", lambda path: False)
    with pytest.raises(OSError):
        ingest(s2, store, append=True)
    monkeypatch.undo()
    if writer == "xarray":
        monkeypatch.setattr(ingest_module, "direct_append_possible", lambda *a: False)
    else:
        assert writer_module._write_pixels is real_pixels
    with pytest.raises(landpulse.InputError, match="append stopped before it finished"):
        landpulse.open_store(store)
    ingest(s2, store, append=True)  # removes the unfinished date first, then appends it whole
    ds = landpulse.open_store(store)
    assert list(ds["scene_id"].values) == ["a", "b"]
    np.testing.assert_array_equal(ds["red"].values[:, 0, 0], [2000, 3000])
    np.testing.assert_array_equal(ds["red"].values[:, -1, -1], [2000, 3000])
    assert json.loads(ds.attrs["sensor"]) == ["sentinel2-l1c", "sentinel2-l2a"]  # both sensors kept


# --- bad input: a clear error, nothing written -------------------------------------------------

def test_missing_band_writes_nothing(tmp_path: Path, write_band: WriteBand) -> None:
    files = _pair(write_band, "a")
    scene = scene_from_files({"red": files["red"]}, datetime="2023-01-01", sensor="sentinel2-l2a", processing_baseline="05.09")
    target = tmp_path / "out" / "s.zarr"
    with pytest.raises(landpulse.MissingBandError, match="no 'nir' band"):
        ingest(scene, target, bands=["red", "nir"])
    assert not target.exists() and _siblings(target) == []


def test_unreadable_file_writes_nothing(tmp_path: Path, write_band: WriteBand) -> None:
    files = _pair(write_band, "a")
    files["nir"].write_bytes(b"this is not a GeoTIFF")
    scene = scene_from_files(files, datetime="2023-01-01", sensor="sentinel2-l2a", processing_baseline="05.09")
    target = tmp_path / "out" / "s.zarr"
    with pytest.raises(landpulse.UnreadableInputError, match="B08.tif"):
        ingest(scene, target)
    assert not target.exists() and _siblings(target) == []


def test_corrupt_pixels_fail_before_the_store_appears(tmp_path: Path, write_band: WriteBand) -> None:
    # A valid header with truncated pixel data: the metadata check passes, reading pixels fails.
    files = _pair(write_band, "a")
    raw = files["nir"].read_bytes()
    files["nir"].write_bytes(raw[: len(raw) // 2])
    scene = scene_from_files(files, datetime="2023-01-01", sensor="sentinel2-l2a", processing_baseline="05.09")
    target = tmp_path / "out" / "s.zarr"
    with pytest.raises(landpulse.UnreadableInputError, match="B08.tif"):
        ingest(scene, target)
    assert not target.exists() and _siblings(target) == []


def test_different_crs_is_refused(tmp_path: Path, write_band: WriteBand) -> None:
    files = {"red": write_band("a/B04.tif", np.ones((8, 8), np.uint16)),
             "nir": write_band("a/B08.tif", np.ones((8, 8), np.uint16), crs="EPSG:32633")}
    scene = scene_from_files(files, datetime="2023-01-01", sensor="sentinel2-l2a", processing_baseline="05.09")
    with pytest.raises(landpulse.GridMismatchError, match="CRS"):
        ingest(scene, tmp_path / "s.zarr")
    assert not (tmp_path / "s.zarr").exists()


def test_scenes_on_different_grids_are_refused(tmp_path: Path, write_band: WriteBand) -> None:
    s1 = scene_from_files(_pair(write_band, "a"), datetime="2023-01-01", sensor="sentinel2-l2a", processing_baseline="05.09", scene_id="a")
    s2 = scene_from_files(_pair(write_band, "b", origin=(600100.0, 5200020.0)), datetime="2023-01-02", sensor="sentinel2-l2a",
                          processing_baseline="05.09", scene_id="b")
    with pytest.raises(landpulse.GridMismatchError, match="different grid"):
        ingest([s1, s2], tmp_path / "s.zarr")
    assert not (tmp_path / "s.zarr").exists()


def test_s2_files_without_baseline_or_offset_are_refused(write_band: WriteBand) -> None:
    with pytest.raises(landpulse.InputError, match="processing baseline"):
        scene_from_files(_pair(write_band, "a"), datetime="2023-01-01", sensor="sentinel2-l2a")


@pytest.mark.parametrize("path_kind", ["missing", "plain-folder", "file", "broken-metadata"])
def test_store_that_is_not_zarr(tmp_path: Path, path_kind: str) -> None:
    path = tmp_path / "thing"
    if path_kind == "plain-folder":
        path.mkdir()
    elif path_kind == "file":
        path.write_text("hello")
    elif path_kind == "broken-metadata":
        path.mkdir()
        (path / "zarr.json").write_text("{ not json")
    with pytest.raises(landpulse.NotAZarrStoreError):
        landpulse.open_store(path)


def test_reading_the_foreign_v2_store(bolzano) -> None:  # type: ignore[no-untyped-def]
    assert bolzano.rio.crs == "EPSG:32632"
    assert bolzano.sizes["t"] == 12 and bolzano["B04"].dtype == np.float32


def test_product_roundtrip_int16_and_float32(tmp_path: Path, sample_store: Path) -> None:
    ndvi = landpulse.ndvi(landpulse.open_store(sample_store))
    exact = ndvi.values
    p16 = write_product(ndvi, tmp_path / "n16.zarr")
    p32 = write_product(ndvi, tmp_path / "n32.zarr", encoding="float32")
    back16, back32 = open_product(p16)["ndvi"], open_product(p32)["ndvi"]
    assert back16.dtype == np.float32 and back16.encoding["dtype"] == np.int16
    np.testing.assert_allclose(back16.values, exact, atol=0.5e-4 + 1e-7)
    np.testing.assert_array_equal(np.isnan(back16.values), np.isnan(exact))
    np.testing.assert_array_equal(back32.values, exact)
    assert back16.rio.crs == ndvi.rio.crs and back16.rio.transform() == ndvi.rio.transform()
    assert back16.attrs["valid_range"] == [-1.0, 1.0]
    with pytest.raises(landpulse.InputError, match="already exists"):
        write_product(ndvi, p16)


def test_corrupted_product_chunk_raises_on_read(tmp_path: Path, sample_store: Path) -> None:
    path = write_product(landpulse.ndvi(landpulse.open_store(sample_store)), tmp_path / "n.zarr")
    chunk = next(p for p in (path / "ndvi" / "c").rglob("*") if p.is_file())
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2] ^= 0xFF
    chunk.write_bytes(bytes(data))
    with pytest.raises(Exception, match="(?i)checksum|crc"):
        _ = open_product(path)["ndvi"].values


def test_scene_grids_match_within_a_fraction_of_the_pixel() -> None:
    # Issue 18: grid identity in pixels, not metres: the float32 rounding of a 10 m UTM grid's
    # origin (0.03 m at x ~ 600000, 0.003 pixel) is the same grid; 0.3 pixel is not (hand-built
    # transforms).
    from affine import Affine

    from landpulse.io.ingest import Grid

    g = Grid("EPSG:32632", Affine(10.0, 0.0, 600000.0, 0.0, -10.0, 5200020.0), (100, 200))
    rounded = Grid(g.crs, Affine(10.0, 0.0, float(np.float32(600000.03)), 0.0, -10.0, 5200020.0 - 0.03), g.shape)
    shifted = Grid(g.crs, Affine(10.0, 0.0, 600003.0, 0.0, -10.0, 5200020.0), g.shape)
    assert g.same_as(rounded) and rounded.same_as(g)
    assert not g.same_as(shifted)
    drift = Grid(g.crs, Affine(10.0 + 1e-3, 0.0, 600000.0, 0.0, -10.0, 5200020.0), g.shape)  # 0.2 m at the far edge
    assert not g.same_as(drift) and g.same_as(Grid(g.crs, Affine(10.0 + 1e-7, 0.0, 600000.0, 0.0, -10.0, 5200020.0), g.shape))


def _relabelled_sample_item(tmp_path: Path, sample_item: Path, edit: str) -> Path:
    """The bundled real L1C item (baseline < 04.00: DNs = 1e4 x reflectance) with its metadata
    edited as a wrongly labelled scene would be; the pixels are the real ones, read in place."""
    item = json.loads(sample_item.read_text())
    for asset in item["assets"].values():
        asset["href"] = str((sample_item.parent / asset["href"]).resolve())
        rb = (asset.get("raster:bands") or [{}])[0]
        if edit == "baseline":  # no raster offset: the sensor registry's baseline rule applies
            rb.pop("scale", None), rb.pop("offset", None)
        elif edit == "raster-offset":
            rb["offset"] = -0.1
        elif edit == "scale":
            rb["scale"] = 0.01  # a percent scale on values x 1e4
    if edit == "baseline":
        item["properties"]["s2:processing_baseline"] = "04.00"
    path = tmp_path / "item.json"
    path.write_text(json.dumps(item))
    return path


@pytest.mark.parametrize("edit", ["baseline", "raster-offset"])
def test_an_offset_the_dns_rule_out_is_refused_at_ingest(tmp_path: Path, sample_item: Path, edit: str) -> None:
    # Issue 18: the -1000 DN offset of baseline 04.00 on real DNs that never had 1000 added (61-91 %
    # of the crop's valid red/nir DNs are below 1000): refused before anything is written.
    from landpulse.io import scene_from_stac_item

    scene = scene_from_stac_item(_relabelled_sample_item(tmp_path, sample_item, edit), bands=["red", "nir"])
    assert scene.bands["red"].offset == -0.1
    with pytest.raises(landpulse.RadiometryError, match=r"scene .*offset of -1000 DN \(red, nir\) is ruled out by the pixels.*s2:processing_baseline"):
        ingest(scene, tmp_path / "x.zarr")
    assert not (tmp_path / "x.zarr").exists()


def test_a_scale_the_dns_rule_out_is_recorded_in_the_store(tmp_path: Path, sample_item: Path) -> None:
    from landpulse.errors import ProductMeaningWarning
    from landpulse.io import scene_from_stac_item
    from landpulse.products.provenance import provenance

    scene = scene_from_stac_item(_relabelled_sample_item(tmp_path, sample_item, "scale"), bands=["red", "nir"])
    with pytest.warns(ProductMeaningWarning, match="band 'red': scale 0.01 and offset 0 put 100% of the sampled reflectances above 1.5"):
        store = ingest(scene, tmp_path / "x.zarr")
    ds = landpulse.open_store(store)
    assert len(json.loads(ds.attrs["landpulse_radiometry_warnings"])) == 2
    assert "probably wrong" in ds["nir"].attrs["landpulse_radiometry_warning"]
    assert "above 1.5" in provenance(landpulse.ndvi(ds))["radiometry"]["nir"]["warning"]


def test_an_append_at_another_time_of_day_keeps_the_time_axis_readable(tmp_path: Path, write_band: WriteBand) -> None:
    # A store first ingested with one scene used to take xarray's unit "days since <its time>",
    # which cannot hold a later scene acquired at another time of day: the append wrote a time axis
    # that no reader decodes. New stores use a fixed unit; both writers agree on it.
    import importlib

    ingest_module = importlib.import_module("landpulse.io.ingest")
    times = ["2022-06-02T10:17:41.024Z", "2022-06-07T10:07:29.024Z"]
    for direct in (True, False):
        s1 = scene_from_files(_pair(write_band, "a"), datetime=times[0], sensor="sentinel2-l2a", processing_baseline="04.00", scene_id="a")
        s2 = scene_from_files(_pair(write_band, "b", 3000), datetime=times[1], sensor="sentinel2-l2a", processing_baseline="04.00", scene_id="b")
        store = tmp_path / f"direct-{direct}.zarr"
        with pytest.MonkeyPatch.context() as m:
            if not direct:
                m.setattr(ingest_module, "direct_write_possible", lambda planned: False)
            ingest(s1, store)
        assert json.loads((store / "time" / "zarr.json").read_text())["attributes"]["units"] == "microseconds since 1970-01-01"
        ingest(s2, store, append=True)
        ds = landpulse.open_store(store)
        np.testing.assert_array_equal(ds["time"].values, np.array([t[:-1] for t in times], dtype="datetime64[ns]"))


def test_an_append_an_old_time_unit_cannot_hold_is_refused(tmp_path: Path, write_band: WriteBand) -> None:
    import zarr

    s1 = scene_from_files(_pair(write_band, "a"), datetime="2022-06-02T10:17:41Z", sensor="sentinel2-l2a", processing_baseline="04.00", scene_id="a")
    s2 = scene_from_files(_pair(write_band, "b", 3000), datetime="2022-06-07T10:07:29Z", sensor="sentinel2-l2a", processing_baseline="04.00", scene_id="b")
    store = ingest(s1, tmp_path / "s.zarr")
    # rewrite the time axis as an older landpulse wrote it: the unit xarray inferred from one scene
    time = zarr.open_array(store / "time", mode="r+")
    time.attrs["units"] = "days since 2022-06-02 10:17:41"
    time[:] = [0]
    assert landpulse.open_store(store)["time"].values[0] == np.datetime64("2022-06-02T10:17:41")
    before = {p: p.read_bytes() for p in store.rglob("*") if p.is_file()}
    with pytest.raises(InputError, match="cannot hold the acquisition time of scene b"):
        ingest(s2, store, append=True)
    assert {p: p.read_bytes() for p in store.rglob("*") if p.is_file()} == before
