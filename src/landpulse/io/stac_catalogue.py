"""A product store's STAC catalogue (``catalog.json`` and one Collection per product), rebuilt from
its items: JSON only, in a module of its own so that a run with nothing to do writes (or leaves)
its catalogue without importing xarray or pystac."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from landpulse.io.files import write_atomic


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


__all__ = ["write_collections"]
