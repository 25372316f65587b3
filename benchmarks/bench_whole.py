"""Whole commands, as whole processes: landpulse against the hand-written loop and GDAL.

What a user waits for is the command, imports and exit included. Every case here is a
subprocess; its wall time is measured around it and its CPU time (user + system, its children
included: a local cluster's workers) from ``resource.getrusage(RUSAGE_CHILDREN)``. The cases run
round-robin (every round runs each case once), so landpulse and its reference see the same
machine state; a ratio is the median over rounds of the ratio within the round.

Small scenes (always):

* ``job``: ``landpulse run job.yaml`` on the shared Bolzano series (real Sentinel-2 L2A, 12 dates,
  705 x 935, float32 reflectance x 1e4, ``inputs.radiometry`` declared) -> NDVI units with a
  Zarr store, a COG and a quick-look each, on the cluster landpulse chooses (``--cluster`` rows:
  forced kinds); against ``hand_loop.py ndvi`` (zarr read, NumPy, Zarr v3 write with the same
  codecs, rasterio COG, Pillow PNG: the same outputs, without ledger, checksums or STAC).
* ``nothing``: the same job again (nothing to do), against ``python -c "import numpy, zarr, rasterio"``.
* ``help``: ``landpulse --help``, against ``python -c pass``.
* ``ingest --append``: one date (the bundled scene relabelled 10 days later) appended to a store of
  the bundled scene, the nightly ingest.
* ``ingest``: ``landpulse ingest`` of the bundled Sentinel-2 L1C scene (10 bands, 800 x 800 at
  10 m, CC0) against ``hand_loop.py ingest`` (rasterio + zarr, same codecs) and GDAL
  (``gdalbuildvrt -separate`` + ``gdal_translate -of Zarr``, blosc-lz4, ``GDAL_NUM_THREADS=ALL_CPUS``).

Full-tile ingest (``--ingest-tile``): six bands of the bundled L1C scene **mirror-tiled** to a
whole Sentinel-2 tile (B02, B03, B04, B08 at 10980 x 10980, B11, B12 at 5490 x 5490; real pixel
values and texture, not a real acquisition), written once into ``--cache`` as tiled deflate
GeoTIFFs (1024 px blocks, predictor 2, as COG archives serve them); ``landpulse ingest`` against
``gdalbuildvrt -separate`` + ``gdal_translate -of Zarr`` (blosc-lz4, 2196 px blocks, the chunks
landpulse chooses), both with every core (``GDAL_NUM_THREADS=ALL_CPUS`` for GDAL).

Full tile (``--tile``): a 10980 x 10980 red/nir store, the bundled real crop **mirror-tiled**
(real pixel values and texture, not a real acquisition; ``bench_pipeline.make_input``), generated
once into ``--cache`` and reused; ``landpulse run`` (NDVI, no COG, no quick-look) against the I/O
floor of ``bench_pipeline.floor`` (read, checksum, decode, kernel, pack, encode, write; a thread per
core) run as a process.

    python benchmarks/bench_whole.py                      # small scenes, 3 rounds
    python benchmarks/bench_whole.py --tile --tile-dates 2
    python benchmarks/bench_whole.py --ingest-only        # ingest, small scene and full tile, against GDAL
    python benchmarks/bench_whole.py --smoke              # one round, checks the script works
    python benchmarks/bench_whole.py --startup-only --baseline /tmp/base   # start-up cases only, before/after

``--baseline DIR``: a source tree of another landpulse version (``git archive <commit> src | tar -x
-C DIR``) whose ``landpulse --help``, ``validate`` and nothing-to-do run are timed in the same rounds
(``python -m landpulse.cli`` with ``PYTHONPATH=DIR/src``, the same for this version), so before and
after see the same machine state.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BIN = Path(sys.executable).parent
BOLZANO = REPO.parent / "shared" / "data" / "s2l2a-bolzano-2022-06.zarr"
SAMPLE_ITEM = REPO / "src" / "landpulse" / "sample_data" / "s2-l1c-18SVG-2016-01-12" / "item.json"
OUT = Path(os.environ.get("LANDPULSE_BENCH_DIR", REPO / "bench-output"))
CACHE = Path(os.environ.get("LANDPULSE_BENCH_CACHE", Path.home() / ".cache" / "landpulse" / "bench"))


def timed(cmd: list[str], *, cwd: Path | None = None, prepare: Any = None) -> dict[str, float]:
    """Run ``cmd`` to completion; its wall and CPU seconds (children included)."""
    if prepare is not None:
        prepare()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": wall, "cpu": cpu}


def _rm(*paths: Path) -> Any:
    def go() -> None:
        for p in paths:
            shutil.rmtree(p, ignore_errors=True)
    return go


def job_file(work: Path, *, src: Path, tile: str, out: Path, cog: bool, quicklooks: bool,
             radiometry: bool, bands: dict[str, str] | None) -> Path:
    """A job spec without a ``cluster:`` section (landpulse chooses), written as YAML-compatible JSON."""
    inputs: dict[str, Any] = {"kind": "zarr", "stores": [{"path": str(src), "tile": tile}]}
    if radiometry:
        inputs["radiometry"] = {"scale": 1e-4, "offset": 0}
    if bands:
        inputs["bands"] = bands
    spec = {"name": "bench", "inputs": inputs, "products": ["ndvi"],
            "output": {"store": str(out / "products"), "reports": str(out / "reports"), "cog": cog,
                       "quicklooks": quicklooks}}
    path = work / f"job-{tile}.yaml"
    path.write_text(json.dumps(spec, indent=1) + "\n")  # JSON is YAML
    return path


def small_cases(work: Path) -> dict[str, tuple[list[str], Any]]:
    lp = str(BIN / "landpulse")
    py = sys.executable
    job_out = work / "job"
    job = job_file(work, src=BOLZANO, tile="32TPS", out=job_out, cog=True, quicklooks=True, radiometry=True,
                   bands={"red": "B04", "nir": "B08"})
    vrt = work / "gdal.vrt"
    tifs = sorted(str(p) for p in SAMPLE_ITEM.parent.glob("B*.tif"))
    gdal = ("gdalbuildvrt -q -separate -resolution highest -r nearest {vrt} {tifs} && GDAL_NUM_THREADS=ALL_CPUS "
            "gdal_translate -q -of Zarr -co COMPRESS=BLOSC -co BLOSC_CNAME=lz4 -co BLOSC_CLEVEL=5 "
            "-co BLOCKSIZE=800,800 {vrt} {out}").format(vrt=vrt, tifs=" ".join(tifs), out=work / "gdal.zarr")
    cases: dict[str, tuple[list[str], Any]] = {
        "python -c pass": ([py, "-c", "pass"], None),
        "import numpy, zarr, rasterio": ([py, "-c", "import numpy, zarr, rasterio"], None),
        "landpulse --help": ([lp, "--help"], None),
        "landpulse validate job": ([lp, "validate", str(job)], None),
        "hand loop: 12-date NDVI": ([py, str(HERE / "hand_loop.py"), "ndvi", str(BOLZANO), str(work / "hand")],
                                    _rm(work / "hand")),
        "landpulse run job (chosen cluster)": ([lp, "run", str(job)], _rm(job_out)),
        "landpulse run job (nothing to do)": ([lp, "run", str(job)], None),
        "landpulse run job --cluster threads": ([lp, "run", str(job), "--cluster", "threads"], _rm(job_out)),
        "landpulse run job --cluster local": ([lp, "run", str(job), "--cluster", "local"], _rm(job_out)),
        "GDAL ingest (gdalbuildvrt + gdal_translate)": (["sh", "-c", gdal], _rm(work / "gdal.zarr")),
        "hand loop: ingest": ([py, str(HERE / "hand_loop.py"), "ingest", str(SAMPLE_ITEM), str(work / "hand-ingest.zarr")],
                              _rm(work / "hand-ingest.zarr")),
        "landpulse ingest": ([lp, "ingest", str(work / "lp-ingest.zarr"), "--item", str(SAMPLE_ITEM)],
                             _rm(work / "lp-ingest.zarr")),
    }
    cases["landpulse ingest --append (one date)"] = (
        [lp, "ingest", str(work / "lp-append.zarr"), "--item", str(_later_item(work)), "--append"],
        _fresh_copy(_base_store(work), work / "lp-append.zarr"))
    if shutil.which("gdal_translate") is None:
        del cases["GDAL ingest (gdalbuildvrt + gdal_translate)"]
    return cases


def _later_item(work: Path) -> Path:
    """The bundled item as a scene of 2016-01-22 (same pixels, another id): a date to append."""
    item = json.loads(SAMPLE_ITEM.read_text())
    item["id"] += "_as_2016-01-22"
    item["properties"]["datetime"] = "2016-01-22T00:00:00Z"
    for asset in item["assets"].values():
        asset["href"] = str((SAMPLE_ITEM.parent / asset["href"]).resolve())
    path = work / "later-item.json"
    path.write_text(json.dumps(item))
    return path


def _base_store(work: Path) -> Path:
    """The bundled scene ingested once: the store each append case starts from."""
    base = work / "append-base.zarr"
    if not base.exists():
        subprocess.run([str(BIN / "landpulse"), "ingest", str(base), "--item", str(SAMPLE_ITEM)], check=True,
                       capture_output=True)
    return base


def _fresh_copy(src: Path, dst: Path) -> Any:
    def go() -> None:
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(src, dst)
    return go


STARTUP = ("python -c pass", "import numpy, zarr, rasterio", "landpulse --help", "landpulse validate job",
           "landpulse run job (nothing to do)")


def baseline_cases(work: Path, src: Path) -> dict[str, tuple[list[str], Any]]:
    """The start-up commands and the 12-date job (threads) of this version and of the one in
    ``src``, both as ``python -m``."""
    job = str(work / "job-32TPS.yaml")
    out: dict[str, tuple[list[str], Any]] = {}
    for label, path in (("before", src / "src"), ("after", REPO / "src")):
        cli = ["env", f"PYTHONPATH={path}", sys.executable, "-m", "landpulse.cli"]
        out[f"{label}: landpulse --help"] = ([*cli, "--help"], None)
        out[f"{label}: landpulse validate job"] = ([*cli, "validate", job], None)
        out[f"{label}: nothing-to-do run"] = ([*cli, "run", job], None)
    for label, path in (("before", src / "src"), ("after", REPO / "src")):
        cli = ["env", f"PYTHONPATH={path}", sys.executable, "-m", "landpulse.cli"]
        out[f"{label}: 12-date job --cluster threads"] = ([*cli, "run", job, "--cluster", "threads"], _rm(work / "job"))
    return out


RATIOS = [  # (label, numerator, denominator, target)
    ("12-date NDVI job / hand loop", "landpulse run job (chosen cluster)", "hand loop: 12-date NDVI", 1.3),
    ("  same, --cluster threads", "landpulse run job --cluster threads", "hand loop: 12-date NDVI", 1.3),
    ("  same, --cluster local", "landpulse run job --cluster local", "hand loop: 12-date NDVI", 1.3),
    ("nothing-to-do run / import numpy, zarr, rasterio", "landpulse run job (nothing to do)", "import numpy, zarr, rasterio", None),
    ("landpulse --help / python -c pass", "landpulse --help", "python -c pass", None),
    ("nothing-to-do run: after / before", "after: nothing-to-do run", "before: nothing-to-do run", None),
    ("landpulse --help: after / before", "after: landpulse --help", "before: landpulse --help", None),
    ("landpulse validate: after / before", "after: landpulse validate job", "before: landpulse validate job", None),
    ("12-date job --cluster threads: after / before", "after: 12-date job --cluster threads",
     "before: 12-date job --cluster threads", None),
    ("ingest / GDAL", "landpulse ingest", "GDAL ingest (gdalbuildvrt + gdal_translate)", 1.3),
    ("ingest / hand loop", "landpulse ingest", "hand loop: ingest", None),
    ("full-tile ingest / GDAL", "landpulse ingest, full tile", "GDAL ingest, full tile", 1.3),
    ("full tile job / I/O floor", "landpulse run tile job", "I/O floor (process)", 1.2),
]


def tile_cases(work: Path, dates: int, chunk: int) -> dict[str, tuple[list[str], Any]]:
    sys.path.insert(0, str(HERE))
    import bench_pipeline

    src = bench_pipeline.make_input(CACHE / f"tile-{dates}d-{chunk}.zarr", dates, chunk)
    cores = len(os.sched_getaffinity(0))
    job = job_file(work, src=src, tile="T00BENCH", out=work / "tile", cog=False, quicklooks=False, radiometry=False,
                   bands=None)
    floor = (f"import sys; sys.path.insert(0, {str(HERE)!r}); import bench_pipeline as b; from pathlib import Path; "
             f"b.floor(Path({str(src)!r}), Path({str(work / 'floor')!r}), {dates}, {chunk}, 5, {cores})")
    return {
        "I/O floor (process)": ([sys.executable, "-c", floor], _rm(work / "floor")),
        "landpulse run tile job": ([str(BIN / "landpulse"), "run", str(job)], _rm(work / "tile")),
    }


INGEST_TILE_BANDS = {"blue": "B02", "green": "B03", "red": "B04", "nir": "B08", "swir16": "B11", "swir22": "B12"}


def make_ingest_tile(folder: Path) -> Path:
    """The bundled scene's six bands mirror-tiled to a whole tile (see the module docstring); its item."""
    item_path = folder / "item.json"
    if item_path.exists():
        return item_path
    import numpy as np
    import rasterio

    folder.mkdir(parents=True, exist_ok=True)
    item = json.loads(SAMPLE_ITEM.read_text())
    item["id"] = "S2A_18SVG_20160112_L1C_mirror_tiled_10980"
    item["properties"]["landpulse:note"] = ("GENERATED for benchmarks: the bundled real crop mirror-tiled to "
                                            "10980 x 10980 px; not an acquisition")
    assets = {}
    for name, band in INGEST_TILE_BANDS.items():
        asset = dict(item["assets"][name])
        with rasterio.open(SAMPLE_ITEM.parent / f"{band}.tif") as src:
            data, profile = src.read(1), src.profile
        n = 10980 if data.shape[0] == 800 else 5490  # 10 m and 20 m bands
        tiled = np.pad(data, ((0, n - data.shape[0]), (0, n - data.shape[1])), mode="symmetric")
        profile.update(width=n, height=n, tiled=True, blockxsize=1024, blockysize=1024, compress="deflate",
                       predictor=2, num_threads="all_cpus")
        out = folder / f"{band}.tif"
        with rasterio.open(out, "w", **profile) as dst:
            dst.write(tiled, 1)
        asset["href"] = str(out)
        asset["proj:shape"] = [n, n]
        asset.pop("file:checksum_sha256", None)
        assets[name] = asset
    item["assets"] = assets
    item_path.write_text(json.dumps(item))
    return item_path


