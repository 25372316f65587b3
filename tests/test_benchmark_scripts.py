"""Benchmark scripts stay runnable: each runs in a tiny smoke mode (numbers meaningless)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def test_gpu_benchmark_smoke(tmp_path: Path) -> None:
    out = tmp_path / "bench_gpu.json"
    result = subprocess.run([sys.executable, str(BENCH / "bench_gpu.py"), "--smoke", "--json", str(out)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["end_to_end"]["cpu_s"] > 0


def test_indices_benchmark_smoke(tmp_path: Path) -> None:
    out = tmp_path / "bench_indices.json"
    result = subprocess.run([sys.executable, str(BENCH / "bench_indices.py"), "--smoke", "--json", str(out)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(out.read_text())
    variants = {r["variant"] for r in report["rows"]}
    assert {"NDVI alone (generated kernel)", "six fused", "six one by one (generated kernels)"} <= variants
    assert report["bandwidth_gbs"] > 0


def _run(script: str, *args: str, tmp_path: Path, timeout: int = 600) -> str:
    env = {**__import__("os").environ, "LANDPULSE_BENCH_DIR": str(tmp_path / "bench")}
    result = subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True, text=True,
                            timeout=timeout, env=env, cwd=tmp_path)
    assert result.returncode == 0, (result.stdout[-1500:], result.stderr[-2000:])
    return result.stdout


def test_ndvi_benchmark_smoke(tmp_path: Path) -> None:
    out = _run("bench_ndvi.py", "--smoke", tmp_path=tmp_path)
    assert "Correctness" in out and "all methods agree" in out


def test_change_benchmark_smoke(tmp_path: Path) -> None:
    out = _run("bench_change.py", "--size", "48", "--dates", "24", "--subset", "20", tmp_path=tmp_path)
    assert "BFAST-Monitor" in out


def test_water_benchmark_smoke(tmp_path: Path) -> None:
    _run("bench_water.py", "--smoke", tmp_path=tmp_path)


def test_pipeline_benchmark_smoke(tmp_path: Path) -> None:
    out = tmp_path / "bench_pipeline.json"
    _run("bench_pipeline.py", "--size", "800", "--dates", "2", "--chunk", "400", "--repeats", "1", "--workers", "1",
         "--json", str(out), tmp_path=tmp_path)
    assert json.loads(out.read_text())
