"""A window composite streamed from Zarr: wall time against the read floor, peak RSS per worker,
for 24 and 73 dates (issue 13).

What is measured, in one run (same machine, same page cache state):

* **read floors**: every chunk of the bands the unit reads (B04, B08 and the SCL it masks with:
  ``floor3``) of every date read and decoded by zarr-python into NumPy, nothing computed, two
  threads (the worker's), nothing kept; ``floor2`` is B04 and B08 alone (the first recorded run's
  floor, which left out the SCL the product cannot do without);
* **composite**: ``run_job`` with one ``index_composite`` unit (median NDVI, SCL-masked, window
  ``all``: every date) on a ``distributed.LocalCluster`` of one worker process with two threads,
  already started: the unit streams over the window per spatial block (time-contiguous blocks of at
  most 64 MiB) and writes, checksums and commits its product; once per ``--paths`` entry, in the
  same run: ``fused`` (the fused read-mask-index-median kernel, the default) and ``xarray`` (the
  index series through ``landpulse.change.composite``, ``LANDPULSE_WINDOW_PATH=xarray`` set in the
  worker: the path before the fused kernel);
* **peak RSS of the worker process** (sampled every 20 ms while the unit runs).

Input: the real Bolzano Sentinel-2 L2A series (../shared/data, 12 dates, 705 x 935 at 10 m)
**mirror-tiled** to ``--size`` x ``--size`` pixels; date ``d`` is Bolzano date ``d mod 12`` rolled
by ``(37 d, 53 d)`` pixels and dated 5 d days after 2022-06-02 (real pixel values and texture, not
a real acquisition series). Stored as the scene store of a landpulse ingest: uint16 B04, B08 and
SCL, chunks (1, 1024, 1024).

    python benchmarks/bench_windows.py                     # 24 and 73 dates at 2048^2
    python benchmarks/bench_windows.py --size 10980        # a full Sentinel-2 tile (~35 GB, hours)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import psutil

import landpulse

REPO = Path(__file__).resolve().parents[1]
BOLZANO = REPO.parent / "shared" / "data" / "s2l2a-bolzano-2022-06.zarr"
OUT = Path(os.environ.get("LANDPULSE_BENCH_DIR", REPO / "bench-output")) / "windows"
CHUNK = 1024


def _mirror(a: np.ndarray, size: int) -> np.ndarray:
    """``a`` (y, x) tiled to (size, size) with every other copy mirrored (no seams in value)."""
    ry, rx = -(-size // a.shape[0]), -(-size // a.shape[1])
    rows = [np.concatenate([a[::(1 if i % 2 == 0 else -1), ::(1 if j % 2 == 0 else -1)] for j in range(rx)], axis=1)
            for i in range(ry)]
    return np.concatenate(rows, axis=0)[:size, :size]


def make_input(path: Path, dates: int, size: int) -> Path:
    """The mirror-tiled Bolzano store of ``dates`` dates (reused when it is there)."""
    import dask
    import xarray as xr

    from landpulse.io.store import append_zarr, write_zarr

    if (path / "zarr.json").exists():
        ds = landpulse.open_store(path)
        if ds.sizes["time"] == dates and ds.sizes["x"] == size:
            return path
        shutil.rmtree(path)
    src = landpulse.open_store(BOLZANO).load()
    bands = {v: np.nan_to_num(src[v].values, nan=0).astype(np.uint16) for v in ("B04", "B08", "SCL")}
    x0, y0 = float(src.x[0]), float(src.y[0])
    with dask.config.set(scheduler="threads"):
        for d in range(dates):
            k = d % src.sizes["t"]
            data = {v: (("time", "y", "x"), np.roll(_mirror(bands[v][k], size), (37 * d, 53 * d), (0, 1))[None])
                    for v in bands}
            ds = xr.Dataset(data, coords={
                "time": [np.datetime64("2022-06-02", "ns") + np.timedelta64(5 * d, "D")],
                "y": y0 - 10.0 * np.arange(size), "x": x0 + 10.0 * np.arange(size),
                "scene_id": ("time", np.array([f"bolzano-mirror-date{d:02d}"], dtype=object))})
            ds = ds.rio.write_crs(src.rio.crs)
            if d == 0:
                write_zarr(ds, path, chunks={"time": 1, "y": CHUNK, "x": CHUNK})
            else:
                append_zarr(ds.chunk({"time": 1, "y": CHUNK, "x": CHUNK}), path)
    return path


def read_floor(path: Path, threads: int, bands: tuple[str, ...] = ("B04", "B08")) -> float:
    """Seconds to read and decode every chunk of ``bands`` of every date (zarr-python, no Dask)."""
    import zarr

    group = zarr.open_group(str(path), mode="r")
    arrays = [group[v] for v in bands]
    shape = arrays[0].shape
    jobs = [(a, t, y, x) for a in arrays for t in range(shape[0]) for y in range(0, shape[1], CHUNK)
            for x in range(0, shape[2], CHUNK)]

    def one(job: tuple[Any, int, int, int]) -> int:
        a, t, y, x = job
        return int(a[t, y:y + CHUNK, x:x + CHUNK].nbytes)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        total = sum(pool.map(one, jobs))
    assert total == sum(a.nbytes for a in arrays)
    return time.perf_counter() - t0


class WorkerRSS:
    """Peak RSS of the cluster's worker processes (each one, the largest reported)."""

    def __init__(self, pids: list[int]) -> None:
        self.procs = [psutil.Process(p) for p in pids]
        self.peak = 0
        self._stop = threading.Event()

    def _run(self) -> None:
        while not self._stop.is_set():
            for p in self.procs:
                try:
                    self.peak = max(self.peak, p.memory_info().rss)
                except psutil.Error:
                    pass
            time.sleep(0.02)

    def __enter__(self) -> WorkerRSS:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def composite(store: Path, out: Path, address: str) -> float:
    from landpulse.production.jobspec import parse_job
    from landpulse.production.run import run_job

    shutil.rmtree(out, ignore_errors=True)
    job = parse_job({
        "name": "bench-windows", "inputs": {"kind": "zarr", "stores": [{"path": str(store), "tile": "32TPS"}],
                                            "radiometry": {"scale": 1e-4, "offset": 0.0, "bands": ["B04", "B08"]}},
        "products": [{"name": "index_composite", "window": {"kind": "all"}}],
        "output": {"store": str(out / "products"), "reports": str(out / "reports"), "quicklooks": False},
        "cluster": {"kind": "address", "address": address},
    })
    t0 = time.perf_counter()
    result = run_job(job, echo=lambda _: None)
    wall = time.perf_counter() - t0
    assert result.exit_code == 0, [u.error for u in result.failed]
    return wall


