"""COGs and STAC items made from the shared real Bolzano series, for the remote-input tests.

The pixels are real (Sentinel-2 L2A over Bolzano, June 2022, ../shared/data/README.md); what is
*derived* is the packaging: each date's B02/B03/B04/B08 (float32 reflectance x 1e4, NaN fill in
the openEO export) is written as a uint16 COG of the same digital numbers with nodata 0, and SCL
as a uint8 COG, on the series' own grid (EPSG:32632, 10 m), optionally cropped. The STAC items
say what the README says of the series: scale 1e-4, offset 0 (``raster:bands``), collection
``sentinel-2-l2a``, MGRS tile 32TPS. Item ids end in ``_bolzano_cog`` so no one takes them for
ESA's products.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import xarray as xr
from affine import Affine
from rasterio.warp import transform_bounds

from tests.support import BOLZANO

BANDS = {"B02": ("blue", 0.49), "B03": ("green", 0.56), "B04": ("red", 0.665), "B08": ("nir", 0.842)}
COLLECTION_ID = "sentinel-2-l2a"


def bolzano_dates() -> list[np.datetime64]:
    ds = xr.open_zarr(BOLZANO, consolidated=False)
    return [np.datetime64(t, "ns") for t in ds["t"].values]


def write_cog(path: Path, data: np.ndarray, transform: Affine, crs: str, nodata: float | None,
              blocksize: int = 256) -> None:
    """A tiled, deflate-compressed GeoTIFF with overviews: a COG by GDAL's COG driver."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path, "w", driver="COG", width=data.shape[1], height=data.shape[0], count=1,
                       dtype=data.dtype, crs=crs, transform=transform, nodata=nodata,
                       compress="DEFLATE", blocksize=blocksize, overview_resampling="nearest") as dst:
        dst.write(data, 1)


def write_bolzano_cogs(out: Path, dates: Sequence[int] = (1, 4, 7),
                       window: tuple[slice, slice] = (slice(0, 512), slice(0, 512)),
                       blocksize: int = 256) -> list[dict[str, Any]]:
    """Write COGs of the given Bolzano dates under ``out/<item id>/`` and return their items.

    Asset hrefs in the returned items are paths relative to ``out`` (``<id>/B04.tif``); use
    :func:`with_base` to point them at a server or at local files.
    """
    ds = xr.open_zarr(BOLZANO, consolidated=False)
    ys, xs = window
    sub = ds.isel(y=ys, x=xs)
    x, y = sub["x"].values, sub["y"].values
    res = float(x[1] - x[0])
    transform = Affine(res, 0.0, float(x[0]) - res / 2, 0.0, float(y[1] - y[0]), float(y[0]) - float(y[1] - y[0]) / 2)
    crs = "EPSG:32632"
    shape = (y.size, x.size)
    west, south, east, north = transform_bounds(crs, "EPSG:4326", *rasterio.transform.array_bounds(*shape, transform)[::1])
    items = []
    for k in dates:
        when = np.datetime64(sub["t"].values[k], "s").astype(dt.datetime).replace(tzinfo=dt.UTC)
        item_id = f"S2_32TPS_{when:%Y%m%d}_L2A_bolzano_cog"
        assets: dict[str, Any] = {}
        for band, (common, wl) in BANDS.items():
            v = sub[band].isel(t=k).values
            dn = np.where(np.isnan(v), 0, v).astype(np.uint16)
            write_cog(out / item_id / f"{band}.tif", dn, transform, crs, 0, blocksize)
            assets[band] = {
                "href": f"{item_id}/{band}.tif", "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                "roles": ["data", "reflectance"], "title": f"{common} ({band})",
                "eo:bands": [{"name": band, "common_name": common, "center_wavelength": wl}],
                "raster:bands": [{"data_type": "uint16", "nodata": 0, "scale": 0.0001, "offset": 0.0,
                                  "spatial_resolution": res}],
                "proj:shape": list(shape), "proj:transform": list(transform)[:6],
            }
        scl = sub["SCL"].isel(t=k).values
        write_cog(out / item_id / "SCL.tif", np.where(np.isnan(scl), 0, scl).astype(np.uint8), transform, crs, 0, blocksize)
        assets["scl"] = {"href": f"{item_id}/SCL.tif", "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                         "roles": ["data"], "title": "Scene classification map (SCL)",
                         "raster:bands": [{"data_type": "uint8", "nodata": 0, "spatial_resolution": res}],
                         "proj:shape": list(shape), "proj:transform": list(transform)[:6]}
        items.append({
            "type": "Feature", "stac_version": "1.0.0", "id": item_id, "collection": COLLECTION_ID,
            "stac_extensions": ["https://stac-extensions.github.io/projection/v1.1.0/schema.json",
                                "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
                                "https://stac-extensions.github.io/eo/v1.1.0/schema.json"],
            "bbox": [west, south, east, north],
            "geometry": {"type": "Polygon", "coordinates": [[[west, south], [east, south], [east, north],
                                                             [west, north], [west, south]]]},
            "properties": {"datetime": f"{when:%Y-%m-%dT%H:%M:%SZ}", "platform": "sentinel-2a",
                           "constellation": "sentinel-2", "proj:epsg": 32632, "s2:mgrs_tile": "32TPS",
                           "s2:product_type": "S2MSI2A",
                           "eo:cloud_cover": float(np.isin(scl, (8, 9, 10)).mean() * 100)},
            "assets": assets, "links": [],
        })
    return items


