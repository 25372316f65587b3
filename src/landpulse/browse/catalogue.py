"""Read a product store's STAC catalogue into the browser's one index file.

The catalogue is followed by its links (``catalog.json`` -> ``child`` collections -> ``item``
items), never by listing folders, so the page shows exactly what the catalogue publishes. Assets
are recognised by media type and roles, not by key (a COG is the ``data`` asset of GeoTIFF media
type, whatever it is called).

The index is a GeoJSON FeatureCollection: one Feature per item, the item's footprint as its
geometry, and the few properties the page needs to filter, colour and describe it (paths
relative to the site folder). Its foreign member ``landpulse`` carries the catalogue, the
collection summaries and the product legends.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from landpulse.browse.legend import product_legend
from landpulse.errors import InputError

#: Media types of the assets the page links, by what they are.
ZARR_TYPES = ("application/vnd+zarr", "application/vnd.zarr", "application/x-zarr")
COG_PROFILE = "profile=cloud-optimized"


@dataclass
class CatalogueIndex:
    """What :func:`read_catalogue` found.

    Attributes
    ----------
    features : list of dict
        GeoJSON Features, one per readable item (sorted by product, tile, datetime).
    collections : list of dict
        One summary per collection (id, title, description, extent, counts, tiles, dates, value range).
    legends : dict
        Product id -> legend (:func:`landpulse.browse.legend.product_legend`).
    catalog : dict
        ``id``, ``title`` and ``description`` of the root catalogue.
    problems : list of str
        Links that could not be followed (a missing or unreadable item or collection).
    """

    features: list[dict[str, Any]] = field(default_factory=list)
    collections: list[dict[str, Any]] = field(default_factory=list)
    legends: dict[str, Any] = field(default_factory=dict)
    catalog: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def as_geojson(self, **extra: Any) -> dict[str, Any]:
        """The index as a GeoJSON FeatureCollection (``extra`` goes into the ``landpulse`` member)."""
        return {
            "type": "FeatureCollection",
            "features": self.features,
            "landpulse": {"catalog": self.catalog, "collections": self.collections, "legends": self.legends,
                          "problems": self.problems, **extra},
        }


def _load(path: Path) -> dict[str, Any]:
    doc = json.loads(path.read_text())
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    return doc


def _is_remote(href: str) -> bool:
    return bool(urlparse(href).scheme) and urlparse(href).scheme not in ("file",)


def _local(href: str, base: Path) -> Path:
    parsed = urlparse(href)
    return Path(parsed.path) if parsed.scheme == "file" else (base / href)


def _rel(target: Path, site: Path) -> str:
    """``target`` as a URL path relative to the site folder (POSIX separators)."""
    return Path(os.path.relpath(os.path.normpath(target), site)).as_posix()


def _links(doc: Mapping[str, Any], rel: str) -> list[str]:
    return [str(link["href"]) for link in doc.get("links", []) if link.get("rel") == rel and link.get("href")]


def asset_kind(asset: Mapping[str, Any]) -> str:
    """What an asset is, from its media type and roles: ``zarr``, ``cog``, ``geotiff``,
    ``thumbnail``, ``data`` or ``other``."""
    media = str(asset.get("type", "")).lower()
    roles = [str(r) for r in asset.get("roles", [])]
    if any(media.startswith(t) for t in ZARR_TYPES):
        return "zarr"
    if media.startswith("image/tiff"):
        return "cog" if COG_PROFILE in media.replace(" ", "") else "geotiff"
    if "thumbnail" in roles or ("overview" in roles and media.startswith("image/")):
        return "thumbnail"
    return "data" if "data" in roles else "other"


def _asset_entry(key: str, asset: Mapping[str, Any], item_dir: Path, site: Path,
                 files: Mapping[str, Any]) -> dict[str, Any]:
    href = str(asset.get("href", ""))
    kind = asset_kind(asset)
    entry: dict[str, Any] = {"key": key, "kind": kind, "title": asset.get("title") or key,
                             "type": asset.get("type"), "roles": list(asset.get("roles", []))}
    if _is_remote(href):
        entry["href"] = href
        return entry
    path = _local(href, item_dir)
    entry["href"] = _rel(path, site)
    name = os.path.normpath(os.path.relpath(path, item_dir)).replace(os.sep, "/")
    if kind == "zarr":  # a folder: its files' count and bytes, and the checksum of its root metadata
        inside = {k: v for k, v in files.items() if k.startswith(name + "/")}
        entry["files"] = len(inside)
        entry["size"] = int(sum(int(v.get("size", 0)) for v in inside.values()))
        root = inside.get(f"{name}/zarr.json")
        if root:
            entry["checksums"] = {k: v for k, v in root.items() if k != "size"}
            entry["checksum_of"] = "zarr.json"
    else:
        info = files.get(name) or {}
        if "file:size" in asset or "size" in info:
            entry["size"] = int(asset.get("file:size", info.get("size", 0)))
        sums = {k: v for k, v in info.items() if k != "size"}
        if asset.get("file:checksum"):
            sums["multihash"] = asset["file:checksum"]
        if sums:
            entry["checksums"] = sums
    return entry


def _zarr_asset(doc: Mapping[str, Any], item_dir: Path) -> Path | None:
    for asset in (doc.get("assets") or {}).values():
        href = str(asset.get("href", ""))
        if asset_kind(asset) == "zarr" and not _is_remote(href):
            return _local(href, item_dir)
    return None


def _valid_fraction(props: Mapping[str, Any]) -> float | None:
    stats = props.get("landpulse:stats") or {}
    shape = props.get("proj:shape")
    if "valid_pixels" not in stats or not shape or len(shape) < 2:
        return None
    total = int(shape[-1]) * int(shape[-2])
    return round(float(stats["valid_pixels"]) / total, 6) if total else None


def _feature(doc: Mapping[str, Any], path: Path, site: Path, collection: str, legend: Mapping[str, Any]) -> dict[str, Any]:
    props = doc.get("properties") or {}
    stats = dict(props.get("landpulse:stats") or {})
    files = props.get("landpulse:files") or {}
    prov = props.get("landpulse:provenance") or {}
    when = props.get("datetime") or props.get("start_datetime")
    is_classes = legend.get("kind") == "classes"
    mean = stats.get("mean")
    out: dict[str, Any] = {
        "product": str(doc.get("collection") or collection),
        "tile": props.get("landpulse:tile"),
        "period": props.get("landpulse:period"),
        "datetime": when,
        "end_datetime": props.get("end_datetime"),
        "title": props.get("title"),
        "href": _rel(path, site),
        # the colour-by-value number: the mean of an index (class codes have no meaningful mean)
        "value": None if is_classes or mean is None else round(float(mean), 6),
        "valid_fraction": _valid_fraction(props),
        "stats": {k: v for k, v in stats.items() if k != "areas_ha"},
        "areas_ha": stats.get("areas_ha"),
        "parameters": props.get("landpulse:parameters", prov.get("parameters")),
        "provenance": {k: v for k, v in {
            "lineage": props.get("processing:lineage"),
            "inputs": props.get("landpulse:inputs", []),
            "software": props.get("processing:software"),
            "device": (props.get("landpulse:device") or {}).get("device"),
            "created": props.get("created"),
            "run": props.get("landpulse:run"),
            "radiometry": prov.get("radiometry"),
            "masking": prov.get("masking"),
        }.items() if v is not None},
        "crs": props.get("proj:code"),
        "shape": props.get("proj:shape"),
        "cloud_cover": props.get("eo:cloud_cover"),
        "files": len(files),
        "bytes": int(sum(int(v.get("size", 0)) for v in files.values())),
        "assets": [_asset_entry(k, a, path.parent, site, files) for k, a in (doc.get("assets") or {}).items()],
    }
    bbox = doc.get("bbox")
    return {"type": "Feature", "id": str(doc.get("id")), "bbox": bbox, "geometry": doc.get("geometry"),
            "properties": {k: v for k, v in out.items() if v is not None}}


def _summary(coll: Mapping[str, Any], path: Path, site: Path, features: list[dict[str, Any]]) -> dict[str, Any]:
    props = [f["properties"] for f in features]
    dates = sorted(p["datetime"] for p in props if p.get("datetime"))
    values = [p["value"] for p in props if p.get("value") is not None]
    valid = [p["valid_fraction"] for p in props if p.get("valid_fraction") is not None]
    areas: dict[str, float] = {}
    for p in props:
        for name, ha in (p.get("areas_ha") or {}).items():
            areas[name] = areas.get(name, 0.0) + float(ha)
    return {
        "id": coll.get("id"), "title": coll.get("title") or coll.get("id"), "description": coll.get("description"),
        "href": _rel(path, site), "license": coll.get("license"), "extent": coll.get("extent"),
        "summaries": coll.get("summaries"), "items": len(features),
        "tiles": sorted({str(p["tile"]) for p in props if p.get("tile")}),
        "first": dates[0] if dates else None, "last": dates[-1] if dates else None,
        "value_range": [min(values), max(values)] if values else None,
        "valid_fraction_range": [min(valid), max(valid)] if valid else None,
        "areas_ha_total": {k: round(v, 4) for k, v in areas.items()} or None,
        "bytes": int(sum(p.get("bytes", 0) for p in props)),
    }


def read_catalogue(store: str | Path, site: str | Path | None = None) -> CatalogueIndex:
    """Follow ``<store>/catalog.json`` to every collection and item; build the page's index.

    Parameters
    ----------
    store : path
        A product store (``catalog.json`` at its top, as production runs write it), or the path
        of a ``catalog.json``.
    site : path, optional
        The folder the page will live in (default ``<store>/browse``); hrefs are made relative to it.

    Returns
    -------
    CatalogueIndex

    Raises
    ------
    InputError
        When there is no readable ``catalog.json``.
    """
    store = Path(store)
    catalog_path = store if store.suffix == ".json" else store / "catalog.json"
    root = catalog_path.parent
    site_dir = Path(site) if site is not None else root / "browse"
    try:
        catalog = _load(catalog_path)
    except FileNotFoundError:
        raise InputError(f"{root}: no catalog.json: not a product store (write one with `landpulse run JOB`)") from None
    except (OSError, ValueError) as err:
        raise InputError(f"{catalog_path}: unreadable STAC catalogue: {err}") from None
    index = CatalogueIndex(catalog={"id": catalog.get("id"), "title": catalog.get("title") or catalog.get("id"),
                                    "description": catalog.get("description"), "href": _rel(catalog_path, site_dir)})
    for child in _links(catalog, "child"):
        if _is_remote(child):
            index.problems.append(f"{child}: remote collections are not followed")
            continue
        coll_path = _local(child, root)
        try:
            coll = _load(coll_path)
        except (OSError, ValueError) as err:
            index.problems.append(f"{_rel(coll_path, site_dir)}: {err}")
            continue
        cid = str(coll.get("id") or coll_path.parent.name)
        legend: dict[str, Any] | None = None
        features = []
        for href in _links(coll, "item"):
            item_path = _local(href, coll_path.parent)
            try:
                doc = _load(item_path)
            except (OSError, ValueError) as err:
                index.problems.append(f"{_rel(item_path, site_dir)}: {type(err).__name__}: {err}")
                continue
            if legend is None:
                legend = product_legend(cid, _zarr_asset(doc, item_path.parent))
            features.append(_feature(doc, item_path, site_dir, cid, legend))
        index.legends[cid] = legend or product_legend(cid)
        features.sort(key=lambda f: (str(f["properties"].get("tile")), str(f["properties"].get("datetime")), f["id"]))
        index.features.extend(features)
        index.collections.append(_summary(coll, coll_path, site_dir, features))
    return index
