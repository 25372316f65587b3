"""STAC items for products: what was made, where, from what, by which software, on which device.

The item is a product's commit marker: it is written last, after the Zarr store and quick-look
are complete, so a reader that finds the item finds a whole product.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pystac
import xarray as xr

from landpulse._version import __version__
from landpulse.io.files import write_atomic
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


def _write_if_changed(doc: Mapping[str, Any], path: Path) -> bool:
    """Write ``doc`` as JSON (atomically) unless the file already holds exactly that text."""
    text = json.dumps(doc, indent=2, sort_keys=False) + "\n"
    try:
        if path.read_text() == text:
            return False
    except OSError:
        pass
    write_atomic(path, text)
    return True


def write_collections(store: str | Path, items: Mapping[str, Sequence[Path]], *, title: str | None = None) -> list[Path]:
    """(Re)build a product store's STAC catalogue from its items; write only what changed.

    ``<store>/catalog.json`` links one Collection per product, ``<store>/<product>/collection.json``,
    whose extent covers its items and which links each item (``items[product]``: the item files of
    that product, under ``<store>/<product>/``; the caller decides which items count, e.g. the
    committed ones of a ledger). Hrefs are relative, so the store can be copied or served as it is.
    Returns the files written (none when nothing changed, so a run with nothing new leaves the
    store untouched).
    """
    store = Path(store)
    written: list[Path] = []
    children = []
    for name in sorted(items):
        product_dir = store / name
        if not items[name]:
            continue
        bboxes, starts, ends, title_text = [], [], [], product_dir.name
        for path in items[name]:
            doc = json.loads(path.read_text())
            props = doc.get("properties", {})
            if doc.get("bbox"):
                bboxes.append(doc["bbox"])
            start = props.get("start_datetime") or props.get("datetime")
            end = props.get("end_datetime") or props.get("datetime")
            if start:
                starts.append(start)
            if end:
                ends.append(end)
            title_text = str(props.get("title", title_text))
        bbox = [min(b[0] for b in bboxes), min(b[1] for b in bboxes), max(b[2] for b in bboxes), max(b[3] for b in bboxes)] \
            if bboxes else [-180.0, -90.0, 180.0, 90.0]
        collection = {
            "type": "Collection",
            "stac_version": "1.1.0",
            "id": product_dir.name,
            "title": title_text,
            "description": f"{title_text} computed by landpulse: one item per tile and acquisition "
                           "(Zarr v3 with crc32c-checksummed chunks, quick-look, optional COG).",
            "license": "other",
            "extent": {"spatial": {"bbox": [bbox]},
                       "temporal": {"interval": [[min(starts) if starts else None, max(ends) if ends else None]]}},
            "links": [{"rel": "root", "href": "../catalog.json", "type": "application/json"},
                      {"rel": "parent", "href": "../catalog.json", "type": "application/json"}]
                     + [{"rel": "item", "href": "./" + p.relative_to(product_dir).as_posix(), "type": "application/geo+json"}
                        for p in items[name]],
        }
        path = product_dir / "collection.json"
        if _write_if_changed(collection, path):
            written.append(path)
        children.append({"rel": "child", "href": f"./{product_dir.name}/collection.json", "type": "application/json",
                         "title": title_text})
    catalog = {
        "type": "Catalog", "stac_version": "1.1.0", "id": store.name,
        "description": title or f"landpulse products in {store.name}",
        "links": [{"rel": "root", "href": "./catalog.json", "type": "application/json"}, *children],
    }
    if children and _write_if_changed(catalog, store / "catalog.json"):
        written.append(store / "catalog.json")
    return written
