#!/usr/bin/env python3
"""Change-detection demo on real imagery shipped with landpulse: Landsat 7 (2001-07-30) and
Landsat 8 (2013-07-07) over one 41 x 41 pixel (1.2 x 1.2 km) grid near Marburg, Germany.

Ingests both scenes into one Zarr store (raw digital numbers, per-date radiometry from the STAC
items), then computes and writes, each as Zarr (float32 / uint8, checksummed), PNG quick-look
and a summary in ``summary.json``:

* dNDVI (2013 - 2001) with classes (loss < -0.1 <= stable < 0.1 <= gain);
* dNBR (2001 - 2013) with the USGS burn-severity classes (there was no fire: expect "unburned"
  almost everywhere; the classes show what the product looks like);
* change-vector analysis over red, nir and swir16 reflectance with an Otsu change mask.

NBR, (nir - swir22) / (nir + swir22), comes from the index catalogue (``landpulse.indices``).

Usage: python scripts/demo_change.py [--out demo-output/change]
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np

import landpulse
from landpulse import change
from landpulse.datasets import change_scene_items
from landpulse.io import ingest, scene_from_stac_item, write_product
from landpulse.viz import plot_classes, plot_product

BANDS = ["blue", "green", "red", "nir", "swir16", "swir22"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("demo-output") / "change")
    args = parser.parse_args()
    out: Path = args.out
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)

    scenes = [scene_from_stac_item(p, bands=BANDS) for p in change_scene_items()]
    store = ingest(scenes, out / "scenes.zarr")
    ds = landpulse.open_store(store)
    before, after = ds.isel(time=0), ds.isel(time=1)
    dates = [str(np.datetime_as_string(t, unit="D")) for t in ds.time.values]
    print(f"ingested {store}: {dict(ds.sizes)}, dates {dates}, CRS {ds.rio.crs}")

    dndvi = change.dndvi(before, after, thresholds=(-0.1, 0.1), labels=("loss", "stable", "gain"))
    nbr = [landpulse.indices(s, ["nbr"])["nbr"] for s in (before, after)]
    dnbr = change.dnbr(nbr[0], nbr[1])
    cva = change.cva(before[["red", "nir", "swir16"]], after[["red", "nir", "swir16"]])

    summary: dict[str, object] = {"dates": dates, "grid": dict(ds.sizes), "crs": str(ds.rio.crs)}
    for name, product in (("dndvi", dndvi), ("dnbr", dnbr), ("cva", cva)):
        product = product.compute()
        path = write_product(product, out / f"{name}.zarr", encoding="float32")
        print(f"wrote {path}")
        for var in product.data_vars:
            da = product[var]
            if "flag_meanings" in da.attrs:
                names = da.attrs["flag_meanings"].split()
                vals = [int(v) for v in np.atleast_1d(da.attrs["flag_values"])]
                counts = {n: int((da.values == v).sum()) for n, v in zip(names, vals, strict=True)}
                counts["nodata"] = int((da.values == 255).sum())
                summary[f"{name}.{var}"] = counts
                cmap = {"change_class": "RdYlGn", "burn_severity": "RdYlGn_r", "change": "coolwarm"}.get(var, "tab10")
                fig = plot_classes(da, title=f"{var}: {dates[0]} -> {dates[1]}", cmap=cmap)
            else:
                v = da.values
                summary[f"{name}.{var}"] = {"min": float(np.nanmin(v)), "median": float(np.nanmedian(v)),
                                            "max": float(np.nanmax(v))}
                style = "magnitude" if var == "magnitude" else ("difference" if var in ("dndvi", "dnbr") else None)
                if style is None:
                    continue
                fig = plot_product(da, style=style, title=f"{var}: {dates[0]} -> {dates[1]}")
            png = out / f"{name}_{var}.png"
            fig.savefig(png, dpi=90)
            print(f"wrote {png}")
    summary["cva.threshold"] = float(cva.change.attrs["threshold"])
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    print(f"Change products (Zarr), quick-looks (PNG) and summary.json are in {out}")


if __name__ == "__main__":
    main()
