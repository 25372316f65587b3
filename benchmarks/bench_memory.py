"""Host-memory budget of a job run: peak RSS per worker process, against the number of dates.

RELIABILITY.md: "a full run on a tile time series stays within a stated memory budget, whatever the
number of dates". The budget stated here (benchmarks/RESULTS.md, "Host-memory budget"): a worker
computes one unit (one tile-date) at a time, so its peak RSS must not grow with the number of dates
(at most +15 % from the smallest to the largest series) and must stay under ``--budget-mb`` for the
unit size measured.

Inputs are generated: the bundled real 800 x 800 Sentinel-2 crop rolled per date
(tests/support/series.py). For each series length a fresh LocalCluster of ``--workers`` one-thread
worker processes runs the job (``kind: address``); each worker's RSS is sampled every 50 ms while it
runs (``ru_maxrss`` would not do: a worker's starts at its forking parent's).

    nice -n 10 .venv/bin/python benchmarks/bench_memory.py --dates 4 24 --json mem.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from landpulse.datasets import sample_scene_item  # noqa: E402
from landpulse.io import ingest, scene_from_stac_item  # noqa: E402
from landpulse.production.jobspec import parse_job  # noqa: E402
from landpulse.production.run import run_job  # noqa: E402
from tests.support.series import job_dict, write_series  # noqa: E402


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _rss_mb() -> float:
    """Resident set size now (a worker's ru_maxrss starts at its forking parent's, so it is sampled)."""
    import psutil

    return float(psutil.Process().memory_info().rss) / 2**20


def measure(base: Path, work: Path, dates: int, workers: int) -> dict[str, Any]:
    import dask
    from distributed import Client, LocalCluster

    series = write_series(base, work / f"series-{dates}.zarr", range(dates))
    with dask.config.set({"distributed.worker.memory.target": False, "distributed.worker.memory.spill": False}):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None, silence_logs=50, resources={"landpulse-unit": 1})
    client = Client(cluster, set_as_default=False)
    try:
        idle = client.run(_rss_mb)
        peak: dict[str, float] = dict(idle)
        done = threading.Event()

        def sample() -> None:  # every 50 ms while the job runs
            while not done.is_set():
                try:
                    for k, v in client.run(_rss_mb).items():
                        peak[k] = max(peak.get(k, 0.0), v)
                except Exception:
                    pass
                done.wait(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        job = job_dict(series, work / f"out-{dates}", cluster={"kind": "address", "address": cluster.scheduler_address})
        t = time.monotonic()
        result = run_job(parse_job(job), echo=lambda _: None)
        seconds = time.monotonic() - t
        done.set()
        sampler.join()
    finally:
        client.close()
        cluster.close()
    assert result.exit_code == 0, result.report
    return {"dates": dates, "units": len(result.units), "seconds": round(seconds, 1),
            "worker_idle_mb": sorted(round(v) for v in idle.values()),
            "worker_peak_mb": sorted(round(v) for v in peak.values())}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dates", type=int, nargs="+", default=[4, 24])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--budget-mb", type=float, default=1024.0)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="landpulse-mem-"))
    base = ingest(scene_from_stac_item(sample_scene_item(), bands=["red", "nir"]), work / "base.zarr")
    rows = [measure(base, work, n, args.workers) for n in sorted(args.dates)]
    peaks = [max(r["worker_peak_mb"]) for r in rows]
    growth = peaks[-1] / peaks[0] - 1
    out = {"unit_pixels": "800x800 (2 uint16 bands in, int16 NDVI + COG + thumbnail out)", "workers": args.workers,
           "rows": rows, "growth": round(growth, 3), "budget_mb": args.budget_mb,
           "driver_peak_mb": round(_maxrss_mb()), "load": [round(v, 2) for v in os.getloadavg()],
           "within_budget": bool(max(peaks) <= args.budget_mb and growth <= 0.15)}
    print(json.dumps(out, indent=1))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return 0 if out["within_budget"] else 1


if __name__ == "__main__":
    sys.exit(main())
