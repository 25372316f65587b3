#!/usr/bin/env python3
"""Benchmark: per-parcel statistics of a 12-date series on one Sentinel-2-sized grid.

Raster: the real Bolzano NDVI (../shared/data, 705 x 935 px, cloud pixels of SCL 0/3/8/9/10 as
NaN), mirror-tiled to ``--size`` x ``--size`` pixels per date (10980 = one Sentinel-2 tile),
float32, 10 m, EPSG:32632. Parcels: GENERATED field layouts (landpulse.parcels.generate_parcels:
varied sizes and shapes, slivers, holes, multipolygons, overlaps), NOT real field boundaries.

Measured in one run (the same raster, parcels and machine for every method):

``landpulse``
    The coverage matrix built once (exact fractions, Numba), then the statistics of every date
    (count, masked, covered area, clear fraction, mean, std, min, max, median; Numba).
``exactextract``
    ``exactextract.exact_extract`` (PyPI) with the same statistics on the same dates, read from
    uncompressed tiled GeoTIFFs written for it (the write is not timed). Run on ``--ee-parcels``
    parcels per date and scaled to the full count when that is smaller (stated in the output).
``rasterstats``
    ``rasterstats.zonal_stats`` (centre-of-pixel rasterization, unweighted) on ``--rs-parcels``
    parcels and ``--rs-dates`` dates, scaled likewise.

Scaling: ``--scale-parcels`` runs landpulse again with more parcels (weights and ``--scale-dates``
dates) to show how time and memory grow.

    nice -n 10 python benchmarks/bench_parcels.py --size 10980 --parcels 100000 --markdown
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
BOLZANO = REPO.parent / "shared" / "data" / "s2l2a-bolzano-2022-06.zarr"
X0, Y0, RES = 600000.0, 5200000.0, 10.0


def rss_mb() -> float:
    """Resident memory now (MB), from /proc."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def bolzano_ndvi(dates: int) -> tuple[np.ndarray, np.ndarray]:
    import landpulse

    ds = landpulse.open_store(BOLZANO)
    ds = landpulse.declare_radiometry(ds, scale=1e-4, offset=0.0, bands=["B02", "B03", "B04", "B08"])
    nd = landpulse.ndvi(ds).compute()
    nd = nd.where(~ds["SCL"].isin([0, 3, 8, 9, 10]).compute())
    return nd.values[:dates].astype(np.float32), nd.t.values[:dates]


