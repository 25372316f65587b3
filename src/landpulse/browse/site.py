"""Write the product browser: one static, self-contained page over a product store's catalogue.

``<store>/browse/`` holds:

- ``index.html``: the page, with its script and styles inlined (the map is landpulse's own,
  ``static/browse.js``: a canvas over Web Mercator; no third-party code);
- ``items.geojson``: the index, one GeoJSON FeatureCollection of every item (footprint,
  product, tile, date, values, validity, areas, provenance, asset links and checksums), for any
  GIS (QGIS, GDAL's GeoJSON driver, geopandas) and any script;
- ``items.js``: what the page needs to draw, filter and list every item (footprint, product,
  tile, date, value, validity, thumbnail), as a script (``window.LANDPULSE_INDEX``): a script
  loads from ``file://``, where browsers refuse to fetch JSON, as well as from any static web
  server. The page is drawn from two requests, whatever the size of the catalogue;
- ``details/<n>.js``: the rest of each item's properties (the same as in ``items.geojson``), in
  chunks of :data:`DETAIL_CHUNK` items, loaded only when one of their items is opened.

The folder is written beside the catalogue and replaced whole (written to a temporary sibling,
then renamed), so a reader never sees half a site. Hrefs are relative: the store can be copied
or served as it is.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from html import escape
from importlib.resources import files
from pathlib import Path
from typing import Any

from landpulse._version import __version__
from landpulse.browse.catalogue import read_catalogue
from landpulse.errors import InputError

#: Folder of the site inside a product store.
SITE_DIR = "browse"
#: Items per details script (``details/<n>.js``).
DETAIL_CHUNK = 500
#: Properties the page draws, filters and lists from (``items.js``); the rest load on demand.
CORE_PROPERTIES = ("product", "tile", "datetime", "title", "value", "valid_fraction")
#: The default basemap: OpenStreetMap's standard tiles (used only when the page is online and the
#: first tile loads; otherwise the map draws a plain background with a graticule).
OSM_BASEMAP: dict[str, Any] = {
    "url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
    "attribution": "\u00a9 OpenStreetMap contributors",
    "max_zoom": 19,
}


@dataclass(frozen=True)
class Site:
    """A written product browser.

    Attributes
    ----------
    folder : Path
        The site folder (``<store>/browse``).
    page : Path
        ``index.html``, the file to open.
    index : Path
        ``items.geojson``, the catalogue's one index file.
    items : int
        Items in the index.
    collections : int
        Collections (products) in the index.
    problems : list of str
        Catalogue links that could not be followed (shown on the page too).
    seconds : float
        Time taken to read the catalogue and write the site.
    """

    folder: Path
    page: Path
    index: Path
    items: int
    collections: int
    problems: list[str]
    seconds: float


def _static(name: str) -> str:
    return files("landpulse.browse").joinpath("static", name).read_text(encoding="utf-8")


def _inline_script(text: str) -> str:
    """Text safe inside ``<script>``: no ``</`` can close the element early."""
    return text.replace("</", "<\\/")


def render_page(title: str, config: dict[str, Any]) -> str:
    """The page's HTML, with its styles, script and configuration inlined.

    Parameters
    ----------
    title : str
        The page title (the catalogue's).
    config : dict
        The page's settings (``basemap``: ``{"url", "attribution", "max_zoom"}`` or None;
        ``index``: the index script's file name).
    """
    script = _static("browse.js")
    if "</script" in script.lower():
        raise AssertionError("browse.js must not contain a closing script tag")
    return (_static("browse.html")
            .replace("@@TITLE@@", escape(title))
            .replace("@@CSS@@", _static("browse.css"))
            .replace("@@CONFIG@@", _inline_script(json.dumps(config, separators=(",", ":"))))
            .replace("@@INDEX@@", escape(str(config["index"])))
            .replace("@@SCRIPT@@", script))


def _script(target: str, value: Any) -> str:
    """``target = JSON.parse("...")``: browsers parse a JSON string faster than the same object as
    a script literal (``ensure_ascii`` escapes U+2028/U+2029 too, so the string is valid JavaScript)."""
    text = json.dumps(value, separators=(",", ":"), allow_nan=False)
    return f"{target}=JSON.parse({_inline_script(json.dumps(text))});\n"


def _split(doc: dict[str, Any]) -> tuple[dict[str, Any], list[list[dict[str, Any]]]]:
    """The page's index (what it draws, filters and lists) and the details chunks of the rest."""
    features: list[dict[str, Any]] = []
    chunks: list[list[dict[str, Any]]] = []
    for k, feature in enumerate(doc["features"]):
        props = feature["properties"]
        core = {key: props[key] for key in CORE_PROPERTIES if key in props}
        thumb = next((a["href"] for a in props.get("assets", []) if a.get("kind") == "thumbnail"), None)
        if thumb:
            core["thumbnail"] = thumb
        core["detail"] = [k // DETAIL_CHUNK, k % DETAIL_CHUNK]
        if k % DETAIL_CHUNK == 0:
            chunks.append([])
        chunks[-1].append(props)
        features.append({"type": "Feature", "id": feature["id"], "bbox": feature.get("bbox"),
                         "geometry": feature.get("geometry"), "properties": core})
    meta = dict(doc["landpulse"], details={"chunks": len(chunks), "size": DETAIL_CHUNK, "folder": "details"})
    return {"type": "FeatureCollection", "features": features, "landpulse": meta}, chunks


def _basemap(basemap: str | dict[str, Any] | None) -> dict[str, Any] | None:
    if basemap is None or basemap == "none":
        return None
    if isinstance(basemap, str):
        if "{z}" not in basemap or "{x}" not in basemap or "{y}" not in basemap:
            raise InputError(f"basemap {basemap!r}: give an XYZ tile URL template with {{z}}, {{x}} and {{y}}, or 'none'")
        return {"url": basemap, "attribution": "", "max_zoom": 19}
    return dict(basemap)


def write_site(store: str | Path, out: str | Path | None = None, *,
               basemap: str | dict[str, Any] | None = OSM_BASEMAP, title: str | None = None) -> Site:
    """Write the product browser of a product store.

    Parameters
    ----------
    store : path
        The product store (its ``catalog.json`` is read, and every collection and item it links).
    out : path, optional
        The site folder (default ``<store>/browse``; it must not be the store itself).
    basemap : str or dict or None
        XYZ tile URL template (``.../{z}/{x}/{y}.png``) or ``{"url", "attribution", "max_zoom"}``
        for the map's background when the page is online (default: OpenStreetMap's tiles);
        ``None`` or ``"none"``: the plain background always.
    title : str, optional
        The page title (default: the catalogue's description).

    Returns
    -------
    Site

    Raises
    ------
    InputError
        When ``store`` has no readable ``catalog.json``, or for a bad ``basemap``.
    """
    t0 = time.perf_counter()
    store = Path(store)
    folder = Path(out) if out is not None else store / SITE_DIR
    if folder.resolve() == store.resolve():
        raise InputError(f"{folder}: the site needs a folder of its own, not the product store itself")
    config = {"basemap": _basemap(basemap), "index": "items.js"}
    index = read_catalogue(store, site=folder)
    page_title = title or str(index.catalog.get("description") or index.catalog.get("title") or store.name)
    doc = index.as_geojson(title=page_title, software={"landpulse": __version__},
                           written=dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"))
    core, chunks = _split(doc)

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f".{folder.name}.tmp-{uuid.uuid4().hex[:8]}")
    tmp.mkdir()
    try:
        (tmp / "items.geojson").write_text(json.dumps(doc, separators=(",", ":"), allow_nan=False) + "\n",
                                           encoding="utf-8")
        (tmp / "items.js").write_text(_script("window.LANDPULSE_INDEX", core), encoding="utf-8")
        (tmp / "details").mkdir()
        for n, chunk in enumerate(chunks):
            (tmp / "details" / f"{n}.js").write_text(_script(f"window.LANDPULSE_DETAILS[{n}]", chunk), encoding="utf-8")
        (tmp / "index.html").write_text(render_page(page_title, config), encoding="utf-8")
        old = folder.with_name(f".{folder.name}.old-{uuid.uuid4().hex[:8]}")
        if folder.exists():
            os.rename(folder, old)
        os.rename(tmp, folder)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Site(folder, folder / "index.html", folder / "items.geojson", len(index.features), len(index.collections),
                list(index.problems), round(time.perf_counter() - t0, 3))
