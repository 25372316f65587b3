"""What an operator can do to a nightly run (issue 18), each with its documented outcome
(docs/scheduling.md, "Operator faults"):

- the product store deleted while a run writes it: an environment fault (exit 74, no scene is
  blamed), nothing half-written is ever committed, and a rerun completes the job bit-identically;
- a lock file held by a live process in another program: exit 75 at once, one line, nothing written;
  a lock file (and holder note) left by a dead process: ignored, the run proceeds;
- the job spec edited between runs: a product added computes only its units; a product removed
  leaves its committed units in place; changed parameters replace units (test_production.py);
- the input store replaced between runs: new scene ids recompute their dates; the same scene ids
  with other pixels are *not* detected (the ledger trusts scene ids): ``--overwrite`` recomputes;
- clock skew (every mtime in the future): mtimes are never trusted, so the rerun writes nothing
  and an unfinished temporary folder is still cleaned.

Inputs: dates derived from the bundled real scene (tests/support/series.py explains how).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from landpulse.cli import main
from landpulse.errors import EnvironmentFaultError
from landpulse.production.jobspec import parse_job
from landpulse.production.ledger import ITEM_NAME, LOCK_NAME
from landpulse.production.run import run_job
from tests.support import fault_plugins
from tests.support.series import (
    clean_run_digest,
    job_dict,
    leftovers,
    snapshot,
    store_digest,
    write_job,
    write_series,
)

PLUGINS = ["tests.support.fault_plugins"]
SLOW = [{"name": "slow_ndvi", "params": {"delay": 0.15}}]


@pytest.fixture(scope="module")
def series(tmp_path_factory: pytest.TempPathFactory, sample_store: Path) -> Path:
    return write_series(sample_store, tmp_path_factory.mktemp("operator") / "18SVG.zarr", range(3))


def quiet(_: str) -> None:
    pass


def items(store: Path) -> list[Path]:
    return sorted(store.glob(f"*/*/*/{ITEM_NAME}"))


def test_the_store_deleted_mid_run_then_a_rerun_completes(series: Path, tmp_path: Path,
                                                          tmp_path_factory: pytest.TempPathFactory) -> None:
    reference = clean_run_digest(series, tmp_path_factory.mktemp("ref"), products=SLOW, plugins=PLUGINS,
                                 cluster={"kind": "threads", "n_workers": 1})
    job = parse_job(job_dict(series, tmp_path, products=SLOW, plugins=PLUGINS, cluster={"kind": "threads", "n_workers": 1}))
    store = tmp_path / "products"
    results: list[object] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            results.append(run_job(job, echo=quiet))
        except BaseException as err:  # the outcome is what the test records
            errors.append(err)

    def operator() -> bool:
        # the operator's `rm -rf products/`, once a unit is committed and while the next one is written
        # (from inside that unit's computation: a timer could miss the run's last unit)
        if not items(store):
            return False
        shutil.rmtree(store, ignore_errors=True)
        return True

    fault_plugins.BLOCK_HOOKS[:] = [operator]
    runner = threading.Thread(target=target)
    try:
        runner.start()
        runner.join(timeout=180)
    finally:
        hooks_left = list(fault_plugins.BLOCK_HOOKS)
        fault_plugins.BLOCK_HOOKS.clear()
    assert not runner.is_alive()
    assert not hooks_left, "the store was never deleted: this test tested nothing"
    # the unit being written when its folder vanished is the environment's fault, not its scene's: the
    # run stops with 74 (units after it were not started), and nothing half-written was committed
    assert results == [] and len(errors) == 1, [(u.unit, u.status, u.error) for r in results for u in getattr(r, "units", ())] + errors
    (fault,) = errors
    assert isinstance(fault, EnvironmentFaultError) and fault.exit_code == 74, fault
    assert "disappeared while the run wrote them" in str(fault)
    # nothing it left is a half-written unit
    for item in items(store) if store.exists() else []:
        assert (item.parent / "slow_ndvi.zarr").is_dir(), item
    rerun = run_job(job, echo=quiet)
    assert rerun.exit_code == 0
    assert store_digest(store) == reference
    assert leftovers(store) == []


def test_a_lock_held_by_another_live_program_exits_75(series: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "products"
    store.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, sys, time\n"
        f"f = open({str(store / LOCK_NAME)!r}, 'a')\n"
        "fcntl.flock(f, fcntl.LOCK_EX)\n"
        "print('held', flush=True)\n"
        "time.sleep(60)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        spec = write_job(tmp_path / "job.yaml", job_dict(series, tmp_path))
        before = snapshot(store)
        assert main(["run", str(spec)]) == 75
    finally:
        holder.kill()
        holder.wait()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "lock" in err[0], err
    assert snapshot(store) == before  # nothing written


def test_a_lock_file_left_by_a_dead_process_is_ignored(series: Path, tmp_path: Path) -> None:
    store, reports = tmp_path / "products", tmp_path / "reports"
    store.mkdir()
    reports.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a pid that no longer runs
    (store / LOCK_NAME).write_text(f"{dead.pid}\n")
    (reports / "running.json").write_text(json.dumps({"pid": dead.pid, "host": "elsewhere", "started": "2016-01-01"}))
    result = run_job(parse_job(job_dict(series, tmp_path)), echo=quiet)
    assert result.exit_code == 0 and len(items(store)) == 3
    assert not (reports / "running.json").exists()


def test_job_spec_edited_between_runs(series: Path, tmp_path: Path) -> None:
    first = job_dict(series, tmp_path, products=["ndvi"])
    assert run_job(parse_job(first), echo=quiet).exit_code == 0
    ndvi_items = {p: p.stat().st_mtime_ns for p in items(tmp_path / "products")}
    added = run_job(parse_job({**first, "products": ["ndvi", "savi"]}), echo=quiet)
    assert added.exit_code == 0
    assert sorted({u.product for u in added.units}) == ["savi"] and len(added.units) == 3  # only the new product
    assert {p: p.stat().st_mtime_ns for p in ndvi_items} == ndvi_items
    removed = run_job(parse_job({**first, "products": ["savi"]}), echo=quiet)
    assert removed.units == [] and all(p.exists() for p in ndvi_items)  # nothing deleted behind the operator


def test_input_store_replaced_between_runs(series: Path, tmp_path: Path, sample_store: Path) -> None:
    inputs = tmp_path / "18SVG.zarr"
    shutil.copytree(series, inputs)
    job = job_dict(inputs, tmp_path)
    assert run_job(parse_job(job), echo=quiet).exit_code == 0
    store = tmp_path / "products"
    first = store_digest(store)
    # the same scene ids over other pixels (dates 1..3's rolls under dates 0..2's ids): not detected
    shutil.rmtree(inputs)
    other = write_series(sample_store, tmp_path / "other.zarr", range(1, 4))
    import xarray as xr

    ds = xr.open_zarr(other, consolidated=False)
    ids = xr.open_zarr(series, consolidated=False)
    ds = ds.assign_coords(time=ids["time"].values, scene_id=("time", ids["scene_id"].values))
    ds.attrs = dict(xr.open_zarr(other, consolidated=False).attrs)
    from landpulse.io.store import write_zarr

    write_zarr(ds.load(), inputs, chunks={"time": 1, "y": 400, "x": 400})
    again = run_job(parse_job(job), echo=quiet)
    assert again.units == [] and store_digest(store) == first  # documented: the ledger trusts scene ids
    spec = write_job(tmp_path / "job.yaml", job)
    assert main(["run", str(spec), "--overwrite"]) == 0  # the operator's way to recompute
    assert store_digest(store) != first
    assert len(items(store)) == 3


def test_clock_skew_mtimes_in_the_future_change_nothing(series: Path, tmp_path: Path) -> None:
    job = parse_job(job_dict(series, tmp_path))
    assert run_job(job, echo=quiet).exit_code == 0
    store = tmp_path / "products"
    future = time.time() + 10 * 365 * 86400
    for dirpath, dirnames, filenames in os.walk(tmp_path):
        for name in dirnames + filenames:
            os.utime(Path(dirpath) / name, (future, future), follow_symlinks=False)
    stale = store / "ndvi" / "18SVG" / ".x.tmp-dead"  # an unfinished unit of a killed run, from "the future"
    stale.mkdir()
    os.utime(stale, (future, future))
    digest = store_digest(store)
    rerun = run_job(job, echo=quiet)
    assert rerun.exit_code == 0 and rerun.units == []  # nothing recomputed
    assert store_digest(store) == digest
    assert not stale.exists() and leftovers(store) == []
