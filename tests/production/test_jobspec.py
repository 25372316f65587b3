"""Job specs: safe YAML, validation errors that name the field and the fix, names that cannot escape."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from landpulse.cli import main
from landpulse.errors import BackendUnavailableError
from landpulse.production.cluster import CLUSTER_EXTRA_HINT, make_client, slurm_cluster
from landpulse.production.jobspec import JobSpecError, is_job_file, load_job, parse_job

REPO = Path(__file__).resolve().parents[2]


def base(**over: object) -> dict:
    job = {"name": "nightly", "inputs": {"kind": "zarr", "stores": ["scenes.zarr"]}, "products": ["ndvi"],
           "output": {"store": "products"}}
    job.update(over)
    return job


def test_demo_job_spec_is_valid() -> None:
    job = load_job(REPO / "examples" / "demo-job.yaml")
    assert job.name == "demo-ndvi" and job.products[0].params == {"out_of_range": "nan"}
    assert job.inputs.stores[0].path == REPO / "demo-output" / "scenes.zarr"  # relative to the spec's folder
    assert job.output.store == REPO / "demo-output" / "products" and job.output.cog
    assert job.cluster.kind == "local" and job.cluster.host == "127.0.0.1"


def test_defaults_and_shorthands(tmp_path: Path) -> None:
    job = parse_job(base(dates="since-last-run"), base=tmp_path)
    assert job.dates.since == "last-run" and job.inputs.stores[0].tile_id == "scenes"
    assert job.output.store == tmp_path / "products" and job.output.reports_dir == tmp_path / "products-reports"
    assert job.output.encoding == "int16" and job.output.checksums == ["crc32c"] and job.output.fsync
    assert job.cluster.kind == "local" and job.cluster.dashboard is True and job.backend == "auto"
    job2 = parse_job(base(inputs={"kind": "zarr", "stores": {"33TUM": "/data/a.zarr"}}), base=tmp_path)
    assert job2.inputs.stores[0].tile_id == "33TUM" and job2.inputs.stores[0].path == Path("/data/a.zarr")


@pytest.mark.parametrize("over,message", [
    ({"outputs": {}}, "unknown field 'outputs' (did you mean 'output'?)"),
    ({"products": ["ndvii"]}, "unknown product 'ndvii' (did you mean 'ndvi'?)"),
    ({"products": [{"name": "ndvi", "params": {"out_of_range": "wrap"}}]}, "must be one of ['nan', 'clip']"),
    ({"products": [{"name": "ndvi", "params": {"window": 3}}]}, "unknown parameter 'window' for product ndvi"),
    ({"products": ["ndvi", "ndvi"]}, "listed twice"),
    ({"products": []}, "products: List should have at least 1 item"),
    ({"name": "../evil"}, "invalid job name '../evil'"),
    ({"area": {"tiles": ["18SVG", "a/b"]}}, "area.tiles: invalid tile id 'a/b'"),
    ({"inputs": {"kind": "zarr", "stores": [{"path": "a.zarr", "tile": ".."}]}}, "invalid tile id '..'"),
    ({"inputs": {"kind": "ftp", "path": "x"}}, "inputs.kind must be one of zarr, scenes, stac"),
    ({"inputs": {"stores": ["a.zarr"]}}, "inputs needs `kind`"),
    ({"dates": {"start": "2024-05-01", "end": "2024-04-01"}}, "end (2024-04-01) is before start (2024-05-01)"),
    ({"cluster": {"kind": "address"}}, "kind: address needs `address`"),
    ({"cluster": {"kind": "local", "address": "tcp://x:1"}}, "`address`/`scheduler_file` are only for kind: address"),
    ({"cluster": {"kind": "address", "address": "x:8786"}}, "must start with tcp://, tls:// or ucx://"),
    ({"cluster": {"security": {"ca_file": "ca.pem"}}}, "TLS needs ca_file, cert_file and key_file"),
    ({"output": {"store": "p", "clevel": 12}}, "output.clevel: Input should be less than or equal to 9"),
    ({"output": {}}, "output.store: required field missing"),
    ({"plugins": ["os; rm -rf /"]}, "is not a module name"),
])
def test_errors_name_the_field_and_the_fix(over: dict, message: str) -> None:
    with pytest.raises(JobSpecError) as err:
        parse_job(base(**over), source="job.yaml")
    assert str(err.value).startswith("job.yaml: invalid job spec") and message in str(err.value), str(err.value)


def test_yaml_is_loaded_safely(tmp_path: Path) -> None:
    evil = tmp_path / "evil.yaml"
    evil.write_text("name: !!python/object/apply:os.system ['echo pwned > %s']\n" % (tmp_path / "pwned"))
    with pytest.raises(JobSpecError, match="not valid YAML"):
        load_job(evil)
    assert not (tmp_path / "pwned").exists()
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(JobSpecError, match="a job spec is a YAML mapping"):
        load_job(tmp_path / "list.yaml")
    with pytest.raises(JobSpecError, match="cannot read job spec"):
        load_job(tmp_path / "missing.yaml")
    assert is_job_file(evil) and not is_job_file(tmp_path / "scenes.zarr")


def test_validate_command(tmp_path: Path, sample_store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "job.yaml"
    spec.write_text(yaml.safe_dump(base(inputs={"kind": "zarr", "stores": [{"path": str(sample_store), "tile": "18SVG"}]})))
    assert main(["validate", str(spec), "--plan"]) == 0
    out = capsys.readouterr().out
    assert "valid job spec 'nightly'" in out and "compute ndvi_18SVG_20160112T000000 from S2A_18SVG_20160112_L1C_crop" in out
    assert not (tmp_path / "products").exists()  # validating writes nothing
    spec.write_text(yaml.safe_dump(base(products=["evi9"], colour="red")))
    assert main(["validate", str(spec)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("landpulse: error:") and "products.0.name: unknown product 'evi9'" in err and "'colour'" in err
    spec.write_text(yaml.safe_dump(base()))
    assert main(["validate", str(spec)]) == 2 and "inputs not found" in capsys.readouterr().err
    assert main(["run", str(spec), "--out", str(tmp_path / "o")]) == 2
    assert "No such option: --out" in capsys.readouterr().err  # a job names its output; --out is compute's


def test_cluster_kinds_without_their_libraries_name_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "dask_cuda", None)  # importing it now raises ImportError
    job = parse_job(base(cluster={"kind": "local-cuda"}))
    with pytest.raises(BackendUnavailableError, match="dask_cuda") as err:
        with make_client(job.cluster):
            pass
    assert CLUSTER_EXTRA_HINT in str(err.value) and "landpulse[cluster]" in str(err.value)


def test_slurm_factory_writes_a_job_script(tmp_path: Path) -> None:
    job = parse_job(base(cluster={"kind": "slurm", "slurm": {
        "queue": "gpu", "account": "proj42", "walltime": "02:00:00", "cores": 4, "memory": "16GiB",
        "job_extra_directives": ["--gres=gpu:1"], "log_directory": "logs"}}), base=tmp_path)
    cluster = slurm_cluster(job.cluster)
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    for expected in ("#SBATCH -p gpu", "#SBATCH -A proj42", "#SBATCH -t 02:00:00", "#SBATCH --gres=gpu:1",
                     "--nthreads 4", str(tmp_path / "logs")):
        assert expected in script, script
    assert "127.0.0.1" in cluster.scheduler_address  # the scheduler binds where the spec says


def test_tls_between_scheduler_and_workers(tmp_path: Path, sample_store: Path) -> None:
    pytest.importorskip("cryptography")
    from landpulse.production.run import run_job
    from tests.support.series import job_dict

    job = parse_job(job_dict(sample_store, tmp_path, cluster={
        "kind": "local", "n_workers": 1, "dashboard": False, "security": {"temporary": True}}))
    r = run_job(job, echo=lambda line: None)
    assert r.exit_code == 0 and r.report["cluster"]["scheduler"].startswith("tls://127.0.0.1:")


def test_slurm_worker_jobs_inherit_the_clusters_dask_settings() -> None:
    """Worker jobs are processes Dask did not start here: the batch script hands them the run's
    settings (allowed failures; MALLOC_TRIM_THRESHOLD_ unset) and a fresh process applies them."""
    import os
    import re
    import subprocess
    import sys

    pytest.importorskip("dask_jobqueue")
    from landpulse.production.cluster import worker_job_script
    from landpulse.production.jobspec import ClusterSpec

    script = worker_job_script(ClusterSpec(kind="slurm", allowed_failures=3))
    (value,) = re.findall(r"export DASK_INTERNAL_INHERIT_CONFIG='([^']+)'", script)
    probe = ("import dask, distributed; from distributed.nanny import _get_env_variables; "
             "print(dask.config.get('distributed.scheduler.allowed-failures'), "
             "'MALLOC_TRIM_THRESHOLD_' in _get_env_variables('distributed.nanny.pre-spawn-environ'))")
    out = subprocess.run([sys.executable, "-c", probe], env={**os.environ, "DASK_INTERNAL_INHERIT_CONFIG": value},
                         capture_output=True, text=True, check=True).stdout.split()
    assert out == ["3", "False"]
    plain = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert plain[1] == "True"  # without it, Dask's default would set the trim threshold
