"""The product browser (``landpulse browse``): its index over a real product store, and the page in
a real headless Chromium (Debian's chromium and chromedriver, driven by Selenium).

The real store is written by production runs over the bundled real Sentinel-2 crop (NDVI on two
dates derived from it, see tests/support/series.py; the water map of the real date), with COGs and
sha256 checksums. The 10,000-item catalogue of the performance test is generated
(tests/support/browser.py: it says so in its description and in every item). Screenshots are
checked by the tests and kept as artefacts under each test's tmp path (``artefacts/*.png``,
with ``numbers.json`` for the performance test).
"""

from __future__ import annotations

import hashlib
import http.server
import json
import shutil
import threading
import time
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import numpy as np
import pytest
import rasterio
from PIL import Image
from pyproj import Transformer

import landpulse
from landpulse.browse import asset_kind, read_catalogue, render_page, write_site
from landpulse.browse.site import CORE_PROPERTIES, DETAIL_CHUNK
from landpulse.cli import main
from landpulse.errors import InputError
from landpulse.production.jobspec import parse_job
from landpulse.production.run import run_job
from tests.support.browser import (
    chromium,
    console_errors,
    find_browser,
    generated_catalogue,
    state,
    wait_ready,
)
from tests.support.series import job_dict, write_series

BACKGROUND = (0xDF, 0xE7, 0xEE)  # the plain map background (browse.css / browse.js)
GRATICULE = (0xAE, 0xBC, 0xCB)


def quiet(line: str) -> None:
    pass


@pytest.fixture(scope="module")
def real_store(tmp_path_factory: pytest.TempPathFactory, sample_store: Path) -> Path:
    """A product store written by two production runs over the bundled real scene."""
    root = tmp_path_factory.mktemp("browse-real")
    series = write_series(sample_store, root / "series.zarr", range(2))
    out = root / "out"
    output = {"store": str(out / "products"), "reports": str(out / "reports"), "cog": True,
              "checksums": ["crc32c", "sha256"], "fsync": False}
    assert run_job(parse_job(job_dict(series, out, output=output)), echo=quiet).exit_code == 0
    assert run_job(parse_job(job_dict(sample_store, out, products=["water"], output=output)), echo=quiet).exit_code == 0
    return out / "products"


def _script_value(path: Path, target: str) -> Any:
    """The value a page script assigns: ``target=JSON.parse("...");``."""
    text = path.read_text()
    prefix = f"{target}=JSON.parse("
    assert text.startswith(prefix) and text.endswith(");\n")
    return json.loads(json.loads(text[len(prefix):-3]))


def _items(store: Path) -> list[Path]:
    return sorted(store.glob("*/*/*/item.json"))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ------------------------------------------------------------------------------------------------
# the index (no browser)


