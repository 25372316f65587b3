"""The parcel benchmark stays runnable: a tiny smoke run (numbers meaningless), whose own
cross-check (landpulse's means against exactextract's) must hold."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support import BOLZANO, skip_or_fail

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_parcels.py"


def test_parcel_benchmark_smoke(tmp_path: Path) -> None:
    if not BOLZANO.exists():
        skip_or_fail("shared_data", f"shared data not found at {BOLZANO}")
    out = tmp_path / "parcels.json"
    env = {**os.environ, "LANDPULSE_BENCH_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, str(BENCH), "--size", "600", "--parcels", "300", "--dates", "2",
                             "--ee-parcels", "300", "--ee-dates", "1", "--rs-parcels", "20", "--scale-parcels", "600",
                             "--scale-dates", "1", "--json", str(out)],
                            capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["exactextract"]["max_rel_diff_mean"] < 1e-6
    assert report["landpulse"]["nnz"] > 0 and [s["parcels"] for s in report["scaling"]] == [300, 600]
