#!/usr/bin/env python3
"""Benchmark: water-observation summaries over a full Sentinel-2 tile time series, streamed from Zarr.

One run builds, on disk, Zarr stores of 12 dates x 10980 x 10980 pixels (the size of a
Sentinel-2 tile) in landpulse's store layout (uint16 digital numbers, nodata 0, one date per
chunk, 2196 x 2196 spatial chunks that divide the tile, blosc-lz4 + shuffle + crc32c, as ingest
writes), then runs each variant **in a fresh process** and reports its wall time and peak RSS:

``index``
    ``landpulse.products.water.index_water`` (the catalogue's NDWI through the fused index + SCL mask
    kernel, then the threshold kernel) -> ``landpulse.products.water.summary`` (wet and clear counts,
    frequency, classes) -> written as a Zarr product. Lazy end to end: read, classify,
    summarise, write, chunk by chunk.
``otsu``
    The same with ``otsu_water``: a first pass over the bands for the per-date histograms (one
    Otsu threshold per date), then the same stream as ``index``.
``wofs``
    ``landpulse.products.water.wofs`` (six bands and SCL, one pass) -> ``summary`` -> Zarr.
``xarray``
    The peer: the same NDWI summary as a plain xarray/Dask expression (NDWI from the bands,
    validity and the SCL default mask as ``where``/``isin``, ``sum`` over time), same store, same
    chunks, same output writer. Its counts must equal ``index``'s (checked).
``read``
    The floor of any of them: read and decode the same bands and SCL, chunk by chunk, and reduce
    them to a sum (nothing computed per pixel, nothing written).
``index-gpu``, ``wofs-gpu``
    With CuPy and a CUDA device: the data moved to the GPU block by block after decoding
    (``landpulse.to_device``), the kernels on the GPU, the products back to the host for writing.
    Never reported where it did not run.

Imagery (real pixel values, repeated; none invented): for ``index``/``otsu``/``xarray`` the 12
dates of the Bolzano Sentinel-2 L2A series in ../shared/data (B03 green, B08 nir, Sen2Cor SCL;
705 x 935 pixels, four dates almost fully cloudy) mirror-tiled to the tile size, reflectance
x 1e4 rounded to uint16 (NaN -> 0, nodata); for ``wofs`` the six bands of the bundled Sentinel-2
L1C crop (one date, repeated for every date) with each date's Bolzano SCL. Without the shared
data the bundled crop serves for every date and no SCL is written (said in the output).

Usage::

    python benchmarks/bench_water.py [--size 10980] [--dates 12] [--variants index,otsu,wofs,xarray]
                                     [--workdir DIR] [--keep] [--json out.json] [--markdown]
    python benchmarks/bench_water.py --smoke      # 256 x 256, 3 dates (tests)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

SHARED = REPO.parent / "shared" / "data" / "s2l2a-bolzano-2022-06.zarr"
TILE = 10980
CHUNK = 2196  # divides 10980
WOFS_BANDS = ("blue", "green", "red", "nir", "swir16", "swir22")
SCL_MASKED = (1, 3, 8, 9, 10)  # the sentinel2-l2a default mask classes (SCL 0: nodata)


# ---- building the stores ------------------------------------------------------------------------

def mirror_index(n: int, period: int) -> np.ndarray:
    """Source index of each of ``n`` target positions when mirror-tiling ``period`` pixels."""
    k = np.arange(n) % (2 * period)
    return np.where(k < period, k, 2 * period - 1 - k)


def sources(dates: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray | None, np.ndarray, str]:
    """``(index bands (dates, h, w), wofs bands (1, h, w), scl (dates, h, w) or None, times, description)``."""
    import xarray as xr

    from landpulse.datasets import sample_scene_item
    from landpulse.io import ingest, scene_from_stac_item

    with tempfile.TemporaryDirectory() as tmp:
        va = xr.open_zarr(ingest(scene_from_stac_item(sample_scene_item(), bands=list(WOFS_BANDS)),
                                 Path(tmp) / "s.zarr"), consolidated=False)
        wofs = {b: va[b].values.astype(np.uint16) for b in WOFS_BANDS}
    if SHARED.exists():
        bz = xr.open_zarr(SHARED, consolidated=False).isel(t=slice(0, dates))
        if bz.sizes["t"] < dates:
            raise SystemExit(f"the Bolzano series has {bz.sizes['t']} dates; ask for at most that many")

        def dn(v: np.ndarray) -> np.ndarray:
            return np.where(np.isfinite(v), np.clip(np.round(v), 0, 65534), 0).astype(np.uint16)

        index = {"green": dn(bz.B03.values), "nir": dn(bz.B08.values)}
        scl = np.nan_to_num(bz.SCL.values, nan=0).astype(np.uint8)
        times = bz.t.values
        desc = (f"index/otsu/xarray: Bolzano S2 L2A B03/B08/SCL, {dates} real dates of 705 x 935 px; wofs: bundled "
                "S2 L1C 800 x 800 px six bands (one date, repeated) with each date's Bolzano SCL; mirror-tiled")
    else:
        index = {b: np.repeat(wofs[b], dates, axis=0) for b in ("green", "nir")}
        scl = None
        times = (np.datetime64("2022-06-01") + np.arange(dates) * np.timedelta64(5, "D")).astype("datetime64[ns]")
        desc = "bundled S2 L1C 800 x 800 px (one real date, repeated), no SCL (shared data absent); mirror-tiled"
    return index, wofs, scl, times, desc


def tiled(src: np.ndarray, size: int, dates: int, chunk: int) -> Any:
    """A lazy (dates, size, size) Dask array: date t of ``src`` (or its only date) mirror-tiled."""
    import dask.array as dsa

    h, w = src.shape[-2:]
    rows, cols = mirror_index(size, h), mirror_index(size, w)

    def block(block_info: Any = None) -> np.ndarray:
        (t0, t1), (y0, y1), (x0, x1) = block_info[None]["array-location"]
        t = t0 if src.shape[0] > 1 else 0
        return src[t][np.ix_(rows[y0:y1], cols[x0:x1])][None]

    return dsa.map_blocks(block, dtype=src.dtype, chunks=((1,) * dates, _chunks(size, chunk), _chunks(size, chunk)))


def _chunks(n: int, c: int) -> tuple[int, ...]:
    return tuple(min(c, n - i) for i in range(0, n, c))


def build_store(path: Path, bands: dict[str, np.ndarray], scl: np.ndarray | None, times: np.ndarray, size: int,
                dates: int, chunk: int) -> float:
    """Write one store; returns its size on disk in GB."""
    import dask
    import xarray as xr

    from landpulse.io.store import write_zarr

    coords = {"time": times[:dates].astype("datetime64[ns]"), "y": 5200000.0 - 5.0 - 10.0 * np.arange(size),
              "x": 600000.0 + 5.0 + 10.0 * np.arange(size)}
    data = {b: (("time", "y", "x"), tiled(v, size, dates, chunk)) for b, v in bands.items()}
    if scl is not None:
        data["SCL"] = (("time", "y", "x"), tiled(scl, size, dates, chunk))
    ds = xr.Dataset(data, coords=coords).rio.write_crs("EPSG:32632")
    for b in bands:
        ds[b].attrs = {"common_name": b, "nodata": 0, "valid_range": [1, 65534]}
    ds.attrs["sensor"] = '["sentinel2-l2a"]'
    with dask.config.set(scheduler="threads"):
        write_zarr(ds, path, chunks={"time": 1, "y": chunk, "x": chunk}, overwrite=True)
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e9


# ---- one variant, in its own process --------------------------------------------------------------

def peak_rss_mb() -> float:
    """Peak resident set size of this process (VmHWM, MB). Unlike ``ru_maxrss``, which Linux carries
    across ``execve`` from the parent, VmHWM starts afresh in a new process image."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def open_bands(path: Path) -> Any:
    import landpulse

    ds = landpulse.open_store(path)
    bands = [v for v in ds.data_vars if v != "SCL"]
    return landpulse.declare_radiometry(ds, scale=1e-4, offset=0.0, bands=bands, nodata=0, valid_range=(1, 65534))


