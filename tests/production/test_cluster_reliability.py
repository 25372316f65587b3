"""RELIABILITY.md, distributed and security: a separate scheduler dying mid-run, a signal while the
cluster starts, the scheduler and dashboard on localhost, credentials kept out of task arguments,
logs, reports and items.

Inputs: dates derived from the bundled real scene (tests/support/series.py explains how).
"""

from __future__ import annotations

import logging
import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from landpulse.production.cluster import make_client
from landpulse.production.jobspec import ClusterSpec, parse_job
from landpulse.production.ledger import ITEM_NAME
from landpulse.production.run import run_job
from tests.support import REPO
from tests.support.series import (
    clean_run_digest,
    job_dict,
    leftovers,
    store_digest,
    temp_folders,
    wait_for,
    write_job,
    write_series,
)

PLUGINS = ["tests.support.fault_plugins"]
SLOW = [{"name": "slow_ndvi", "params": {"delay": 0.1}}]
DATES = 3
LOOPBACK = {"127.0.0.1", "::1"}


@pytest.fixture(scope="module")
def series(tmp_path_factory: pytest.TempPathFactory, sample_store: Path) -> Path:
    return write_series(sample_store, tmp_path_factory.mktemp("cluster-faults") / "scenes.zarr", range(DATES))


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1", "LANDPULSE_PLUGINS": PLUGINS[0]}


def _listening(procs: list[psutil.Process]) -> list[tuple[int, str, int]]:
    out = []
    for p in procs:
        for c in p.net_connections(kind="inet"):
            if c.status == psutil.CONN_LISTEN:
                out.append((p.pid, c.laddr.ip, c.laddr.port))
    return out


# --- the scheduler, the workers and the dashboard listen on localhost -------------------------------

@pytest.mark.slow
def test_a_local_cluster_listens_on_localhost_only() -> None:
    spec = ClusterSpec(kind="local", n_workers=1, dashboard=True)
    with make_client(spec) as client:
        me = psutil.Process()
        procs = [me, *me.children(recursive=True)]
        sockets = _listening(procs)
        ports = {port for _, _, port in sockets}
        assert len({pid for pid, _, _ in sockets}) >= 2  # this process (scheduler, nanny) and the worker
        assert all(ip in LOOPBACK for _, ip, _ in sockets), sockets  # never 0.0.0.0 nor an outside address
        link = client.dashboard_link
        assert link.startswith("http://127.0.0.1:") and int(link.split(":")[2].split("/")[0]) in ports
        with urllib.request.urlopen(link, timeout=30) as page:  # it is the dashboard, and it answers
            assert page.status == 200
        assert str(client.scheduler.address).startswith("tcp://127.0.0.1:")


# --- credentials ------------------------------------------------------------------------------------

SECRET = "lp-secret-9f3b2c71d0"  # a marker no real output contains


@pytest.fixture
def recorded_submits(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bytes]]:
    """The serialised arguments of every task the run submits to Dask (what travels to workers)."""
    import cloudpickle
    from distributed import Client

    seen: list[bytes] = []
    real = Client.submit

    def submit(self: Any, func: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(cloudpickle.dumps((func, args, {k: v for k, v in kwargs.items() if k != "resources"})))
        return real(self, func, *args, **kwargs)

    monkeypatch.setattr(Client, "submit", submit)
    yield seen


@pytest.mark.slow
def test_credentials_never_travel_in_task_arguments_nor_reach_logs_reports_or_items(
        series: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recorded_submits: list[bytes],
        caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> None:
    for name in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "GS_SECRET_ACCESS_KEY", "AZURE_STORAGE_ACCESS_KEY"):
        monkeypatch.setenv(name, SECRET)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIA" + SECRET)
    caplog.set_level(logging.DEBUG)
    lines: list[str] = []
    job = parse_job(job_dict(series, tmp_path, cluster={"kind": "local", "n_workers": 1, "dashboard": False}))
    result = run_job(job, echo=lines.append)
    assert result.exit_code == 0
    assert len(recorded_submits) == DATES  # the test sees the task arguments...
    assert all(SECRET.encode() not in blob for blob in recorded_submits)  # ...and no credential is in them
    assert SECRET not in "\n".join(lines) + caplog.text
    out = capfd.readouterr()
    assert SECRET not in out.out + out.err
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == ITEM_NAME for p in files) and any(p.suffix == ".html" for p in files)
    assert [p for p in files if SECRET.encode() in p.read_bytes()] == []  # report, items, catalogue, products


# --- a separate scheduler dies in the middle of a run -----------------------------------------------

