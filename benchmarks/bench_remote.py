"""Read throughput of remote COGs: localhost HTTP (a real nginx) against local files, and against
odc-stac.load of the same items onto the same grid.

The data: the shared real Bolzano Sentinel-2 L2A series, every date, its four reflectance bands
and SCL written as COGs of the same DNs (tests/support/remote_data.py; 512 x 512 px blocks of
256 by default, or the whole 705 x 935 scene with ``--full``). Every variant reads every pixel of
every band of every date into memory (``.compute()`` with Dask's threaded scheduler), on the
scenes' own grid (EPSG:32632, 10 m), best of ``--repeat`` runs, alternating the variants so that
a neighbour's load falls on all of them alike:

* ``landpulse local``: ``load_on_grid`` of the items with local hrefs (on the grid: window reads);
* ``landpulse http``: the same items with hrefs on nginx (``/vsicurl/`` range requests, retries);
* ``odc-stac local`` / ``odc-stac http``: ``odc.stac.load`` of the same items, ``geobox`` = the grid,
  the same chunks.

Usage: ``python benchmarks/bench_remote.py [--repeat 5] [--chunk 256] [--markdown] [--smoke]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "src"))

import dask  # noqa: E402
import odc.stac  # noqa: E402
import pystac  # noqa: E402
from odc.geo.geobox import GeoBox  # noqa: E402

from landpulse.io.load import load_on_grid  # noqa: E402
from landpulse.io.scenes import scene_from_stac_item  # noqa: E402
from landpulse.io.warp import TargetGrid  # noqa: E402
from tests.support.remote_data import bolzano_dates, with_base, write_bolzano_cogs  # noqa: E402
from tests.support.servers import start_nginx  # noqa: E402

BANDS = {"blue": "B02", "green": "B03", "red": "B04", "nir": "B08", "scl": "scl"}


def _time(fn: Any) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--chunk", type=int, default=256)
    ap.add_argument("--full", action="store_true", help="the whole 705 x 935 scene (default: 512 x 512)")
    ap.add_argument("--smoke", action="store_true", help="two dates, one repeat (numbers meaningless)")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    work = Path(os.environ.get("LANDPULSE_BENCH_DIR", tempfile.mkdtemp(prefix="bench-remote-")))
    root = work / "cogs"
    dates = [0, 1] if args.smoke else list(range(len(bolzano_dates())))
    window = (slice(0, 705), slice(0, 935)) if args.full else (slice(0, 512), slice(0, 512))
    items = write_bolzano_cogs(root, dates, window)
    server = start_nginx(root, work / "nginx")
    try:
        local = [with_base(i, str(root)) for i in items]
        http = [with_base(i, f"{server.url}/cogs") for i in items]
        first = scene_from_stac_item(local[0])
        import rasterio

        with rasterio.open(first.bands["red"].href) as src:
            grid = TargetGrid("EPSG:32632", src.transform, (src.height, src.width))
        nbytes = sum(grid.shape[0] * grid.shape[1] * (1 if b == "scl" else 2) for b in BANDS) * len(items)
        chunks = (args.chunk, args.chunk)

        def ours(its: list[dict[str, Any]]) -> Any:
            ds = load_on_grid([scene_from_stac_item(i) for i in its], grid, chunks=chunks, group_by_solar_day=False)
            return ds[list(BANDS)].compute()

        def theirs(its: list[dict[str, Any]]) -> Any:
            ds = odc.stac.load([pystac.Item.from_dict(i) for i in its], bands=list(BANDS.values()),
                               geobox=GeoBox(grid.shape, grid.transform, grid.crs), groupby="id",
                               chunks={"y": args.chunk, "x": args.chunk}, resampling="nearest")
            return ds.compute()

        variants = {"landpulse local": lambda: ours(local), "landpulse http": lambda: ours(http),
                    "odc-stac local": lambda: theirs(local), "odc-stac http": lambda: theirs(http)}
        with dask.config.set(scheduler="threads"):
            a, b = ours(local), ours(http)  # warm-up, and the check that both read the same pixels
            for name in BANDS:
                assert (a[name].values == b[name].values).all(), name
            o = theirs(http)
            for name, key in BANDS.items():
                assert (a[name].values == o[key].values).all(), name
            times: dict[str, list[float]] = {k: [] for k in variants}
            for _ in range(1 if args.smoke else args.repeat):
                for k, fn in variants.items():
                    times[k].append(_time(fn))
    finally:
        server.stop()
    best = {k: min(v) for k, v in times.items()}
    report = {
        "items": len(items), "grid": [*grid.shape], "chunk": args.chunk, "bytes": nbytes,
        "cpus": os.cpu_count(), "load_average": os.getloadavg(),
        "seconds": times, "best_s": best,
        "mb_per_s": {k: nbytes / v / 1e6 for k, v in best.items()},
        "http_over_local": best["landpulse http"] / best["landpulse local"],
        "http_over_odc_http": best["landpulse http"] / best["odc-stac http"],
        "local_over_odc_local": best["landpulse local"] / best["odc-stac local"],
    }
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    if args.markdown:
        print(f"| variant ({len(items)} dates x 5 bands, {grid.shape[0]} x {grid.shape[1]} px, "
              f"{nbytes / 1e6:.1f} MB, chunks {args.chunk}) | best s | MB/s | runs (s) |")
        print("|---|---|---|---|")
        for k in variants:
            print(f"| {k} | {best[k]:.3f} | {nbytes / best[k] / 1e6:.0f} | {', '.join(f'{t:.3f}' for t in times[k])} |")
        print(f"\nlandpulse http / local: {report['http_over_local']:.2f}x; landpulse http / odc-stac http: "
              f"{report['http_over_odc_http']:.2f}x; landpulse local / odc-stac local: {report['local_over_odc_local']:.2f}x"
              f"; load average {report['load_average'][0]:.2f}")
    else:
        print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
