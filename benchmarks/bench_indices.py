#!/usr/bin/env python
"""CPU benchmark: six spectral indices plus the cloud mask on one full Sentinel-2 tile, fused.

One process, one run, one tile of 10980 x 10980 pixels:

* bands: the bundled real Sentinel-2 L1C crop (``src/landpulse/sample_data``, 800 x 800 px at
  10 m, tile 18SVG, 2016-01-12; the 20 m SWIR bands nearest-resampled to 10 m by ``landpulse
  ingest``) mirror-tiled to 10980 x 10980: real pixel values, repeated, none invented;
* classification: the real Sen2Cor SCL of the Bolzano series (../shared/data, 2022-06-02, half
  cloudy) mirror-tiled the same way, as uint8 (the mask rows are skipped when the shared data is
  absent).

The six indices are those xarray-spatial also implements (NDVI, EVI, SAVI, NBR, NBR2, NDMI), read
from five uint16 bands (blue, red, nir, swir16, swir22). Timed, best of ``--repeats``:

1. landpulse kernels with preallocated outputs (the memory traffic of the kernel itself): NDVI
   alone; the six fused; the six fused plus the mask; the six one by one (one generated kernel
   each, the time summed);
2. the same through the registered kernel entries, which allocate their outputs (what a caller
   of the in-memory path pays, page faults included);
3. xarray-spatial's per-index functions (``xrspatial.multispectral``) on NumPy-backed DataArrays
   of float32 reflectance (converted beforehand, untimed: xarray-spatial applies no scale/offset).

Every time is paired with a bandwidth probe of the same run (a Numba ``prange`` triad,
a = b + s * c over float32, 12 bytes per element) and the bytes each variant must move; and the
xarray-spatial values are checked against landpulse's on a window (its SAVI divides by (1 + L)
where Huete (1988) multiplies: off by (1 + L)^2 = 2.25 at L = 0.5).

``--smoke`` runs on a 512 x 512 tile so that the script is tested by ``make test``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numba import njit, prange

import landpulse
from landpulse.backend import Validity, get_kernel
from landpulse.backend.blocks import radiometry_vectors
from landpulse.backend.codegen import host_arrays
from landpulse.backend.cpu.fused import load_module
from landpulse.products.indices import index_program
from landpulse.products.masking import Mask, sensor_mask_rules
from landpulse.spec.index_catalogue import get_index

SIX = ["ndvi", "evi", "savi", "nbr", "nbr2", "ndmi"]
BANDS = ["blue", "red", "nir", "swir16", "swir22"]
S2 = Validity.of(0, (1, 65534))
S2_20M = Validity.of(0, (1, 32766))
TILE = 10980
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "s2l2a-bolzano-2022-06.zarr"


def load_tile(size: int) -> tuple[dict[str, np.ndarray], np.ndarray | None, str]:
    """The real bands (and SCL) mirror-tiled to ``size`` x ``size``, as (1, size, size) arrays."""
    from landpulse.datasets import sample_scene_item
    from landpulse.io import ingest, scene_from_stac_item

    with tempfile.TemporaryDirectory() as tmp:
        store = ingest(scene_from_stac_item(sample_scene_item(), bands=BANDS), Path(tmp) / "s.zarr")
        ds = landpulse.open_store(store)
        crop = {b: ds[b].values[0] for b in BANDS}

    def tile(a: np.ndarray) -> np.ndarray:
        a = a[:size, :size]
        out = np.pad(a, ((0, size - a.shape[0]), (0, size - a.shape[1])), mode="symmetric")
        return np.ascontiguousarray(out[None])

    bands = {b: tile(v) for b, v in crop.items()}
    scl = None
    source = f"bundled S2 L1C crop {crop['red'].shape[0]} x {crop['red'].shape[1]} mirror-tiled"
    if SHARED.exists():
        import xarray as xr

        s = xr.open_zarr(SHARED, consolidated=False)["SCL"].isel(t=0).values
        scl = tile(np.nan_to_num(s, nan=0).astype(np.uint8))
        source += f"; SCL Bolzano 2022-06-02 {s.shape[0]} x {s.shape[1]} mirror-tiled"
    return bands, scl, source


@njit(parallel=True, nogil=True, cache=True)
def _triad(a, b, c, s):  # type: ignore[no-untyped-def]
    for i in prange(a.size):
        a[i] = b[i] + s * c[i]


def bandwidth_gbs(n: int = 50_000_000, repeats: int = 5) -> float:
    """STREAM-style triad bandwidth (GB/s, 12 bytes per element), best of ``repeats``."""
    a, b, c = (np.full(n, v, np.float32) for v in (0.0, 1.0, 2.0))
    _triad(a[:16], b[:16], c[:16], np.float32(3.0))
    best = min(_timed(lambda: _triad(a, b, c, np.float32(3.0))) for _ in range(repeats))
    return 12 * n / best / 1e9


def _timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def best_of(fn: Callable[[], Any], repeats: int) -> float:
    fn()  # warm (compiles, faults pages in)
    return min(_timed(fn) for _ in range(repeats))


class FusedCall:
    """A generated kernel's parallel driver with every argument prepared (kernel-only timing)."""

    def __init__(self, names: list[str], bands: dict[str, np.ndarray], scl: np.ndarray | None,
                 outs: list[np.ndarray], mask_out: np.ndarray | None) -> None:
        info = index_program(names, with_mask=scl is not None)
        self.program = info.program
        common = {"B": "blue", "R": "red", "N": "nir", "S1": "swir16", "S2": "swir22", "G": "green"}
        arrays = [bands[common[s]] for s in info.symbols]
        valid = [S2 if common[s] in ("blue", "red", "nir") else S2_20M for s in info.symbols]
        vecs = [radiometry_vectors(1e-4, 0.0, (1,)) for _ in info.symbols]
        sc, of, va, cs = host_arrays(self.program, [v[0] for v in vecs], [v[1] for v in vecs], valid,
                                     info.constant_values, 1, [a.dtype for a in arrays])
        args: list[Any] = list(arrays)
        if scl is not None:
            lut, _ = sensor_mask_rules("sentinel2-l2a").tables(Mask())
            args += [scl, lut, np.int64(lut.size)]
        args += [sc, of, va, cs, np.int64(1), *outs[: len(names)]]
        if scl is not None:
            args.append(mask_out)
        args.append(0)
        self.args = args
        self.run = load_module(self.program).run_parallel
        self.bytes = sum(a.nbytes for a in arrays) + (scl.nbytes if scl is not None else 0) \
            + sum(o.nbytes for o in outs[: len(names)]) + (mask_out.nbytes if scl is not None and mask_out is not None else 0)

    def __call__(self) -> None:
        self.run(*self.args)