def _start_scheduler(folder: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], subprocess.Popen[bytes], Path]:
    """A `dask scheduler` and one `dask worker` (one unit at a time), each in its own process."""
    sched_file = folder / "scheduler.json"
    sched_file.unlink(missing_ok=True)
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    with (folder / "scheduler.log").open("ab") as log:
        sched = subprocess.Popen([*dask, "--scheduler-file", str(sched_file), "--host", "127.0.0.1", "--port", "0",
                                  "--dashboard-address", "127.0.0.1:0"], env=env, stdout=log, stderr=subprocess.STDOUT)
    wait_for(sched_file.exists, timeout=60, what="the scheduler's file")
    with (folder / "worker.log").open("ab") as log:
        worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file", str(sched_file),
                                   "--nthreads", "1", "--resources", "landpulse-unit=1", "--death-timeout", "5",
                                   "--no-dashboard", "--host", "127.0.0.1"], env=env, stdout=log, stderr=subprocess.STDOUT)
    return sched, worker, sched_file


def _stop(*procs: subprocess.Popen[Any]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


@pytest.mark.slow
def test_a_scheduler_killed_mid_run_stops_the_run_and_a_rerun_completes(series: Path, tmp_path: Path,
                                                                         tmp_path_factory: pytest.TempPathFactory) -> None:
    reference = clean_run_digest(series, tmp_path_factory.mktemp("clean"), products=SLOW, plugins=PLUGINS,
                                 cluster={"kind": "threads"})
    env = _env()
    sched, worker, sched_file = _start_scheduler(tmp_path, env)
    spec = write_job(tmp_path / "job.yaml", job_dict(series, tmp_path, products=SLOW, plugins=PLUGINS,
                                                      cluster={"kind": "address", "scheduler_file": str(sched_file)}))
    store = tmp_path / "products"
    cmd = [sys.executable, "-m", "landpulse.cli", "run", str(spec)]
    try:
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for(lambda: bool(temp_folders(store)), timeout=120, what="a unit being written")
        sched.kill()  # SIGKILL: no goodbye to the client or the worker
        out, err = proc.communicate(timeout=120)
        stopped_after = time.monotonic() - t0
    finally:
        _stop(sched, worker)
    assert proc.returncode == 69, (out, err)  # ClusterLostError: its own status, not 1 and not 4
    assert "scheduler" in err.splitlines()[-1] and "was lost mid-run" in err, err
    assert "Traceback" not in err and "PoisonScene" not in out, (out, err)  # no scene is blamed
    assert "STOPPED:" in out
    assert stopped_after < 60  # at once, not after Dask's reconnect timeout
    assert not (tmp_path / "reports" / "running.json").exists()
    committed = {p.parent for p in store.glob(f"*/*/*/{ITEM_NAME}")}
    assert len(committed) < DATES
    # the rerun, on a scheduler started again, computes the rest: same bytes as a run never interrupted
    sched, worker, sched_file = _start_scheduler(tmp_path, env)
    try:
        rerun = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=180)
    finally:
        _stop(sched, worker)
    assert rerun.returncode == 0, (rerun.stdout, rerun.stderr)
    assert f"{DATES - len(committed)} unit(s) to compute" in rerun.stdout
    assert store_digest(store) == reference
    assert leftovers(store) == []


# --- a signal while the cluster starts --------------------------------------------------------------

@pytest.mark.slow
def test_a_signal_during_cluster_start_exits_quietly_and_leaves_nothing(series: Path, tmp_path: Path) -> None:
    # SIGTERM (what a batch scheduler sends); SIGINT goes through the same handler (test_signals.py)
    signum, status = signal.SIGTERM, 143
    spec = write_job(tmp_path / "job.yaml", job_dict(series, tmp_path, cluster={"kind": "local", "n_workers": 2,
                                                                                 "dashboard": False}))
    env = _env()
    out_log, err_log = tmp_path / "out.log", tmp_path / "err.log"
    with out_log.open("w") as out, err_log.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "landpulse.cli", "run", str(spec)], env=env, cwd=tmp_path,
                                stdout=out, stderr=err)
    try:
        wait_for(lambda: "plan:" in out_log.read_text(), timeout=120, what="the plan (the cluster starts next)")
        # inside LocalCluster's start: its first worker process is being spawned (then a random moment
        # of the next 0.3 s, while the workers start and register)
        wait_for(lambda: bool(psutil.Process(proc.pid).children()), timeout=60, what="a worker process")
        time.sleep(random.uniform(0.0, 0.3))
        started = psutil.Process(proc.pid).children(recursive=True)
        proc.send_signal(signum)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    stdout, stderr = out_log.read_text(), err_log.read_text()
    # "cluster choice: <why>" is printed before the cluster starts, "cluster: local, N worker(s)" once it has
    assert "cluster: local," not in stdout, "the signal came after the cluster had started: this test tested nothing"
    assert proc.returncode == status, (stdout, stderr)
    assert "Traceback" not in stderr and "Task exception" not in stderr, stderr
    assert stderr.strip().splitlines()[-1].startswith(f"landpulse: interrupted by {signal.Signals(signum).name}")
    wait_for(lambda: not [p for p in started if p.is_running() and p.status() != psutil.STATUS_ZOMBIE],
             timeout=20, what="the worker processes to be gone")
    assert not (tmp_path / "reports" / "running.json").exists()
    store = tmp_path / "products"
    assert not store.exists() or (leftovers(store) == [] and not list(store.glob(f"*/*/*/{ITEM_NAME}")))
