"""Helpers of the product browser's tests: a real headless Chromium, and a generated catalogue.

The browser is Debian's ``chromium`` driven through Debian's ``chromedriver`` by Selenium
(``.ci/run`` installs both; elsewhere the tests skip with ``skip_or_fail("browser", ...)``).

:func:`generated_catalogue` writes a *generated* product store catalogue (not real data: the
catalogue says so in its description and every item carries ``landpulse:generated: true``): the
STAC catalogue of a product store (``catalog.json``, one ``collection.json`` per product linking its
items, here ``<product>/<tile>/<period>.json``), with footprints on a grid of 1-degree tiles, dates every few days and
made-up statistics. It has no asset files: it exists to measure the page on a large catalogue.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.support import skip_or_fail

GENERATED_PRODUCTS = ("ndvi", "ndwi", "water", "water_wofs")
WINDOW = (1400, 1000)


def find_browser() -> tuple[str, str]:
    """The paths of Debian's chromium and chromedriver (skip or fail when missing)."""
    try:
        import selenium  # noqa: F401  (the dev extra)
    except ImportError:
        skip_or_fail("browser", "selenium is not installed (pip install -e '.[dev]')")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver") or (
        "/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else None)
    if not chromium or not driver:
        skip_or_fail("browser", "no chromium and chromedriver here (Debian: apt-get install chromium chromium-driver)")
    return chromium, driver


@contextlib.contextmanager
def chromium(window: tuple[int, int] = WINDOW) -> Iterator[Any]:
    """A headless Chromium WebDriver (its browser console log kept), quit on exit."""
    binary, driver_path = find_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                f"--window-size={window[0]},{window[1]}", "--force-device-scale-factor=1", "--hide-scrollbars",
                "--lang=en-US"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        driver.set_page_load_timeout(60)
        yield driver
    finally:
        driver.quit()


def console_errors(driver: Any, *, allow: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Console entries of level SEVERE (errors, failed loads, uncaught exceptions) since the last call."""
    return [e for e in driver.get_log("browser")
            if e.get("level") == "SEVERE" and not any(a in str(e.get("message")) for a in allow)]


def wait_ready(driver: Any, timeout: float = 30.0) -> dict[str, Any]:
    """Wait for the page's first render; return ``window.landpulseBrowse``'s numbers."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(
        lambda d: d.execute_script("return !!(window.landpulseBrowse && window.landpulseBrowse.ready)"))
    return state(driver)


def state(driver: Any) -> dict[str, Any]:
    return dict(driver.execute_script(
        "var b = window.landpulseBrowse; return {ready: b.ready, renderMs: b.renderMs, drawn: b.drawn, shown: b.shown,"
        " total: b.total, errors: b.errors, selected: b.selected || null, basemap: b.basemap,"
        " view: {cx: b.view.cx, cy: b.view.cy, zoom: b.view.zoom, w: b.view.w, h: b.view.h},"
        " colours: b.productColours, days: b.days};"))


def generated_catalogue(root: Path, *, tiles: int = 50, dates: int = 50,
                        products: tuple[str, ...] = GENERATED_PRODUCTS, thumbnails: bool = False) -> Path:
    """Write a generated (not real) catalogue of ``len(products) x tiles x dates`` items under ``root``.

    Tiles are 1-degree squares on a grid from 5 E, 44 N (ten per row); dates start on
    2024-01-01, five days apart. With ``thumbnails``, each item gets a generated 8 x 8 PNG
    (one flat colour) as its thumbnail asset. Returns ``root``.
    """
    from PIL import Image

    root.mkdir(parents=True, exist_ok=True)
    start = dt.datetime(2024, 1, 1, 10, 30, tzinfo=dt.UTC)
    children = []
    for pi, product in enumerate(products):
        links = []
        for t in range(tiles):
            tile = f"T{t:03d}"
            west, south = 5.0 + (t % 10), 44.0 + (t // 10)
            for d in range(dates):
                when = start + dt.timedelta(days=5 * d)
                period = when.strftime("%Y%m%dT%H%M%S")
                # one folder per product and tile (<period>.json): the catalogue is followed by its
                # links, and 10,000 folders cost seconds on a busy disk
                folder = root / product / tile
                if d == 0:
                    folder.mkdir(parents=True, exist_ok=True)
                valid = 1000 * 1000 - ((t * 7919 + d * 104729 + pi * 13) % 400_000)
                mean = round(-0.2 + ((t * 31 + d * 17 + pi * 5) % 100) / 100.0, 4)
                stats: dict[str, Any] = {"valid_pixels": valid, "unrepresentable_pixels": 0}
                if product.startswith("water"):
                    stats.update(min=0.0, mean=0.3, max=2.0,
                                 areas_ha={"not_water": valid * 0.009, "water": valid * 0.001, "nodata": 0.0})
                else:
                    stats.update(min=-1.0, mean=mean, max=1.0)
                item = {
                    "type": "Feature", "stac_version": "1.1.0", "id": f"{product}-{tile}-{period}",
                    "collection": product,
                    "bbox": [west, south, west + 1.0, south + 1.0],
                    "geometry": {"type": "Polygon", "coordinates": [[[west, south], [west + 1.0, south],
                                                                     [west + 1.0, south + 1.0], [west, south + 1.0],
                                                                     [west, south]]]},
                    "properties": {
                        "datetime": when.isoformat().replace("+00:00", "Z"), "title": f"{product} (generated)",
                        "landpulse:generated": True, "landpulse:tile": tile, "landpulse:period": period,
                        "proj:code": "EPSG:4326", "proj:shape": [1000, 1000],
                        "landpulse:stats": stats, "landpulse:parameters": {},
                        "landpulse:inputs": [f"GENERATED_{tile}_{period}"],
                        "processing:software": {"landpulse": "generated"},
                        "landpulse:files": {f"{product}.zarr/zarr.json": {"size": 100, "crc32c": "00000000"}},
                    },
                    "links": [{"rel": "collection", "href": "../collection.json"}],
                    "assets": {"data": {"href": f"./{product}.zarr", "type": "application/vnd+zarr", "roles": ["data"],
                                        "title": f"{product} (generated; no file)"}},
                }
                if thumbnails:
                    Image.new("RGB", (8, 8), (40 * pi % 256, (5 * t) % 256, (5 * d) % 256)).save(folder / f"{period}.png")
                    item["assets"]["thumbnail"] = {"href": f"./{period}.png", "type": "image/png",
                                                   "roles": ["thumbnail", "overview"], "title": "Quick-look (generated)"}
                (folder / f"{period}.json").write_text(json.dumps(item))
                links.append({"rel": "item", "href": f"./{tile}/{period}.json", "type": "application/geo+json"})
        collection = {"type": "Collection", "stac_version": "1.1.0", "id": product, "title": f"{product} (generated)",
                      "description": "GENERATED test collection (not real data)", "license": "other",
                      "extent": {"spatial": {"bbox": [[5.0, 44.0, 15.0, 49.0]]}, "temporal": {"interval": [[None, None]]}},
                      "links": [{"rel": "root", "href": "../catalog.json"}, *links]}
        (root / product).mkdir(exist_ok=True)
        (root / product / "collection.json").write_text(json.dumps(collection))
        children.append({"rel": "child", "href": f"./{product}/collection.json", "type": "application/json"})
    catalog = {"type": "Catalog", "stac_version": "1.1.0", "id": root.name,
               "description": f"GENERATED test catalogue of {len(products) * tiles * dates} items (not real data)",
               "links": [{"rel": "root", "href": "./catalog.json"}, *children]}
    (root / "catalog.json").write_text(json.dumps(catalog))
    return root