def test_the_index_holds_every_item_of_the_catalogue_with_links_that_resolve(real_store: Path) -> None:
    site = write_site(real_store, basemap=None)
    assert site.folder == real_store / "browse" and site.page.is_file() and site.problems == []
    doc = json.loads(site.index.read_text())
    items = _items(real_store)
    assert len(items) == 3 and site.items == 3 and site.collections == 2
    assert {f["id"] for f in doc["features"]} == {json.loads(p.read_text())["id"] for p in items}
    # the page's scripts hold the same index: what it draws and lists, and the details of each item
    core = _script_value(site.folder / "items.js", "window.LANDPULSE_INDEX")
    assert [(f["id"], f["geometry"]) for f in core["features"]] == [(f["id"], f["geometry"]) for f in doc["features"]]
    for k, (small, full) in enumerate(zip(core["features"], doc["features"], strict=True)):
        chunk, offset = small["properties"]["detail"]
        assert (chunk, offset) == divmod(k, DETAIL_CHUNK)
        details = _script_value(site.folder / "details" / f"{chunk}.js", f"window.LANDPULSE_DETAILS[{chunk}]")
        assert details[offset] == full["properties"]
        assert {key: v for key, v in small["properties"].items() if key not in ("detail", "thumbnail")} == \
            {key: full["properties"][key] for key in CORE_PROPERTIES if key in full["properties"]}
    for feature in doc["features"]:
        props = feature["properties"]
        item_path = (site.folder / props["href"]).resolve()
        item = json.loads(item_path.read_text())
        assert item["id"] == feature["id"] and feature["geometry"] == item["geometry"] and feature["bbox"] == item["bbox"]
        assert props["product"] == item["collection"] and props["tile"] == "18SVG"
        assert props["datetime"] == item["properties"]["datetime"]
        # validity: valid pixels over the grid
        stats = item["properties"]["landpulse:stats"]
        h, w = item["properties"]["proj:shape"]
        assert props["valid_fraction"] == pytest.approx(stats["valid_pixels"] / (h * w), abs=1e-6)
        kinds = {a["kind"]: a for a in props["assets"]}
        assert set(kinds) == {"zarr", "cog", "thumbnail"}
        assert (site.folder / kinds["zarr"]["href"] / "zarr.json").is_file()
        with rasterio.open(site.folder / kinds["cog"]["href"]) as cog:
            assert cog.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        # checksums: the files' own sha256, computed here
        for kind in ("cog", "thumbnail"):
            assert kinds[kind]["checksums"]["sha256"] == _sha256(site.folder / kinds[kind]["href"])
            assert kinds[kind]["size"] == (site.folder / kinds[kind]["href"]).stat().st_size
        zarr_root = site.folder / kinds["zarr"]["href"] / "zarr.json"
        assert kinds["zarr"]["checksums"]["sha256"] == _sha256(zarr_root)
        assert kinds["zarr"]["files"] == sum(1 for p in (site.folder / kinds["zarr"]["href"]).rglob("*") if p.is_file())
        if props["product"] == "water":
            assert set(props["areas_ha"]) >= {"water", "not_water", "nodata"} and "value" not in props
            assert sum(props["areas_ha"].values()) == pytest.approx(800 * 800 * 0.01, rel=1e-3)
        else:
            assert props["value"] == pytest.approx(stats["mean"], abs=1e-6) and props["parameters"] == {}
            assert props["provenance"]["inputs"] == item["properties"]["landpulse:inputs"]
    summaries = {c["id"]: c for c in doc["landpulse"]["collections"]}
    assert summaries["ndvi"]["items"] == 2 and summaries["water"]["items"] == 1
    assert summaries["ndvi"]["tiles"] == ["18SVG"] and summaries["ndvi"]["first"] < summaries["ndvi"]["last"]
    assert (site.folder / summaries["ndvi"]["href"]).resolve() == real_store / "ndvi" / "collection.json"


def test_legends_are_the_colours_of_the_thumbnails(real_store: Path) -> None:
    index = read_catalogue(real_store)
    water = index.legends["water"]
    da = landpulse.open_product(next(real_store.glob("water/*/*/water.zarr")))["water"]
    assert water["kind"] == "classes"
    assert [c["value"] for c in water["classes"]] == [int(v) for v in np.atleast_1d(da.attrs["flag_values"])]
    assert [c["name"] for c in water["classes"]] == [m.replace("_", " ") for m in str(da.attrs["flag_meanings"]).split()]
    # every class present in the stored map is drawn in its legend colour in the thumbnail (PIL reads it)
    thumb = np.asarray(Image.open(next(real_store.glob("water/*/*/thumbnail.png"))).convert("RGBA"))
    colours = {tuple(int(c["colour"][i:i + 2], 16) for i in (1, 3, 5)): c["value"] for c in water["classes"]}
    opaque = thumb[thumb[..., 3] == 255][:, :3]
    seen = {tuple(int(v) for v in px) for px in np.unique(opaque, axis=0)}
    assert seen <= set(colours) and len(seen) >= 2, (seen, colours)
    ndvi = index.legends["ndvi"]
    assert ndvi["kind"] == "ramp" and (ndvi["min"], ndvi["max"]) == (-1.0, 1.0) and len(ndvi["colours"]) >= 5


