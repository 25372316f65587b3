#!/usr/bin/env python3
"""Benchmark: parcels across tile edges, combined, against one grid holding every pixel.

Raster: the real Bolzano NDVI (../shared/data; SCL 0/3/8/9/10 as NaN), mirror-tiled to ``--size``
x ``--size`` pixels per date (as in bench_parcels.py), float32, 10 m, EPSG:32632. Parcels:
GENERATED field layouts (landpulse.parcels.generate_parcels), NOT real field boundaries.

Measured in one run on the same raster and parcels:

``one grid``
    ``landpulse.parcels.zonal_stats`` over the whole grid (the coverage matrix built inside).
``tiles``
    ``landpulse.parcels.zonal_stats_tiles`` over the grid cut into ``--tiles`` x ``--tiles`` tiles
    that overlap by ``--overlap`` pixels (as MGRS tiles do): owned regions, clipping, every tile's
    statistics and pieces, and the combination of the split parcels.

It reports both times, their ratio, how many parcels were split and the largest difference of the
means (0 up to float64 rounding: the two must agree).

    nice -n 10 python benchmarks/bench_parcel_tiles.py --size 4096 --parcels 20000 --dates 4
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_parcels import BOLZANO, RES, X0, Y0, bolzano_ndvi, mirror_tile


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--parcels", type=int, default=20_000)
    ap.add_argument("--dates", type=int, default=4)
    ap.add_argument("--tiles", type=int, default=2, help="tiles per side")
    ap.add_argument("--overlap", type=int, default=200, help="pixels by which neighbouring tiles overlap")
    args = ap.parse_args(argv)
    if not BOLZANO.exists():
        print(f"skipped: the real imagery is not at {BOLZANO}")
        return 0
    import xarray as xr

    from landpulse.parcels import generate_parcels, zonal_stats, zonal_stats_tiles

    values, times = bolzano_ndvi(args.dates)
    stack = np.stack([mirror_tile(v, args.size) for v in values])
    n = args.size
    da = xr.DataArray(stack, dims=("t", "y", "x"), name="ndvi",
                      coords={"t": times, "y": Y0 - RES * (np.arange(n) + 0.5), "x": X0 + RES * (np.arange(n) + 0.5)})
    da = da.rio.write_crs("EPSG:32632")
    fields = generate_parcels((X0, Y0 - RES * n, X0 + RES * n, Y0), args.parcels, crs="EPSG:32632", seed=1)
    step = n // args.tiles
    parts = []
    for i in range(args.tiles):
        for j in range(args.tiles):
            ys = slice(max(0, i * step - args.overlap // 2), n if i == args.tiles - 1 else (i + 1) * step + args.overlap // 2)
            xs = slice(max(0, j * step - args.overlap // 2), n if j == args.tiles - 1 else (j + 1) * step + args.overlap // 2)
            parts.append(da.isel(y=ys, x=xs))
    zonal_stats(da.isel(y=slice(0, 64), x=slice(0, 64)), fields.iloc[:10])  # JIT warm-up, not timed
    t0 = time.perf_counter()
    ref = zonal_stats(da, fields)
    t_one = time.perf_counter() - t0
    t0 = time.perf_counter()
    comb = zonal_stats_tiles(parts, fields)
    t_tiles = time.perf_counter() - t0
    a = ref.sort_values(["t", "parcel_id"]).reset_index(drop=True)
    b = comb.sort_values(["t", "parcel_id"]).reset_index(drop=True)
    if len(a) != len(b) or not (a.parcel_id.to_numpy() == b.parcel_id.to_numpy()).all():
        print("MISMATCH: the combined table does not hold every parcel once per date")
        return 1
    diff = float(np.nanmax(np.abs(a["mean"].to_numpy() - b["mean"].to_numpy())))
    split = int(b.tiles.str.contains(",").sum() // max(args.dates, 1))
    row = ({"grid": f"{n}^2 x {args.dates} dates", "parcels": args.parcels,
                          "tiles": f"{args.tiles}x{args.tiles}, {args.overlap} px overlap", "split parcels": split,
                          "one grid s": round(t_one, 2), "tiles s": round(t_tiles, 2),
                          "tiles / one grid": round(t_tiles / t_one, 2), "max abs mean diff": f"{diff:.1e}"})
    print("| " + " | ".join(row) + " |")
    print("|" + "---|" * len(row))
    print("| " + " | ".join(str(v) for v in row.values()) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
