#!/usr/bin/env python
"""GPU benchmarks (run on the GPU machine by scripts/gpu_check.sh; numbers go to RESULTS.md).

In one process and one run, on one Sentinel-2-sized tile (10980 x 10980 uint16 red/nir pair,
the bundled real crop mirror-tiled, as in bench_ndvi.py):

* kernel level, data resident on the device, timed with CUDA events (median of repeats after a
  warm-up that also compiles): landpulse's fused NDVI kernel; the plain CuPy expression (one
  pass per operation); xarray-spatial's ``multispectral.ndvi`` on CuPy-backed DataArrays; and the
  measured device-to-device copy bandwidth, the floor (NDVI moves 8 bytes per pixel);
* host-to-device transfer of the two input bands;
* end to end from Zarr (a few dates of the same tile): open -> NDVI -> int16 product store,
  on the GPU (inputs moved to the device once, products back once) and on the CPU path of the
  same machine (all cores).

``--smoke`` runs a tiny version on any machine (CPU parts only without a GPU) so the script is
tested in ``make test``; its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ndvi import load_tile

import landpulse
from landpulse.backend import Validity, gpu_available, to_device, to_host
from landpulse.products.indices import ndvi_block

S2 = Validity.of(0, (1, 65534))
BYTES_PER_PIXEL = 2 + 2 + 4
TARGET_SHARE_OF_COPY = 0.70


def cuda_median_ms(cp: Any, fn: Callable[[], Any], repeats: int, warmup: int = 2) -> float:
    """Median wall time of ``fn`` on the device in ms (CUDA events around each call)."""
    for _ in range(warmup):
        fn()
    cp.cuda.Device().synchronize()
    times = []
    for _ in range(repeats):
        start, stop = cp.cuda.Event(), cp.cuda.Event()
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(cp.cuda.get_elapsed_time(start, stop))
    return statistics.median(times)


def wall_median_s(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def kernel_benchmarks(red_h: np.ndarray, nir_h: np.ndarray, repeats: int) -> dict[str, Any]:
    import cupy as cp

    npx = red_h.size
    moved = npx * BYTES_PER_PIXEL
    # floor: device-to-device copy of a buffer as large as NDVI's traffic (bytes read + written)
    src = cp.empty(moved // 2, dtype=cp.uint8)
    dst = cp.empty_like(src)
    copy_ms = cuda_median_ms(cp, functools.partial(cp.copyto, dst, src), repeats)
    copy_gbs = 2 * src.nbytes / copy_ms / 1e6
    del src, dst

    h2d_s = wall_median_s(lambda: (cp.asarray(red_h), cp.asarray(nir_h), cp.cuda.Device().synchronize()), 3)
    red, nir = cp.asarray(red_h), cp.asarray(nir_h)
    def kernel(*a: Any, **k: Any) -> Any:  # the generated fused NDVI kernel on CuPy arrays
        return ndvi_block(*a, **k)
    results: dict[str, Any] = {"pixels": npx, "bytes_moved": moved, "copy_GBps": copy_gbs,
                               "h2d_two_bands_ms": h2d_s * 1e3}
    ours = kernel(red, nir, 1e-4, 0.0, 1e-4, 0.0, red_valid=S2, nir_valid=S2)

    def cupy_expression() -> Any:
        r = red.astype(cp.float32) * cp.float32(1e-4)
        n = nir.astype(cp.float32) * cp.float32(1e-4)
        out = (n - r) / (n + r)
        bad = (red == 0) | (nir == 0) | (red == 65535) | (nir == 65535) | (out < -1) | (out > 1)
        out[bad] = cp.nan
        return out

    methods: dict[str, Callable[[], Any]] = {
        "landpulse fused kernel": lambda: kernel(red, nir, 1e-4, 0.0, 1e-4, 0.0, red_valid=S2, nir_valid=S2),
        "CuPy expression": cupy_expression,
    }
    try:
        import xarray as xr
        from xrspatial.multispectral import ndvi as xrs_ndvi

        red_da, nir_da = xr.DataArray(red, dims=("y", "x")), xr.DataArray(nir, dims=("y", "x"))
        methods["xarray-spatial ndvi (cupy)"] = lambda: xrs_ndvi(nir_da, red_da).data
    except Exception as err:  # report, do not stop
        results["xarray_spatial_error"] = f"{type(err).__name__}: {err}"
    rows = []
    for name, fn in methods.items():
        ms = cuda_median_ms(cp, fn, repeats)
        gbs = moved / ms / 1e6
        rows.append({"method": name, "ms": ms, "GBps": gbs, "share_of_copy": gbs / copy_gbs})
    results["methods"] = rows
    # parity of our kernel with the CPU kernel on the same (real) data
    cpu = ndvi_block(red_h, nir_h, 1e-4, 0.0, 1e-4, 0.0, red_valid=S2, nir_valid=S2)
    gpu = cp.asnumpy(ours)
    results["parity_cpu_gpu"] = {
        "bit_identical": bool(np.array_equal(cpu.view(np.uint32), gpu.view(np.uint32))),
        "max_abs_diff": float(np.nanmax(np.abs(cpu - gpu))) if np.isfinite(cpu).any() else 0.0,
        "nan_positions_equal": bool(np.array_equal(np.isnan(cpu), np.isnan(gpu))),
    }
    return results


SIX = ["ndvi", "evi", "savi", "nbr", "nbr2", "ndmi"]  # the six xarray-spatial also implements


def six_index_benchmarks(cp: Any, size: int, repeats: int, copy_gbs: float) -> dict[str, Any]:
    """Six indices on the device: one fused landpulse kernel vs xarray-spatial's CuPy functions.

    Bands are the bundled real crop's blue, red, nir, swir16, swir22 mirror-tiled to ``size``
    (20 m bands replicated onto the 10 m grid, as ingest does).
    """
    import rasterio

    from landpulse.backend import get_kernel
    from landpulse.products.indices import index_program

    sample = Path(__file__).resolve().parents[1] / "src" / "landpulse" / "sample_data" / "s2-l1c-18SVG-2016-01-12"
    files = {"blue": "B02", "red": "B04", "nir": "B08", "swir16": "B11", "swir22": "B12"}
    host = {}
    for name, bid in files.items():
        with rasterio.open(sample / f"{bid}.tif") as src:
            a = src.read(1)
        if a.shape[0] < 800:
            a = np.repeat(np.repeat(a, 2, axis=0), 2, axis=1)
        host[name] = np.ascontiguousarray(np.pad(a, ((0, max(0, size - a.shape[0])), (0, max(0, size - a.shape[1]))),
                                                 mode="symmetric")[:size, :size])
    dev = {k: cp.asarray(v) for k, v in host.items()}
    info = index_program(SIX)
    common = {"B": "blue", "R": "red", "N": "nir", "S1": "swir16", "S2": "swir22"}
    arrays = [dev[common[sym]] for sym in info.symbols]
    kernel = get_kernel("indices", "gpu")
    params = [1e-4] * len(arrays) + [0.0] * len(arrays)
    valid = tuple(S2 for _ in arrays)

    def fused() -> Any:
        return kernel(*arrays, *params, program=info.program, valid=valid, constants=info.constant_values)

    moved = size * size * (2 * len(arrays) + 4 * len(SIX))
    out: dict[str, Any] = {"bytes_moved": moved}
    ms = cuda_median_ms(cp, fused, repeats)
    out["landpulse fused six"] = {"ms": ms, "GBps": moved / ms / 1e6, "share_of_copy": moved / ms / 1e6 / copy_gbs}
    try:
        import xarray as xr
        from xrspatial import multispectral as xs

        refl = {k: xr.DataArray(v.astype(cp.float32) * cp.float32(1e-4), dims=("y", "x")) for k, v in dev.items()}
        calls = [lambda: xs.ndvi(refl["nir"], refl["red"]), lambda: xs.evi(refl["nir"], refl["red"], refl["blue"]),
                 lambda: xs.savi(refl["nir"], refl["red"]), lambda: xs.nbr(refl["nir"], refl["swir22"]),
                 lambda: xs.nbr2(refl["swir16"], refl["swir22"]), lambda: xs.ndmi(refl["nir"], refl["swir16"])]
        ms_x = cuda_median_ms(cp, lambda: [c().data for c in calls], repeats)
        out["xarray-spatial six (cupy, float32 reflectance in, untimed conversion)"] = {"ms": ms_x}
        out["speedup_vs_xarray_spatial"] = ms_x / ms
    except Exception as err:  # report, do not stop
        out["xarray_spatial_error"] = f"{type(err).__name__}: {err}"
    return out


def end_to_end(red_h: np.ndarray, nir_h: np.ndarray, dates: int, chunk: int, use_gpu: bool) -> dict[str, Any]:
    import xarray as xr

    from landpulse.io import open_product, write_product, write_zarr

    tmp = Path(tempfile.mkdtemp(prefix="landpulse-bench-gpu-"))
    try:
        ny, nx = red_h.shape
        times = np.array([np.datetime64("2022-06-01") + np.timedelta64(3 * i, "D") for i in range(dates)], "datetime64[ns]")
        ds = xr.Dataset(
            {"red": (("time", "y", "x"), np.broadcast_to(red_h, (dates, ny, nx))),
             "nir": (("time", "y", "x"), np.broadcast_to(nir_h, (dates, ny, nx)))},
            coords={"time": times, "y": 5200015.0 - 10 * np.arange(ny), "x": 600005.0 + 10 * np.arange(nx)},
        ).rio.write_crs("EPSG:32632")
        ds = landpulse.declare_radiometry(ds, scale=1e-4, offset=0.0, nodata=0, valid_range=(1, 65534))
        store = write_zarr(ds.chunk({"time": 1, "y": chunk, "x": chunk}), tmp / "scenes.zarr")
        out: dict[str, Any] = {"dates": dates, "shape": [ny, nx], "chunk": chunk}

        def cpu_run() -> None:
            with landpulse.set_options(backend="cpu"):
                write_product(landpulse.ndvi(landpulse.open_store(store)), tmp / "cpu.zarr", overwrite=True)

        def gpu_run() -> None:
            product = landpulse.ndvi(to_device(landpulse.open_store(store)))
            write_product(to_host(product), tmp / "gpu.zarr", overwrite=True)

        out["cpu_s"] = wall_median_s(cpu_run, 2)
        if use_gpu:
            gpu_run()  # warm-up (compile)
            out["gpu_s"] = wall_median_s(gpu_run, 2)
            out["speedup"] = out["cpu_s"] / out["gpu_s"]
            a, b = open_product(tmp / "cpu.zarr")["ndvi"].values, open_product(tmp / "gpu.zarr")["ndvi"].values
            out["products_equal"] = bool(np.array_equal(a, b, equal_nan=True))
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10980)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--dates", type=int, default=4)
    parser.add_argument("--chunk", type=int, default=2196)
    parser.add_argument("--json", type=Path, default=Path("bench-output/bench_gpu.json"))
    parser.add_argument("--smoke", action="store_true", help="tiny sizes; CPU parts only without a GPU")
    args = parser.parse_args()
    if args.smoke:
        args.size, args.repeats, args.dates, args.chunk = 256, 2, 2, 128
    has_gpu = gpu_available()
    red, nir, meta = load_tile(args.size)
    report: dict[str, Any] = {"size": args.size, "data": meta, "gpu": has_gpu,
                              "device": landpulse.device_info("gpu" if has_gpu else "cpu").as_dict(),
                              "cpu_count": os.cpu_count()}
    if has_gpu:
        k = kernel_benchmarks(red, nir, args.repeats)
        report["kernels"] = k
        print(f"device copy bandwidth {k['copy_GBps']:.0f} GB/s; NDVI moves {k['bytes_moved'] / 1e9:.2f} GB; "
              f"H2D of both bands {k['h2d_two_bands_ms']:.1f} ms")
        print(f"{'method':32s} {'ms':>9s} {'GB/s':>8s} {'of copy':>8s}")
        for r in k["methods"]:
            print(f"{r['method']:32s} {r['ms']:9.3f} {r['GBps']:8.0f} {r['share_of_copy']:8.0%}")
        ours = next(r for r in k["methods"] if r["method"] == "landpulse fused kernel")
        print(f"target: fused kernel >= {TARGET_SHARE_OF_COPY:.0%} of copy bandwidth: "
              f"{'met' if ours['share_of_copy'] >= TARGET_SHARE_OF_COPY else 'NOT met'}")
        print(f"CPU/GPU parity: {k['parity_cpu_gpu']}")
        import cupy as cp

        six = six_index_benchmarks(cp, args.size, args.repeats, k["copy_GBps"])
        report["six_indices"] = six
        fused = six["landpulse fused six"]
        line = (f"six indices fused: {fused['ms']:.2f} ms, {fused['GBps']:.0f} GB/s "
                f"({fused['share_of_copy']:.0%} of copy bandwidth)")
        if "speedup_vs_xarray_spatial" in six:
            line += f"; xarray-spatial's six: {six['speedup_vs_xarray_spatial']:.1f}x slower (target >= 5x)"
        print(line)
    else:
        print("no GPU here: kernel benchmarks skipped (run on the GPU machine: make gpu-check)")
    e2e = end_to_end(red, nir, args.dates, args.chunk, has_gpu)
    report["end_to_end"] = e2e
    line = f"end to end from Zarr, {e2e['dates']} dates of {e2e['shape']}: CPU {e2e['cpu_s']:.2f} s"
    if has_gpu:
        line += f", GPU {e2e['gpu_s']:.2f} s ({e2e['speedup']:.1f}x), products equal: {e2e['products_equal']}"
    print(line)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
