"""STAC items for products: what was made, where, from what, by which software, on which device.

The item is a product's commit marker: it is written last, after the Zarr store and quick-look
are complete, so a reader that finds the item finds a whole product.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pystac
import xarray as xr

from landpulse._version import __version__
from landpulse.io.files import write_atomic
from landpulse.io.stac_catalogue import write_collections  # noqa: F401  (its home before io.stac_catalogue)
from landpulse.io.store import datetime_dim
from landpulse.products.provenance import provenance

EXTENSIONS = [
    "https://stac-extensions.github.io/projection/v2.0.0/schema.json",
    "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
    "https://stac-extensions.github.io/processing/v1.2.0/schema.json",
]
ZARR_MEDIA_TYPE = "application/vnd+zarr"


def _time_bounds(da: xr.DataArray) -> tuple[dt.datetime | None, dt.datetime, dt.datetime]:
    tdim = datetime_dim(da)
    if tdim is None:
        now = dt.datetime.now(dt.UTC)
        return now, now, now
    times = da[tdim].values
    start = _to_utc(times.min())
    end = _to_utc(times.max())
    return (start if start == end else None), start, end


def _to_utc(t: np.datetime64) -> dt.datetime:
    seconds = t.astype("datetime64[s]").astype(np.int64)
    return dt.datetime.fromtimestamp(int(seconds), tz=dt.UTC)


def product_item(
    da: xr.DataArray,
    *,
    item_id: str,
    data_href: str,
    quicklook_href: str | None = None,
    device: Mapping[str, Any] | None = None,
    input_ids: list[str] | None = None,
    encoding: Mapping[str, Any] | None = None,
) -> pystac.Item:
    """Build the STAC Item describing a product array.

    Parameters
    ----------
    da : xarray.DataArray
        The product (its grid, attributes and provenance are read; no pixels are).
    item_id : str
    data_href, quicklook_href : str
        Asset hrefs (relative to the item's folder, so the product folder can move).
    device : mapping, optional
        The compute device (:meth:`landpulse.backend.DeviceInfo.as_dict`).
    input_ids : list of str, optional
        Scene ids the product was computed from.
    encoding : mapping, optional
        Storage encoding (``dtype``, ``scale``, ``nodata``) for ``raster:bands``.
    """
    crs = da.rio.crs
    ydim, xdim = da.dims[-2], da.dims[-1]
    left, bottom, right, top = da.rio.bounds()
    from rasterio.warp import transform_bounds  # rasterio (GDAL) only where a footprint is computed

    west, south, east, north = transform_bounds(crs, "EPSG:4326", left, bottom, right, top)
    when, start, end = _time_bounds(da)
    geometry = {
        "type": "Polygon",
        "coordinates": [[[west, south], [east, south], [east, north], [west, north], [west, south]]],
    }
    prov = provenance(da)
    props: dict[str, Any] = {
        "title": str(da.attrs.get("long_name", da.name)),
        "proj:code": crs.to_string() if crs.to_epsg() is None else f"EPSG:{crs.to_epsg()}",
        "proj:shape": [int(da.sizes[ydim]), int(da.sizes[xdim])],
        "proj:transform": list(da.rio.transform())[:6],
        "processing:software": {"landpulse": __version__},
        "processing:lineage": (
            f"{prov.get('product', da.name)} computed by landpulse {__version__} from "
            f"{', '.join(input_ids or []) or 'its inputs'} "
            f"with parameters {json.dumps(prov.get('parameters', {}), sort_keys=True)}"
        ),
        "landpulse:provenance": prov,
        "landpulse:device": dict(device or {}),
        "landpulse:inputs": list(input_ids or []),
    }
    if when is None:
        props["start_datetime"] = start.isoformat()
        props["end_datetime"] = end.isoformat()
    item = pystac.Item(
        id=item_id, geometry=geometry, bbox=[west, south, east, north], datetime=when,
        properties=props, stac_extensions=list(EXTENSIONS),
    )
    band: dict[str, Any] = {"data_type": str((encoding or {}).get("dtype", da.dtype))}
    for key in ("nodata", "scale", "offset"):
        if encoding and key in encoding:
            band[key] = encoding[key]
    if "units" in da.attrs:
        band["unit"] = da.attrs["units"]
    item.add_asset("data", pystac.Asset(
        href=data_href, media_type=ZARR_MEDIA_TYPE, roles=["data"],
        title=f"{da.name} (Zarr v3, crc32c-checksummed chunks)",
        extra_fields={"raster:bands": [band]},
    ))
    if quicklook_href:
        item.add_asset("quicklook", pystac.Asset(href=quicklook_href, media_type=pystac.MediaType.PNG,
                                                 roles=["overview", "visual"], title="Quick-look"))
    return item


def write_item(item: pystac.Item, path: str | Path) -> Path:
    """Write ``item`` as JSON, atomically (temporary file, fsync, rename): the commit marker."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_atomic(path, json.dumps(item.to_dict(include_self_link=False, transform_hrefs=False), indent=2) + "\n")


COG_MEDIA_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"
EO_EXTENSION = "https://stac-extensions.github.io/eo/v1.1.0/schema.json"
FILE_EXTENSION = "https://stac-extensions.github.io/file/v2.1.0/schema.json"


