"""The cluster a job without ``cluster:`` runs on: threads for small jobs, processes for large ones,
the spec's (or ``--cluster``'s) whenever given; the choice and its reason in the run report."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import zarr

from landpulse.cli import _load_job
from landpulse.production.jobspec import parse_job
from landpulse.production.plan import SceneRef, Unit, ZarrSource, make_plan
from landpulse.production.run import run_job
from landpulse.production.sizing import PROCESS_CLUSTER_PIXELS, choose_cluster, unit_pixels
from tests.support.series import job_dict, write_job


def _job(store: Path, out: Path, **over: object) -> dict[str, object]:
    """The test job spec, without a cluster section unless ``over`` gives one."""
    job = job_dict(store, out, **over)
    if "cluster" not in over:
        del job["cluster"]
    return job


def _units(store: Path, dates: int) -> list[Unit]:
    """Units over ``store`` (only their sources matter to the sizing)."""
    when = dt.datetime(2020, 1, 1)
    return [Unit("ndvi", "T1", f"2020010{k}", when, (SceneRef(f"s{k}", "T1", when, ZarrSource(str(store), k)),),
                 (), "int16", None, "h") for k in range(dates)]


def test_small_job_without_cluster_runs_on_threads_and_says_why(tmp_path: Path, sample_store: Path) -> None:
    spec = parse_job(_job(sample_store, tmp_path / "out"))
    assert "cluster" not in spec.model_fields_set and spec.cluster.kind == "local"  # the spec's default
    result = run_job(spec, echo=lambda line: None)
    assert result.exit_code == 0 and result.status == "ok"
    cluster = result.report["cluster"]
    assert cluster["kind"] == "threads"
    assert cluster["choice"].startswith("chosen: threads in this process for 1 unit(s) of 1 Mpx")  # 800 x 800 px
    saved = json.loads(result.report_json.read_text())  # type: ignore[union-attr]
    assert saved["cluster"]["choice"] == cluster["choice"]
    assert "chosen: threads" in result.report_html.read_text()  # type: ignore[union-attr]


def test_explicit_cluster_always_wins(tmp_path: Path, sample_store: Path) -> None:
    spec = parse_job(_job(sample_store, tmp_path / "out", cluster={"kind": "local", "n_workers": 1}))
    plan = make_plan(spec)
    assert len(plan.todo) == 1
    cluster, why = choose_cluster(spec, plan.todo)
    assert cluster.kind == "local" and why == "local, as the job spec (or --cluster) sets it"
    # --cluster on the command line is explicit too, on a spec that had no cluster section
    path = write_job(tmp_path / "job.yaml", _job(sample_store, tmp_path / "out"))
    assert choose_cluster(_load_job(path), plan.todo)[0].kind == "threads"
    cluster, why = choose_cluster(_load_job(path, cluster="local"), plan.todo)
    assert cluster.kind == "local" and "as the job spec (or --cluster) sets it" in why


def test_large_job_gets_a_process_cluster(tmp_path: Path, sample_store: Path) -> None:
    """Sizes come from the store's metadata: a (4, 10980, 10980) array of which no chunk exists."""
    big = tmp_path / "big.zarr"
    zarr.create_array(str(big), name="red", shape=(4, 10980, 10980), chunks=(1, 2196, 2196), dtype="uint16")
    assert not any(p.name == "c" for p in (big / "red").iterdir())  # metadata only: nothing was read or written
    units = _units(big, 4)
    assert unit_pixels(units) == 4 * 10980 * 10980 == PROCESS_CLUSTER_PIXELS
    spec = parse_job(_job(sample_store, tmp_path / "out"))
    cluster, why = choose_cluster(spec, units)
    assert cluster.kind == "local" and why.startswith("chosen: a local process cluster for 4 unit(s) of 482 Mpx")
    assert choose_cluster(spec, units[:3])[0].kind == "threads"  # one tile fewer: below the limit


def test_gpu_jobs_keep_the_default_cluster(tmp_path: Path, sample_store: Path) -> None:
    spec = parse_job({**_job(sample_store, tmp_path / "out"), "backend": "gpu"})
    cluster, why = choose_cluster(spec, _units(sample_store, 1))
    assert cluster.kind == "local" and why.startswith("backend gpu")
