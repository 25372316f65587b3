"""The water benchmark stays runnable: a tiny smoke run of every variant (numbers meaningless)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_water.py"


def test_water_benchmark_smoke(tmp_path: Path) -> None:
    out = tmp_path / "bench_water.json"
    result = subprocess.run([sys.executable, str(BENCH), "--smoke", "--json", str(out)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(out.read_text())
    rows = {r["variant"]: r for r in report["rows"]}
    assert {"read", "index", "otsu", "wofs", "xarray"} <= set(rows)
    assert report["index_equals_xarray"] is True  # the peer's counts equal landpulse's
    assert all(r["seconds"] > 0 and r["peak_rss_mb"] > 0 for r in rows.values())
