"""Production runs: job specs run end to end, incremental and idempotent, with shareable outputs.

Fast tests: units run in this process (``cluster.kind: threads``) except where a real Dask cluster
is the point (see also tests/test_faults.py). Inputs are the bundled real scene and dates derived
from it (tests/series.py explains how).
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pystac
import pytest
import rasterio

import landpulse
from landpulse.cli import main
from landpulse.production.jobspec import parse_job
from landpulse.production.ledger import ITEM_NAME, StoreLockedError, clean_orphans, store_lock, verify_unit
from landpulse.production.run import run_job
from tests.support import numpy_ndvi_reference
from tests.support.series import job_dict, period, scene_id, snapshot, store_digest, write_job, write_series


@pytest.fixture
def series(tmp_path: Path, sample_store: Path) -> Path:
    """A scene store with 3 dates derived from the bundled real scene (800 x 800, 400 x 400 chunks)."""
    return write_series(sample_store, tmp_path / "scenes.zarr", range(3))


def quiet(line: str) -> None:
    pass


def unit_dir(out: Path, k: int, product: str = "ndvi") -> Path:
    return out / "products" / product / "18SVG" / period(k)


def test_run_commits_every_unit_with_stac_checksums_cog_and_report(series: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    job = parse_job(job_dict(series, out, output={"store": str(out / "products"), "reports": str(out / "reports"),
                                                   "cog": True}))
    result = run_job(job, echo=quiet)
    assert result.exit_code == 0 and result.status == "ok"
    assert [u.status for u in result.units] == ["written"] * 3

    scenes = landpulse.open_store(series)
    for k in range(3):
        folder = unit_dir(out, k)
        item = pystac.Item.from_file(str(folder / ITEM_NAME))
        props = item.properties
        # what, from what, how: inputs, parameters, software, device, grid, storage
        assert props["landpulse:inputs"] == [scene_id(k)]
        assert props["processing:software"] == {"landpulse": landpulse.__version__}
        assert props["landpulse:device"]["device"] == "cpu" and props["landpulse:parameters"] == {}
        assert props["proj:code"] == "EPSG:32618" and props["proj:shape"] == [800, 800]
        assert item.datetime is not None and item.datetime.strftime("%Y%m%dT%H%M%S") == period(k)
        assert item.assets["data"].extra_fields["raster:bands"][0]["scale"] == 1e-4
        assert set(item.assets) == {"data", "quicklook", "ndvi"}  # the COG keyed by the product (odc-stac band name)
        # the manifest covers every file of the unit and matches them
        files = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} - {ITEM_NAME}
        assert set(props["landpulse:files"]) == files and verify_unit(folder) == []
        # values: an independent NumPy reference on this date's raw numbers
        ref = numpy_ndvi_reference(scenes["red"].values[k], scenes["nir"].values[k], 1e-4, 0.0)
        got = landpulse.open_product(folder / "ndvi.zarr")["ndvi"].values[0]
        np.testing.assert_allclose(got, ref, atol=0.5e-4 + 1e-7)
        assert np.array_equal(np.isnan(got), np.isnan(ref))
        # the COG holds the same stored values, with scale and nodata in its metadata
        with rasterio.open(folder / "ndvi.tif") as cog:
            assert cog.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG" and cog.overviews(1)
            assert cog.scales == (1e-4,) and cog.nodata == -32768 and cog.crs.to_epsg() == 32618
            raw = cog.read(1)
        assert np.array_equal(np.where(raw == -32768, np.nan, raw * 1e-4).astype(np.float32), got, equal_nan=True)
        # statistics in the item are those of the stored values
        valid = got[np.isfinite(got)]
        assert props["landpulse:stats"]["valid_pixels"] == valid.size
        assert props["landpulse:stats"]["max"] == pytest.approx(float(valid.max()), abs=1e-6)

    # the catalogue: root -> collection -> the three items, relative links
    cat = pystac.Catalog.from_file(str(out / "products" / "catalog.json"))
    (coll,) = list(cat.get_children())
    assert coll.id == "ndvi" and len(list(coll.get_items())) == 3
    assert coll.extent.temporal.intervals[0][0].strftime("%Y%m%dT%H%M%S") == period(0)
    # the run report, JSON and a self-contained page with the quick-looks inside
    report = json.loads(result.report_json.read_text())
    assert report["summary"]["written"] == 3 and report["failed_scenes"] == [] and report["exit_code"] == 0
    assert report["areas"][0]["tile"] == "18SVG" and 60 < report["areas"][0]["area_km2"] < 68  # 8 x 8 km
    page = result.report_html.read_text()
    assert page.count("data:image/png;base64,") == 3 and "src=\"http" not in page
    assert (out / "reports" / "latest.json").read_text() == result.report_json.read_text()


def test_second_run_writes_no_bytes_and_a_new_date_is_the_only_work(series: Path, tmp_path: Path,
                                                                    sample_store: Path) -> None:
    out = tmp_path / "out"
    job = parse_job(job_dict(series, out, dates={"since": "last-run"}))
    assert run_job(job, echo=quiet).exit_code == 0
    store = out / "products"
    before = snapshot(store)
    lines: list[str] = []
    again = run_job(job, echo=lines.append)
    assert again.exit_code == 0 and again.status == "nothing-to-do" and again.units == []
    assert snapshot(store) == before  # listing, sizes, mtimes and inodes: nothing written
    assert any("nothing new to do" in line for line in lines)

    write_series(sample_store, series, [3])  # the next night: one new date arrives
    third = run_job(job, echo=quiet)
    assert [(u.unit, u.status) for u in third.units] == [(f"ndvi_18SVG_{period(3)}", "written")]
    after = snapshot(store)
    changed = {k for k in before if after.get(k) != before[k]}
    # only the product's collection (a new item link) and the folders that gained an entry change
    assert changed <= {"ndvi/collection.json", "ndvi/18SVG", "ndvi", "."}, changed
    assert "ndvi/collection.json" in changed
    assert all(k in after for k in before)


def test_dates_window_and_since_last_run(series: Path, tmp_path: Path, sample_store: Path) -> None:
    out = tmp_path / "out"
    window = {"start": "2016-01-17", "end": "2016-01-22"}  # dates 1 and 2
    r = run_job(parse_job(job_dict(series, out, dates=window)), echo=quiet)
    assert sorted(u.period for u in r.units) == [period(1), period(2)]
    write_series(sample_store, series, [3])
    since = parse_job(job_dict(series, out, dates={"since": "last-run"}))
    r = run_job(since, echo=quiet)
    assert [u.period for u in r.units] == [period(3)]  # date 0 is older than the newest committed
    assert r.report["summary"]["outside_dates"] == 2  # dates 0 and 1 are older than the newest committed (2)
    late = parse_job(job_dict(series, out, dates={"since": "last-run", "lookback_days": 30}))
    assert [u.period for u in run_job(late, echo=quiet).units] == [period(0)]


def test_changed_parameters_replace_committed_units(series: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_job(parse_job(job_dict(series, out)), echo=quiet)
    first = json.loads((unit_dir(out, 0) / ITEM_NAME).read_text())["properties"]["landpulse:params_hash"]
    clip = job_dict(series, out, products=[{"name": "ndvi", "params": {"out_of_range": "clip"}}])
    r = run_job(parse_job(clip), echo=quiet)
    assert [u.status for u in r.units] == ["replaced"] * 3
    item = json.loads((unit_dir(out, 0) / ITEM_NAME).read_text())["properties"]
    assert item["landpulse:params_hash"] != first and item["landpulse:parameters"] == {"out_of_range": "clip"}
    assert not [p for p in (out / "products").rglob(".*") if p.name != ".landpulse.lock"]
    assert run_job(parse_job(clip), echo=quiet).status == "nothing-to-do"


def _corrupt_input_chunk(store: Path, k: int) -> Path:
    chunk = store / "nir" / "c" / str(k) / "0" / "0"
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2] ^= 0xFF
    chunk.write_bytes(bytes(data))
    return chunk


def test_a_poison_scene_fails_alone_and_is_named(series: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    chunk = _corrupt_input_chunk(series, 1)  # one date's nir chunk no longer matches its crc32c
    spec = write_job(tmp_path / "job.yaml", job_dict(series, out))
    code = main(["run", str(spec)])
    captured = capsys.readouterr()
    assert code == 4
    assert f"1 scene(s) failed: {scene_id(1)}" in captured.err
    report = json.loads((out / "reports" / "latest.json").read_text())
    assert report["failed_scenes"] == [scene_id(1)] and report["summary"]["written"] == 2
    (failed,) = [u for u in report["units"] if u["status"] == "failed"]
    assert failed["inputs"] == [scene_id(1)] and "checksum" in failed["error"].lower() + failed["error_type"].lower()
    assert "Failures" in (out / "reports" / "latest.html").read_text()
    assert not unit_dir(out, 1).exists() and (unit_dir(out, 0) / ITEM_NAME).is_file()
    assert not [p for p in unit_dir(out, 0).parent.iterdir() if p.name.startswith(".")]
    # the next night retries only the failed scene; once the file is repaired it is committed
    assert main(["run", str(spec)]) == 4
    _corrupt_input_chunk(series, 1)  # flip the same byte back: the original file again
    capsys.readouterr()
    assert main(["run", str(spec)]) == 0
    assert "1 unit(s) to compute, 2 already committed" in capsys.readouterr().out
    assert chunk.exists() and (unit_dir(out, 1) / ITEM_NAME).is_file()


def test_a_corrupted_or_missing_product_chunk_is_caught(series: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    run_job(parse_job(job_dict(series, out)), echo=quiet)
    store = out / "products"
    assert main(["verify", str(store)]) == 0
    chunk = unit_dir(out, 2) / "ndvi.zarr" / "ndvi" / "c" / "0" / "1" / "0"
    data = bytearray(chunk.read_bytes())
    data[100] ^= 0x01
    chunk.write_bytes(bytes(data))
    capsys.readouterr()
    assert main(["verify", str(store)]) == 5
    text = capsys.readouterr().out
    assert "ndvi.zarr/ndvi/c/0/1/0: size" in text or "ndvi.zarr/ndvi/c/0/1/0: crc32c" in text
    assert "3 unit(s) checked, 1 damaged" in text
    with pytest.raises(Exception, match="(?i)checksum|crc"):
        landpulse.open_product(unit_dir(out, 2) / "ndvi.zarr")["ndvi"].load()  # zarr's crc32c codec
    other = unit_dir(out, 1) / "ndvi.zarr" / "ndvi" / "c" / "0" / "0" / "1"
    other.unlink()  # a missing chunk would read back as nodata: the manifest says it is missing
    assert any(p.endswith("c/0/0/1: missing") for p in verify_unit(unit_dir(out, 1)))


def test_second_run_waits_or_exits_on_the_lock(series: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    spec = write_job(tmp_path / "job.yaml", job_dict(series, out))
    store = out / "products"
    holder = out / "reports" / "running.json"
    with store_lock(store, holder_file=holder):
        before = snapshot(store)
        code = main(["run", str(spec)])
        err = capsys.readouterr().err
        assert code == 75 and "another landpulse run is writing to" in err and "pid" in err and "--wait" in err
        assert snapshot(store) == before
        with pytest.raises(StoreLockedError):
            with store_lock(store, wait=0.3):
                pass
    # --wait: the second run starts when the first one ends
    lock_cm = store_lock(store)
    lock_cm.__enter__()
    threading.Timer(0.5, lock_cm.__exit__, (None, None, None)).start()
    t0 = time.monotonic()
    assert main(["run", str(spec), "--wait", "20"]) == 0
    assert time.monotonic() - t0 >= 0.4 and len(list(store.glob("ndvi/18SVG/*/item.json"))) == 3


def test_leftovers_of_a_killed_run_are_cleaned_and_set_aside_units_restored(series: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    job = parse_job(job_dict(series, out))
    run_job(job, echo=quiet)
    store = out / "products"
    tile = store / "ndvi" / "18SVG"
    digest = store_digest(store)
    # a unit killed mid-write, a replacement killed between its two renames, trash half-deleted
    (tile / f".{period(0)}.tmp-deadbeef/ndvi.zarr").mkdir(parents=True)
    (tile / period(1)).rename(tile / f".{period(1)}.old-cafe")
    (tile / f".{period(2)}.trash-0").mkdir()
    clean_orphans(store)
    assert sorted(p.name for p in tile.iterdir()) == [period(0), period(1), period(2)]
    assert store_digest(store) == digest
    assert run_job(job, echo=quiet).status == "nothing-to-do"


def test_a_late_writer_cannot_commit_a_cleaned_folder(tmp_path: Path) -> None:
    from landpulse.production.ledger import discard
    from landpulse.production.units import commit_folder

    tmp = tmp_path / ".u.tmp-1"
    (tmp / "a").mkdir(parents=True)
    handle = os.open(tmp, os.O_RDONLY)  # what run_unit holds while it writes
    try:
        discard(tmp)  # a newer run cleaned it up
        (tmp / "a").mkdir(parents=True)  # a late write of the old attempt recreates the path
        with pytest.raises(Exception, match="replaced while this attempt wrote it"):
            commit_folder(tmp, tmp_path / "u", handle=handle, replace=False)
        assert not (tmp_path / "u").exists()
    finally:
        os.close(handle)
    # the normal case commits; a second attempt at a committed unit keeps the first one
    ok = tmp_path / ".v.tmp-1"
    (ok / "item.json").parent.mkdir(parents=True)
    (ok / "item.json").write_text("{}")
    handle = os.open(ok, os.O_RDONLY)
    assert commit_folder(ok, tmp_path / "v", handle=handle, replace=False)
    os.close(handle)
    dup = tmp_path / ".v.tmp-2"
    dup.mkdir()
    handle = os.open(dup, os.O_RDONLY)
    assert commit_folder(dup, tmp_path / "v", handle=handle, replace=False) is False
    os.close(handle)
    assert not dup.exists() and (tmp_path / "v" / "item.json").read_text() == "{}"
    # a replacing attempt whose folder was cleaned up leaves the committed unit in place
    late = tmp_path / ".v.tmp-3"
    late.mkdir()
    handle = os.open(late, os.O_RDONLY)
    try:
        discard(late)
        late.mkdir()
        with pytest.raises(Exception, match="replaced while this attempt wrote it"):
            commit_folder(late, tmp_path / "v", handle=handle, replace=True)
    finally:
        os.close(handle)
    assert (tmp_path / "v" / "item.json").read_text() == "{}"
    assert not [p for p in tmp_path.iterdir() if ".old" in p.name or "old-" in p.name]


def test_scene_folder_and_stac_catalogue_inputs(tmp_path: Path, sample_item: Path, sample_store: Path) -> None:
    # the bundled scene as a folder of scenes (its STAC item and GeoTIFFs, read in place)
    folder_job = job_dict(sample_store, tmp_path / "a",
                          inputs={"kind": "scenes", "path": str(sample_item.parent.parent)})
    r = run_job(parse_job(folder_job), echo=quiet)
    assert r.exit_code == 0 and [u.inputs for u in r.units] == [["S2A_18SVG_20160112_L1C_crop"]]
    # the same scene in a static STAC catalogue (self-contained copy with its red and nir files)
    root = tmp_path / "catalogue"
    scene = root / "scene"
    scene.mkdir(parents=True)
    item = json.loads(sample_item.read_text())
    item["assets"] = {k: v for k, v in item["assets"].items() if k in ("red", "nir")}
    for a in item["assets"].values():
        shutil.copyfile(sample_item.parent / Path(a["href"]).name, scene / Path(a["href"]).name)
    (scene / "item.json").write_text(json.dumps(item))
    cat = pystac.Catalog("test", "one scene")
    cat.add_item(pystac.Item.from_file(str(scene / "item.json")))
    cat.normalize_and_save(str(root), catalog_type=pystac.CatalogType.SELF_CONTAINED)
    stac_job = job_dict(sample_store, tmp_path / "b", inputs={"kind": "stac", "catalog": str(root / "catalog.json")})
    r2 = run_job(parse_job(stac_job), echo=quiet)
    assert r2.exit_code == 0
    # the pixel size scene inputs are read at is a parameter: changing it recomputes the unit
    from landpulse.production.plan import make_plan

    assert not make_plan(parse_job(stac_job)).todo
    coarser = {**stac_job, "inputs": {**stac_job["inputs"], "resolution": 20}}
    todo = make_plan(parse_job(coarser)).todo
    assert len(todo) == 1 and todo[0].replace
    def stored(out: Path) -> np.ndarray:
        return landpulse.open_product(next((out / "products").glob("ndvi/18SVG/*/ndvi.zarr")))["ndvi"].values

    a, b = stored(tmp_path / "a"), stored(tmp_path / "b")
    np.testing.assert_array_equal(a, b)
    # the ingested store gives the same values as reading the scene's files directly
    ref = landpulse.ndvi(landpulse.open_store(sample_store)).values
    np.testing.assert_allclose(a, ref, atol=0.5e-4 + 1e-7)
    # an asset outside the catalogue folder is refused, by name, and only that scene fails
    bad = json.loads(next(root.rglob("S2A*.json")).read_text())
    bad["id"] = "escaping-scene"
    bad["assets"]["red"]["href"] = "../../../../../etc/hostname"
    (root / "escape").mkdir()
    (root / "escape" / "escape.json").write_text(json.dumps(bad))
    folder = job_dict(sample_store, tmp_path / "c", inputs={"kind": "scenes", "path": str(root)})
    r3 = run_job(parse_job(folder), echo=quiet)
    assert r3.exit_code == 4 and r3.report["failed_scenes"] == ["escaping-scene"]
    assert "outside the input folder" in r3.report["input_failures"][0]["error"]
    assert r3.report["summary"]["written"] == 1


def test_local_cluster_of_processes_gives_the_same_bytes(series: Path, tmp_path: Path) -> None:
    threads = parse_job(job_dict(series, tmp_path / "t"))
    local = {"kind": "local", "n_workers": 2, "dashboard": False}
    procs = parse_job(job_dict(series, tmp_path / "p", cluster=local))
    lines: list[str] = []
    assert run_job(threads, echo=quiet).exit_code == 0
    r = run_job(procs, echo=lines.append)
    assert r.exit_code == 0 and r.report["cluster"]["workers"] == 2
    assert r.report["cluster"]["scheduler"].startswith("tcp://127.0.0.1:")  # bound to localhost
    assert os.getpid() not in {u.pid for u in r.units}
    assert store_digest(tmp_path / "t" / "products") == store_digest(tmp_path / "p" / "products")
    assert any(line.startswith("[3/3]") for line in lines)


def test_catalogue_indices_run_as_units(tmp_path: Path, sample_store: Path) -> None:
    """Products registered by the index catalogue run like NDVI; one whose range does not fit
    int16 x 1e-4 (AWEIsh) is stored as float32, and every value matches the library call."""
    job = job_dict(sample_store, tmp_path, products=["ndvi", "ndwi", "aweish"])
    r = run_job(parse_job(job), echo=quiet)
    assert r.exit_code == 0 and sorted(u.product for u in r.units) == ["aweish", "ndvi", "ndwi"]
    ds = landpulse.open_store(sample_store)
    for name in ("ndwi", "aweish"):
        (folder,) = (tmp_path / "products" / name / "18SVG").iterdir()
        stored = landpulse.open_product(folder / f"{name}.zarr")[name]
        expected = landpulse.indices(ds, [name])[name].values
        tol = 0.5e-4 + 1e-7 if stored.attrs["landpulse_encoding"] == "int16" else 0
        np.testing.assert_allclose(stored.values, expected, atol=tol)
        assert np.array_equal(np.isnan(stored.values), np.isnan(expected))
    aweish = json.loads(next((tmp_path / "products" / "aweish").rglob(ITEM_NAME)).read_text())
    assert aweish["assets"]["data"]["raster:bands"][0]["data_type"] == "float32"


def test_one_unit_per_worker_is_decided_after_workers_exist() -> None:
    """Workers landpulse starts always take one unit at a time, even before any has connected
    (Slurm jobs still queued); on an existing cluster the rule is read once a worker is there."""
    from landpulse.production.cluster import UNIT_RESOURCE
    from landpulse.production.run import _unit_resources

    class Client:
        def __init__(self, late: list[dict]) -> None:
            self.workers: list[dict] = []
            self.late = late

        def wait_for_workers(self, n: int) -> None:
            self.workers = self.late  # the worker connects while the driver waits

        def scheduler_info(self) -> dict:
            return {"workers": {str(i): w for i, w in enumerate(self.workers)}}

    with_resource = [{"resources": {UNIT_RESOURCE: 1}}]
    for kind in ("local", "local-cuda", "slurm"):
        assert _unit_resources(Client([]), kind) == {UNIT_RESOURCE: 1}
    assert _unit_resources(Client(with_resource), "address") == {UNIT_RESOURCE: 1}
    assert _unit_resources(Client([{"resources": {}}]), "address") is None


def test_gpu_out_of_memory_recoveries_are_reported_per_unit(tmp_path: Path, sample_store: Path) -> None:
    """Blocks a unit had to split or run on the CPU (GPU out of memory) show in its result, the
    report's summary and the HTML page; units without any report none."""
    from landpulse.production.report import render_html

    store = write_series(sample_store, tmp_path / "scenes.zarr", range(1))
    job = parse_job(job_dict(store, tmp_path, products=["oom_ndvi", "ndvi"], plugins=["tests.support.fault_plugins"],
                             cluster={"kind": "threads", "n_workers": 1}))
    result = run_job(job, echo=quiet)
    assert result.exit_code == 0
    by_product = {u.product: u for u in result.units}
    chunks = len(landpulse.open_store(store)["red"].data.blocks.ravel())
    counted = by_product["oom_ndvi"].gpu_faults
    assert set(counted) == {"cpu_fallbacks"} and counted["cpu_fallbacks"] >= chunks  # (+ Dask's meta call)
    assert by_product["ndvi"].gpu_faults == {}
    assert result.report["summary"]["gpu_faults"] == counted
    assert "GPU cpu fallbacks" in render_html(result.report)
