"""Batch jobs on a real Slurm: worker jobs, a cancelled worker, clean shutdown, one-allocation runs.

The ``slurm`` fixture starts a single-node Slurm on this machine (tests/slurm.py; `.ci/run`
installs Debian's packages); without it these tests skip with the reason. Products are compared
byte for byte with the same job run in this process (``cluster: threads``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from landpulse.cli import main
from landpulse.production.jobspec import parse_job
from landpulse.production.run import run_job
from tests.support.series import job_dict, leftovers, store_digest, temp_folders, wait_for, write_job, write_series

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
DELAY = 0.4  # seconds per chunk of slow_ndvi (4 chunks a unit): long enough to cancel a worker mid-unit
SLOW = [{"name": "slow_ndvi", "params": {"delay": DELAY}}]
PLUGINS = ["tests.support.fault_plugins"]
POLL = 0.05  # seconds between looks at the queue (each one runs squeue)


@pytest.fixture(scope="module")
def series(tmp_path_factory: pytest.TempPathFactory, sample_store: Path) -> Path:
    return write_series(sample_store, tmp_path_factory.mktemp("slurm-series") / "scenes.zarr", range(3))


@pytest.fixture(scope="module")
def reference(series: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("slurm-reference")
    assert run_job(parse_job(job_dict(series, out, products=SLOW, plugins=PLUGINS)), echo=lambda _: None).exit_code == 0
    return store_digest(out / "products")


@pytest.fixture(autouse=True)
def _workers_can_import_the_test_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    # worker jobs inherit the submitting environment (sbatch --export=ALL)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    monkeypatch.chdir(REPO)


def slurm_cluster_spec(tmp_path: Path, slurm: Any, **slurm_over: Any) -> dict[str, Any]:
    settings = {"partition": slurm.partition, "cores": 1, "memory": "2GiB", "jobs": 2, "walltime": "00:10:00",
                "log_directory": str(tmp_path / "slurm-logs"), **slurm_over}
    return {"kind": "slurm", "dashboard": False, "slurm": settings}


def test_worker_job_script_for_gpu_partitions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("dask_jobqueue")
    spec = job_dict(tmp_path / "in.zarr", tmp_path, cluster={"kind": "slurm", "slurm": {
        "partition": "gpu", "account": "eo-agency", "gpus_per_worker": 2, "cores": 16, "memory": "120GiB",
        "walltime": "04:00:00", "prologue": ["module load cuda/12.4"], "minimum_jobs": 1, "maximum_jobs": 8}})
    path = write_job(tmp_path / "job.yaml", spec)
    assert main(["cluster-script", str(path)]) == 0
    script = capsys.readouterr().out
    for line in ("#SBATCH -p gpu", "#SBATCH -A eo-agency", "#SBATCH --gres=gpu:2", "#SBATCH --cpus-per-task=16",
                 "#SBATCH -t 04:00:00", "module load cuda/12.4"):
        assert line in script, script
    assert "-m dask_cuda.cli" in script and "--resources landpulse-unit=1" in script and "--rmm-pool-size 0.8" in script


def test_cluster_script_needs_a_slurm_cluster(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_job(tmp_path / "job.yaml", job_dict(tmp_path / "in.zarr", tmp_path))
    assert main(["cluster-script", str(path)]) == 2
    assert "kind: slurm" in capsys.readouterr().err
    pytest.importorskip("dask_jobqueue")
    assert main(["cluster-script", str(path), "--cluster", "slurm"]) == 0
    assert "distributed.cli.dask_worker" in capsys.readouterr().out


def test_run_with_slurm_workers_equals_a_local_run(slurm: Any, series: Path, reference: dict[str, Any], tmp_path: Path) -> None:
    job = parse_job(job_dict(series, tmp_path, products=SLOW, plugins=PLUGINS,
                             cluster=slurm_cluster_spec(tmp_path, slurm)))
    seen_jobs: set[str] = set()
    result: list[Any] = []
    runner = threading.Thread(target=lambda: result.append(run_job(job, echo=lambda _: None)))
    runner.start()
    while runner.is_alive():
        seen_jobs.update(slurm.queue())
        time.sleep(0.2)
    runner.join()
    assert result and result[0].exit_code == 0
    assert len(seen_jobs) >= 1  # the workers were Slurm jobs
    assert store_digest(tmp_path / "products") == reference
    wait_for(lambda: not slurm.queue(), 30, "an empty queue", every=POLL)  # worker jobs cancelled at the end


@pytest.mark.parametrize("signal", ["TERM", "KILL"])
def test_cancelled_worker_job_mid_run_still_gives_identical_products(signal: str, slurm: Any, series: Path,
                                                                     reference: dict[str, Any], tmp_path: Path) -> None:
    job = parse_job(job_dict(series, tmp_path, products=SLOW, plugins=PLUGINS,
                             cluster=slurm_cluster_spec(tmp_path, slurm, jobs=2)))
    lines: list[str] = []
    result: list[Any] = []
    runner = threading.Thread(target=lambda: result.append(run_job(job, echo=lines.append)))
    runner.start()
    store = tmp_path / "products"
    # both worker jobs busy (two units in flight, one unit per worker): the victim holds a unit
    wait_for(lambda: len(slurm.queue()) == 2 and len(temp_folders(store)) == 2, 120,
             "two worker jobs, each writing a unit", every=POLL)
    victim = slurm.queue()[0]
    slurm.run("scancel", "--full", f"--signal={signal}", victim)
    runner.join(timeout=300)
    assert result and result[0].exit_code == 0, lines
    assert victim not in slurm.queue()
    # Both workers held a unit (two half-written units on disk) when one job was cancelled: with
    # SIGTERM (plain scancel) the worker leaves gracefully, finishing or handing back its unit; with
    # SIGKILL it dies with the unit half written and the scheduler reruns it on the survivor
    # (within `allowed_failures`, so the run sees no error). Either way: products complete and
    # identical to a clean run, and no half-written folder left behind.
    assert store_digest(store) == reference
    assert leftovers(store) == []
    wait_for(lambda: not slurm.queue(), 30, "an empty queue", every=POLL)


def test_one_allocation_wrapper_runs_the_whole_job(slurm: Any, series: Path, reference: dict[str, Any], tmp_path: Path) -> None:
    spec = write_job(tmp_path / "job.yaml", job_dict(series, tmp_path, products=SLOW, plugins=PLUGINS,
                                                     cluster={"kind": "local", "dashboard": False}))
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "LANDPULSE": str(bin_dir / "landpulse"), "PYTHON": sys.executable,
           "LANDPULSE_SCHEDULER_DIR": str(tmp_path / "sched")}
    out = subprocess.run(["sbatch", "--parsable", "--ntasks=2", "--cpus-per-task=1", "--time=00:10:00",
                          f"--output={tmp_path / 'job.out'}", str(REPO / "scripts" / "landpulse-sbatch.sh"), str(spec)],
                         env=env, capture_output=True, text=True, check=True)
    job_id = out.stdout.strip().split(";")[0]
    state: dict[str, str] = {}

    def finished() -> bool:
        info = subprocess.run(["scontrol", "show", "job", job_id], env=env, capture_output=True, text=True).stdout
        fields = dict(kv.split("=", 1) for kv in info.split() if "=" in kv)
        state.update(fields)
        return fields.get("JobState") in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL")

    wait_for(finished, 240, f"Slurm job {job_id} to finish", every=POLL)
    log = (tmp_path / "job.out").read_text()
    assert state["JobState"] == "COMPLETED" and state["ExitCode"] == "0:0", log
    assert store_digest(tmp_path / "products") == reference
    wait_for(lambda: not slurm.queue(), 30, "an empty queue", every=POLL)


def test_stopping_the_driver_cancels_its_worker_jobs(slurm: Any, series: Path, tmp_path: Path) -> None:
    # SIGTERM to `landpulse run` (a scheduler's timeout, systemctl stop, scancel of a driver job):
    # the run unwinds, the cluster is closed and every worker job leaves the queue at once.
    spec = write_job(tmp_path / "job.yaml", job_dict(series, tmp_path, products=SLOW, plugins=PLUGINS,
                                                     cluster=slurm_cluster_spec(tmp_path, slurm)))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "landpulse.cli", "run", str(spec)], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: len(slurm.queue()) == 2, 120, "two worker jobs", every=POLL)
        proc.send_signal(15)
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143 and "landpulse: interrupted by SIGTERM" in output, output  # 128 + SIGTERM
    wait_for(lambda: not slurm.queue(), 20, "an empty queue (well before the workers' 60 s death timeout)", every=POLL)
