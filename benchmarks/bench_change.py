#!/usr/bin/env python3
"""Benchmark: BFAST-Monitor and the Theil-Sen/Mann-Kendall trend on a 24-date stack.

Compares, in one run on one machine:

* landpulse's CPU kernels (Numba, fused, parallel over pixels) on the whole stack;
* a straightforward per-pixel NumPy/SciPy implementation (``tests/support/bfast_reference.py``:
  ``numpy.linalg.lstsq`` fits; ``scipy.stats.theilslopes`` + a direct Mann-Kendall), timed on a
  random subset of pixels and extrapolated linearly to the whole stack (said so in the output);
* on a machine with a CUDA GPU and CuPy: landpulse's GPU kernels on the same stack, kernel time
  (data already on the device) and time with the host->device copy. Without a GPU the GPU rows
  are reported as "not run": no GPU number is ever printed that was not measured.

The stack is synthetic (seasonal NDVI with noise, a planted drop in a quarter of the pixels,
20 % cloud gaps): timings only, no accuracy claim. Usage:

    python benchmarks/bench_change.py [--size 2000] [--dates 24] [--subset 2000] [--markdown]
    python benchmarks/bench_change.py --store [--open-chunked] [--size 2000] [--dates 24] [--budget-mib 32]

``--store`` measures the Dask path instead, in a fresh process: the stack is written to a Zarr
store one date per chunk (as ingest writes), then ``landpulse.products.change.bfast_monitor`` and
``theil_sen`` run on it lazily (rechunk to time-contiguous blocks of at most ``--budget-mib``)
and the wall time and peak RSS of the process are reported: memory is bounded by the block
budget, not by the size of the stack.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from landpulse.backend import get_kernel, gpu_available
from landpulse.products.change import bfast_design
from landpulse.products.change.critvals import mosum_critical_value, rec_cusum_critical_value
from tests.support import bfast_reference as ref


def make_stack(size: int, dates: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(dates, size, size) float32 NDVI over three years, NaN gaps; decimal-year times."""
    rng = np.random.default_rng(seed)
    t = 2019.0 + np.arange(dates) * (3.0 / dates)
    y = np.empty((dates, size, size), np.float32)
    season = (0.5 + 0.2 * np.sin(2 * np.pi * t) + 0.05 * np.cos(4 * np.pi * t)).astype(np.float32)
    for i in range(dates):
        y[i] = season[i] + np.float32(0.03) * rng.standard_normal((size, size), dtype=np.float32)
        if t[i] >= 2021.4:
            y[i, : size // 2, : size // 2] -= np.float32(0.2)
        y[i][rng.random((size, size), dtype=np.float32) < 0.2] = np.nan
    return y, t


def bfast_kwargs(t: np.ndarray, roc: bool) -> dict:
    return dict(design=bfast_design(t, 3, True), tyear=t, logtab=np.log(np.maximum(np.arange(t.size + 1.0), 1.0)),
                hist0=0, mon0=int(np.searchsorted(t, 2021.0)), roc=roc, hfrac=0.25,
                lam=mosum_critical_value(0.25, 10, 0.05), lam_roc=rec_cusum_critical_value(0.05))


def timeit(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def mk_reference(v: np.ndarray) -> float:
    n = v.size
    s = sum(np.sign(v[j] - v[i]) for i in range(n) for j in range(i + 1, n))
    _, c = np.unique(v, return_counts=True)
    var = (n * (n - 1) * (2 * n + 5) - np.sum(c * (c - 1) * (2 * c + 5))) / 18
    z = 0.0 if s == 0 or var <= 0 else (s - np.sign(s)) / np.sqrt(var)
    return 2 * stats.norm.sf(abs(z))


def store_mode(size: int, dates: int, budget_mib: int, open_chunked: bool) -> None:
    import dask
    import dask.array as dsa
    import xarray as xr

    from landpulse import change

    t = 2019.0 + np.arange(dates) * (3.0 / dates)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "stack.zarr"
        coords = {"time": t, "y": 10.0 * np.arange(size), "x": 10.0 * np.arange(size)}
        empty = dsa.zeros((dates, size, size), chunks=(1, size, size), dtype=np.float32)
        xr.Dataset({"ndvi": (("time", "y", "x"), empty)}, coords=coords).to_zarr(path, compute=False, consolidated=False)
        rng = np.random.default_rng(0)
        for i in range(dates):  # one date at a time: the stack is never whole in memory
            v = (0.5 + 0.2 * np.sin(2 * np.pi * t[i])) + np.float32(0.03) * rng.standard_normal((size, size), dtype=np.float32)
            v[rng.random((size, size), dtype=np.float32) < 0.2] = np.nan
            xr.Dataset({"ndvi": (("time", "y", "x"), v[None].astype(np.float32))}).to_zarr(
                path, region={"time": slice(i, i + 1)}, consolidated=False)
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        budget = budget_mib * 2**20
        if open_chunked:  # read time-contiguous blocks straight from the store: no rechunk graph
            from landpulse.backend.chunking import plan_chunks

            plan = plan_chunks({"time": dates, "y": size, "x": size}, {"time": 1, "y": size, "x": size},
                               ["time"], ("y", "x"), 4, budget)
            lazy = xr.open_zarr(path, consolidated=False, chunks=plan)["ndvi"]
        else:
            lazy = xr.open_zarr(path, consolidated=False)["ndvi"]
        rows = []
        with dask.config.set(scheduler="threads"):
            for label, fn in (("BFAST-Monitor, history=all", lambda: change.bfast_monitor(lazy, 2021.0, history="all", chunk_budget=budget)),
                              ("Theil-Sen + Mann-Kendall", lambda: change.theil_sen(lazy, chunk_budget=budget))):
                t0 = time.perf_counter()
                fn().compute()
                rows.append((label, time.perf_counter() - t0))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    load = os.getloadavg()
    print(f"Dask path from a date-chunked Zarr store: {dates} dates x {size} x {size} float32 "
          f"({dates * size * size * 4 / 1e6:.0f} MB), {'opened time-contiguous' if open_chunked else 'rechunked by landpulse'}, "
          f"block budget {budget_mib} MiB, threads scheduler, "
          f"{os.cpu_count()} cores, load {load[0]:.2f}; peak RSS {peak:.0f} MB (before computing: {base:.0f} MB)")
    for label, sec in rows:
        print(f"| {label} | landpulse CPU kernels through Dask (rechunk included) | {sec:.2f} | measured |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=2000)
    ap.add_argument("--dates", type=int, default=24)
    ap.add_argument("--subset", type=int, default=2000, help="pixels timed with the per-pixel reference")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--store", action="store_true", help="measure the Dask path from a date-chunked Zarr store")
    ap.add_argument("--budget-mib", type=int, default=32)
    ap.add_argument("--open-chunked", action="store_true", help="with --store: open the store time-contiguous")
    args = ap.parse_args()
    if args.store:
        store_mode(args.size, args.dates, args.budget_mib, args.open_chunked)
        return

    y, t = make_stack(args.size, args.dates)
    npix = args.size * args.size
    y_pix = np.ascontiguousarray(np.moveaxis(y, 0, -1))  # (y, x, time): the kernel's block layout
    rng = np.random.default_rng(1)
    sub = rng.choice(npix, size=min(args.subset, npix), replace=False)
    flat = y.reshape(args.dates, -1)
    tdays = ((t - t[0]) * 365.25).astype(np.float32)
    rows: list[tuple[str, str, float, str]] = []

    bf_cpu = get_kernel("bfast_monitor", "cpu")
    tr_cpu = get_kernel("trend", "cpu")
    # warm-up (compile) on a small block
    bf_cpu(y_pix[:8, :8], **bfast_kwargs(t, True))
    tr_cpu(y_pix[:8, :8], tdays=tdays)

    for roc in (False, True):
        label = "BFAST-Monitor, history=" + ("roc" if roc else "all")
        kw = bfast_kwargs(t, roc)
        sec = timeit(lambda: bf_cpu(y_pix, **kw))
        rows.append((label, "landpulse CPU kernel (Numba, all pixels)", sec, "measured"))

        def ref_run() -> None:
            for p in sub:
                ref.bfastmonitor(flat[:, p].astype(np.float64), t, 2021.0, history="roc" if roc else "all")

        s = timeit(ref_run, repeat=1)
        rows.append((label, f"per-pixel NumPy/SciPy reference ({sub.size} px, x{npix / sub.size:.0f})",
                     s * npix / sub.size, "extrapolated"))

    sec = timeit(lambda: tr_cpu(y_pix, tdays=tdays))
    rows.append(("Theil-Sen + Mann-Kendall", "landpulse CPU kernel (Numba, all pixels)", sec, "measured"))

    def trend_ref() -> None:
        td = tdays.astype(np.float64)
        for p in sub:
            v = flat[:, p]
            ok = np.isfinite(v)
            stats.theilslopes(v[ok].astype(np.float64), td[ok])
            mk_reference(v[ok].astype(np.float64))

    s = timeit(trend_ref, repeat=1)
    rows.append(("Theil-Sen + Mann-Kendall", f"per-pixel SciPy theilslopes + direct MK ({sub.size} px, x{npix / sub.size:.0f})",
                 s * npix / sub.size, "extrapolated"))

    gpu_name = None
    if gpu_available():
        import cupy as cp

        from landpulse.backend import device_info

        gpu_name = device_info("gpu").name
        bf_gpu, tr_gpu = get_kernel("bfast_monitor", "gpu"), get_kernel("trend", "gpu")
        y_dev = cp.asarray(y_pix)
        bf_gpu(y_dev[:8, :8], **bfast_kwargs(t, True))
        tr_gpu(y_dev[:8, :8], tdays=tdays)

        def on_gpu(fn) -> float:
            def run() -> None:
                fn()
                cp.cuda.Device().synchronize()
            return timeit(run)

        for roc in (False, True):
            kw = bfast_kwargs(t, roc)
            label = "BFAST-Monitor, history=" + ("roc" if roc else "all")
            rows.append((label, f"landpulse GPU kernel ({gpu_name}, data on device)", on_gpu(lambda: bf_gpu(y_dev, **kw)), "measured"))
            rows.append((label, f"landpulse GPU kernel ({gpu_name}, incl. host->device copy)",
                         on_gpu(lambda: bf_gpu(cp.asarray(y_pix), **kw)), "measured"))
        rows.append(("Theil-Sen + Mann-Kendall", f"landpulse GPU kernel ({gpu_name}, data on device)",
                     on_gpu(lambda: tr_gpu(y_dev, tdays=tdays)), "measured"))

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    load = os.getloadavg()
    header = (f"stack {args.dates} dates x {args.size} x {args.size} float32 ({y.nbytes / 1e6:.0f} MB), 20 % NaN; "
              f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {load[0]:.2f}/{load[1]:.2f}; "
              f"peak RSS {peak:.0f} MB; GPU: {gpu_name or 'none here (GPU rows not run)'}")
    if args.markdown:
        print(header + "\n")
        print("| operation | implementation | time (s) | how |")
        print("|---|---|---|---|")
        for op, impl, sec, how in rows:
            print(f"| {op} | {impl} | {sec:.2f} | {how} |")
    else:
        print(header)
        for op, impl, sec, how in rows:
            print(f"{op:32s} {impl:75s} {sec:10.2f} s  ({how})")
    ours = {op: sec for op, impl, sec, how in rows if impl.startswith("landpulse CPU")}
    for op, _impl, sec, how in rows:
        if how == "extrapolated":
            print(f"  speed-up of the CPU kernel over the per-pixel reference, {op}: {sec / ours[op]:.0f}x")


if __name__ == "__main__":
    main()
