"""`make demo` reproduced in a temporary folder: the bundled scene ingested, examples/demo-job.yaml
run twice through the command line (a local Dask cluster of processes, as the spec says), every
product committed, NDVI against an independent NumPy reference on the GeoTIFFs, a second run that
writes nothing, and the first run's report with class areas that add up to the scene."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio

import landpulse
from landpulse.cli import main
from landpulse.production.jobspec import load_job
from tests.support import REPO, numpy_ndvi_reference

pytestmark = [
    pytest.mark.slow,
    # the spec asks for a dashboard: where port 8787 is taken (another cluster here), Dask picks another
    pytest.mark.filterwarnings("ignore:Port 8787 is already in use:UserWarning"),
]

TILE = "18SVG"
SCENE_HECTARES = 800 * 800 * 10 * 10 / 1e4  # the bundled crop: 800 x 800 pixels of 10 m = 6400 ha


def run_cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def digest(root: Path, *, skip: str) -> dict[str, str]:
    """sha256 of every file under ``root`` (the folder ``skip`` left out): any written byte shows."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.relative_to(root).parts[0] != skip}


def test_demo_job_runs_twice_like_make_demo(tmp_path: Path, sample_item: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    # the repository's layout under tmp_path: the spec's relative paths (../demo-output/...) land here
    spec = tmp_path / "examples" / "demo-job.yaml"
    spec.parent.mkdir()
    shutil.copyfile(REPO / "examples" / "demo-job.yaml", spec)
    demo = tmp_path / "demo-output"
    job = load_job(spec)
    assert job.output.store == demo / "products" and job.output.reports_dir == demo / "reports"
    products = [p.name for p in job.products]
    assert {"ndvi", "water", "water_wofs"} <= set(products), products
    class_products = [p for p in products if p.startswith("water")]

    code, out, err = run_cli(capsys, "ingest", demo / "scenes.zarr", "--item", sample_item)
    assert code == 0 and "ingested 1 scene" in out, err
    code, out, err = run_cli(capsys, "validate", spec, "--plan")
    assert code == 0 and f"{len(products)} unit(s) to compute, 0 already committed" in out, out + err

    # first run: every product of the spec computed and committed
    code, out, err = run_cli(capsys, "run", spec)
    assert code == 0, out + err
    first = json.loads((demo / "reports" / "latest.json").read_text())
    assert first["status"] == "ok" and first["exit_code"] == 0 and first["failed_scenes"] == []
    assert first["summary"]["written"] == len(products)
    store = demo / "products"
    folders = {}
    for product in products:
        (item_path,) = (store / product / TILE).glob("*/item.json")
        folder = item_path.parent
        folders[product] = folder
        assert (folder / f"{product}.zarr" / "zarr.json").is_file(), product
        assert (folder / "thumbnail.png").stat().st_size > 0, product
        item = json.loads(item_path.read_text())
        assert item["properties"]["landpulse:inputs"] == ["S2A_18SVG_20160112_L1C_crop"], product

    # the spec's output.browse: the product browser over every committed product
    index = json.loads((store / "browse" / "items.geojson").read_text())
    assert sorted(f["properties"]["product"] for f in index["features"]) == sorted(products)
    assert (store / "browse" / "index.html").is_file()

    # NDVI: the stored values against NumPy on the bundled GeoTIFFs, with the item's scale/offset
    source = json.loads(sample_item.read_text())
    bands = {}
    for name in ("red", "nir"):
        asset = source["assets"][name]
        (rb,) = asset["raster:bands"]
        with rasterio.open(sample_item.parent / asset["href"]) as src:
            bands[name] = (src.read(1), rb["scale"], rb["offset"], rb["nodata"])
    (red, r_scale, r_offset, nodata), (nir, n_scale, n_offset, _) = bands["red"], bands["nir"]
    assert (r_scale, r_offset) == (n_scale, n_offset)
    ref = numpy_ndvi_reference(red, nir, r_scale, r_offset, nodata=nodata)
    ndvi_item = json.loads((folders["ndvi"] / "item.json").read_text())
    (stored,) = ndvi_item["assets"]["data"]["raster:bands"]
    assert stored["data_type"] == "int16" and stored["scale"] == 1e-4  # the spec's encoding: int16 x 1e-4
    got = landpulse.open_product(folders["ndvi"] / "ndvi.zarr")["ndvi"].values
    got = got.reshape(got.shape[-2:])
    assert got.shape == ref.shape == (800, 800)
    assert np.array_equal(np.isnan(got), np.isnan(ref))
    assert np.isfinite(ref).mean() > 0.9
    np.testing.assert_allclose(got, ref, rtol=0, atol=stored["scale"] / 2 + 1e-7)

    # the first run's report: hectares per class of each class product add up to the scene
    units = {u["product"]: u for u in first["units"]}
    assert set(units) == set(products)
    for product in class_products:
        areas = units[product]["stats"]["areas_ha"]
        assert "water" in areas and "nodata" in areas and all(v >= 0 for v in areas.values()), (product, areas)
        assert sum(areas.values()) == pytest.approx(SCENE_HECTARES, rel=1e-3), (product, areas)
        # and each class's area is its count of stored pixels x 0.01 ha
        da = landpulse.open_product(folders[product] / f"{product}.zarr")[product]
        values = da.values.reshape(da.shape[-2:])
        meanings = str(da.attrs["flag_meanings"]).split()
        for value, name in zip(np.atleast_1d(da.attrs["flag_values"]), meanings, strict=True):
            assert areas[name] == pytest.approx(np.count_nonzero(values == value) * 0.01, abs=0.01), (product, name)

    # second run, as a nightly timer would start it with no new scene: nothing to do, no byte changed
    before = digest(demo, skip="reports")
    code, out, err = run_cli(capsys, "run", spec)
    assert code == 0 and "nothing new to do" in out, out + err
    second = json.loads((demo / "reports" / "latest.json").read_text())
    assert second["status"] == "nothing-to-do" and second["units"] == [] and second["run_id"] != first["run_id"]
    assert second["summary"]["already_committed"] == len(products)
    assert digest(demo, skip="reports") == before

    code, out, err = run_cli(capsys, "verify", store)
    assert code == 0 and f"{len(products)} unit(s) checked, 0 damaged" in out, out + err
