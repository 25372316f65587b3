"""Signals end a run with a documented status and one line: 130 for SIGINT, 143 for SIGTERM; the
run stops at the next unit boundary (also on the in-process ``threads`` cluster), releases its lock,
and a rerun finishes the job with the same bytes as a run never interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import REPO
from tests.support.series import clean_run_digest, job_dict, store_digest, wait_for, write_job, write_series

PLUGINS = ["tests.support.fault_plugins"]
# slow_ndvi pauses per chunk (4 chunks per unit, one unit at a time): 5 units take >= 1.6 s
PRODUCTS = [{"name": "slow_ndvi", "params": {"delay": 0.08}}]
DATES = 5


@pytest.fixture(scope="module")
def series(tmp_path_factory: pytest.TempPathFactory, sample_store: Path) -> Path:
    return write_series(sample_store, tmp_path_factory.mktemp("signals") / "18SVG.zarr", range(DATES))


@pytest.fixture(scope="module")
def reference(series: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The same job, never interrupted."""
    return clean_run_digest(series, tmp_path_factory.mktemp("clean"), products=PRODUCTS, plugins=PLUGINS,
                            cluster={"kind": "threads"})


@pytest.mark.parametrize("signum,status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_a_threads_run_at_a_unit_boundary(signum: int, status: int, series: Path, tmp_path: Path,
                                                         reference: dict[str, object]) -> None:
    job = job_dict(series, tmp_path, products=PRODUCTS, plugins=PLUGINS, cluster={"kind": "threads", "n_workers": 1})
    spec = write_job(tmp_path / "job.yaml", job)
    store = tmp_path / "products"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "landpulse.cli", "run", str(spec)]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: len(list(store.glob("*/*/*/item.json"))) >= 1, timeout=90, what="a committed unit")
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=30)  # a unit boundary is at most one unit (~0.3 s) away
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == status, (out, err)
    lines = err.strip().splitlines() or [""]
    assert lines[-1].startswith(f"landpulse: interrupted by {signal.Signals(signum).name}"), err
    assert "Traceback" not in err
    committed = len(list(store.glob("*/*/*/item.json")))
    assert 1 <= committed < DATES  # it stopped: not every unit was computed
    assert not (tmp_path / "reports" / "running.json").exists()  # the lock and its marker are released
    rerun = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{DATES - committed} unit(s) to compute" in rerun.stdout
    assert store_digest(store) == reference  # the same bytes as a run that was never interrupted


def test_a_signal_while_planning_exits_with_its_status_and_leaves_nothing(series: Path, tmp_path: Path) -> None:
    """The planning phase, deterministically: the input store's root metadata is a named pipe that
    nobody writes yet, so the run holds its lock and waits inside its plan (the kernel reports the
    reader waiting for a writer) when SIGTERM comes. One line, 143, no unit folder, no report, the
    lock released; the same job then runs to the end."""
    import shutil

    store_in = Path(shutil.copytree(series, tmp_path / "18SVG.zarr"))
    meta = store_in / "zarr.json"
    content = meta.read_bytes()
    meta.unlink()
    os.mkfifo(meta)
    job = job_dict(store_in, tmp_path, products=PRODUCTS, plugins=PLUGINS, cluster={"kind": "threads", "n_workers": 1})
    spec = write_job(tmp_path / "job.yaml", job)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "landpulse.cli", "run", str(spec)]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def waiting_on_the_pipe() -> bool:
        tasks = Path(f"/proc/{proc.pid}/task")
        return any((t / "wchan").read_text().strip() in ("wait_for_partner", "fifo_open", "pipe_wait")
                   for t in tasks.iterdir() if (t / "wchan").exists())

    try:
        wait_for(waiting_on_the_pipe, timeout=90, what="the plan reading the input store's metadata")
        assert (tmp_path / "reports" / "running.json").exists()  # the lock is held: this is the plan
        proc.send_signal(signal.SIGTERM)
        try:  # let the blocked read finish (its thread would keep the process alive), if it still waits
            fd = os.open(meta, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # no reader any more: nothing to release
            fd = -1
        if fd >= 0:
            os.set_blocking(fd, True)
            os.write(fd, content)
            os.close(fd)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, (out, err)
    assert err.strip().splitlines()[-1].startswith("landpulse: interrupted by SIGTERM"), err
    assert "Traceback" not in err
    products = tmp_path / "products"
    assert not list(products.glob("*/*/*/item.json")) and not list(products.rglob("*.tmp*"))
    assert not (tmp_path / "reports" / "running.json").exists()
    meta.unlink()
    meta.write_bytes(content)
    rerun = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert rerun.returncode == 0, rerun.stderr
    assert len(list(products.glob("*/*/*/item.json"))) == DATES
