"""The ``landpulse`` command: the demo path end to end, exit codes and one-line errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pystac
import pytest

import landpulse
from landpulse.cli import main
from tests.support import BOLZANO, skip_or_fail


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_ingest_run_info_end_to_end(tmp_path: Path, sample_item: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store, out = tmp_path / "scenes.zarr", tmp_path / "products"
    code, stdout, _ = run_cli(capsys, "ingest", store, "--item", sample_item, "--bands", "red,nir,swir16")
    assert code == 0 and "ingested 1 scene" in stdout
    code, stdout, _ = run_cli(capsys, "info", store)
    assert code == 0 and "EPSG:32618" in stdout and "swir16" in stdout and "scale 0.0001" in stdout
    code, stdout, err = run_cli(capsys, "compute", store, "--out", out)
    assert code == 0, err
    (unit,) = [p.parent for p in (out / "ndvi").glob("*/*/item.json")]
    assert unit.parent.name == "scenes" and unit.name == "20160112T000000"  # tile (the store's name), period
    zarr_path, png, item_path = unit / "ndvi.zarr", unit / "thumbnail.png", unit / "item.json"
    assert zarr_path.is_dir() and png.stat().st_size > 1_000 and item_path.is_file()
    assert "written  ndvi_scenes_20160112T000000" in stdout
    # the product equals the library call on the same store
    np.testing.assert_allclose(landpulse.open_product(zarr_path)["ndvi"].values,
                               landpulse.ndvi(landpulse.open_store(store)).values, atol=0.5e-4 + 1e-7)
    # the STAC item is valid-shaped, points at the product and records provenance
    item = pystac.Item.from_file(str(item_path))
    assert item.assets["data"].href.endswith("ndvi.zarr") and item.assets["quicklook"].href.endswith("thumbnail.png")
    assert item.properties["proj:code"] == "EPSG:32618" and item.properties["proj:shape"] == [800, 800]
    assert item.properties["landpulse:inputs"] == ["S2A_18SVG_20160112_L1C_crop"]
    assert item.properties["landpulse:provenance"]["radiometry"]["red"]["scale"] == 1e-4
    assert item.properties["landpulse:device"]["device"] == "cpu"
    assert item.assets["data"].extra_fields["raster:bands"][0] == {"data_type": "int16", "nodata": -32768, "scale": 1e-4, "offset": 0.0, "unit": "1"}
    report = json.loads((tmp_path / "products-reports" / "latest.json").read_text())
    assert report["units"][0]["status"] == "written" and report["exit_code"] == 0
    assert (out / "catalog.json").is_file() and (out / "ndvi" / "collection.json").is_file()
    # a second run finds the committed unit and writes no product bytes (only its own report)
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    code, stdout, _ = run_cli(capsys, "compute", store, "--out", out)
    assert code == 0 and "nothing new to do" in stdout
    assert before == {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    assert json.loads((tmp_path / "products-reports" / "latest.json").read_text())["status"] == "nothing-to-do"
    # --overwrite recomputes and replaces the unit; the values are the same bytes
    chunks = {p.relative_to(unit): p.read_bytes() for p in zarr_path.rglob("c/*") if p.is_file()}
    code, stdout, _ = run_cli(capsys, "compute", store, "--out", out, "--overwrite")
    assert code == 0 and "replaced" in stdout
    assert chunks == {p.relative_to(unit): p.read_bytes() for p in zarr_path.rglob("c/*") if p.is_file()}
    code, stdout, _ = run_cli(capsys, "verify", out)
    assert code == 0 and "1 unit(s) checked, 0 damaged" in stdout


def test_ingest_from_band_files(tmp_path: Path, sample_item: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = sample_item.parent
    code, _, err = run_cli(capsys, "ingest", tmp_path / "s.zarr", "--band", f"red={folder / 'B04.tif'}",
                           "--band", f"B08={folder / 'B08.tif'}", "--sensor", "sentinel2-l1c",
                           "--datetime", "2016-01-12", "--processing-baseline", "02.01")
    assert code == 0, err
    ds = landpulse.open_store(tmp_path / "s.zarr")
    assert set(ds.data_vars) == {"red", "nir"} and float(ds["nir_dn_offset"][0]) == 0.0


@pytest.mark.parametrize("args,code,message", [
    (["compute", "{tmp}/missing.zarr", "--out", "{tmp}/o"], 2, "no such store"),
    (["compute", "{tmp}", "--out", "{tmp}/o"], 2, "is not a Zarr store"),
    (["compute", "{store}", "--out", "{tmp}/o", "--product", "evi9"], 2, "unknown product"),
    (["compute", "{store}", "--out", "{tmp}/o", "--band", "red"], 2, "NAME=VALUE"),
    (["compute", "{store}", "--out", "{tmp}/o", "--backend", "tpu"], 2, "backend must be one of"),
    (["compute", "{store}", "--out", "{tmp}/o", "--encoding", "int8"], 2, "--encoding must be"),
    (["run", "{store}"], 2, "landpulse compute"),
    (["run", "{store}", "--out", "{tmp}/o"], 2, "No such option"),
    (["ingest", "{tmp}/x.zarr"], 2, "nothing to ingest"),
    (["ingest", "{tmp}/x.zarr", "--item", "{tmp}/nope.json"], 2, "cannot read STAC item"),
    (["ingest", "{tmp}/x.zarr", "--item", "{item}", "--bands", "red,thermal"], 2, "no asset for band"),
    (["frobnicate"], 2, "No such command"),
])
def test_failures_are_one_line_with_exit_codes(tmp_path: Path, sample_store: Path, sample_item: Path,
                                               capsys: pytest.CaptureFixture[str], args: list[str], code: int, message: str) -> None:
    filled = [a.format(tmp=tmp_path, store=sample_store, item=sample_item) for a in args]
    got, stdout, stderr = run_cli(capsys, *filled)
    assert got == code
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("landpulse: error:") and message in lines[0], stderr
    assert not (tmp_path / "x.zarr").exists() and not (tmp_path / "o").exists()


def test_gpu_backend_without_gpu_names_the_extra(sample_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if landpulse.backend.gpu_available():
        pytest.skip("this machine has a GPU")
    code, _, err = run_cli(capsys, "compute", sample_store, "--out", tmp_path / "o", "--backend", "gpu")
    assert code == 3 and ("landpulse[gpu" in err or "no CUDA device" in err)
    assert not list((tmp_path / "o").rglob("item.json"))


@pytest.mark.shared_data
def test_run_on_foreign_store_with_declared_radiometry(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if not BOLZANO.exists():
        skip_or_fail("shared_data", "shared data not found")
    code, _, err = run_cli(capsys, "compute", BOLZANO, "--out", tmp_path / "o")
    assert code == 4 and "declare_radiometry" in json.dumps(json.loads((tmp_path / "o-reports" / "latest.json").read_text())["units"])
    code, stdout, err = run_cli(capsys, "compute", BOLZANO, "--out", tmp_path / "o", "--scale", "1e-4", "--encoding", "float32",
                                "--tile", "32TPS")
    assert code == 0, err
    items = sorted((tmp_path / "o" / "ndvi" / "32TPS").glob("*/item.json"))
    assert len(items) == 12  # one unit per date
    item = json.loads(items[0].read_text())
    assert item["properties"]["datetime"].startswith("2022-06-02") and item["properties"]["proj:code"] == "EPSG:32632"


def test_console_script_and_help(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "landpulse"
    result = subprocess.run([str(exe), "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "ingest" in result.stdout and "run" in result.stdout and "info" in result.stdout
    result = subprocess.run([str(exe), "info", str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.startswith("landpulse: error:")


@pytest.mark.parametrize("command,has,lacks", [
    ("run", ["--wait", "--dry-run", "--cluster", "--scheduler-file", "--overwrite", "--backend"],
     ["--out", "--product", "--band", "--scale", "--encoding", "--tile"]),
    ("compute", ["--out", "--product", "--band", "--scale", "--encoding", "--tile", "--overwrite", "--backend"],
     ["--wait", "--dry-run", "--cluster", "--scheduler-file"]),
    ("browse", ["--out", "--basemap", "--title"], ["--wait", "--product", "--backend", "--overwrite"]),
])
def test_each_commands_help_lists_only_its_options(command: str, has: list[str], lacks: list[str],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--help"]) == 0
    text = capsys.readouterr().out
    assert [o for o in has if o not in text] == [] and [o for o in lacks if o in text] == []


def test_store_run_items_record_what_was_stored(tmp_path: Path, sample_store: Path) -> None:
    """``landpulse compute <store>``: the STAC item's raster:bands describe the stored encoding (AWEI
    overflows int16 x 1e-4 and is stored as float32), and the statistics come from the write."""
    from landpulse.production.run import run_store

    result = run_store(sample_store, tmp_path / "out", products=["mndwi", "aweinsh"], quicklooks=False, echo=lambda _: None)
    assert result.exit_code == 0
    for res, dtype in zip(result.units, ["int16", "float32"], strict=True):
        folder = Path(res.folder)
        band = json.loads((folder / "item.json").read_text())["assets"]["data"]["raster:bands"][0]
        stored = landpulse.open_product(folder / f"{res.product}.zarr")[res.product]
        assert band["data_type"] == dtype == str(stored.encoding["dtype"])
        assert ("scale" in band) == (dtype == "int16")
        values = stored.values
        assert res.stats["valid_pixels"] == int(np.isfinite(values).sum())
        assert res.stats["max"] == pytest.approx(float(np.nanmax(values)), abs=1e-4)


@pytest.mark.shared_data
def test_foreign_store_without_a_crs_is_refused_before_anything_is_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Issue 18: a copy of the real Bolzano store without its spatial_ref grid mapping (and the crs
    # coordinate) used to be computed unit by unit, each failing late; it is a plan failure now.
    if not BOLZANO.exists():
        skip_or_fail("shared_data", "shared data not found")
    store = tmp_path / "nocrs.zarr"
    shutil.copytree(BOLZANO, store, ignore=shutil.ignore_patterns("spatial_ref", "crs", "B02", "B03", "SCL", ".zmetadata"))
    for attrs_file in store.glob("*/.zattrs"):
        attrs = json.loads(attrs_file.read_text())
        attrs.pop("grid_mapping", None), attrs.pop("coordinates", None)
        attrs_file.write_text(json.dumps(attrs))
    assert landpulse.open_store(store).rio.crs is None
    code, stdout, err = run_cli(capsys, "compute", store, "--out", tmp_path / "o", "--scale", "1e-4", "--encoding", "float32")
    assert code == 4 and f"{store} has no CRS" in stdout and str(store) in err
    assert "0 unit(s) to compute" in stdout and "failed   ndvi" not in stdout
    assert [p.name for p in (tmp_path / "o").iterdir()] == [".landpulse.lock"]  # no unit folder, no product
    report = json.loads((tmp_path / "o-reports" / "latest.json").read_text())
    assert report["units"] == [] and "no CRS" in json.dumps(report)


@pytest.mark.shared_data
def test_compute_refuses_an_offset_the_pixels_rule_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Issue 18: --offset -0.1 on the real Bolzano store (the offset is already removed) subtracts
    # it twice; one declaration holds for every date, so the store is refused before any unit.
    if not BOLZANO.exists():
        skip_or_fail("shared_data", "shared data not found")
    code, stdout, err = run_cli(capsys, "compute", BOLZANO, "--out", tmp_path / "o", "--scale", "1e-4", "--offset", "-0.1",
                                "--encoding", "float32", "--tile", "32TPS")
    assert code == 4 and "offset of -1000 DN" in stdout and "ruled out by the pixels" in stdout and str(BOLZANO) in err
    assert not list((tmp_path / "o").rglob("item.json")) and not (tmp_path / "o" / "ndvi").exists()
