"""Why the NDVI kernel's ratio to the bandwidth floor moves with the machine's load (RESULTS.md).

One process, interleaved calls on one full tile (the bundled real crop mirror-tiled to
10980 x 10980, as ``bench_ndvi.py``): the floor probe (moves NDVI's bytes, one add per pixel) and
the landpulse kernel writing into a reused output, each with 2 threads and with 1 thread
(``numba.set_num_threads``), plus ``landpulse.ndvi`` on Dask chunks with ``compute()`` (joins the
chunks) and ``persist()`` (keeps them). Each call records how many cores other processes used
meanwhile (``/proc/stat``), so quiet calls can be told from contended ones.

    python benchmarks/bench_ndvi_threads.py --rounds 7
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_ndvi as b  # (the same tile, probes and load monitor)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--size", type=int, default=b.TILE)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    import dask
    import numba
    import xarray as xr

    import landpulse
    from landpulse.backend.validity import Validity
    from landpulse.products.indices import ndvi_block

    red, nir, _ = b.load_tile(args.size)
    probe = b.make_probes()["same_bytes"]
    out = np.zeros(red.shape, np.float32)
    valid = Validity(b.NODATA, b.VALID_LO, b.VALID_HI)
    ds = xr.Dataset({"red": (("y", "x"), red), "nir": (("y", "x"), nir)})
    ds = landpulse.declare_radiometry(ds, scale=b.SCALE, offset=b.OFFSET, bands=["red", "nir"])
    dsd = ds.chunk({"y": b.CHUNK, "x": b.CHUNK})

    def kernel() -> Any:
        return ndvi_block(red, nir, b.SCALE, b.OFFSET, b.SCALE, b.OFFSET, red_valid=valid, nir_valid=valid, out=out)

    def with_threads(fn: Any, n: int) -> Any:
        def run() -> Any:
            numba.set_num_threads(n)
            try:
                return fn()
            finally:
                numba.set_num_threads(2)
        return run

    def dask_run(persist: bool) -> Any:
        def run() -> Any:
            with dask.config.set(scheduler="threads", num_workers=2):
                lazy = landpulse.ndvi(dsd).data
                return lazy.persist() if persist else lazy.compute()
        return run

    cases = {
        "floor probe, 2 threads": with_threads(lambda: probe(red, nir, out), 2),
        "kernel out=, 2 threads": with_threads(kernel, 2),
        "floor probe, 1 thread": with_threads(lambda: probe(red, nir, out), 1),
        "kernel out=, 1 thread": with_threads(kernel, 1),
        "landpulse.ndvi Dask persist()": dask_run(True),
        "landpulse.ndvi Dask compute()": dask_run(False),
    }
    for fn in cases.values():  # compile / load caches
        fn()
    mon = b.LoadMonitor()
    rows: dict[str, list[dict[str, float]]] = {k: [] for k in cases}
    for _ in range(args.rounds):
        for name, fn in cases.items():
            b.prefault(1.0)
            mon.start()
            t = time.perf_counter()
            fn()
            ms = (time.perf_counter() - t) * 1e3
            rows[name].append({"ms": ms, **mon.stop()})
    floor = "floor probe, 2 threads"
    print(f"{args.rounds} rounds; other processes used {statistics.median(r['other_cores'] for v in rows.values() for r in v):.2f} "
          "cores (median over calls) of 2")
    print("\n| call | median ms | min ms | x floor (2 thr, median of per-round ratios) | other cores (median) |\n|---|---|---|---|---|")
    for name, rs in rows.items():
        ratio = statistics.median(r["ms"] / f["ms"] for r, f in zip(rs, rows[floor], strict=True))
        print(f"| {name} | {statistics.median(r['ms'] for r in rs):.1f} | {min(r['ms'] for r in rs):.1f} | "
              f"{ratio:.2f}x | {statistics.median(r['other_cores'] for r in rs):.2f} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