def test_assets_are_found_by_media_type_and_role_not_by_key(real_store: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    shutil.copytree(real_store, store, ignore=shutil.ignore_patterns("browse"))
    item_path = next(store.glob("ndvi/*/*/item.json"))
    item = json.loads(item_path.read_text())
    item["assets"] = {{"data": "ndvi_zarr", "cog": "ndvi", "quicklook": "preview"}.get(k, k): v
                      for k, v in item["assets"].items()}
    item_path.write_text(json.dumps(item))
    feature = next(f for f in read_catalogue(store).features if f["id"] == item["id"])
    kinds = {a["kind"]: a["key"] for a in feature["properties"]["assets"]}
    assert kinds == {"zarr": "ndvi_zarr", "cog": "ndvi", "thumbnail": "preview"}
    assert asset_kind({"type": "image/tiff; application=geotiff", "roles": ["data"]}) == "geotiff"
    assert asset_kind({"type": "application/json", "roles": ["metadata"]}) == "other"


def test_a_broken_link_is_reported_and_the_rest_is_shown(real_store: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    shutil.copytree(real_store, store, ignore=shutil.ignore_patterns("browse"))
    gone = next(store.glob("ndvi/*/*/item.json"))
    gone.unlink()
    site = write_site(store, basemap=None)
    assert site.items == 2 and len(site.problems) == 1 and gone.parent.name in site.problems[0]


def test_bad_input_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(InputError, match="no catalog.json"):
        write_site(tmp_path)
    (tmp_path / "catalog.json").write_text("{not json")
    with pytest.raises(InputError, match="unreadable STAC catalogue"):
        read_catalogue(tmp_path)
    assert main(["browse", str(tmp_path / "nowhere")]) == 2
    assert "landpulse: error:" in capsys.readouterr().err
    with pytest.raises(InputError, match="XYZ tile URL"):
        write_site(tmp_path, basemap="https://example.invalid/tiles.png")


def test_the_page_is_self_contained() -> None:
    page = render_page("t", {"basemap": None, "index": "items.js"})
    lowered = page.lower()
    # one external script, the index beside it; no stylesheet, font or script from elsewhere
    assert lowered.count("<script src=") == 1 and '<script src="items.js">' in lowered
    assert "<link rel=\"stylesheet\"" not in lowered and "@import" not in lowered and "//cdn" not in lowered
    assert "http://" not in lowered and "https://" not in lowered.replace("https://tile.openstreetmap.org", "")


def test_browse_command_and_the_run_hook(real_store: Path, tmp_path: Path, sample_store: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["browse", str(real_store), "--out", str(tmp_path / "site"), "--basemap", "none"])
    out = capsys.readouterr().out
    assert code == 0 and f"product browser: {tmp_path / 'site' / 'index.html'} (3 item(s) in 2 collection(s)" in out
    assert json.loads((tmp_path / "site" / "index.html").read_text().split('type="application/json">')[1]
                      .split("</script>")[0])["basemap"] is None
    # output.browse: written after the catalogue; a run with nothing new leaves it untouched
    out_dir = tmp_path / "run"
    job = parse_job(job_dict(sample_store, out_dir, output={"store": str(out_dir / "products"), "browse": True,
                                                            "fsync": False}))
    lines: list[str] = []
    assert run_job(job, echo=lines.append).exit_code == 0
    page = out_dir / "products" / "browse" / "index.html"
    assert page.is_file() and any(line.startswith(f"product browser: {page}") for line in lines)
    before = {p: p.stat().st_mtime_ns for p in page.parent.iterdir()}
    lines.clear()
    assert run_job(job, echo=lines.append).status == "nothing-to-do"
    assert {p: p.stat().st_mtime_ns for p in page.parent.iterdir()} == before
    assert not any("product browser" in line for line in lines)


# ------------------------------------------------------------------------------------------------
# the page in a real browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    find_browser()
    with chromium() as driver:
        yield driver


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def http_root() -> Iterator[Any]:
    """A static web server on 127.0.0.1 over a folder (set ``.root``), stopped after the test."""

    class Server:
        root = Path(".")
        requests: list[str] = []
        port = 0

    server = Server()

    class Handler(_Quiet):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(server.root), **kwargs)

        def do_GET(self) -> None:
            server.requests.append(self.path)
            super().do_GET()

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    server.port = httpd.server_address[1]
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()


def _png(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(BytesIO(data)).convert("RGB"))


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16)


def _has_colour(img: np.ndarray, colour: tuple[int, int, int], tol: int = 2) -> int:
    return int(np.count_nonzero(np.all(np.abs(img.astype(int) - np.array(colour)) <= tol, axis=-1)))


