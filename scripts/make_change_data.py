#!/usr/bin/env python3
"""Make the real multi-date imagery landpulse ships for change detection: Landsat 7 (2001) and
Landsat 8 (2013) over one 41 x 41 pixel grid near Marburg, Germany.

Source: the Debian package ``r-cran-satellite`` 1.0.4-2+b1 (amd64), directory
``usr/lib/R/site-library/satellite/extdata``: USGS Landsat Collection 1 Level-1 crops
LE07_L1TP_195025_20010730_20170204_01_T1 and LC08_L1TP_195025_20130707_20170503_01_T1 with
their MTL files. Landsat data are public domain (USGS); the R package's code is GPL-3+ and none
of it is used. The package is downloaded with ``apt-get download`` and unpacked with
``dpkg -x``; R is never installed.

For each date this writes the six reflective bands (blue, green, red, nir, swir16, swir22) as
the original int16 digital numbers (DEFLATE GeoTIFF, EPSG:32632, 30 m), the MTL file, and a
STAC item whose ``raster:bands`` carry top-of-atmosphere reflectance with the sun-elevation
correction of the Landsat handbook: rho = (M * DN + A) / sin(sun elevation), i.e. scale
M / sin(SE), offset A / sin(SE), from the MTL's REFLECTANCE_MULT/ADD_BAND_n and SUN_ELEVATION.

Usage: python scripts/make_change_data.py [--deb PATH] [--out DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import rasterio

PACKAGE = "r-cran-satellite=1.0.4-2+b1"
DEB_SHA256 = "964cec4b9141823455406ad1355489210543377fb6dbd97cff3e9d5b5e15d82d"
EXTDATA = "usr/lib/R/site-library/satellite/extdata"
OUT = Path(__file__).resolve().parents[1] / "src" / "landpulse" / "sample_data" / "landsat-marburg-2001-2013"

SCENES = {
    "LE07_L1TP_195025_20010730_20170204_01_T1": {
        "platform": "landsat-7", "instruments": ["etm+"],
        "bands": {"B1": ("blue", 0.48), "B2": ("green", 0.56), "B3": ("red", 0.66), "B4": ("nir", 0.84),
                  "B5": ("swir16", 1.65), "B7": ("swir22", 2.22)},
    },
    "LC08_L1TP_195025_20130707_20170503_01_T1": {
        "platform": "landsat-8", "instruments": ["oli"],
        "bands": {"B2": ("blue", 0.48), "B3": ("green", 0.56), "B4": ("red", 0.655), "B5": ("nir", 0.865),
                  "B6": ("swir16", 1.61), "B7": ("swir22", 2.2)},
    },
}


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def mtl_values(text: str) -> dict[str, str]:
    return {m.group(1): m.group(2).strip().strip('"') for m in re.finditer(r"^\s*(\w+) = (.+)$", text, re.M)}


def fetch_deb(dest: Path) -> Path:
    subprocess.run(["apt-get", "download", PACKAGE], cwd=dest, check=True)
    return next(dest.glob("r-cran-satellite_*.deb"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deb", type=Path, help="a local copy of the .deb")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        deb = args.deb or fetch_deb(tmpdir)
        if sha256(deb) != DEB_SHA256:
            raise SystemExit(f"{deb}: sha256 does not match the pinned {DEB_SHA256}")
        subprocess.run(["dpkg", "-x", str(deb), str(tmpdir / "x")], check=True)
        src_dir = tmpdir / "x" / EXTDATA
        if args.out.exists():
            shutil.rmtree(args.out)
        for scene_id, info in SCENES.items():
            mtl_text = (src_dir / f"{scene_id}_MTL.txt").read_text()
            mtl = mtl_values(mtl_text)
            date = mtl["DATE_ACQUIRED"]
            folder = args.out / f"{scene_id[:4]}_{date}"
            folder.mkdir(parents=True)
            (folder / f"{scene_id}_MTL.txt").write_text(mtl_text)
            sin_se = math.sin(math.radians(float(mtl["SUN_ELEVATION"])))
            assets = {}
            bounds = None
            for bid, (common, wl) in info["bands"].items():
                n = bid[1:]
                mult = float(mtl[f"REFLECTANCE_MULT_BAND_{n}"])
                add = float(mtl[f"REFLECTANCE_ADD_BAND_{n}"])
                with rasterio.open(src_dir / f"{scene_id}_{bid}.TIF") as src:
                    data = src.read(1)
                    profile = src.profile.copy()
                    crs, transform, bounds = src.crs, src.transform, src.bounds
                profile.update(driver="GTiff", compress="deflate", predictor=2, tiled=False, nodata=0)
                out_path = folder / f"{bid}.tif"
                with rasterio.open(out_path, "w", **profile) as dst:
                    dst.write(data, 1)
                    dst.update_tags(SOURCE=f"Debian {PACKAGE} {EXTDATA}/{scene_id}_{bid}.TIF",
                                    LICENSE="public domain (USGS Landsat)")
                t = transform
                assets[common] = {
                    "href": f"./{bid}.tif",
                    "type": "image/tiff; application=geotiff",
                    "title": f"{common} ({bid}), Level-1 digital numbers",
                    "roles": ["data"],
                    "eo:bands": [{"name": bid, "common_name": common, "center_wavelength": wl}],
                    "gsd": 30,
                    "proj:shape": [data.shape[0], data.shape[1]],
                    "proj:transform": [t.a, t.b, t.c, t.d, t.e, t.f],
                    "raster:bands": [{"nodata": 0, "data_type": "int16", "spatial_resolution": 30,
                                      "scale": mult / sin_se, "offset": add / sin_se,
                                      "unit": "top-of-atmosphere reflectance (sun-elevation corrected)"}],
                    "file:checksum_sha256": sha256(out_path),
                }
            from rasterio.warp import transform_bounds

            lon0, lat0, lon1, lat1 = transform_bounds(crs, "EPSG:4326", *bounds)
            item = {
                "type": "Feature",
                "stac_version": "1.0.0",
                "stac_extensions": [
                    "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
                    "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
                    "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
                ],
                "id": scene_id,
                "collection": "landsat-c1-l1",
                "bbox": [lon0, lat0, lon1, lat1],
                "geometry": {"type": "Polygon", "coordinates": [[[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]]},
                "properties": {
                    "datetime": f"{date}T{mtl['SCENE_CENTER_TIME'][:8]}Z",
                    "platform": info["platform"],
                    "instruments": info["instruments"],
                    "view:sun_elevation": float(mtl["SUN_ELEVATION"]),
                    "proj:epsg": int(crs.to_epsg()),
                    "landpulse:note": (
                        f"41 x 41 pixel crop shipped in the Debian package {PACKAGE} (sha256 {DEB_SHA256}); "
                        "USGS Landsat data, public domain. Scale/offset: MTL REFLECTANCE_MULT/ADD divided by "
                        "sin(SUN_ELEVATION) (top-of-atmosphere reflectance)."
                    ),
                },
                "links": [{"rel": "license", "href": "https://www.usgs.gov/information-policies-and-instructions/copyrights-and-credits"}],
                "assets": assets,
            }
            (folder / "item.json").write_text(json.dumps(item, indent=2) + "\n")
            print(f"wrote {folder}")


if __name__ == "__main__":
    main()
