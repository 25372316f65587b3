"""Faults on a real Dask cluster of processes: killed workers, a killed driver, a poison scene.

Every test compares the final product store, byte for byte (items without their run-time fields),
with a clean run of the same job. The product ``slow_ndvi`` (tests/support/fault_plugins.py, loaded on the
driver and every worker through the job's ``plugins:``) is NDVI with a pause per chunk, so that
kills land while units are being written; its values are NDVI's.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dask
import pytest

from landpulse.production.jobspec import parse_job
from landpulse.production.ledger import ITEM_NAME
from landpulse.production.run import run_job
from tests.support.series import (
    job_dict,
    leftovers,
    scene_id,
    store_digest,
    temp_folders,
    wait_for,
    write_job,
    write_series,
)

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
DELAY = 0.15  # seconds per chunk: 4 chunks per unit, 4 units
SLOW = [{"name": "slow_ndvi", "params": {"delay": DELAY}}]
PLUGINS = ["tests.support.fault_plugins"]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """Two one-thread worker processes (with nannies, which restart killed workers)."""
    from distributed import Client, LocalCluster

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        lc = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address=None, silence_logs=50)
    client = Client(lc, set_as_default=False)
    yield lc, client
    client.close()
    lc.close()


@pytest.fixture(scope="module")
def series(tmp_path_factory: pytest.TempPathFactory, sample_store: Path) -> Path:
    return write_series(sample_store, tmp_path_factory.mktemp("faults") / "scenes.zarr", range(4))


def clean_run(series: Path, out: Path) -> dict[str, Any]:
    """The clean run: every unit computed once, in this process."""
    job = parse_job(job_dict(series, out, products=SLOW, plugins=PLUGINS))
    assert run_job(job, echo=lambda line: None).exit_code == 0
    return store_digest(out / "products")


@pytest.fixture(scope="module")
def reference(series: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return clean_run(series, tmp_path_factory.mktemp("reference"))


@pytest.fixture(scope="module")
def long_series(tmp_path_factory: pytest.TempPathFactory, sample_store: Path) -> Path:
    """Six dates (six units) for the driver kills on a cluster that outlives the driver (see there)."""
    return write_series(sample_store, tmp_path_factory.mktemp("faults-long") / "scenes.zarr", range(6))


@pytest.fixture(scope="module")
def long_reference(long_series: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return clean_run(long_series, tmp_path_factory.mktemp("long-reference"))


def address_job(series: Path, out: Path, cluster: Any, **over: Any) -> dict[str, Any]:
    over = {"products": SLOW, "plugins": PLUGINS,
            "cluster": {"kind": "address", "address": cluster[0].scheduler_address}, **over}
    return job_dict(series, out, **over)


def items(store: Path) -> dict[Path, tuple[int, int]]:
    """Committed units (items in temporary folders are not committed) with their inode and mtime."""
    found = [p for p in store.glob(f"*/*/*/{ITEM_NAME}") if not p.parent.name.startswith(".")]
    return {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in found}


def n_units(reference: dict[str, Any]) -> int:
    return sum(1 for rel in reference if rel.endswith(f"/{ITEM_NAME}"))


def cluster_idle(client: Any) -> bool:
    """No unit task left on the scheduler, none running in a worker. A killed driver's client is gone,
    so the scheduler drops its tasks, but units already running finish (a thread cannot be stopped)
    and commit: only then is what the killed run left on disk final."""
    on_scheduler = client.run_on_scheduler(
        lambda dask_scheduler: sum("landpulse-unit" in str(k) for k in dask_scheduler.tasks))
    running = client.run(lambda dask_worker: len(dask_worker.state.executing))
    return on_scheduler == 0 and not any(running.values())


def start_driver(cmd: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    """``landpulse run`` in a process of its own; its output goes to a file (no pipe to fill or to wait on)."""
    with (cwd / "killed-run.log").open("w") as log:
        return subprocess.Popen(cmd, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, text=True)


def kill_driver(proc: subprocess.Popen[str], cwd: Path, note: Any = None) -> None:
    """SIGKILL the driver, and fail if it was no longer running: a run that had already ended tests nothing."""
    proc.kill()  # Popen.kill signals only a process it has not reaped yet
    proc.wait(timeout=60)
    log = (cwd / "killed-run.log").read_text()
    assert proc.returncode == -signal.SIGKILL, (note, f"the run ended (status {proc.returncode}) before the kill", log)


def check_rerun(rerun: subprocess.CompletedProcess[str], committed: dict[Path, Any], units: int, note: Any = None) -> None:
    """The rerun succeeded and computed exactly the units the killed run had not committed (at least one)."""
    assert rerun.returncode == 0, (note, rerun.stdout, rerun.stderr)
    todo = units - len(committed)
    assert todo > 0, (note, "every unit was committed before the kill: the rerun had nothing to do")
    assert f"{todo} unit(s) to compute, {len(committed)} already committed" in rerun.stdout, (note, rerun.stdout)
    written = re.findall(r"^\[\s*\d+/\d+\] written\s", rerun.stdout, flags=re.MULTILINE)
    assert len(written) == todo, (note, rerun.stdout)


def test_worker_killed_mid_unit_gives_identical_output(cluster: Any, series: Path, tmp_path: Path,
                                                       reference: dict[str, Any]) -> None:
    _, client = cluster
    client.wait_for_workers(2, timeout=60)
    job = parse_job(address_job(series, tmp_path, cluster))
    store = tmp_path / "products"
    lines: list[str] = []
    results: list[Any] = []
    runner = threading.Thread(target=lambda: results.append(run_job(job, echo=lines.append)))
    runner.start()

    def busy_workers() -> list[str]:
        return [addr for addr, keys in client.processing().items() if any("landpulse-unit" in str(k) for k in keys)]

    # a unit is being written AND the scheduler still lists it on a worker (no race with its end)
    wait_for(lambda: bool(temp_folders(store)) and bool(busy_workers()), what="a unit being written")
    busy = busy_workers()
    pids = client.run(os.getpid)
    victim = pids[busy[0]]
    os.kill(victim, signal.SIGKILL)
    runner.join(timeout=120)
    (result,) = results
    assert result.exit_code == 0, lines
    assert any(line.startswith("lost") for line in lines), lines  # the unit died with its worker...
    assert any(u.cleaned for u in result.units)  # ...and its retry removed what the dead attempt left
    assert store_digest(store) == reference
    assert leftovers(store) == []


@pytest.mark.parametrize("point", ["mid-unit", "just-after-a-commit", "random-time"])
def test_driver_killed_then_rerun_is_identical(point: str, cluster: Any, long_series: Path, tmp_path: Path,
                                               long_reference: dict[str, Any]) -> None:
    # The cluster outlives the driver: units running when the driver dies still finish and commit
    # (the scheduler drops only the queued ones). Six units on two one-thread workers, each unit at
    # least 4 chunks x DELAY (its chunks run one after the other): at most 2 units run at a time, so
    # the killed run leaves at most (units committed at the kill) + 2 committed. Every kill point
    # below lands with at most 3 committed, so the rerun always has a unit to compute;
    # kill_driver fails the test if the run had already ended, check_rerun if nothing was left.
    cluster[1].wait_for_workers(2, timeout=60)
    spec = write_job(tmp_path / "job.yaml", address_job(long_series, tmp_path, cluster))
    store = tmp_path / "products"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "landpulse.cli", "run", str(spec)]
    rng = random.Random()
    seed = rng.randrange(1 << 30)
    rng.seed(seed)
    proc = start_driver(cmd, env, tmp_path)
    try:
        if point == "mid-unit":  # no unit can end within 2 DELAY of the first one's start
            wait_for(lambda: bool(temp_folders(store)), what="a unit being written")
            time.sleep(rng.uniform(0, 2 * DELAY))
        elif point == "just-after-a-commit":  # the other worker may commit in the same instant: <= 2
            wait_for(lambda: bool(items(store)), what="a committed unit")
            time.sleep(rng.uniform(0, 0.05))
        else:
            # any moment from interpreter start on (startup, lock, plan, cluster connection, writes,
            # commits), but no later than the second commit (<= 3 with one more in the same instant)
            t0, at = time.monotonic(), rng.uniform(0.5, 4.0)
            wait_for(lambda: time.monotonic() - t0 >= at or len(items(store)) >= 2, what="the kill time")
    finally:
        kill_driver(proc, tmp_path, note=(point, seed))
    wait_for(lambda: cluster_idle(cluster[1]), what="the killed run's units to finish on the cluster", every=0.05)
    committed = items(store) if store.exists() else {}
    rerun = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=180)
    check_rerun(rerun, committed, n_units(long_reference), note=(point, seed))
    # nothing missing, nothing different, nothing written twice
    assert store_digest(store) == long_reference, seed
    after = items(store)
    assert all(after[p] == stat for p, stat in committed.items()), seed
    assert leftovers(store) == [], seed


def test_driver_with_its_own_cluster_killed_mid_unit(series: Path, tmp_path: Path, reference: dict[str, Any]) -> None:
    """The default kind (a local cluster the run starts): its workers die with the driver."""
    job = job_dict(series, tmp_path, products=SLOW, plugins=PLUGINS,
                   cluster={"kind": "local", "n_workers": 2, "dashboard": False})
    spec = write_job(tmp_path / "job.yaml", job)
    store = tmp_path / "products"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "landpulse.cli", "run", str(spec)]
    proc = start_driver(cmd, env, tmp_path)
    try:
        wait_for(lambda: bool(temp_folders(store)), what="a unit being written")
    finally:
        kill_driver(proc, tmp_path)
    committed = items(store)
    rerun = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=180)
    check_rerun(rerun, committed, n_units(reference))
    assert "unfinished temporary folder" in rerun.stdout
    assert store_digest(store) == reference
    assert all(items(store)[p] == stat for p, stat in committed.items())
    assert leftovers(store) == []


def test_a_scene_that_kills_its_worker_fails_alone(cluster: Any, series: Path, tmp_path: Path) -> None:
    _, client = cluster
    client.wait_for_workers(2, timeout=60)
    poison = scene_id(2)
    products = [{"name": "slow_ndvi", "params": {"delay": 0.02, "crash_scene": poison}}]
    job = parse_job(address_job(series, tmp_path, cluster, products=products))
    result = run_job(job, echo=lambda line: None)
    assert result.exit_code == 4
    assert result.report["failed_scenes"] == [poison]
    (failed,) = result.failed
    assert failed.error_type == "PoisonScene" and poison in failed.error
    assert sorted(u.status for u in result.units) == ["failed", "written", "written", "written"]
    assert len(list((tmp_path / "products").glob(f"*/*/*/{ITEM_NAME}"))) == 3
    client.wait_for_workers(2, timeout=60)  # the nannies brought the workers back
