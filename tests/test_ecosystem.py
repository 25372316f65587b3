"""Products round-trip through the ecosystem's own tools, never landpulse's readers: xarray's and
rioxarray's writers, plain ``xr.open_zarr``, odc-stac, pystac's schema validation (offline),
rio-cogeo, and GDAL (the one inside rasterio's wheel, through rasterio and its C API).

Inputs are real: the bundled CC0 Sentinel-2 L1C crop (``sample_store``) and, for loads along
time, three dates of the Bolzano Sentinel-2 L2A series in ../shared/data.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pystac
import pytest
import rasterio
import xarray as xr
from rasterio.errors import RasterioIOError

import landpulse
from landpulse.errors import InputError, ProductMeaningWarning
from landpulse.production.jobspec import parse_job
from landpulse.production.run import JobResult, run_job, run_store
from landpulse.viz import class_colour_table
from tests.support import BOLZANO, skip_or_fail
from tests.support.gdal import category_names, gdal_version

# ---------------------------------------------------------------------------------------------
# in memory: every public function's output saves with xarray's and rioxarray's writers

PRODUCERS: dict[str, Callable[[xr.Dataset], xr.DataArray | xr.Dataset]] = {
    "ndvi": lambda ds: landpulse.ndvi(ds),
    "indices": lambda ds: landpulse.indices(ds, ["ndvi", "ndwi", "nbr"]),
    "index_water": lambda ds: landpulse.water.index_water(ds, mask=None),
    "otsu_water": lambda ds: landpulse.water.otsu_water(ds, mask=None),
    "dndvi": lambda ds: landpulse.change.dndvi(ds.isel(time=0), ds.isel(time=0), thresholds=(-0.1, 0.1),
                                               labels=("loss", "stable", "gain")),
}


@pytest.fixture(scope="module")
def scene(sample_store: Path) -> xr.Dataset:
    return landpulse.open_store(sample_store)


def _same(a: np.ndarray, b: np.ndarray) -> None:
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("producer", sorted(PRODUCERS))
def test_outputs_save_with_xarray_and_rioxarray_writers(producer: str, scene: xr.Dataset, tmp_path: Path) -> None:
    """``to_netcdf``, ``to_zarr`` and ``rio.to_raster`` on the output of every public function
    (they failed with "Key 'grid_mapping' already exists in attrs"); read back by xarray and GDAL
    with the CRS and the values."""
    out = PRODUCERS[producer](scene)
    ds = (out.to_dataset() if isinstance(out, xr.DataArray) else out).compute()
    crs = scene.rio.crs
    ds.to_netcdf(tmp_path / "p.nc", engine="h5netcdf")
    ds.to_zarr(tmp_path / "p.zarr", zarr_format=3, consolidated=True)
    # decode_coords="all": xarray's reading of CF grid mappings in files it wrote itself
    for back in (xr.open_dataset(tmp_path / "p.nc", engine="h5netcdf", decode_coords="all"),
                 xr.open_zarr(tmp_path / "p.zarr", decode_coords="all")):
        for name in ds.data_vars:
            assert back[name].rio.crs == crs, name
            _same(back[name].values, ds[name].values)
    for name, var in ds.data_vars.items():
        if var.ndim < 2:
            continue
        image = var.isel({d: 0 for d in var.dims[:-2]}) if var.ndim > 2 else var
        tif = tmp_path / f"{name}.tif"
        image.rio.to_raster(tif)
        with rasterio.open(tif) as src:
            assert src.crs == crs and src.transform == image.rio.transform()
            _same(src.read(1), image.values)


def test_band_dimension_dataarrays_are_accepted(scene: xr.Dataset) -> None:
    """A DataArray with a ``band`` dimension (what stackstac returns, odc-stac's ``.to_array``)
    goes into the public functions (it raised AttributeError); bands are found by the band
    coordinate or by a stackstac-style ``common_name`` coordinate along it."""
    refl = xr.Dataset({b: landpulse.to_reflectance(scene[b]) for b in ("red", "nir", "green", "swir16")})
    expected = landpulse.ndvi(refl).values
    # reflectance, as the array says (its attributes hold for every band); odc-stac/stackstac
    # arrays without it are declared like Datasets: landpulse.declare_radiometry(da, scale=...)
    stack = refl.to_array("band").assign_attrs(refl["red"].attrs)
    _same(landpulse.ndvi(stack).values, expected)
    bare = xr.Dataset({b: xr.DataArray(scene[b].data, dims=scene[b].dims, coords=scene[b].coords) for b in ("red", "nir")})
    _same(landpulse.ndvi(landpulse.declare_radiometry(bare.to_array("band"), scale=1e-4, offset=0.0)).values,
          landpulse.ndvi(landpulse.declare_radiometry(bare, scale=1e-4, offset=0.0)).values)
    by_id = stack.assign_coords(band=["B04", "B08", "B03", "B11"], common_name=("band", ["red", "nir", "green", "swir16"]))
    _same(landpulse.ndvi(by_id).values, expected)
    _same(landpulse.indices(by_id, ["ndwi"])["ndwi"].values, landpulse.indices(refl, ["ndwi"])["ndwi"].values)
    _same(landpulse.water.index_water(by_id, mask=None)["water"].values,
          landpulse.water.index_water(refl, mask=None)["water"].values)
    with pytest.raises(InputError, match="band dimension"):
        landpulse.ndvi(refl["red"])


def test_mask_auto_means_the_same_everywhere(scene: xr.Dataset) -> None:
    """``mask="auto"`` on a scene without a classification band: no mask and a warning that says
    so, in the index functions (they raised MissingBandError) as in the water functions (silent)."""
    with pytest.warns(ProductMeaningWarning, match="no classification band"):
        out = landpulse.indices(scene, ["ndvi", "evi", "mndwi", "nbr"], mask="auto")
    assert "mask" not in out and set(out.data_vars) == {"ndvi", "evi", "mndwi", "nbr"}
    with pytest.warns(ProductMeaningWarning, match="no classification band"):
        landpulse.water.index_water(scene)


# ---------------------------------------------------------------------------------------------
# product stores opened with plain xarray (no decode_coords="all", no consolidated=False)


@pytest.mark.parametrize("encoding", ["int16", "float32"])
def test_product_store_opens_with_plain_xarray(encoding: str, scene: xr.Dataset, tmp_path: Path) -> None:
    ndvi = landpulse.ndvi(scene)
    path = landpulse.write_product(ndvi, tmp_path / "ndvi.zarr", encoding=encoding)  # type: ignore[arg-type]
    expected = ndvi.values
    for opened in (lambda: xr.open_zarr(path), lambda: xr.open_dataset(path, engine="zarr")):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # consolidated metadata: no "failed to open consolidated" warning
            ds = opened()
        assert "spatial_ref" in ds.coords and "spatial_ref" not in ds.data_vars
        assert ds["ndvi"].rio.crs == scene.rio.crs
        got = ds["ndvi"].values
        np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))  # nodata -32768 -> NaN
        if encoding == "float32":
            assert ds["ndvi"].dtype == np.float32
            _same(got, expected)
        else:
            # xarray's CF decoder types decoded values by their scale_factor, a JSON number in
            # Zarr (float64): int16 x 1e-4 always decodes to float64 in plain xarray (README)
            assert ds["ndvi"].dtype == np.float64
            np.testing.assert_allclose(got, expected, atol=0.5e-4 + 1e-7)


# ---------------------------------------------------------------------------------------------
# a product store written by `landpulse compute` (store mode) and one along time (a job)


@pytest.fixture(scope="module")
def computed(sample_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, JobResult]]:
    """`landpulse compute STORE --out DIR` of the bundled scene: an index, a class product and
    WOfS, which runs outside its calibration on this L1C (top-of-atmosphere) scene."""
    out = tmp_path_factory.mktemp("computed") / "products"
    lines: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ProductMeaningWarning)
        result = run_store(sample_store, out, products=["ndvi", "ndwi", "water", "water_wofs"], tile="18SVG",
                           echo=lines.append)
    assert result.exit_code == 0, [u.error for u in result.failed]
    # a production run records what changes a product's meaning and prints it as a note under the
    # unit's line, instead of letting the warning reach the console in Python's file:line format
    assert not [w for w in caught if issubclass(w.category, ProductMeaningWarning)]
    notes = [line for line in lines if line.startswith("    note: ")]
    assert any("outside the classifier's calibration" in n for n in notes), lines
    yield out, result


def _items(store: Path) -> list[pystac.Item]:
    catalog = pystac.Catalog.from_file(str(store / "catalog.json"))
    return sorted(catalog.get_items(recursive=True), key=lambda i: i.id)


def test_compute_units_open_with_plain_xarray(computed: tuple[Path, JobResult]) -> None:
    """The production write path (chunk by chunk): consolidated metadata, the CRS as a coordinate."""
    store, _ = computed
    for item in _items(store):
        zarr_path = Path(item.get_self_href() or "").parent / item.assets["data"].href
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            ds = xr.open_zarr(zarr_path)
        name = item.collection_id
        assert ds[name].rio.crs == "EPSG:32618" and "spatial_ref" in ds.coords


def test_odc_stac_loads_collections_by_band_name(computed: tuple[Path, JobResult]) -> None:
    """odc-stac loads the items of `landpulse compute` (they had no COG) by band name: each
    collection's COG is the asset named like the product, so several collections load side by
    side, each its own variable on one grid (they fused into one ``cog`` layer). odc-stac 0.5
    takes the band list of a load from its first item, hence one load per collection, merged."""
    odc_stac = pytest.importorskip("odc.stac")
    store, _ = computed
    items = _items(store)
    names = ("ndvi", "ndwi", "water")
    first = odc_stac.load([i for i in items if i.collection_id == names[0]], bands=[names[0]], chunks={})
    loaded = xr.merge([first] + [odc_stac.load([i for i in items if i.collection_id == n], bands=[n], like=first, chunks={})
                                 for n in names[1:]], compat="override")
    assert set(loaded.data_vars) == set(names) and loaded.sizes["time"] == 1
    assert loaded.odc.crs == "EPSG:32618"
    for name in names:
        (item,) = [i for i in items if i.collection_id == name]
        with rasterio.open(item.assets[name].get_absolute_href()) as src:
            _same(loaded[name].isel(time=0).values, src.read(1))
            assert loaded[name].attrs["nodata"] == src.nodata
    assert loaded["water"].attrs["nodata"] == 255 and loaded["ndvi"].attrs["nodata"] == -32768
    # the Zarr assets (application/vnd+zarr) are no raster odc-stac reads with GDAL < 3.13: skipped
    with pytest.raises(ValueError, match="No such band"):
        odc_stac.load(items[:1], bands=["data"])


def test_stac_catalogue_validates_offline(computed: tuple[Path, JobResult], monkeypatch: pytest.MonkeyPatch) -> None:
    """Every item, collection and the catalog against the STAC 1.1 core schemas that pystac ships
    (no network: a schema fetch fails the test). Extension schemas are not bundled with pystac."""
    pytest.importorskip("jsonschema")
    from pystac.validation.stac_validator import JsonSchemaSTACValidator

    def offline(*args: Any, **kwargs: Any) -> str:
        raise AssertionError(f"network access while validating: {args}")

    monkeypatch.setattr(pystac.StacIO, "read_text", offline)
    validator = JsonSchemaSTACValidator()
    store, _ = computed
    docs = [(p, pystac.STACObjectType.ITEM) for p in store.glob("*/*/*/item.json")]
    docs += [(p, pystac.STACObjectType.COLLECTION) for p in store.glob("*/collection.json")]
    docs += [(store / "catalog.json", pystac.STACObjectType.CATALOG)]
    assert len(docs) == 4 + 4 + 1
    for path, kind in docs:
        doc = json.loads(path.read_text())
        assert validator.validate_core(doc, kind, doc["stac_version"], href=str(path)), path
    bands = json.loads(next(store.glob("water/*/*/item.json")).read_text())["assets"]["data"]["raster:bands"]
    assert bands == [{"data_type": "uint8", "nodata": 255}]  # class products had no nodata


def test_cogs_validate_and_gdal_reads_them(computed: tuple[Path, JobResult]) -> None:
    """rio-cogeo validates every COG; GDAL reads nodata, scale and offset, and the class COGs'
    colour table (the quick-look colours) and category names (they were grey codes)."""
    cogeo = pytest.importorskip("rio_cogeo.cogeo")
    store, _ = computed
    tifs = sorted(store.glob("*/*/*/*.tif"))
    assert {p.stem for p in tifs} == {"ndvi", "ndwi", "water", "water_wofs"}
    for tif in tifs:
        valid, errors, _ = cogeo.cog_validate(str(tif), strict=True)
        assert valid and not errors, (tif, errors)
        with rasterio.open(tif) as src:
            if src.dtypes[0] == "int16":
                assert src.nodata == -32768 and src.scales == (1e-4,) and src.offsets == (0.0,)
    water = next(p for p in tifs if p.stem == "water")
    attrs = xr.open_zarr(water.with_suffix(".zarr"))["water"].attrs
    with rasterio.open(water) as src:
        assert src.nodata == 255
        table = src.colormap(1)
    for value, rgba in class_colour_table(attrs).items():
        assert table[value] == rgba
    assert category_names(water)[:3] == ["not water", "water", "cloud or shadow"]


def test_gdal_zarr_driver(scene: xr.Dataset, tmp_path: Path) -> None:
    """GDAL's Zarr driver opens a Zarr v2 product (``zarr_format=2``) with CRS, nodata and scale;
    the Zarr v3 products (crc32c-checksummed chunks) need GDAL >= 3.13 (the `bytes` codec came
    in 3.11, `crc32c` in 3.13): below that GDAL refuses them, and this test says which."""
    ndvi = landpulse.ndvi(scene)
    v2 = landpulse.write_product(ndvi, tmp_path / "ndvi-v2.zarr", zarr_format=2)
    stored = np.where(np.isnan(ndvi.values[0]), -32768, np.round(ndvi.values[0] / 1e-4)).astype(np.int16)
    with rasterio.open(f'ZARR:"{v2}":/ndvi') as src:
        assert src.crs == scene.rio.crs and src.transform == ndvi.rio.transform()
        assert src.nodata == -32768 and src.scales == (1e-4,) and src.offsets == (0.0,)
        np.testing.assert_allclose(src.read(1).astype(np.int32), stored, atol=1)
    v3 = landpulse.write_product(ndvi, tmp_path / "ndvi-v3.zarr")
    major, minor = (int(v) for v in gdal_version().split(".")[:2])
    if (major, minor) >= (3, 13):
        with rasterio.open(f'ZARR:"{v3}":/ndvi') as src:
            assert src.crs == scene.rio.crs and src.nodata == -32768
    else:
        with pytest.raises(RasterioIOError, match="Unsupported codec"):
            rasterio.open(f'ZARR:"{v3}":/ndvi')


def test_meaning_warnings_reach_the_item_and_the_report(computed: tuple[Path, JobResult]) -> None:
    """WOfS outside its calibration and a water map without a cloud mask: recorded in the units'
    STAC items and in the run report (they reached only the console)."""
    store, result = computed
    wofs = json.loads(next(store.glob("water_wofs/*/*/item.json")).read_text())["properties"]
    assert any("outside the classifier's calibration" in w for w in wofs["landpulse:warnings"])
    water = json.loads(next(store.glob("water/*/*/item.json")).read_text())["properties"]
    assert any("no classification band" in w for w in water["landpulse:warnings"])
    ndvi = json.loads(next(store.glob("ndvi/*/*/item.json")).read_text())["properties"]
    assert "landpulse:warnings" not in ndvi
    report = json.loads(Path(str(result.report_json)).read_text())
    units = {w["unit"] for w in report["warnings"]}
    assert units == {u.unit for u in result.units if u.product in ("water", "water_wofs")}
    assert "outside the classifier" in Path(str(result.report_html)).read_text()


def test_verify_refuses_a_folder_that_is_not_a_product_store(tmp_path: Path, sample_store: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    from landpulse.cli import main

    (tmp_path / "empty").mkdir()
    for folder in (tmp_path / "empty", sample_store):
        assert main(["verify", str(folder)]) == 2
        assert "not a product store" in capsys.readouterr().err


@pytest.fixture(scope="module")
def along_time(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three or so dates of the real Bolzano L2A series as a job (NDVI and NDWI, COGs)."""
    if not BOLZANO.exists():
        skip_or_fail("shared_data", f"shared data not found at {BOLZANO}")
    out = tmp_path_factory.mktemp("bolzano") / "products"
    job = parse_job({
        "name": "bolzano", "inputs": {"kind": "zarr", "stores": [{"path": str(BOLZANO), "tile": "32TPS"}],
                                      "radiometry": {"scale": 1e-4, "offset": 0.0, "bands": ["B02", "B03", "B04", "B08"]}},
        "dates": {"start": "2022-06-02", "end": "2022-06-08"},
        "products": ["ndvi", "ndwi"], "output": {"store": str(out), "cog": True}, "cluster": {"kind": "threads"},
    })
    result = run_job(job, echo=lambda _: None)
    assert result.exit_code == 0 and len(result.units) >= 4, [u.error for u in result.failed]
    return out


def test_odc_stac_loads_along_time(along_time: Path) -> None:
    odc_stac = pytest.importorskip("odc.stac")
    items = _items(along_time)
    ndvi_items = [i for i in items if i.collection_id == "ndvi"]
    loaded = odc_stac.load(ndvi_items, bands=["ndvi"], chunks={}, groupby="time")
    dates = sorted({i.datetime for i in ndvi_items})
    assert loaded.sizes["time"] == len(dates) >= 2
    np.testing.assert_array_equal(loaded.time.values, np.array([np.datetime64(d.replace(tzinfo=None), "ns") for d in dates]))
    for item in (i for i in items if i.collection_id == "ndvi"):
        with rasterio.open(item.assets["ndvi"].get_absolute_href()) as src:
            when = np.datetime64(item.datetime.replace(tzinfo=None), "ns")  # type: ignore[union-attr]
            _same(loaded["ndvi"].sel(time=when).values, src.read(1))
