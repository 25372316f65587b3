"""Soak: a job of many units under random SIGKILLs of workers and of the driver, rerun until it
completes; the products must then be bit-identical to an uninterrupted run, with nothing left behind.

Not part of ``make test`` (minutes). Run::

    nice -n 10 .venv/bin/python benchmarks/soak.py --units 200 --json soak.json

Inputs are generated: the bundled real Sentinel-2 crop, cut to ``--size`` pixels and rolled per date
(tests/support/series.py's derivation), one unit (NDVI) per date. The cluster is a LocalCluster of
``--workers`` one-thread worker processes started here and reached by the driver as ``kind: address``
(so the cluster outlives a killed driver, as a production scheduler would); its nannies restart
killed workers. The driver is ``landpulse run`` in its own process. While it runs, every
``--every`` seconds (random, uniform 0.3x to 1.7x) one kill lands: the driver with probability
``--driver-share``, else a random worker. After ``--max-kills`` kills the run is left to finish.
Whenever the driver ends (killed, or exit 4 when a unit's worker died twice), it is started again.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import landpulse  # noqa: E402
from landpulse.datasets import sample_scene_item  # noqa: E402
from landpulse.io import ingest, scene_from_stac_item  # noqa: E402
from landpulse.io.store import write_zarr  # noqa: E402
from tests.support.series import job_dict, leftovers, store_digest, write_job  # noqa: E402

T0 = np.datetime64("2016-01-12T00:00:00", "ns")


def make_series(folder: Path, units: int, size: int) -> Path:
    """``units`` dates of the bundled scene cut to ``size`` x ``size`` and rolled per date (generated)."""
    base_store = ingest(scene_from_stac_item(sample_scene_item(), bands=["red", "nir"]),
                        folder / "base.zarr")
    base = landpulse.open_store(base_store)[["red", "nir"]].isel(y=slice(0, size), x=slice(0, size)).load()
    dates = []
    for k in range(units):
        ds = base.copy(deep=True)
        for v in ("red", "nir"):
            ds[v].values = np.roll(base[v].values, (7 * k, 13 * k), axis=(1, 2))
        dates.append(ds.assign_coords(time=[T0 + np.timedelta64(k, "D")],
                                      scene_id=("time", np.array([f"soak_roll{k}"], dtype=object))))
    ds = xr.concat(dates, dim="time", data_vars="all", coords="different", compat="equals", join="exact",
                   combine_attrs="override")
    ds.attrs = dict(base.attrs)
    ds = ds.rio.write_crs(base.rio.crs)
    return write_zarr(ds, folder / "series.zarr", chunks={"time": 1, "y": size // 2, "x": size // 2})


def soak_job(series: Path, out: Path, cluster: dict[str, Any]) -> dict[str, Any]:
    job = job_dict(series, out, cluster=cluster)
    job["output"]["quicklooks"] = False  # small units: the thumbnails would cost more than the product
    return job


def run_cli(spec: Path, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "landpulse.cli", "run", str(spec)], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=3600)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--units", type=int, default=200)
    ap.add_argument("--size", type=int, default=128, help="pixels per side of a unit (small: the count is the point)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--every", type=float, default=2.0, help="mean seconds between kills")
    ap.add_argument("--driver-share", type=float, default=0.35)
    ap.add_argument("--max-kills", type=int, default=40)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--dir", type=Path, default=None, help="scratch folder (default: a temporary one)")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    work = args.dir or Path(tempfile.mkdtemp(prefix="landpulse-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    t_start = time.monotonic()
    series = make_series(work, args.units, args.size)

    # the reference: the same job, never interrupted, units in one process
    ref_out = work / "reference"
    spec_ref = write_job(work / "reference.yaml", soak_job(series, ref_out, {"kind": "threads", "n_workers": 2}))
    t = time.monotonic()
    ref = run_cli(spec_ref, work, env)
    ref_seconds = time.monotonic() - t
    if ref.returncode != 0:
        print(ref.stdout[-2000:], ref.stderr[-2000:], file=sys.stderr)
        return 1
    reference = store_digest(ref_out / "products")

    import dask
    from distributed import Client, LocalCluster

    with dask.config.set({"distributed.scheduler.allowed-failures": 3}):
        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None, silence_logs=50, resources={"landpulse-unit": 1})
    client = Client(cluster, set_as_default=False)
    out = work / "soak"
    spec = write_job(work / "soak.yaml", soak_job(series, out, {"kind": "address", "address": cluster.scheduler_address}))
    kills = {"driver": 0, "worker": 0}
    starts, statuses = 0, []
    t_soak = time.monotonic()
    while True:
        starts += 1
        log = (work / f"run-{starts}.log").open("w")
        proc = subprocess.Popen([sys.executable, "-m", "landpulse.cli", "run", str(spec)], env=env, cwd=work,
                                stdout=log, stderr=subprocess.STDOUT, text=True)
        run_log = work / f"run-{starts}.log"
        while proc.poll() is None:
            deadline = time.monotonic() + rng.uniform(0.3, 1.7) * args.every
            while time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.02)
            # kills land once the run has planned (units in flight), not in its interpreter start
            if proc.poll() is not None or sum(kills.values()) >= args.max_kills or "plan:" not in run_log.read_text():
                continue
            if rng.random() < args.driver_share:
                proc.send_signal(signal.SIGKILL)
                kills["driver"] += 1
            else:
                try:
                    pids = client.run(os.getpid, nanny=False)
                except Exception:
                    continue  # a worker was still restarting: try again later
                if len(pids) == args.workers:  # one dead worker at a time (its nanny restarts it)
                    os.kill(rng.choice(sorted(pids.values())), signal.SIGKILL)
                    kills["worker"] += 1
        proc.wait()
        log.close()
        statuses.append(proc.returncode)
        if proc.returncode == 0:
            break
        if starts > 200:
            print("soak: gave up after 200 starts", file=sys.stderr)
            return 1
        try:
            client.wait_for_workers(args.workers, timeout=300)
        except Exception:
            cluster.scale(args.workers)  # a nanny that gave up: start its worker again
            client.wait_for_workers(args.workers, timeout=300)
    soak_seconds = time.monotonic() - t_soak
    # units a killed driver's workers were still running have finished by now: compare
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        busy = client.run(lambda dask_worker: len(dask_worker.state.executing))
        if not any(busy.values()):
            break
        time.sleep(0.1)
    client.close()
    cluster.close()

    got = store_digest(out / "products")
    differing = sorted(k for k in set(got) | set(reference) if got.get(k) != reference.get(k))
    left = [str(p) for p in leftovers(out / "products")]
    verify = subprocess.run([sys.executable, "-m", "landpulse.cli", "verify", str(out / "products")], env=env,
                            capture_output=True, text=True)
    items = sum(1 for k in got if k.endswith("/item.json"))
    result: dict[str, Any] = {
        "units": args.units, "unit_pixels": f"{args.size}x{args.size}", "workers": args.workers, "seed": seed,
        "kills": kills, "driver_starts": starts, "exit_statuses": statuses,
        "reference_run_s": round(ref_seconds, 1), "soak_s": round(soak_seconds, 1),
        "total_s": round(time.monotonic() - t_start, 1),
        "committed_units": items, "bit_identical": not differing, "differing_files": differing[:20],
        "leftovers": left, "verify_exit": verify.returncode,
    }
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    ok = not differing and not left and verify.returncode == 0 and items == args.units
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
