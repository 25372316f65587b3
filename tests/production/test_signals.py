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