def registered_call(names: list[str], bands: dict[str, np.ndarray], scl: np.ndarray | None) -> Callable[[], Any]:
    info = index_program(names, with_mask=scl is not None)
    common = {"B": "blue", "R": "red", "N": "nir", "S1": "swir16", "S2": "swir22"}
    arrays = [bands[common[s]] for s in info.symbols]
    valid = tuple(S2 if common[s] in ("blue", "red", "nir") else S2_20M for s in info.symbols)
    lut = sensor_mask_rules("sentinel2-l2a").tables(Mask())[0] if scl is not None else None
    kernel = get_kernel("indices", "cpu")
    imgs = arrays + ([scl] if scl is not None else [])
    params = [1e-4] * len(arrays) + [0.0] * len(arrays)
    return lambda: kernel(*imgs, *params, program=info.program, valid=valid, constants=info.constant_values, lut=lut)


def xrspatial_calls(bands: dict[str, np.ndarray]) -> dict[str, tuple[list[str], Callable[..., Any]]]:
    from xrspatial import multispectral as ms

    return {
        "ndvi": (["nir", "red"], lambda b: ms.ndvi(b["nir"], b["red"])),
        "evi": (["nir", "red", "blue"], lambda b: ms.evi(b["nir"], b["red"], b["blue"])),
        "savi": (["nir", "red"], lambda b: ms.savi(b["nir"], b["red"], soil_factor=0.5)),
        "nbr": (["nir", "swir22"], lambda b: ms.nbr(b["nir"], b["swir22"])),
        "nbr2": (["swir16", "swir22"], lambda b: ms.nbr2(b["swir16"], b["swir22"])),
        "ndmi": (["nir", "swir16"], lambda b: ms.ndmi(b["nir"], b["swir16"])),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=TILE, help="tile side in pixels (10980: a Sentinel-2 tile)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="a 512 x 512 tile, one repeat (tests)")
    parser.add_argument("--no-xrspatial", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    args = parser.parse_args(argv)
    size, repeats = (512, 1) if args.smoke else (args.size, args.repeats)

    report: dict[str, Any] = {"size": size, "machine": f"{platform.machine()} x{os.cpu_count()}",
                              "load_before": os.getloadavg(), "indices": SIX, "rows": []}
    report["bandwidth_gbs"] = bandwidth_gbs(2_000_000 if args.smoke else 50_000_000)
    bands, scl, source = load_tile(size)
    report["data"] = source
    px = size * size

    def row(name: str, seconds: float, nbytes: int, how: str) -> None:
        report["rows"].append({"variant": name, "s": seconds, "bytes": nbytes, "how": how,
                               "gbs": nbytes / seconds / 1e9, "floor_s": nbytes / (report["bandwidth_gbs"] * 1e9)})

    # 1. kernel only: preallocated (and pre-faulted) outputs
    outs = [np.zeros((1, size, size), np.float32) for _ in SIX]
    mask_out = np.zeros((1, size, size), np.uint8)
    call = FusedCall(["ndvi"], bands, None, outs, None)
    row("NDVI alone (generated kernel)", best_of(call, repeats), call.bytes, "kernel only")
    call = FusedCall(SIX, bands, None, outs, None)
    row("six fused", best_of(call, repeats), call.bytes, "kernel only")
    if scl is not None:
        call = FusedCall(SIX, bands, scl, outs, mask_out)
        row("six fused + SCL mask", best_of(call, repeats), call.bytes, "kernel only")
    singles = [FusedCall([n], bands, None, [outs[k]], None) for k, n in enumerate(SIX)]
    row("six one by one (generated kernels)", sum(best_of(c, repeats) for c in singles),
        sum(c.bytes for c in singles), "kernel only")
    del outs, mask_out, call, singles

    # 2. through the registered kernel entries (outputs allocated per call)
    row("NDVI alone", best_of(registered_call(["ndvi"], bands, None), repeats), 8 * px, "allocating")
    if scl is not None:
        row("six fused + SCL mask", best_of(registered_call(SIX, bands, scl), repeats),
            (5 * 2 + 1 + 6 * 4 + 1) * px, "allocating")
    row("six fused", best_of(registered_call(SIX, bands, None), repeats), (5 * 2 + 6 * 4) * px, "allocating")
    row("six one by one", sum(best_of(registered_call([n], bands, None), repeats) for n in SIX),
        sum((2 * len(get_index(n).bands) + 4) * px for n in SIX), "allocating")

    # 3. xarray-spatial, per index, on float32 reflectance DataArrays
    check: dict[str, Any] = {}
    try:
        import xrspatial  # noqa: F401  (the peer; in the `bench` extra)
    except ImportError:
        if not args.no_xrspatial:
            print("xarray-spatial is not installed (pip install 'landpulse[bench]'): its rows are skipped")
        args.no_xrspatial = True
    if not args.no_xrspatial:
        import xarray as xr

        window = (slice(None), slice(0, min(size, 1000)), slice(0, min(size, 1000)))
        ours = registered_call(SIX, {b: v[window] for b, v in bands.items()}, None)()
        total = 0.0
        nbytes = 0
        for k, (name, (needed, fn)) in enumerate(xrspatial_calls(bands).items()):
            refl = {b: xr.DataArray((bands[b][0] * np.float32(1e-4)).astype(np.float32), dims=("y", "x"))
                    for b in needed}
            total += best_of(lambda fn=fn, refl=refl: fn(refl), repeats)
            nbytes += (4 * len(needed) + 4) * px
            theirs = fn({b: v[window[1:]] for b, v in refl.items()}).values
            mine = ours[k][0]
            both = np.isfinite(theirs) & np.isfinite(mine)
            check[name] = {"max_abs_diff": float(np.max(np.abs(theirs[both] - mine[both]))) if both.any() else None,
                           "median_ratio": float(np.median(mine[both & (theirs != 0)] / theirs[both & (theirs != 0)])) if both.any() else None}
            del refl
        row("six one by one (xarray-spatial)", total, nbytes, "allocating, float32 reflectance in")
    report["xrspatial_check"] = check
    report["load_after"] = os.getloadavg()
    report["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(markdown(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return report


def markdown(report: dict[str, Any]) -> str:
    size = report["size"]
    lines = [
        f"tile {size} x {size} ({report['data']}); {report['machine']}; load "
        f"{'/'.join(f'{v:.2f}' for v in report['load_before'])} before, "
        f"{'/'.join(f'{v:.2f}' for v in report['load_after'])} after; triad bandwidth "
        f"{report['bandwidth_gbs']:.1f} GB/s; peak RSS {report['peak_rss_mb']:.0f} MB",
        "",
        "| variant | how | time (ms) | bytes moved (GB) | GB/s | floor at triad bandwidth (ms) |",
        "|---|---|---|---|---|---|",
    ]
    for r in report["rows"]:
        lines.append(f"| {r['variant']} | {r['how']} | {1e3 * r['s']:.0f} | {r['bytes'] / 1e9:.2f} | "
                     f"{r['gbs']:.1f} | {1e3 * r['floor_s']:.0f} |")
    rows = {(r["variant"], r["how"]): r["s"] for r in report["rows"]}
    ratios = []
    for how in ("kernel only", "allocating"):
        ndvi = rows.get(("NDVI alone (generated kernel)", how)) or rows.get(("NDVI alone", how))
        fused = rows.get(("six fused + SCL mask", how)) or rows.get(("six fused", how))
        one = rows.get(("six one by one (generated kernels)", how)) or rows.get(("six one by one", how))
        if ndvi and fused:
            ratios.append(f"{how}: six fused (+ mask) / NDVI alone = {fused / ndvi:.2f}x; one by one / fused = "
                          f"{one / fused:.2f}x" if one else "")
    xrs = rows.get(("six one by one (xarray-spatial)", "allocating, float32 reflectance in"))
    fused_alloc = rows.get(("six fused + SCL mask", "allocating")) or rows.get(("six fused", "allocating"))
    if xrs and fused_alloc:
        ratios.append(f"xarray-spatial (six, one by one) / landpulse fused = {xrs / fused_alloc:.1f}x")
    lines += ["", *[f"- {r}" for r in ratios if r]]
    if report.get("xrspatial_check"):
        lines.append("- xarray-spatial vs landpulse on a 1000 x 1000 window: " + ", ".join(
            f"{k} max |diff| {v['max_abs_diff']:.1e}, median ratio {v['median_ratio']:.3f}"
            for k, v in report["xrspatial_check"].items() if v["max_abs_diff"] is not None))
    return "\n".join(lines)


if __name__ == "__main__":
    main(sys.argv[1:])
