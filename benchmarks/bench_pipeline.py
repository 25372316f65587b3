"""End-to-end production run vs the I/O floor, on a Sentinel-2-sized tile (10980 x 10980).

What is measured (all in one run, same machine, same page cache state):

* **floor**: a hand-written loop with no framework (no Dask, no xarray, no zarr-python): for every
  chunk of every date, read the red and nir chunk files, check their crc32c, blosc-decode them, run
  landpulse's NDVI kernel, pack to int16 with the statistics (landpulse's packing kernel), blosc
  encode with the product codec, append the crc32c, write the file. A thread per core.
* **pipeline**: ``run_job`` on a job spec (Zarr inputs -> committed products: Zarr chunks,
  thumbnail, checksum manifest, STAC item, fsync, atomic rename, collection, run report) on a
  ``distributed.LocalCluster`` of processes (one one-thread worker per core), already started
  ("warm": a long-running cluster, or the second unit of a night); the cold run (cluster start
  included) is reported too.
* peak memory: the summed RSS of this process and all its children (the cluster's workers), sampled
  every 20 ms; for the floor, this process alone.

Input: the bundled real Sentinel-2 crop (800 x 800, CC0) mirror-tiled to 10980 x 10980; each date
is the tile rolled by a different offset (so dates differ). Real pixel values and texture, not a
real acquisition.

    python benchmarks/bench_pipeline.py                     # 4 dates, chunks 2196, 3 repeats
    python benchmarks/bench_pipeline.py --sweep             # chunk shapes and codec levels (2 dates)
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

import crc32c
import numpy as np
import psutil
from numcodecs import Blosc

import landpulse
from landpulse.backend.cpu.pack import pack_int16
from landpulse.backend.validity import Validity
from landpulse.products.indices import ndvi_block as ndvi_kernel

N = 10980
OUT = Path(os.environ.get("LANDPULSE_BENCH_DIR", Path(__file__).resolve().parents[1] / "bench-output"))


# ----------------------------------------------------------------------------------------------
# input


def make_input(path: Path, dates: int, chunk: int) -> Path:
    """A (time, 10980, 10980) red/nir scene store tiled from the bundled real scene."""
    import dask

    with dask.config.set(scheduler="threads"):  # here, not on the benchmark's cluster
        return _make_input(path, dates, chunk)


def _make_input(path: Path, dates: int, chunk: int) -> Path:
    import xarray as xr

    from landpulse.datasets import sample_scene_item
    from landpulse.io import ingest, scene_from_stac_item
    from landpulse.io.store import write_zarr

    if (path / "zarr.json").exists():
        ds = landpulse.open_store(path)
        if ds.sizes["time"] == dates and ds["red"].encoding["chunks"][-1] == chunk:
            return path
        shutil.rmtree(path)
    small = path.parent / "bundled.zarr"
    if not small.exists():
        ingest(scene_from_stac_item(sample_scene_item(), bands=["red", "nir"]), small)
    base = landpulse.open_store(small).load()
    reps = -(-N // 800)

    def tile(a: np.ndarray) -> np.ndarray:
        rows = [np.concatenate([a[::(1 if (i + j) % 2 == 0 else -1), ::(1 if i % 2 == 0 else -1)]
                                for j in range(reps)], axis=1) for i in range(reps)]
        return np.concatenate(rows, axis=0)[:N, :N]

    red, nir = tile(base["red"].values[0]), tile(base["nir"].values[0])
    x0, y0 = float(base.x[0]), float(base.y[0])
    for d in range(dates):
        shift = (1733 * d, 3119 * d)
        t = base.time.values + np.timedelta64(5 * d, "D")
        ds = xr.Dataset({"red": (("time", "y", "x"), np.roll(red, shift, (0, 1))[None]),
                         "nir": (("time", "y", "x"), np.roll(nir, shift, (0, 1))[None])},
                        coords={"time": t, "y": y0 - 10 * np.arange(N), "x": x0 + 10 * np.arange(N)})
        for c in base.coords:
            if c not in ("x", "y", "time"):
                var = base[c].variable
                ds = ds.assign_coords({c: (var.dims, var.values, var.attrs) if var.dims == ("time",) else base[c]})
        ds = ds.assign_coords(scene_id=("time", np.array([f"bench-tile-date{d}"], dtype=object)))
        for v in ("red", "nir"):
            ds[v].attrs = base[v].attrs
        ds.attrs = base.attrs
        ds = ds.rio.write_crs(base.rio.crs)
        if d == 0:
            write_zarr(ds, path, chunks={"time": 1, "y": chunk, "x": chunk})
        else:
            from landpulse.io.store import append_zarr

            append_zarr(ds.chunk({"time": 1, "y": chunk, "x": chunk}), path)
    return path


# ----------------------------------------------------------------------------------------------
# measuring


class PeakRSS:
    """Peak of the summed RSS of this process (and its children) while the block runs."""

    def __init__(self, children: bool = True) -> None:
        self.children = children
        self.peak = 0
        self._stop = threading.Event()

    def _sample(self) -> int:
        me = psutil.Process()
        procs = [me] + (me.children(recursive=True) if self.children else [])
        total = 0
        for p in procs:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            time.sleep(0.02)

    def __enter__(self) -> PeakRSS:
        self.peak = self._sample()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def floor(src: Path, dst: Path, dates: int, chunk: int, clevel: int, threads: int) -> dict[str, Any]:
    """The hand-written loop (see the module docstring). Returns bytes written and valid pixels."""
    nb = -(-N // chunk)
    dec = Blosc()
    enc = Blosc(cname="lz4", clevel=clevel, shuffle=Blosc.SHUFFLE)
    valid = Validity(0.0, 1.0, 65534.0)
    shutil.rmtree(dst, ignore_errors=True)
    for t in range(dates):
        for i in range(nb):
            (dst / "c" / str(t) / str(i)).mkdir(parents=True, exist_ok=True)

    def read(var: str, t: int, i: int, j: int) -> np.ndarray:
        raw = (src / var / "c" / str(t) / str(i) / str(j)).read_bytes()
        payload = memoryview(raw)[:-4]
        if crc32c.crc32c(payload) != int.from_bytes(raw[-4:], "little"):
            raise ValueError("checksum")
        return np.frombuffer(dec.decode(payload), dtype=np.uint16).reshape(1, chunk, chunk)

    def work(key: tuple[int, int, int]) -> tuple[int, float]:
        t, i, j = key
        red, nir = read("red", t, i, j), read("nir", t, i, j)
        out = ndvi_kernel(red, nir, 1e-4, 0.0, 1e-4, 0.0, red_valid=valid, nir_valid=valid)
        packed, stats = pack_int16(out, 1e-4, -32768)
        body = enc.encode(packed)
        (dst / "c" / str(t) / str(i) / str(j)).write_bytes(bytes(body) + crc32c.crc32c(body).to_bytes(4, "little"))
        return len(body) + 4, float(stats[0])

    keys = [(t, i, j) for t in range(dates) for i in range(nb) for j in range(nb)]
    with ThreadPoolExecutor(threads) as pool:
        done = list(pool.map(work, keys))
    return {"bytes": sum(b for b, _ in done), "valid": sum(v for _, v in done)}


def job(src: Path, out: Path, address: str | None, *, clevel: int, checksums: list[str], quicklooks: bool = True,
        cog: bool = False, fsync: bool = True, workers: int = 2) -> Any:
    from landpulse.production.jobspec import parse_job

    cluster: dict[str, Any] = ({"kind": "address", "address": address} if address else
                               {"kind": "local", "n_workers": workers, "dashboard": False})
    return parse_job({
        "name": "bench", "inputs": {"kind": "zarr", "stores": [{"path": str(src), "tile": "T00BENCH"}]},
        "products": ["ndvi"],
        "output": {"store": str(out / "products"), "reports": str(out / "reports"), "clevel": clevel,
                   "checksums": checksums, "quicklooks": quicklooks, "cog": cog, "fsync": fsync},
        "cluster": cluster,
    })


def run_pipeline(spec: Any) -> tuple[float, Any]:
    from landpulse.production.run import run_job

    shutil.rmtree(spec.output.store.parent, ignore_errors=True)
    t = time.perf_counter()
    result = run_job(spec, echo=lambda line: None)
    wall = time.perf_counter() - t
    if result.exit_code:
        raise RuntimeError(f"pipeline failed: {result.report['failed_scenes']}")
    return wall, result


def same_chunks(floor_dir: Path, store: Path, dates: int) -> bool:
    """The floor and the pipeline wrote identical chunk bytes (a cross-check of both)."""
    for t in range(dates):
        unit = sorted((store / "ndvi" / "T00BENCH").iterdir())[t]
        a = (floor_dir / "c" / str(t) / "1" / "1").read_bytes()
        b = (unit / "ndvi.zarr" / "ndvi" / "c" / "0" / "1" / "1").read_bytes()
        if a != b:
            return False
    return True


def bandwidth_probe() -> float:
    """STREAM-like triad on 2 x 200 MB arrays with NumPy (GB/s), to pair timings with the machine state."""
    a = np.ones(25_000_000)
    b = np.ones(25_000_000)
    best = 0.0
    for _ in range(3):
        t = time.perf_counter()
        np.add(a, b, out=a)
        best = max(best, 3 * a.nbytes / (time.perf_counter() - t) / 1e9)
    return best


def measure(dates: int, chunk: int, clevel: int, repeats: int, client: Any, *, checksums: list[str],
            workers: int, threads_per_worker: int = 1, extra: bool = False) -> dict[str, Any]:
    src = make_input(OUT / f"input-{dates}d-{chunk}.zarr", dates, chunk)
    threads = workers * threads_per_worker
    floor_s, pipe_s, rss_floor, rss_pipe, compute_s, info = [], [], [], [], [], {}
    for _ in range(repeats):
        with PeakRSS(children=False) as m:
            t = time.perf_counter()
            fl = floor(src, OUT / "floor", dates, chunk, clevel, threads)
            floor_s.append(time.perf_counter() - t)
        rss_floor.append(m.peak)
        with PeakRSS() as m:
            wall, result = run_pipeline(job(src, OUT / "pipe", client.scheduler.address, clevel=clevel,
                                            checksums=checksums))
        pipe_s.append(wall)
        rss_pipe.append(m.peak)
        compute_s.append(result.report["timings"]["compute"])
        info = {"bytes_floor": fl["bytes"], "bytes_pipeline": result.report["summary"]["bytes_written"],
                "identical_chunks": same_chunks(OUT / "floor", OUT / "pipe" / "products", dates),
                "unit_timings": result.units[0].timings}
    row = {
        "dates": dates, "chunk": chunk, "clevel": clevel, "checksums": checksums, "workers": workers,
        "threads_per_worker": threads_per_worker,
        "floor_s": round(min(floor_s), 3), "pipeline_s": round(min(pipe_s), 3),
        "pipeline_compute_s": round(min(compute_s), 3),
        "ratio": round(min(pipe_s) / min(floor_s), 3),
        "floor_peak_rss_mb": round(max(rss_floor) / 2**20), "pipeline_peak_rss_mb": round(max(rss_pipe) / 2**20),
        "floor_all_s": [round(x, 3) for x in floor_s], "pipeline_all_s": [round(x, 3) for x in pipe_s],
        **info,
    }
    if extra:  # what the options cost (one run each)
        for label, kwargs in (("with_sha256", {"checksums": ["crc32c", "sha256"]}),
                              ("no_fsync", {"checksums": checksums, "fsync": False}),
                              ("no_quicklook", {"checksums": checksums, "quicklooks": False}),
                              ("with_cog", {"checksums": checksums, "cog": True})):
            wall, _ = run_pipeline(job(src, OUT / "pipe", client.scheduler.address, clevel=clevel, **kwargs))
            row[f"pipeline_{label}_s"] = round(wall, 3)
        wall, cold = run_pipeline(job(src, OUT / "pipe", None, clevel=clevel, checksums=checksums, workers=workers))
        row["pipeline_cold_s"] = round(wall, 3)
        row["cold_cluster_start_s"] = cold.report["timings"].get("cluster_start")
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=10980, help="tile side in pixels (10980: a Sentinel-2 tile)")
    parser.add_argument("--dates", type=int, default=4)
    parser.add_argument("--chunk", type=int, default=2196)
    parser.add_argument("--clevel", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=psutil.cpu_count(),
                        help="worker processes of the pipeline (default: cores)")
    parser.add_argument("--threads", type=int, default=1, help="threads per worker (the floor uses workers x threads)")
    parser.add_argument("--sweep", action="store_true", help="chunk shapes x codec levels, 2 dates")
    parser.add_argument("--keep", action="store_true", help="keep bench-output/ (inputs are reused)")
    parser.add_argument("--json", type=Path, help="write the rows here")
    args = parser.parse_args()
    globals()["N"] = args.size  # the tile side every helper of this script uses

    from landpulse.production.cluster import make_client
    from landpulse.production.jobspec import ClusterSpec

    OUT.mkdir(parents=True, exist_ok=True)
    print(f"load: {os.getloadavg()}, cores: {psutil.cpu_count()}, free disk: "
          f"{shutil.disk_usage(OUT).free / 2**30:.0f} GiB, bandwidth probe: {bandwidth_probe():.1f} GB/s", flush=True)
    rows = []
    # the cluster a job of kind "local" gets (same factory, same worker settings), started once
    spec = ClusterSpec(kind="local", n_workers=args.workers, threads_per_worker=args.threads, dashboard=False)
    with make_client(spec) as client:
        # warm the workers (imports, Numba cache) on a small job
        src = make_input(OUT / f"input-{args.dates}d-{args.chunk}.zarr", args.dates, args.chunk)
        run_pipeline(job(src, OUT / "pipe", client.scheduler.address, clevel=args.clevel, checksums=["crc32c"]))
        floor(src, OUT / "floor", 1, args.chunk, args.clevel, args.workers * args.threads)
        if args.sweep:
            for chunk in (1830, 2196, 3660, 5490):
                for clevel in (1, 5, 9):
                    row = measure(2, chunk, clevel, args.repeats, client, checksums=["crc32c"], workers=args.workers,
                                  threads_per_worker=args.threads)
                    rows.append(row)
                    print(json.dumps(row), flush=True)
        else:
            row = measure(args.dates, args.chunk, args.clevel, args.repeats, client,
                          checksums=["crc32c"], workers=args.workers, threads_per_worker=args.threads, extra=True)
            rows.append(row)
            print(json.dumps(row, indent=1), flush=True)
    print(f"load after: {os.getloadavg()}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    if not args.keep:
        shutil.rmtree(OUT, ignore_errors=True)
    else:
        for sub in ("floor", "pipe"):
            shutil.rmtree(OUT / sub, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