def with_base(item: dict[str, Any], base: str, collection: str | None = None) -> dict[str, Any]:
    """A copy of ``item`` whose asset hrefs are ``base/<href>`` (and in ``collection``, if given)."""
    out = json.loads(json.dumps(item))
    if collection is not None:
        out["collection"] = collection
    for asset in out["assets"].values():
        asset["href"] = f"{base.rstrip('/')}/{asset['href']}"
    return out


def collection(items: Sequence[dict[str, Any]], cid: str = COLLECTION_ID) -> dict[str, Any]:
    """A STAC collection covering ``items``."""
    w = min(i["bbox"][0] for i in items)
    s = min(i["bbox"][1] for i in items)
    e = max(i["bbox"][2] for i in items)
    n = max(i["bbox"][3] for i in items)
    times = sorted(i["properties"]["datetime"] for i in items)
    return {"type": "Collection", "stac_version": "1.0.0", "id": cid,
            "description": "COGs of the real Bolzano Sentinel-2 L2A series (derived packaging, see tests/support/remote_data.py)",
            "license": "proprietary", "links": [],
            "extent": {"spatial": {"bbox": [[w, s, e, n]]}, "temporal": {"interval": [[times[0], times[-1]]]}}}


def zone_halves(root: Path, item: dict[str, Any], out: Path, band: str = "B04") -> list[dict[str, Any]]:
    """Two items of one real date: the left half of ``band`` as it is (UTM 32N), and the right half
    warped by Debian's ``gdalwarp`` into UTM 33N at 10 m, nearest neighbour (a *made* second zone:
    no real zone-33 acquisition). Raises FileNotFoundError when gdalwarp is missing."""
    import shutil
    import subprocess

    exe = shutil.which("gdalwarp")
    if exe is None:
        raise FileNotFoundError("gdalwarp")
    src = root / item["assets"][band]["href"]
    with rasterio.open(src) as ds:
        t, (h, w) = ds.transform, ds.shape
    left, top, right, bottom = t.c, t.f, t.c + w * t.a, t.f + h * t.e
    mid = t.c + (w // 2) * t.a
    halves = {"west": ["-te", str(left), str(bottom), str(mid), str(top)],
              "east": ["-te", str(mid), str(bottom), str(right), str(top), "-te_srs", "EPSG:32632",
                       "-t_srs", "EPSG:32633", "-tr", "10", "10", "-tap", "-r", "near"]}
    items = []
    for name, args in halves.items():
        path = out / name / f"{band}.tif"
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([exe, "-q", "-overwrite", *args, "-of", "COG", str(src), str(path)], check=True,
                       capture_output=True, timeout=120)
        it = json.loads(json.dumps(item))
        it["id"] = f"{item['id']}_{name}"
        asset = {k: v for k, v in item["assets"][band].items() if not k.startswith("proj:")}
        it["assets"] = {band: {**asset, "href": str(path)}}
        (path.parent / "item.json").write_text(json.dumps(it))
        items.append(it)
    return items