def xarray_summary(ds: Any) -> Any:
    """The peer: NDWI >= 0 summaries as a plain xarray expression (float32, NaN where invalid)."""
    import xarray as xr

    g, n = ds.green, ds.nir
    valid = (g >= 1) & (g <= 65534) & (n >= 1) & (n <= 65534)
    if "SCL" in ds:
        valid = valid & ~ds.SCL.isin([0, *SCL_MASKED])
    gf, nf = g.astype("float32") * np.float32(1e-4), n.astype("float32") * np.float32(1e-4)
    ndwi = ((gf - nf) / (gf + nf)).where(valid)
    clear = ndwi.notnull()
    wet = (ndwi >= 0) & clear
    wet_count = wet.sum("time", dtype="uint16")
    clear_count = clear.sum("time", dtype="uint16")
    frequency = (wet_count.astype("float32") / clear_count.astype("float32")).where(clear_count > 0)
    cls = xr.where(clear_count == 0, 255, xr.where(frequency >= 0.9, 2, xr.where(frequency >= 0.1, 1, 0))).astype("uint8")
    return xr.Dataset({"wet_count": wet_count, "clear_count": clear_count, "frequency": frequency, "water_class": cls})


def run_variant(variant: str, store: Path, out: Path) -> dict[str, Any]:
    import dask
    import xarray as xr

    import landpulse
    from landpulse import water
    from landpulse.backend import device_info
    from landpulse.io.store import write_zarr

    ds = open_bands(store)
    gpu = variant.endswith("-gpu")
    if gpu:
        ds = landpulse.to_device(ds)
    base = peak_rss_mb()
    t0 = time.perf_counter()
    extra: dict[str, Any] = {}
    with dask.config.set(scheduler="threads"):
        if variant == "read":
            sums = dask.compute(*(ds[v].sum(dtype="uint64").data for v in ("green", "nir", "SCL") if v in ds))
            seconds = time.perf_counter() - t0
            return {"variant": variant, "seconds": seconds, "peak_rss_mb": peak_rss_mb(), "rss_before_mb": base,
                    "check": {"sums": [int(x) for x in sums]}, "device": "cpu"}
        if variant.startswith("index"):
            product = water.summary(water.index_water(ds))
        elif variant == "otsu":
            maps = water.otsu_water(ds)
            extra["otsu_seconds"] = time.perf_counter() - t0  # the histogram pass
            extra["thresholds"] = [None if np.isnan(v) else round(float(v), 4) for v in maps.threshold.values]
            product = water.summary(maps)
        elif variant.startswith("wofs"):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # L1C bands: outside WOfS's calibration (timing only)
                product = water.summary(water.wofs(ds))
        elif variant == "xarray":
            product = xarray_summary(ds)
        else:
            raise SystemExit(f"unknown variant {variant}")
        if gpu:
            product = landpulse.to_host(product)
        product = product.drop_vars([c for c in product.coords if c not in ("y", "x", "spatial_ref")])
        for v in product.data_vars:
            product[v].attrs = {}
        write_zarr(product, out, overwrite=True)
    seconds = time.perf_counter() - t0
    peak = peak_rss_mb()
    written = xr.open_zarr(out, consolidated=False)
    check = {k: int(written[k].sum(dtype="uint64").values) for k in ("wet_count", "clear_count")}
    check["water_class_255"] = int((written.water_class == 255).sum().values)
    return {"variant": variant, "seconds": seconds, "peak_rss_mb": peak, "rss_before_mb": base, "check": check,
            "device": device_info("gpu").name if gpu else "cpu", **extra}