def _set_worker_env(key: str, value: str) -> None:
    """Set an environment variable in the process this runs in (``client.run(os.environ.__setitem__, ...)``
    would not: the bound method pickles a copy of this process's ``os.environ``, and the worker
    sets the variable in that copy; every composite of the runs before 2026-12-03 took the default
    path, whatever ``--paths`` said)."""
    os.environ[key] = value


def _values(products: Path) -> np.ndarray:
    """The composite the unit committed (its Zarr product, read back)."""
    from landpulse.io.products import open_product

    stores = sorted(products.glob("index_composite/*/*/index_composite.zarr"))
    assert len(stores) == 1, stores
    return np.asarray(open_product(stores[0])["index_composite"].values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--dates", type=int, nargs="+", default=[24, 73])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--paths", nargs="+", default=["fused", "xarray"], choices=["fused", "xarray"])
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--dask-malloc", action="store_true",
                        help="start the worker with Dask's MALLOC_TRIM_THRESHOLD_=65536 (as the runs before "
                             "2026-12-03 did), not with the settings of landpulse's own clusters")
    args = parser.parse_args()
    if not BOLZANO.exists():
        sys.exit(f"the Bolzano series is not at {BOLZANO}")
    import dask.config
    from distributed import Client, LocalCluster

    OUT.mkdir(parents=True, exist_ok=True)
    rows = []
    # the worker starts as the workers of landpulse's own clusters do (production.cluster.cluster_config:
    # no MALLOC_TRIM_THRESHOLD_, which would make every decoded chunk a fresh mmap)
    settings = {} if args.dask_malloc else {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
    with dask.config.set(settings), LocalCluster(n_workers=1, threads_per_worker=args.threads, processes=True,
                                                 dashboard_address=None, memory_limit="4GiB") as cluster, \
            Client(cluster) as client:
        pids = list(client.run(os.getpid).values())
        client.run(lambda: __import__("landpulse.products"))
        # warm-up (Numba's compiled kernels loaded in the worker, the first plan's imports): not recorded
        composite(make_input(OUT / f"bolzano-{args.size}-2.zarr", 2, args.size), OUT / "out-warmup",
                  cluster.scheduler_address)
        for dates in args.dates:
            store = make_input(OUT / f"bolzano-{args.size}-{dates}.zarr", dates, args.size)
            for _ in range(args.repeats):
                floor2 = read_floor(store, args.threads)
                floor3 = read_floor(store, args.threads, ("B04", "B08", "SCL"))
                for path in args.paths:
                    client.run(_set_worker_env, "LANDPULSE_WINDOW_PATH", path)
                    assert set(client.run(os.getenv, "LANDPULSE_WINDOW_PATH").values()) == {path}
                    client.run(lambda: __import__("gc").collect())
                    with WorkerRSS(pids) as rss:
                        wall = composite(store, OUT / f"out-{dates}-{path}", cluster.scheduler_address)
                    rows.append({"dates": dates, "size": args.size, "path": path, "read_floor2_s": round(floor2, 2),
                                 "read_floor3_s": round(floor3, 2), "composite_s": round(wall, 2),
                                 "x_floor3": round(wall / floor3, 2), "x_floor2": round(wall / floor2, 2),
                                 "worker_peak_rss_gb": round(rss.peak / 2**30, 3),
                                 "input_gb": round(3 * dates * args.size**2 * 2 / 2**30, 2)})
                    print(json.dumps(rows[-1]), flush=True)
        for dates in args.dates:  # the two paths wrote the same product
            outs = {p: OUT / f"out-{dates}-{p}" / "products" for p in args.paths}
            if len(outs) == 2:
                a, b = (_values(o) for o in outs.values())
                print(f"{dates} dates: fused == xarray: {bool(np.array_equal(a, b, equal_nan=True))}", flush=True)
    print("\n| dates | tile | B04+B08+SCL raw | floor (3 bands) | floor (B04+B08) | path | composite (run_job) "
          "| x floor (3 bands) | x floor (2 bands) | worker peak RSS |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['dates']} | {r['size']}^2 | {r['input_gb']} GB | {r['read_floor3_s']} s | {r['read_floor2_s']} s | "
              f"{r['path']} | {r['composite_s']} s | {r['x_floor3']} | {r['x_floor2']} | {r['worker_peak_rss_gb']} GB |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
