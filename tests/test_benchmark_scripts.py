"""Benchmark scripts stay runnable: each runs in a tiny smoke mode (numbers meaningless).

The water benchmark's smoke run is tests/test_water_benchmark.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _run(script: str, *args: str, tmp_path: Path, timeout: int = 600) -> str:
    """Run a benchmark script in ``tmp_path`` (its scratch folder there too); its stdout."""
    env = {**os.environ, "LANDPULSE_BENCH_DIR": str(tmp_path / "bench")}
    result = subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True, text=True,
                            timeout=timeout, env=env, cwd=tmp_path)
    assert result.returncode == 0, (result.stdout[-1500:], result.stderr[-2000:])
    return result.stdout


def test_gpu_benchmark_smoke(tmp_path: Path) -> None:
    out = tmp_path / "bench_gpu.json"
    _run("bench_gpu.py", "--smoke", "--json", str(out), tmp_path=tmp_path, timeout=300)
    report = json.loads(out.read_text())
    assert report["end_to_end"]["cpu_s"] > 0


def test_indices_benchmark_smoke(tmp_path: Path) -> None:
    out = tmp_path / "bench_indices.json"
    _run("bench_indices.py", "--smoke", "--json", str(out), tmp_path=tmp_path)
    report = json.loads(out.read_text())
    variants = {r["variant"] for r in report["rows"]}
    assert {"NDVI alone (generated kernel)", "six fused", "six one by one (generated kernels)"} <= variants
    assert report["bandwidth_gbs"] > 0


def test_ndvi_benchmark_smoke(tmp_path: Path) -> None:
    out = tmp_path / "bench_ndvi.json"  # not the default bench-output/ of the repository (real results)
    stdout = _run("bench_ndvi.py", "--smoke", "--output", str(out), tmp_path=tmp_path)
    assert "Correctness" in stdout and "all methods agree" in stdout
    assert json.loads(out.read_text())["correctness"]["all_ok"] is True


def test_change_benchmark_smoke(tmp_path: Path) -> None:
    out = _run("bench_change.py", "--size", "48", "--dates", "24", "--subset", "20", tmp_path=tmp_path)
    assert "BFAST-Monitor" in out


def test_pipeline_benchmark_smoke(tmp_path: Path) -> None:
    out = tmp_path / "bench_pipeline.json"
    _run("bench_pipeline.py", "--size", "800", "--dates", "2", "--chunk", "400", "--repeats", "1", "--workers", "1",
         "--json", str(out), tmp_path=tmp_path)
    (row,) = json.loads(out.read_text())
    assert row["identical_chunks"] is True  # the benchmark's own cross-check: pipeline chunks == floor chunks
    assert row["floor_s"] > 0 and row["pipeline_s"] > 0 and row["pipeline_compute_s"] > 0
    assert row["bytes_floor"] > 0 and row["bytes_pipeline"] > 0


def test_remote_read_benchmark_smoke(tmp_path: Path) -> None:
    from tests.support import BOLZANO, skip_or_fail

    if not BOLZANO.exists():
        skip_or_fail("shared_data", f"real data not found: {BOLZANO}")
    if not any(Path(p).exists() for p in ("/usr/sbin/nginx", "/usr/bin/nginx")):
        skip_or_fail("nginx", "nginx not installed (Debian nginx; .ci/run installs it)")
    out = tmp_path / "bench_remote.json"
    _run("bench_remote.py", "--smoke", "--json", str(out), tmp_path=tmp_path, timeout=300)
    report = json.loads(out.read_text())
    assert set(report["best_s"]) == {"landpulse local", "landpulse http", "odc-stac local", "odc-stac http"}


def test_window_benchmarks_smoke(tmp_path: Path) -> None:
    from tests.support import BOLZANO, skip_or_fail

    if not BOLZANO.exists():
        skip_or_fail("shared_data", f"shared data not found at {BOLZANO}")
    out = tmp_path / "bench_windows.json"
    _run("bench_windows.py", "--size", "256", "--dates", "3", "5", "--json", str(out), tmp_path=tmp_path)
    rows = json.loads(out.read_text())
    # one row per number of dates and path (the fused kernel and the default xarray path, A/B)
    assert sorted((r["dates"], r["path"]) for r in rows) == [(3, "fused"), (3, "xarray"), (5, "fused"), (5, "xarray")]
    assert all(r["worker_peak_rss_gb"] > 0 for r in rows)
    text = _run("bench_bfast.py", "--pixels", "24", "--dates", "40", "--bfast-python", str(tmp_path / "none"),
                tmp_path=tmp_path)
    assert json.loads(text.splitlines()[0])["landpulse_px_per_s"] > 0 and "bfast not measured" in text


@pytest.mark.slow
def test_whole_command_benchmark_smoke(tmp_path: Path) -> None:
    """Whole processes: landpulse's commands, the hand-written loops and GDAL run on the same inputs."""
    from tests.support import BOLZANO, skip_or_fail

    if not BOLZANO.exists():
        skip_or_fail("shared_data", f"shared data not found at {BOLZANO}")
    out = tmp_path / "bench_whole.json"
    stdout = _run("bench_whole.py", "--smoke", "--json", str(out), tmp_path=tmp_path, timeout=300)
    report = json.loads(out.read_text())
    assert "nothing-to-do run" in stdout
    for name in ("landpulse run job (chosen cluster)", "hand loop: 12-date NDVI", "landpulse ingest", "hand loop: ingest"):
        assert report["medians"][name]["wall"] > 0 and report["medians"][name]["cpu"] > 0, name
    assert report["ratios"]["12-date NDVI job / hand loop"]["target"] == 1.3


def test_parcel_tiles_benchmark_smoke(tmp_path: Path) -> None:
    """Parcels across tiles against one grid: the script exits 1 when the two tables disagree."""
    from tests.support import BOLZANO, skip_or_fail

    if not BOLZANO.exists():
        skip_or_fail("shared_data", f"shared data not found at {BOLZANO}")
    out = _run("bench_parcel_tiles.py", "--size", "512", "--parcels", "300", "--dates", "1", "--overlap", "40",
               tmp_path=tmp_path)
    row = out.strip().splitlines()[-1].split("|")
    assert row[1].strip() == "512^2 x 1 dates" and int(row[4]) > 0 and float(row[8]) < 1e-9
