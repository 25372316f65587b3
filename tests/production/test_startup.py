"""A run with nothing to do reads metadata only: the job spec from the declarative product table,
the plan from the stores' Zarr metadata, the ledger from the committed STAC items. It imports no
xarray, Dask arrays, rasterio or Numba (checked in a fresh interpreter's ``sys.modules``, not
timed); the metadata plan agrees with the plan made by opening the stores."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import zarr

from landpulse.io.store import datetime_dim, open_store
from landpulse.io.store_metadata import decode_cf_times, read_scene_times
from landpulse.production.jobspec import parse_job
from landpulse.production.ledger import Ledger
from landpulse.production.plan import _plan_scenes, _utc, discover, make_plan
from landpulse.production.run import run_job
from tests.support import BOLZANO, skip_or_fail
from tests.support.series import job_dict, snapshot, write_job, write_series

HEAVY = ["xarray", "dask.array", "rasterio", "numba", "landpulse.products.indices", "landpulse.backend",
         "matplotlib", "distributed"]

CHECK = """
import atexit, sys
atexit.register(lambda: print("LOADED", [m for m in {heavy!r} if m in sys.modules]))
from landpulse.cli import main
sys.exit(main(["run", {job!r}]))
"""


def quiet(line: str) -> None:
    pass


@pytest.fixture
def series(tmp_path: Path, sample_store: Path) -> Path:
    """3 dates derived from the bundled real scene (tests/support/series.py)."""
    return write_series(sample_store, tmp_path / "scenes.zarr", range(3))


def test_nothing_to_do_run_imports_no_array_stack(series: Path, tmp_path: Path, sample_store: Path) -> None:
    out = tmp_path / "out"
    spec = job_dict(series, out, output={"store": str(out / "products"), "reports": str(out / "reports"),
                                         "quicklooks": True, "cog": True})
    job_file = write_job(tmp_path / "job.yaml", spec)
    assert run_job(parse_job(spec), echo=quiet).exit_code == 0
    before = snapshot(out / "products")
    proc = subprocess.run([sys.executable, "-c", CHECK.format(heavy=HEAVY, job=str(job_file))],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "nothing new to do" in proc.stdout
    assert "LOADED []" in proc.stdout, proc.stdout
    assert snapshot(out / "products") == before  # the catalogue and the units untouched
    report = json.loads((out / "reports" / "latest.json").read_text())
    assert report["status"] == "nothing-to-do" and report["exit_code"] == 0

    # a new date: the metadata plan has work, so the stores are opened and checked as before
    write_series(sample_store, series, [3])
    proc = subprocess.run([sys.executable, "-c", CHECK.format(heavy=HEAVY, job=str(job_file))],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 unit(s) to compute, 3 already committed" in proc.stdout
    assert "'xarray'" in proc.stdout
    # a unit with its quick-look and COG needs no matplotlib (the colour tables are stored)
    assert "'matplotlib'" not in proc.stdout, proc.stdout
    assert (out / "products" / "ndvi").exists()


def test_metadata_plan_equals_the_plan_from_opened_stores(series: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    job = parse_job(job_dict(series, out, products=["ndvi", "evi2",
                                                   {"name": "index_composite", "window": {"kind": "all"}}]))
    assert run_job(job, echo=quiet).exit_code == 0
    light = make_plan(job, now=None)
    scenes, failures = discover(job)
    full = _plan_scenes(job, scenes, failures, Ledger(job.output.store), overwrite=False, verify=False,
                        now=dt.datetime.now())
    assert not light.todo and not full.todo and not full.failures
    key = [(u.id, u.inputs, u.params_hash, u.datetime) for u in light.committed]
    assert key == [(u.id, u.inputs, u.params_hash, u.datetime) for u in full.committed]
    assert len(key) == 3 + 3 + 1
    assert [(s.id, s.tile, s.datetime, s.source) for s in light.scenes] == \
        [(s.id, s.tile, s.datetime, s.source) for s in full.scenes]


@pytest.mark.parametrize("which", ["sample", "bolzano"])
def test_scene_times_agree_with_xarray(which: str, sample_store: Path) -> None:
    path = sample_store if which == "sample" else BOLZANO
    if not path.exists():
        skip_or_fail("shared_data", f"shared data not found at {path}")
    meta = read_scene_times(path)
    ds = open_store(path)
    tdim = datetime_dim(ds)
    assert meta is not None and meta.time_dim == tdim
    assert meta.times == tuple(_utc(v) for v in ds[tdim].values)
    ids = tuple(str(v) for v in ds["scene_id"].values) if "scene_id" in ds.coords else None
    assert meta.scene_ids == ids
    if which == "bolzano":  # Zarr v2, "days since 1990-01-01": 2022-06-02 is day 11840 (hand count)
        assert meta.time_dim == "t" and meta.times[0].isoformat() == "2022-06-02T00:00:00" and ids is None


def test_cf_times_decoded_exactly_or_not_at_all() -> None:
    attrs = {"units": "hours since 2000-01-01T06:00:00Z", "calendar": "standard"}
    assert decode_cf_times(np.array([0, 30], "i8"), attrs) == (
        dt.datetime(2000, 1, 1, 6), dt.datetime(2000, 1, 2, 12))
    assert decode_cf_times(np.array([1500], "i8"), {"units": "milliseconds since 1970-01-01"})[0].second == 1
    assert decode_cf_times(np.array([0.5]), attrs) is None           # fractional: left to xarray
    assert decode_cf_times(np.array([0], "i8"), {**attrs, "calendar": "noleap"}) is None
    assert decode_cf_times(np.array([0], "i8"), {**attrs, "scale_factor": 2}) is None
    assert decode_cf_times(np.array([0], "i8"), {"units": "fortnights since 2000-01-01"}) is None


def test_stores_the_metadata_cannot_vouch_for_are_opened(series: Path, tmp_path: Path) -> None:
    """An unfinished append, no CRS, no store: None (the plan opens the store with xarray and says
    what is wrong, as before: tests/production/test_production.py and test_faults.py)."""
    assert read_scene_times(series) is not None
    group = zarr.open_group(str(series), mode="r+")
    group.attrs["landpulse_append_in_progress"] = {"dim": "time", "length": 2}
    assert read_scene_times(series) is None
    del group.attrs["landpulse_append_in_progress"]
    for name in list(group.array_keys()):
        for key in ("crs_wkt", "spatial_ref", "crs"):
            if key in group[name].attrs:
                del group[name].attrs[key]
    assert read_scene_times(series) is None
    assert read_scene_times(tmp_path / "missing.zarr") is None