def mirror_tile(base: np.ndarray, size: int) -> np.ndarray:
    """The real image mirrored into a size x size grid (seamless: flips, not repeats)."""
    block = np.block([[base, base[:, ::-1]], [base[::-1], base[::-1, ::-1]]])
    reps = (-(-size // block.shape[0]), -(-size // block.shape[1]))
    return np.ascontiguousarray(np.tile(block, reps)[:size, :size])


def transform(size: int) -> tuple[float, ...]:
    return (RES, 0.0, X0, 0.0, -RES, Y0)


def run_landpulse(dates: list[np.ndarray], fields: Any, size: int) -> dict[str, Any]:
    from landpulse.backend.parcels import coverage_weights, parcel_statistics

    gc.collect()
    base = rss_mb()
    t = time.perf_counter()
    cw = coverage_weights(fields.geometry.values, transform(size), (size, size), "exact")
    weights_s = time.perf_counter() - t
    per_date = []
    first = None
    for values in dates:
        t = time.perf_counter()
        out = parcel_statistics(values, cw, [0.5])
        per_date.append(time.perf_counter() - t)
        first = out[:, 0, 4] if first is None else first
    return {"weights_s": weights_s, "per_date_s": per_date, "total_s": weights_s + sum(per_date),
            "nnz": cw.nnz, "weights_mb": cw.nbytes / 1e6, "rss_growth_mb": rss_mb() - base,
            "means": first}


def run_gpu(dates: list[np.ndarray], fields: Any, size: int) -> dict[str, Any]:
    """The CuPy reduction against the Numba one on the same weights and dates (values on the device)."""
    try:
        import cupy as cp  # optional: only with --gpu
    except ImportError:
        raise SystemExit("--gpu needs CuPy and a CUDA device (pip install -e '.[gpu]')") from None

    from landpulse.backend.parcels import coverage_weights, parcel_statistics

    cw = coverage_weights(fields.geometry.values, transform(size), (size, size), "exact")
    cw.on_device()
    gpu_s, cpu_s, diff = [], [], 0.0
    for values in dates:
        dev = cp.asarray(values)
        parcel_statistics(dev, cw, [0.5])  # warm (CuPy compiles its kernels once)
        cp.cuda.Device().synchronize()
        t = time.perf_counter()
        g = parcel_statistics(dev, cw, [0.5])
        gpu_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        c = parcel_statistics(values, cw, [0.5])
        cpu_s.append(time.perf_counter() - t)
        both = ~np.isnan(c)
        diff = max(diff, float(np.abs(g[both] - c[both]).max()) if both.any() else 0.0)
        del dev
        if len(gpu_s) >= 3:  # three dates are enough for a ratio
            break
    return {"per_date_s": gpu_s, "cpu_per_date_s": cpu_s, "max_abs_diff": diff, "nnz": cw.nnz}


def write_tif(values: np.ndarray, path: Path, size: int) -> None:
    import rasterio
    from rasterio.transform import Affine

    with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=1, dtype="float32",
                       crs="EPSG:32632", transform=Affine(*transform(size)), nodata=np.nan, tiled=True,
                       blockxsize=512, blockysize=512) as dst:
        dst.write(values, 1)


def run_exactextract(tifs: list[Path], fields: Any) -> dict[str, Any]:
    from exactextract import exact_extract

    per_date = []
    means = None
    for tif in tifs:
        t = time.perf_counter()
        r = exact_extract(str(tif), fields, ["count", "mean", "stdev", "min", "max", "median"], output="pandas")
        per_date.append(time.perf_counter() - t)
        if means is None:
            means = r["mean"].to_numpy(float)
    return {"per_date_s": per_date, "means": means}


def run_rasterstats(tifs: list[Path], fields: Any) -> dict[str, Any]:
    import warnings

    from rasterstats import zonal_stats

    per_date = []
    for tif in tifs:
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            zonal_stats(list(fields.geometry.values), str(tif), stats="count mean std min max median", nodata=np.nan)
        per_date.append(time.perf_counter() - t)
    return {"per_date_s": per_date}


def compare(args: argparse.Namespace, report: dict[str, Any], dates: list[np.ndarray], fields: Any) -> None:
    """landpulse, exactextract and rasterstats on the same parcels and dates (into ``report``)."""
    lp = run_landpulse(dates, fields, args.size)
    report["landpulse"] = {k: v for k, v in lp.items() if k != "means"}
    report["landpulse"]["peak_rss_mb"] = peak_mb()
    print(f"landpulse: weights {lp['weights_s']:.2f} s ({lp['nnz']} weights, {lp['weights_mb']:.0f} MB), "
          f"per date {np.mean(lp['per_date_s']):.2f} s, total {lp['total_s']:.1f} s", flush=True)

    with tempfile.TemporaryDirectory(dir=os.environ.get("LANDPULSE_BENCH_DIR")) as tmp:
        n_tifs = max(args.ee_dates, args.rs_dates)
        tifs = []
        for i in range(min(n_tifs, len(dates))):
            p = Path(tmp) / f"ndvi-{i:02d}.tif"
            write_tif(dates[i], p, args.size)
            tifs.append(p)
        ee_n = min(args.ee_parcels, args.parcels)
        ee = run_exactextract(tifs[:args.ee_dates], fields.iloc[:ee_n])
        ee_factor = (args.parcels / ee_n) * (len(dates) / len(ee["per_date_s"]))
        ee_total = sum(ee["per_date_s"]) * ee_factor
        check = lp["means"][:ee_n]
        ok = ~np.isnan(check)
        rel = float(np.nanmax(np.abs(check[ok] - ee["means"][ok]) / np.maximum(np.abs(ee["means"][ok]), 1e-12)))
        report["exactextract"] = {"parcels_run": ee_n, "dates_run": len(ee["per_date_s"]), "per_date_s": ee["per_date_s"],
                                  "total_s_for_all": ee_total, "scaled": ee_factor != 1.0, "max_rel_diff_mean": rel}
        print(f"exactextract: {np.mean(ee['per_date_s']):.2f} s per date on {ee_n} parcels; "
              f"{ee_total:.1f} s for {args.parcels} x {len(dates)} dates{' (scaled)' if ee_factor != 1 else ''}; "
              f"means agree within {rel:.1e} relative", flush=True)
        rs_n = min(args.rs_parcels, args.parcels)
        rs = run_rasterstats(tifs[:args.rs_dates], fields.iloc[:rs_n])
        rs_total = sum(rs["per_date_s"]) * (args.parcels / rs_n) * (len(dates) / len(rs["per_date_s"]))
        report["rasterstats"] = {"parcels_run": rs_n, "dates_run": len(rs["per_date_s"]), "per_date_s": rs["per_date_s"],
                                 "total_s_for_all": rs_total, "scaled": True}
        print(f"rasterstats: {np.mean(rs['per_date_s']):.2f} s per date on {rs_n} parcels; "
              f"{rs_total:.0f} s for {args.parcels} x {len(dates)} dates (scaled)", flush=True)
    report["speedup_vs_exactextract"] = ee_total / lp["total_s"]
    report["speedup_vs_rasterstats"] = rs_total / lp["total_s"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=10980)
    ap.add_argument("--parcels", type=int, default=100_000)
    ap.add_argument("--dates", type=int, default=12)
    ap.add_argument("--ee-parcels", type=int, default=100_000, help="parcels exactextract runs on (scaled up)")
    ap.add_argument("--ee-dates", type=int, default=12)
    ap.add_argument("--rs-parcels", type=int, default=1000, help="parcels rasterstats runs on (scaled up)")
    ap.add_argument("--rs-dates", type=int, default=1)
    ap.add_argument("--scale-parcels", type=int, nargs="*", default=[300_000, 1_000_000])
    ap.add_argument("--scale-dates", type=int, default=2, help="the clearest dates, for the scaling runs")
    ap.add_argument("--only-scaling", action="store_true", help="skip the comparison with exactextract and rasterstats")
    ap.add_argument("--gpu", action="store_true", help="also time the CuPy reduction (needs CuPy and a CUDA device)")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args(argv)

    from landpulse.parcels import generate_parcels

    base, times = bolzano_ndvi(args.dates)
    dates = [mirror_tile(base[i], args.size) for i in range(len(base))]
    side = args.size * RES
    bounds = (X0, Y0 - side, X0 + side, Y0)

    def layout(n: int) -> Any:
        t = time.perf_counter()
        f = generate_parcels(bounds, n, crs="EPSG:32632", seed=1, median_area_m2=min(20_000.0, side * side / n / 3))
        return f, time.perf_counter() - t

    fields, gen_s = layout(args.parcels)
    report: dict[str, Any] = {"size": args.size, "parcels": args.parcels, "dates": len(dates),
                              "cpus": os.cpu_count(), "generate_s": gen_s,
                              "median_parcel_px": float(np.median(fields.area) / RES**2)}
    print(f"# {args.parcels} GENERATED parcels on {args.size}^2 px x {len(dates)} dates "
          f"(mirror-tiled real Bolzano NDVI); {os.cpu_count()} CPUs; layout {gen_s:.1f} s", flush=True)
    # warm the Numba kernels (compiled once per machine, cached) outside the timings
    run_landpulse([dates[0][:64, :64]], generate_parcels((X0, Y0 - 640, X0 + 640, Y0), 20, crs="EPSG:32632"), 64)
    if not args.only_scaling:
        compare(args, report, dates, fields)
    if args.gpu:
        report["gpu"] = run_gpu(dates, fields, args.size)
        print(f"gpu: per date {np.mean(report['gpu']['per_date_s']):.3f} s (CPU {np.mean(report['gpu']['cpu_per_date_s']):.3f} s), "
              f"max difference {report['gpu']['max_abs_diff']:.1e}", flush=True)
    clearest = [dates[i] for i in sorted(np.argsort([np.isnan(d).mean() for d in dates])[:args.scale_dates])]
    scaling = []
    for n in [args.parcels, *args.scale_parcels]:
        if n != args.parcels:
            del fields
            gc.collect()
            fields, _ = layout(n)
        r = run_landpulse(clearest, fields, args.size)
        scaling.append({"parcels": n, "weights_s": r["weights_s"], "per_date_s": float(np.mean(r["per_date_s"])),
                        "nnz": r["nnz"], "weights_mb": r["weights_mb"],
                        "median_parcel_px": float(np.median(fields.area) / RES**2)})
        print(f"scaling: {n} parcels: weights {r['weights_s']:.2f} s, per clear date {scaling[-1]['per_date_s']:.2f} s, "
              f"{r['weights_mb']:.0f} MB of weights", flush=True)
    report["scaling"] = scaling
    report["peak_rss_mb"] = peak_mb()
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=float))
    if args.markdown:
        if "landpulse" in report:
            lp, ee_total, rs_total = report["landpulse"], report["exactextract"]["total_s_for_all"], \
                report["rasterstats"]["total_s_for_all"]
            print(f"\n| method | weights (s) | per date (s) | {len(dates)} dates total (s) | x landpulse |")
            print("|---|---|---|---|---|")
            print(f"| landpulse (Numba, {os.cpu_count()} CPUs) | {lp['weights_s']:.2f} | {np.mean(lp['per_date_s']):.2f} | "
                  f"{lp['total_s']:.1f} | 1 |")
            print(f"| exactextract | - | {ee_total / len(dates):.2f} | {ee_total:.1f} | "
                  f"{report['speedup_vs_exactextract']:.1f} |")
            print(f"| rasterstats | - | {rs_total / len(dates):.1f} | {rs_total:.0f} | {report['speedup_vs_rasterstats']:.0f} |")
        print("\n| parcels | median parcel (px) | weights (s) | per clear date (s) | weights | matrix (MB) |")
        print("|---|---|---|---|---|---|")
        for row in scaling:
            print(f"| {row['parcels']} | {row['median_parcel_px']:.0f} | {row['weights_s']:.2f} | {row['per_date_s']:.2f} | "
                  f"{row['nnz']} | {row['weights_mb']:.0f} |")
        print(f"\npeak RSS {report['peak_rss_mb']:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
