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