def _save(driver: Any, folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    driver.save_screenshot(str(path))
    return path


def _requests(driver: Any) -> list[str]:
    return list(driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)"))


def _map_is_drawn(driver: Any, colours: list[str]) -> np.ndarray:
    """Screenshot of the map canvas: not blank (footprints cover much of it) and the footprints'
    stroke colours present."""
    img = _png(driver.find_element("id", "map").screenshot_as_png)
    plain = np.all(img == np.array(BACKGROUND), axis=-1) | np.all(img == np.array(GRATICULE), axis=-1)
    assert plain.mean() < 0.8, f"map is {plain.mean():.0%} plain background"
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 5
    for c in colours:
        assert _has_colour(img, _rgb(c)) > 20, c
    return img


def _legend_present(driver: Any, names: list[str], colours: list[str]) -> None:
    legend = driver.find_element("id", "legend")
    assert legend.is_displayed()
    entries = legend.find_elements("css selector", "li[data-product]")
    assert [e.get_attribute("data-product") for e in entries] == names and [e.text for e in entries] == names
    img = _png(legend.screenshot_as_png)
    for c in colours:
        assert _has_colour(img, _rgb(c), tol=1) >= 50, c  # the swatch, 14 x 14 pixels less its border


def _set_input(driver: Any, element_id: str, value: str) -> None:
    driver.execute_script("var e = document.getElementById(arguments[0]); e.value = arguments[1];"
                          "e.dispatchEvent(new Event('input', {bubbles: true}));", element_id, value)


def _choose(driver: Any, element_id: str, text: str) -> None:
    """Pick an option of a select by its text, as a click on it would (a change event)."""
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element("id", element_id)).select_by_visible_text(text)


