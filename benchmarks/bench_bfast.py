"""BFAST-Monitor pixels per second: landpulse (Numba, 2 threads) against the ``bfast`` package's
NumPy ("python") backend, same stack, same parameters (issue 13).

Stack: ``--dates`` NDVI dates (default 73: every 5 days of 2022) built from the real Bolzano
Sentinel-2 L2A series (../shared/data): date ``d`` is the SCL-masked NDVI of Bolzano date
``d mod 12``, rolled by ``(d, 2 d)`` pixels. Real values, **not a real year of observations**:
a speed comparison, not a change study. Parameters: history = every date before 1 September,
order (k) 3 with a trend, h 0.25, end/period 10, level 0.05.

``bfast`` 0.7 (PyPI, sdist only) needs NumPy < 1.24 (``np.warnings``, ``np.bool``), which this
project's environment cannot hold, so it runs in its own virtualenv: ``make bench-bfast-env``
makes ``.venv-bfast``; this script then times it there on a subset of the pixels (its backend
is a Python loop per pixel) and compares the breaks on those pixels.

    python benchmarks/bench_bfast.py [--pixels 512] [--bfast-pixels 40] [--bfast-python .venv-bfast/bin/python]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import xarray as xr

import landpulse
from landpulse import change

REPO = Path(__file__).resolve().parents[1]
BOLZANO = REPO.parent / "shared" / "data" / "s2l2a-bolzano-2022-06.zarr"
MONITOR = dt.datetime(2022, 9, 1)

BFAST_SCRIPT = """
import datetime as dt, json, sys, time
import numpy as np
from bfast import BFASTMonitor
data = np.load(sys.argv[1])
dates = [dt.datetime.fromisoformat(d) for d in json.loads(sys.argv[2])]
model = BFASTMonitor(start_monitor=dt.datetime.fromisoformat(sys.argv[3]), freq=365, k=3, hfrac=0.25, trend=True,
                     level=0.05, period=10, backend="python")
t0 = time.perf_counter()
model.fit(data, dates, nan_value=-32768)
seconds = time.perf_counter() - t0
np.save(sys.argv[4], np.asarray(model.breaks))
print(json.dumps({"seconds": seconds}))
"""


def stack(dates: int, size: int) -> xr.DataArray:
    src = landpulse.declare_radiometry(landpulse.open_store(BOLZANO), scale=1e-4, offset=0.0,
                                       bands=["B02", "B03", "B04", "B08"])
    ndvi = landpulse.ndvi(src.isel(y=slice(0, size), x=slice(0, size)), mask="auto").load().values
    data = np.stack([np.roll(ndvi[d % ndvi.shape[0]], (d, 2 * d), (0, 1)) for d in range(dates)]).astype(np.float32)
    times = [np.datetime64("2022-01-01", "ns") + np.timedelta64(5 * d, "D") for d in range(dates)]
    return xr.DataArray(data, dims=("time", "y", "x"), coords={"time": times}, name="ndvi")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dates", type=int, default=73)
    parser.add_argument("--pixels", type=int, default=512, help="side of the square landpulse runs on")
    parser.add_argument("--bfast-pixels", type=int, default=40, help="side of the square bfast runs on")
    parser.add_argument("--bfast-python", type=Path, default=REPO / ".venv-bfast" / "bin" / "python")
    args = parser.parse_args()
    s = stack(args.dates, args.pixels)
    kwargs = {"history": "all", "order": 3, "trend": True, "h": 0.25, "end": 10, "level": 0.05}
    change.bfast_monitor(s.isel(y=slice(0, 8), x=slice(0, 8)), MONITOR, **kwargs).compute()  # compile
    t0 = time.perf_counter()
    ours = change.bfast_monitor(s, MONITOR, **kwargs).compute()
    seconds = time.perf_counter() - t0
    px = args.pixels**2
    print(json.dumps({"landpulse_pixels": px, "landpulse_s": round(seconds, 3), "landpulse_px_per_s": round(px / seconds)}))
    if not args.bfast_python.exists():
        print(f"bfast not measured: no interpreter at {args.bfast_python} (make bench-bfast-env)")
        return
    n = args.bfast_pixels
    with tempfile.TemporaryDirectory() as tmp:
        np.save(f"{tmp}/data.npy", s.values[:, :n, :n])
        dates = json.dumps([str(t)[:19] for t in s.time.values.astype("datetime64[s]")])
        run = subprocess.run([str(args.bfast_python), "-c", BFAST_SCRIPT, f"{tmp}/data.npy", dates, MONITOR.isoformat(),
                              f"{tmp}/breaks.npy"], capture_output=True, text=True, check=False)
        if run.returncode:
            sys.exit(f"bfast failed: {run.stderr[-2000:]}")
        theirs = json.loads(run.stdout.strip().splitlines()[-1])["seconds"]
        their_breaks = np.load(f"{tmp}/breaks.npy")
    flags = ours["breaks"].values[:n, :n]
    valid = flags != 255
    # bfast: -2 no data, -1 no break, else the index (in the monitoring period) of the break
    agree = ((their_breaks[valid] >= 0) == (flags[valid] == 1)).mean()
    ours_rate, their_rate = px / seconds, n * n / theirs
    print(json.dumps({"bfast_pixels": n * n, "bfast_s": round(theirs, 3), "bfast_px_per_s": round(their_rate),
                      "speedup": round(ours_rate / their_rate, 1), "break_flag_agreement": round(float(agree), 4),
                      "pixels_compared": int(valid.sum())}))


if __name__ == "__main__":
    main()