# ---- orchestration --------------------------------------------------------------------------------

def bandwidth_gbs() -> float:
    """STREAM-triad-like probe (NumPy, one thread), GB/s: a load indicator to pair with timings."""
    a = np.ones(20_000_000, np.float64)
    b = np.ones_like(a)
    c = np.empty_like(a)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        np.multiply(b, 2.0, out=c)
        np.add(c, a, out=c)
        best = min(best, time.perf_counter() - t0)
    return 4 * a.nbytes / best / 1e9


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=TILE)
    ap.add_argument("--dates", type=int, default=12)
    ap.add_argument("--chunk", type=int, default=CHUNK)
    ap.add_argument("--variants", default="read,index,otsu,wofs,xarray")
    ap.add_argument("--workdir", type=Path, default=None, help="where the stores go (default: a temporary folder)")
    ap.add_argument("--keep", action="store_true", help="keep (and reuse) the stores in --workdir")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--smoke", action="store_true", help="256 x 256, 3 dates, every variant (tests)")
    ap.add_argument("--run-variant", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--store", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.run_variant:  # child process
        print(json.dumps(run_variant(args.run_variant, args.store, args.out)))
        return {}

    if args.smoke:
        args.size, args.dates, args.chunk = 256, 3, 128
    from landpulse.backend import gpu_available

    variants = [v for v in args.variants.split(",") if v]
    if gpu_available():
        variants += [f"{v}-gpu" for v in ("index", "wofs") if v in variants]
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-water-"))
    workdir.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"size": args.size, "dates": args.dates, "chunk": args.chunk, "rows": [],
                              "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"}
    try:
        index_bands, wofs_bands, scl, times, desc = sources(args.dates)
        report["data"] = desc
        stores = {"index": workdir / "index.zarr", "wofs": workdir / "wofs.zarr"}
        need = {"wofs" if v.startswith("wofs") else "index" for v in variants}
        for key in sorted(need):
            path = stores[key]
            if path.exists() and args.keep:
                continue
            t0 = time.perf_counter()
            gb = build_store(path, index_bands if key == "index" else wofs_bands, scl, times, args.size, args.dates, args.chunk)
            report[f"{key}_store_gb"] = round(gb, 2)
            print(f"built {path}: {gb:.2f} GB on disk in {time.perf_counter() - t0:.0f} s", flush=True)
        report["bandwidth_gbs_before"] = round(bandwidth_gbs(), 1)
        for v in variants:
            store = stores["wofs" if v.startswith("wofs") else "index"]
            out = workdir / f"out-{v}.zarr"
            load = os.getloadavg()[0]
            res = subprocess.run([sys.executable, __file__, "--run-variant", v, "--store", str(store), "--out", str(out)],
                                 capture_output=True, text=True)
            if res.returncode != 0:
                raise SystemExit(f"variant {v} failed:\n{res.stderr[-3000:]}")
            row = json.loads(res.stdout.strip().splitlines()[-1])
            row["load_before"] = round(load, 2)
            row["load_after"] = round(os.getloadavg()[0], 2)
            report["rows"].append(row)
            print(f"{v:10s} {row['seconds']:8.1f} s  peak RSS {row['peak_rss_mb']:7.0f} MB  "
                  f"(load {row['load_before']:.1f} -> {row['load_after']:.1f})  check {row['check']}", flush=True)
            shutil.rmtree(out, ignore_errors=True)
        report["bandwidth_gbs_after"] = round(bandwidth_gbs(), 1)
        checks = {r["variant"]: r["check"] for r in report["rows"]}
        if "index" in checks and "xarray" in checks:
            report["index_equals_xarray"] = checks["index"] == checks["xarray"]
            if not report["index_equals_xarray"]:
                raise SystemExit(f"landpulse and the xarray expression disagree: {checks['index']} vs {checks['xarray']}")
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    report["load"] = [round(x, 2) for x in os.getloadavg()]
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    if args.markdown:
        print(markdown(report))
    return report


def markdown(report: dict[str, Any]) -> str:
    n = report["size"]
    lines = [
        f"{report['dates']} dates x {n} x {n} ({report['data']}); chunks 1 x {report['chunk']} x {report['chunk']}; "
        f"{report['machine']}; triad probe {report['bandwidth_gbs_before']} / {report['bandwidth_gbs_after']} GB/s "
        f"(before / after); load at the end {report['load']}",
        "",
        "| variant | device | time (s) | peak RSS (MB) | RSS before computing (MB) | load before / after | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in report["rows"]:
        note = ""
        if r["variant"] == "otsu":
            note = f"histogram pass {r['otsu_seconds']:.1f} s; thresholds {r['thresholds']}"
        lines.append(f"| {r['variant']} | {r['device']} | {r['seconds']:.1f} | {r['peak_rss_mb']:.0f} | {r['rss_before_mb']:.0f} "
                     f"| {r['load_before']} / {r['load_after']} | {note} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