def _wait_details(driver: Any, item_id: str | None, timeout: float = 10.0) -> None:
    """Wait until the details of ``item_id`` are shown (they load from details/<n>.js)."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(
        lambda d: d.execute_script("return window.landpulseBrowse.detailsFor") == item_id)


def _shown_ids(driver: Any) -> int:
    return int(driver.execute_script("return window.landpulseBrowse.shown"))


def test_10000_generated_items_render_within_2_s_from_at_most_3_requests(tmp_path: Path, browser: Any,
                                                                         http_root: Any) -> None:
    t = time.perf_counter()
    store = generated_catalogue(tmp_path / "generated")  # 4 products x 50 tiles x 50 dates, GENERATED
    generated_s = time.perf_counter() - t
    site = write_site(store, basemap=None)
    assert site.items == 10_000 and site.problems == []
    doc = json.loads(site.index.read_text())
    features = doc["features"]
    numbers: dict[str, Any] = {"items": site.items, "generate_s": round(generated_s, 3), "write_site_s": site.seconds,
                               "index_bytes": site.index.stat().st_size,
                               "items_js_bytes": (site.folder / "items.js").stat().st_size}
    artefacts = tmp_path / "artefacts"
    console_errors(browser)  # drop what earlier pages logged
    http_root.root = store
    for where, url in (("file", site.page.as_uri()), ("http", f"http://127.0.0.1:{http_root.port}/browse/index.html")):
        t = time.perf_counter()
        browser.get(url)
        s = wait_ready(browser)
        numbers[f"{where}_wall_s"] = round(time.perf_counter() - t, 3)
        numbers[f"{where}_render_ms"] = round(s["renderMs"], 1)
        if where == "file":  # resource timing does not list file:// loads: what the page refers to
            requests = ["document", *browser.execute_script(
                "return Array.from(document.querySelectorAll('script[src], img[src], iframe[src], "
                "link[href]:not([href^=\"data:\"])')).map(e => e.src || e.href)")]
        else:
            requests = ["document", *_requests(browser)]
        numbers[f"{where}_requests"] = len(requests)
        assert s["total"] == 10_000 and s["shown"] == 10_000 and s["drawn"] == 10_000 and s["errors"] == []
        assert s["renderMs"] <= 2000, numbers
        assert len(requests) <= 3, requests
        assert console_errors(browser) == []
    assert sorted(http_root.requests) == ["/browse/index.html", "/browse/items.js"]

    colours = s["colours"]
    names = sorted(colours)
    shot = _save(browser, artefacts, "browse-10000.png")
    # the footprints overlap (50 dates of 4 products per tile): the topmost product's stroke shows
    _map_is_drawn(browser, [colours[names[-1]]])
    _legend_present(browser, names, [colours[n] for n in names])
    assert shot.stat().st_size > 10_000

    # filters: each count against the index, counted here
    def expect(pred: Any) -> int:
        return sum(1 for f in features if pred(f["properties"]))

    for name in names[:-1]:
        browser.find_element("id", f"f-product-{name}").click()
    only = names[-1]
    assert _shown_ids(browser) == expect(lambda p: p["product"] == only) == 2500
    _map_is_drawn(browser, [colours[only]])
    _choose(browser, "f-tile", "T007")
    assert _shown_ids(browser) == expect(lambda p: p["product"] == only and p["tile"] == "T007") == 50
    browser.find_element("id", "f-reset").click()
    assert _shown_ids(browser) == 10_000
    _set_input(browser, "f-from", "2024-03-01")
    _set_input(browser, "f-to", "2024-03-31")
    assert _shown_ids(browser) == expect(lambda p: "2024-03-01" <= p["datetime"][:10] <= "2024-03-31") > 0
    browser.find_element("id", "f-reset").click()
    # the time slider, by keyboard: one step right is the first acquisition date
    slider = browser.find_element("id", "f-time")
    slider.send_keys("\ue014")  # ARROW_RIGHT
    first_day = min(f["properties"]["datetime"][:10] for f in features)
    assert browser.find_element("id", "f-time-label").text == first_day
    assert _shown_ids(browser) == expect(lambda p: p["datetime"][:10] == first_day) == 200
    assert state(browser)["drawn"] == 200
    _save(browser, artefacts, "browse-10000-first-date.png")
    _map_is_drawn(browser, [colours[names[-1]]])
    # colour by date: a ramp from the first to the last date (the first date's footprints at its start)
    _choose(browser, "f-colour", "date")
    legend_text = browser.find_element("id", "legend").text
    assert "Acquisition date" in legend_text and first_day in legend_text and s["days"][-1] in legend_text
    _map_is_drawn(browser, ["#440154"])
    # colour by mean value: a ramp legend over the shown items' range
    _choose(browser, "f-colour", "mean value")
    assert "Mean value" in browser.find_element("id", "legend").text
    browser.find_element("id", "f-reset").click()
    # an item opened from the list loads its details: one more request, its chunk of details
    button = browser.find_element("css selector", "#item-list button")
    button.click()
    _wait_details(browser, button.get_attribute("data-id"))
    assert "Provenance" in browser.find_element("id", "details").text
    assert console_errors(browser) == []
    (artefacts / "numbers.json").write_text(json.dumps(numbers, indent=2))
    print(json.dumps(numbers))


def test_a_real_store_in_the_browser_items_links_keyboard_and_alt_text(real_store: Path, tmp_path: Path,
                                                                       browser: Any) -> None:
    site = write_site(real_store, basemap=None)
    doc = json.loads(site.index.read_text())
    console_errors(browser)
    browser.get(site.page.as_uri())
    s = wait_ready(browser)
    assert s["total"] == 3 and s["drawn"] == 3 and console_errors(browser) == []
    artefacts = tmp_path / "artefacts"
    _save(browser, artefacts, "browse-real.png")
    colours = s["colours"]
    img = _map_is_drawn(browser, [colours["water"]])

    # the footprint is where pyproj puts it: the map's centre pixel of each item, from EPSG:3857
    to_3857 = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
    half = 20037508.342789244
    v = s["view"]
    for feature in doc["features"]:
        west, south, east, north = feature["bbox"]
        x, y = to_3857.transform((west + east) / 2, (south + north) / 2)
        wx, wy = (x + half) / (2 * half) * 256, (half - y) / (2 * half) * 256
        sx = (wx - v["cx"]) * 2 ** v["zoom"] + v["w"] / 2
        sy = (wy - v["cy"]) * 2 ** v["zoom"] + v["h"] / 2
        assert 0 <= sx < v["w"] and 0 <= sy < v["h"]
        window = img[int(sy) - 3:int(sy) + 4, int(sx) - 3:int(sx) + 4].reshape(-1, 3)
        px = np.median(window, axis=0)  # (a graticule line may cross the centre)
        alpha = browser.execute_script("return window.landpulseBrowse.fillAlpha")
        # the topmost footprint there is drawn over the background at the fill alpha
        top = colours["water"]
        want = np.array(BACKGROUND) * (1 - alpha) + np.array(_rgb(top)) * alpha
        assert np.abs(px - want).max() <= 3, (px, want)

    # keyboard: Tab from the top reaches the skip link first; the list by arrow keys and Enter
    body = browser.find_element("tag name", "body")
    body.send_keys("\ue004")  # TAB
    assert browser.switch_to.active_element.get_attribute("class") == "skip"
    first = browser.find_element("css selector", "#item-list button")
    first.send_keys("\ue015")  # ARROW_DOWN: focus moves to the next item
    second = browser.switch_to.active_element
    assert second.get_attribute("data-id") != first.get_attribute("data-id")
    second.send_keys("\ue007")  # ENTER
    chosen = second.get_attribute("data-id")
    _wait_details(browser, chosen)
    assert state(browser)["selected"] == chosen and second.get_attribute("aria-current") == "true"
    details = browser.find_element("id", "details")
    assert chosen in details.text
    _save(browser, artefacts, "browse-real-item.png")
    # the product's legend beside its thumbnail: its colours are on screen
    legend = browser.find_element("css selector", "#details .legend")
    assert legend.is_displayed() and "Legend" in legend.text
    lg = doc["landpulse"]["legends"][_product_of(doc, chosen)]
    wanted = [c["colour"] for c in lg["classes"]] if lg["kind"] == "classes" else [lg["colours"][0], lg["colours"][-1]]
    shown = _png(legend.screenshot_as_png)
    assert all(_has_colour(shown, _rgb(c), tol=8) > 0 for c in wanted), wanted
    # the map pans and zooms by keyboard
    canvas = browser.find_element("id", "map")
    before = state(browser)["view"]
    canvas.send_keys("\ue014")  # ARROW_RIGHT
    canvas.send_keys("+")
    after = state(browser)["view"]
    assert after["cx"] > before["cx"] and after["zoom"] > before["zoom"]
    canvas.send_keys("0")

    # alt text on every image; thumbnails loaded (the list is short: all in view)
    images = browser.find_elements("css selector", "img")
    assert images and all(i.get_attribute("alt") for i in images)
    assert all(browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", i) for i in images)

    # every item's links resolve: item, Zarr store, COG, quick-look; then the item link is followed
    for button in browser.find_elements("css selector", "#item-list button"):
        button.click()
        _wait_details(browser, button.get_attribute("data-id"))
        feature = next(f for f in doc["features"] if f["id"] == button.get_attribute("data-id"))
        links = {a.get_attribute("data-kind"): Path(unquote(urlparse(a.get_attribute("href")).path))
                 for a in browser.find_elements("css selector", "#details a[data-kind]")}
        assert set(links) == {"item", "zarr", "cog", "thumbnail"}
        assert json.loads(links["item"].read_text())["id"] == feature["id"]
        assert (links["zarr"] / "zarr.json").is_file() and links["cog"].suffix == ".tif" and links["cog"].is_file()
        sums = browser.find_element("id", "details").text
        cog = next(a for a in feature["properties"]["assets"] if a["kind"] == "cog")
        assert _sha256(links["cog"]) in sums and cog["checksums"]["sha256"] == _sha256(links["cog"])
        text = browser.find_element("id", "details").text
        assert "Provenance" in text and "Parameters" in text and "Valid" in text and "Legend" in text
        if feature["properties"]["product"] == "water":
            assert "Areas per class" in text and "ha" in text
            swatches = browser.find_elements("css selector", "#details .legend .swatch")
            assert len(swatches) == len(doc["landpulse"]["legends"]["water"]["classes"]) + 1
    browser.find_element("css selector", "#details a[data-kind='item']").click()
    assert chosen_id_in_page(browser)
    browser.back()
    wait_ready(browser)
    # collections: one row per product, linking its collection.json
    rows = browser.find_elements("css selector", "#collections tr[data-collection]")
    assert sorted(r.get_attribute("data-collection") for r in rows) == ["ndvi", "water"]
    assert console_errors(browser) == []


def _product_of(doc: dict[str, Any], item_id: str) -> str:
    return str(next(f["properties"]["product"] for f in doc["features"] if f["id"] == item_id))


def chosen_id_in_page(driver: Any) -> bool:
    """The followed item link shows a STAC item (its JSON, in the browser's text view)."""
    doc = json.loads(driver.execute_script("return document.body.innerText.slice(document.body.innerText.indexOf('{'))"))
    return doc.get("type") == "Feature" and bool(doc.get("id"))


def _luminance(rgb: tuple[float, ...]) -> float:
    def channel(c: float) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_text_contrast_meets_wcag_aa(real_store: Path, browser: Any) -> None:
    site = write_site(real_store, basemap=None)
    browser.get(site.page.as_uri())
    wait_ready(browser)
    browser.find_element("css selector", "#item-list button").click()
    pairs = browser.execute_script("""
        function rgb(s) { return s.match(/[\\d.]+/g).map(Number); }
        function bg(e) { while (e) { var c = getComputedStyle(e).backgroundColor; var v = rgb(c);
                         if (v.length < 4 || v[3] > 0) return v; e = e.parentElement; } return [255, 255, 255]; }
        var out = [];
        document.querySelectorAll('h1, h2, h3, p, a, button, label, th, td, legend, #legend li, #attribution').forEach(function (e) {
          if (!e.offsetParent || !e.textContent.trim()) return;
          out.push([e.tagName + '#' + e.id + '.' + e.className, rgb(getComputedStyle(e).color), bg(e)]);
        });
        return out;""")
    assert len(pairs) > 30
    low = [(name, round(_contrast(tuple(fg), tuple(bg)), 2)) for name, fg, bg in pairs if _contrast(tuple(fg), tuple(bg)) < 4.5]
    assert low == []


def test_basemap_when_online_plain_background_when_not(tmp_path: Path, browser: Any, http_root: Any) -> None:
    # one generated tile (flat magenta) served for every z/x/y by a tile server on 127.0.0.1
    tile = BytesIO()
    Image.new("RGB", (256, 256), (255, 0, 255)).save(tile, format="PNG")

    class Tiles(http.server.BaseHTTPRequestHandler):
        hits: list[str] = []

        def do_GET(self) -> None:
            Tiles.hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()
            self.wfile.write(tile.getvalue())

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Tiles)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        store = generated_catalogue(tmp_path / "gen", tiles=4, dates=2)
        url = f"http://127.0.0.1:{httpd.server_address[1]}/{{z}}/{{x}}/{{y}}.png"
        write_site(store, basemap={"url": url, "attribution": "generated test tiles", "max_zoom": 19})
        # the page from a static web server on 127.0.0.1, as a partner would host it
        http_root.root = store
        page = f"http://127.0.0.1:{http_root.port}/browse/index.html"
        console_errors(browser)
        browser.get(page)
        wait_ready(browser)
        deadline = time.time() + 10
        while state(browser)["basemap"] != "tiles" and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(0.3)
        assert state(browser)["basemap"] == "tiles" and Tiles.hits
        img = _png(browser.find_element("id", "map").screenshot_as_png)
        assert _has_colour(img, (255, 0, 255)) > 1000  # the tiles are drawn where no footprint is
        assert browser.find_element("id", "attribution").text == "generated test tiles"
        _save(browser, tmp_path / "artefacts", "browse-basemap.png")
        assert console_errors(browser) == []
    finally:
        httpd.shutdown()
        httpd.server_close()
    # offline (the tile server is gone): the plain background, and the page says so
    browser.get(page)
    wait_ready(browser)
    deadline = time.time() + 10
    while "offline" not in browser.find_element("id", "attribution").text and time.time() < deadline:
        time.sleep(0.1)
    assert "offline" in browser.find_element("id", "attribution").text
    img = _png(browser.find_element("id", "map").screenshot_as_png)
    assert _has_colour(img, (255, 0, 255)) == 0 and _has_colour(img, BACKGROUND, tol=0) > 1000
    _save(browser, tmp_path / "artefacts", "browse-offline.png")
    # the only console errors are the failed tile loads
    assert console_errors(browser, allow=(f"127.0.0.1:{httpd.server_address[1]}",)) == []


def test_thumbnails_load_lazily(tmp_path: Path, browser: Any) -> None:
    store = generated_catalogue(tmp_path / "gen", tiles=30, dates=10, products=("ndvi",), thumbnails=True)  # 300 generated
    site = write_site(store, basemap=None)
    browser.get(site.page.as_uri())
    wait_ready(browser)
    time.sleep(0.5)

    def loaded() -> int:  # thumbnails given a src (requested); file:// loads are not in resource timing
        return int(browser.execute_script("return document.querySelectorAll('#item-list img[src]').length"))

    listed = len(browser.find_elements("css selector", "#item-list li"))
    first = loaded()
    assert listed == 100 and 0 < first < listed, (first, listed)
    browser.execute_script("document.getElementById('items').scrollTop = 1e6")
    deadline = time.time() + 5
    while loaded() <= first and time.time() < deadline:
        time.sleep(0.1)
    assert loaded() > first
    assert console_errors(browser) == []