def ingest_tile_cases(work: Path) -> dict[str, tuple[list[str], Any]]:
    item = make_ingest_tile(CACHE / "ingest-tile")
    tifs = " ".join(str(item.parent / f"{b}.tif") for b in INGEST_TILE_BANDS.values())
    vrt, out = work / "gdal-tile.vrt", work / "gdal-tile.zarr"
    gdal = (f"gdalbuildvrt -q -separate -resolution highest -r nearest {vrt} {tifs} && GDAL_NUM_THREADS=ALL_CPUS "
            "gdal_translate -q -of Zarr -co COMPRESS=BLOSC -co BLOSC_CNAME=lz4 -co BLOSC_CLEVEL=5 "
            f"-co BLOCKSIZE=2196,2196 {vrt} {out}")
    return {
        "GDAL ingest, full tile": (["sh", "-c", gdal], _rm(out)),
        "landpulse ingest, full tile": ([str(BIN / "landpulse"), "ingest", str(work / "lp-tile.zarr"), "--item", str(item)],
                                        _rm(work / "lp-tile.zarr")),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tile", action="store_true", help="also the full 10980 x 10980 tile (generated once into --cache)")
    ap.add_argument("--tile-only", action="store_true", help="only the full tile")
    ap.add_argument("--ingest-tile", action="store_true", help="also ingest of a full tile against GDAL")
    ap.add_argument("--ingest-only", action="store_true", help="only the ingest cases (small scene and full tile)")
    ap.add_argument("--tile-dates", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=2196)
    ap.add_argument("--cache", type=Path, default=CACHE)
    ap.add_argument("--smoke", action="store_true", help="one round of the small cases, no warm-up, no forced clusters")
    ap.add_argument("--json", type=Path, default=OUT / "bench_whole.json")
    ap.add_argument("--startup-only", action="store_true", help="only the start-up cases (the job is run once first)")
    ap.add_argument("--baseline", type=Path, help="a source tree of another landpulse version to time alongside")
    args = ap.parse_args()
    globals()["CACHE"] = args.cache
    rounds = 1 if args.smoke else args.rounds
    if not BOLZANO.exists():
        print(f"the shared Bolzano series is not at {BOLZANO}", file=sys.stderr)
        return 2
    OUT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-whole-", dir=OUT))
    cases: dict[str, tuple[list[str], Any]] = {} if args.tile_only else small_cases(work)
    if args.smoke:  # the script works; numbers meaningless
        cases = {k: v for k, v in cases.items() if "--cluster" not in k}
    if args.startup_only:
        first = cases["landpulse run job (chosen cluster)"]
        timed(first[0], prepare=first[1])  # the units the nothing-to-do runs find committed
        cases = {k: v for k, v in cases.items() if k in STARTUP}
    if args.baseline is not None:
        cases.update(baseline_cases(work, args.baseline))
    if args.ingest_only:
        cases = {k: v for k, v in cases.items() if "ingest" in k}
    if args.tile or args.tile_only:
        cases.update(tile_cases(work, args.tile_dates, args.chunk))
    if args.ingest_tile or args.ingest_only:
        cases.update(ingest_tile_cases(work))
    times: dict[str, list[dict[str, float]]] = {name: [] for name in cases}
    load = [os.getloadavg()]
    try:
        for cmd, prepare in cases.values() if not args.smoke else ():  # warm-up: page cache, Numba cache, .pyc
            timed(cmd, prepare=prepare)
        for r in range(rounds):
            for name, (cmd, prepare) in cases.items():
                times[name].append(timed(cmd, prepare=prepare))
            load.append(os.getloadavg())
            print(f"round {r + 1}/{rounds} done, load {load[-1][0]:.2f}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    med = {n: {k: statistics.median(t[k] for t in ts) for k in ("wall", "cpu")} for n, ts in times.items()}
    print(f"\n{platform.node()}: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}; {rounds} round(s); load average per round: "
          + ", ".join(f"{la[0]:.2f}" for la in load))
    print("\n| command (whole process) | wall s (median) | CPU s (median) | all wall s |\n|---|---|---|---|")
    for n, ts in times.items():
        every = ", ".join(f"{t['wall']:.2f}" for t in ts)
        print(f"| {n} | {med[n]['wall']:.2f} | {med[n]['cpu']:.2f} | {every} |")
    print("\n| ratio (median of per-round ratios) | wall | CPU | target |\n|---|---|---|---|")
    ratios = {}
    for label, a, b, target in RATIOS:
        if a in times and b in times:
            w = statistics.median(x["wall"] / y["wall"] for x, y in zip(times[a], times[b], strict=True))
            c = statistics.median(x["cpu"] / max(y["cpu"], 1e-3) for x, y in zip(times[a], times[b], strict=True))
            ratios[label.strip()] = {"wall": w, "cpu": c, "target": target}
            print(f"| {label} | {w:.2f}x | {c:.2f}x | {f'<= {target}x' if target else '-'} |")
    if "landpulse run job (nothing to do)" in med:
        print(f"\nnothing-to-do run: {med['landpulse run job (nothing to do)']['wall']:.2f} s (target < 1 s)")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"machine": {"node": platform.node(), "cores": os.cpu_count(),
                                                 "python": platform.python_version()},
                                     "rounds": rounds, "load": load, "times": times, "medians": med,
                                     "ratios": ratios}, indent=1) + "\n")
    print(f"\nwritten: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
