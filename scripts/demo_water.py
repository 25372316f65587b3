#!/usr/bin/env python3
"""Water-extent demo on the real Sentinel-2 scene shipped with landpulse: the Eastern Shore of
Virginia (tile 18SVG, 2016-01-12, 800 x 800 pixels at 10 m): Atlantic Ocean, a barrier island,
salt marsh, tidal creeks and farmland.

Ingests the scene into a Zarr store (raw digital numbers, radiometry from the STAC item), then
computes and writes, each as a Zarr product (uint8 classes with CF flags, checksummed) with a PNG
quick-look:

* ``water_mndwi``: MNDWI (green, swir16) >= 0 (Xu 2006);
* ``water_otsu``: MNDWI >= the scene's Otsu threshold (from the whole scene's histogram);
* ``wofs``: the WOfS decision tree (Mueller et al. 2016): the bit-flag layer and the water classes.
  The scene is Level-1C (top-of-atmosphere reflectance) while WOfS was fitted on surface
  reflectance: its map is shown for comparison, outside the classifier's calibration.

``summary.json`` records the class areas in hectares (from the pixel size and CRS), the Otsu
threshold and how often the three maps agree. The scene has no classification band, so nothing is
masked (every product says so in its ``masking`` attribute).

Usage: python scripts/demo_water.py [--out demo-output/water]
"""

from __future__ import annotations

import argparse
import json
import shutil
import warnings
from pathlib import Path

import numpy as np

import landpulse
from landpulse import water
from landpulse.datasets import sample_scene_item
from landpulse.io import ingest, scene_from_stac_item, write_product
from landpulse.viz import class_colours, plot_classes, plot_product


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("demo-output") / "water")
    args = parser.parse_args()
    out: Path = args.out
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)

    store = ingest(scene_from_stac_item(sample_scene_item()), out / "scenes.zarr")
    ds = landpulse.open_store(store)
    date = str(np.datetime_as_string(ds.time.values[0], unit="D"))
    print(f"ingested {store}: {dict(ds.sizes)}, date {date}, CRS {ds.rio.crs}")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        products = {
            "water_mndwi": water.index_water(ds),
            "water_otsu": water.otsu_water(ds),
            "wofs": water.wofs(ds),
        }
    for w in caught:
        print(f"warning: {w.message}")

    summary: dict[str, object] = {"date": date, "grid": dict(ds.sizes), "crs": str(ds.rio.crs)}
    maps = {}
    for name, product in products.items():
        product = product.compute()
        path = write_product(product, out / f"{name}.zarr", encoding="float32")
        print(f"wrote {path}")
        wmap = product["water"]
        maps[name] = wmap.values
        summary[name] = {"areas_ha": water.area_report(product), "attrs": {
            k: str(wmap.attrs[k]) for k in ("method", "index", "threshold", "input_quantity") if k in wmap.attrs}}
        fig = plot_classes(wmap.isel(time=0), title=f"{name}: {wmap.attrs['long_name']}, {date}", cmap=class_colours(wmap))
        png = out / f"{name}.png"
        fig.savefig(png, dpi=90)
        print(f"wrote {png}")
        index_vars = [v for v in product.data_vars if v in ("mndwi", "ndwi")]
        if index_vars and name == "water_mndwi":
            fig = plot_product(product[index_vars[0]], style="index", title=f"{index_vars[0].upper()}, {date}")
            fig.savefig(out / f"{index_vars[0]}.png", dpi=90)
    summary["otsu_threshold"] = float(products["water_otsu"]["threshold"].values[0])
    flags = products["wofs"]["wofs"].values
    summary["wofs_flag_values"] = {str(int(v)): int(c) for v, c in zip(*np.unique(flags, return_counts=True), strict=True)}
    names = list(maps)
    summary["agreement"] = {f"{a}~{b}": round(float((maps[a] == maps[b]).mean()), 4)
                            for i, a in enumerate(names) for b in names[i + 1:]}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k not in names}, indent=2))
    for name in names:
        areas = summary[name]["areas_ha"]["water"]  # type: ignore[index]
        print(f"{name}: water {areas[date]['water']:.1f} ha, not water {areas[date]['not_water']:.1f} ha")
    print(f"Water products (Zarr), quick-looks (PNG) and summary.json are in {out}")


if __name__ == "__main__":
    main()
