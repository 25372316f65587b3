"""Window units in production runs (issue 13) on the real Bolzano Sentinel-2 L2A series.

The Bolzano store (../shared/data, 12 real dates in June 2022, SCL masks) is copied date by date
(a 300 x 400 pixel crop over the city and the Adige/Isarco confluence, to keep the tests fast)
into a landpulse store with scene ids (``S2_32TPS_<date>``, named here: the openEO export has
none), so scenes can be appended as they would arrive. Every product is compared with the
library function it stands for, on the same scenes: ``landpulse.change.composite``,
``landpulse.water.summary``, ``numpy.nanpercentile`` for percentiles.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely.geometry
import xarray as xr

import landpulse
from landpulse import change, water
from landpulse.io.products import open_product
from landpulse.io.store import append_zarr, write_zarr
from landpulse.production.jobspec import JobSpecError, parse_job
from landpulse.production.run import run_job
from tests.support import BOLZANO, REPO, skip_or_fail
from tests.support.series import leftovers, snapshot, store_digest, temp_folders, wait_for, write_job

pytestmark = pytest.mark.shared_data

TILE = "32TPS"
RADIOMETRY = {"scale": 1e-4, "offset": 0.0, "bands": ["B02", "B03", "B04", "B08"]}
#: planning time inside the third dekad of June 2022: D1 and D2 closed, D3 and the month open
NIGHT = dt.datetime(2022, 6, 26)
PLUGINS = ["tests.support.fault_plugins"]
CROP_Y, CROP_X = slice(300, 600), slice(300, 700)
CHUNKS = {"t": 1, "y": 150, "x": 200}


def _bolzano() -> xr.Dataset:
    if not BOLZANO.exists():
        skip_or_fail("shared_data", f"shared data not found at {BOLZANO}")
    ds = landpulse.open_store(BOLZANO).isel(y=CROP_Y, x=CROP_X)
    ids = [f"S2_{TILE}_{np.datetime_as_string(t, unit='D').replace('-', '')}" for t in ds.t.values]
    return ds.assign_coords(scene_id=("t", np.array(ids, dtype=object)))


def bolzano_store(path: Path, dates: range) -> Path:
    """The real Bolzano dates ``dates`` in a landpulse store (written, or appended when it exists)."""
    ds = _bolzano().isel(t=list(dates))
    if path.exists():
        append_zarr(ds.chunk(CHUNKS), path, dim="t")
        return path
    return write_zarr(ds, path, chunks=CHUNKS)


def reference_stack(dates: list[int]) -> xr.Dataset:
    return landpulse.declare_radiometry(_bolzano().isel(t=dates), **RADIOMETRY)  # type: ignore[arg-type]


def window_job(store: Path, out: Path, products: list[Any], **over: Any) -> dict[str, Any]:
    job: dict[str, Any] = {
        "name": "windows",
        "inputs": {"kind": "zarr", "stores": [{"path": str(store), "tile": TILE}], "radiometry": RADIOMETRY},
        "products": products,
        "output": {"store": str(out / "products"), "reports": str(out / "reports"), "encoding": "float32"},
        "cluster": {"kind": "threads", "n_workers": 2},
    }
    job.update(over)
    return job


def quiet(_: str) -> None:
    pass


def unit_values(store: Path, product: str, period: str) -> xr.DataArray:
    return open_product(store / product / TILE / period / f"{product}.zarr")[product].load()


def item_of(store: Path, product: str, period: str) -> dict[str, Any]:
    return json.loads((store / product / TILE / period / "item.json").read_text())


@pytest.fixture(scope="module")
def series(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bolzano_store(tmp_path_factory.mktemp("bolzano") / "bolzano.zarr", range(12))


@pytest.fixture(scope="module")
def computed(series: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("windows")
    job = parse_job(window_job(series, out, [
        {"name": "index_composite", "window": {"kind": "dekad"}},
        {"name": "clear_count", "window": {"kind": "dekad"}},
        {"name": "water_frequency", "window": {"kind": "month"}},
        {"name": "water_wet", "window": {"kind": "month"}},
        {"name": "water_clear", "window": {"kind": "month"}},
        {"name": "trend_slope", "window": {"kind": "month"}},
        {"name": "trend_class", "window": {"kind": "month"}, "params": {"alpha": 0.1}},
    ]))
    result = run_job(job, echo=quiet, now=NIGHT)
    assert result.exit_code == 0, [u.error for u in result.failed]
    # 3 dekads x 2 products + the month x 5 products
    assert sorted(u.unit for u in result.units) == sorted(
        [f"{p}_{TILE}_2022-06-D{k}" for p in ("index_composite", "clear_count") for k in (1, 2, 3)]
        + [f"{p}_{TILE}_2022-06" for p in ("water_frequency", "water_wet", "water_clear", "trend_slope", "trend_class")])
    return out / "products"


#: the Bolzano dates of each dekad of June 2022 (02 05 07 10 | 12 15 17 20 | 22 25 27 30)
DEKADS = {1: [0, 1, 2, 3], 2: [4, 5, 6, 7], 3: [8, 9, 10, 11]}


@pytest.mark.parametrize("k", [1, 2, 3])
def test_dekad_composites_equal_the_library_composite(computed: Path, k: int) -> None:
    stack = reference_stack(DEKADS[k])
    series_ndvi = landpulse.ndvi(stack, mask="auto")
    expected = change.composite(series_ndvi, "median")
    np.testing.assert_array_equal(unit_values(computed, "index_composite", f"2022-06-D{k}").values,
                                  expected["ndvi"].values)
    np.testing.assert_array_equal(unit_values(computed, "clear_count", f"2022-06-D{k}").values,
                                  expected["n_obs"].values)
    assert np.isfinite(expected["ndvi"].values).mean() > 0.5  # the comparison is about real values


def test_month_water_summary_equals_water_summary(computed: Path) -> None:
    expected = water.summary(water.index_water(reference_stack(list(range(12)))))
    for product, var in (("water_frequency", "frequency"), ("water_wet", "wet_count"), ("water_clear", "clear_count")):
        np.testing.assert_array_equal(unit_values(computed, product, "2022-06").values, expected[var].values)
    assert (expected["wet_count"].values > 0).sum() > 100  # the rivers


def test_chunking_never_changes_a_window_unit(computed: Path, tmp_path: Path) -> None:
    """Another input chunking (time 3, 100 x 128) and output chunks of 128: the same values."""
    ds = _bolzano().isel(t=DEKADS[2])
    store = write_zarr(ds, tmp_path / "rechunked.zarr", chunks={"t": 3, "y": 100, "x": 128})
    job = window_job(store, tmp_path, [{"name": "index_composite", "window": {"kind": "dekad"}},
                                       {"name": "water_frequency", "window": {"kind": "month"}}])
    job["output"]["chunk"] = 128
    assert run_job(parse_job(job), echo=quiet, now=NIGHT).exit_code == 0
    np.testing.assert_array_equal(unit_values(tmp_path / "products", "index_composite", "2022-06-D2").values,
                                  unit_values(computed, "index_composite", "2022-06-D2").values)
    expected = water.summary(water.index_water(reference_stack(DEKADS[2])))["frequency"].values
    np.testing.assert_array_equal(unit_values(tmp_path / "products", "water_frequency", "2022-06").values, expected)


def test_window_items_carry_their_window(computed: Path) -> None:
    item = item_of(computed, "water_frequency", "2022-06")
    props = item["properties"]
    # its time is its observation window, never the processing time
    assert props["datetime"] is None
    assert (props["start_datetime"], props["end_datetime"]) == ("2022-06-01T00:00:00Z", "2022-06-30T23:59:59Z")
    assert props["landpulse:window"] == {"kind": "month", "label": "2022-06", "start": "2022-06-01T00:00:00Z",
                                         "end": "2022-07-01T00:00:00Z"}
    assert props["landpulse:provisional"] is True  # planned on 26 June
    assert props["landpulse:inputs"] == [f"S2_{TILE}_202206{d:02d}" for d in (2, 5, 7, 10, 12, 15, 17, 20, 22, 25, 27, 30)]
    d1 = item_of(computed, "index_composite", "2022-06-D1")["properties"]
    assert d1["landpulse:provisional"] is False and d1["landpulse:inputs"] == [
        f"S2_{TILE}_202206{d:02d}" for d in (2, 5, 7, 10)]


def test_window_cogs_load_along_time(series: Path, tmp_path: Path) -> None:
    """One collection per product, one item per window, loaded by odc-stac along time: the times
    are the windows' starts (odc-stac's nominal time of an item without ``datetime``)."""
    odc_stac = pytest.importorskip("odc.stac")
    import pystac

    job = window_job(series, tmp_path, [{"name": "clear_count", "window": {"kind": "dekad"}}])
    job["output"]["cog"] = True
    assert run_job(parse_job(job), echo=quiet, now=NIGHT).exit_code == 0
    store = tmp_path / "products"
    coll = pystac.Collection.from_file(str(store / "clear_count" / "collection.json"))
    items = list(coll.get_items())
    assert sorted(i.id for i in items) == [f"clear_count_{TILE}_2022-06-D{k}" for k in (1, 2, 3)]
    loaded = odc_stac.load(items, bands=["clear_count"], chunks={}, groupby="time")
    assert list(loaded.time.values) == [np.datetime64(f"2022-06-{d:02d}", "ns") for d in (1, 11, 21)]
    for k, day in ((1, 1), (2, 11), (3, 21)):
        np.testing.assert_array_equal(loaded["clear_count"].sel(time=np.datetime64(f"2022-06-{day:02d}", "ns")).values,
                                      unit_values(store, "clear_count", f"2022-06-D{k}").values)


def test_percentile_and_max_composites() -> None:
    """The other composite methods of the product (its median runs in production above)."""
    from landpulse.products.temporal import index_composite

    first_half = reference_stack([0, 1, 2, 3, 4, 5])
    got = index_composite(first_half, method="percentile", q=90, index="ndwi").values
    series_ndwi = landpulse.indices(first_half, ["ndwi"], mask="auto")["ndwi"].values
    with warnings.catch_warnings():  # all-NaN pixels give NaN, with a RuntimeWarning
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = np.nanpercentile(series_ndwi, 90, axis=0)
        maxima = np.nanmax(landpulse.ndvi(first_half, mask="auto").values, axis=0)
    np.testing.assert_allclose(got, expected.astype(np.float32), rtol=1e-6, atol=1e-7, equal_nan=True)
    # max-NDVI: the largest valid NDVI of the window
    np.testing.assert_array_equal(index_composite(first_half, method="max").values, maxima)


def test_trend_products_equal_theil_sen(computed: Path) -> None:
    ndvi = landpulse.ndvi(reference_stack(list(range(12))), mask="auto")
    np.testing.assert_array_equal(unit_values(computed, "trend_slope", "2022-06").values,
                                  change.theil_sen(ndvi)["slope"].values)
    classes = change.theil_sen(ndvi, alpha=0.1)["trend"].values
    stored = unit_values(computed, "trend_class", "2022-06").values  # CF-decoded: 255 -> NaN
    np.testing.assert_array_equal(np.where(np.isnan(stored), 255, stored), classes)
    assert {1, 2} <= set(np.unique(classes))  # June greening and drying both occur


def test_a_scene_in_an_open_window_recomputes_exactly_its_units(tmp_path: Path) -> None:
    store = bolzano_store(tmp_path / "scenes.zarr", range(10))  # up to 25 June
    products = [{"name": "index_composite", "window": {"kind": "dekad"}},
                {"name": "water_frequency", "window": {"kind": "month"}}]
    job = parse_job(window_job(store, tmp_path, products))
    first = run_job(job, echo=quiet, now=NIGHT)
    assert first.exit_code == 0 and len(first.units) == 4  # D1 D2 D3, the month
    out = tmp_path / "products"
    closed = {p: snapshot(out / "index_composite" / TILE / p) for p in ("2022-06-D1", "2022-06-D2")}

    bolzano_store(store, range(10, 11))  # 27 June arrives: in D3 and the month
    second = run_job(job, echo=quiet, now=dt.datetime(2022, 6, 28))
    assert second.exit_code == 0
    assert sorted((u.unit, u.status) for u in second.units) == [
        (f"index_composite_{TILE}_2022-06-D3", "replaced"), (f"water_frequency_{TILE}_2022-06", "replaced")]
    assert all(snapshot(out / "index_composite" / TILE / p) == s for p, s in closed.items())  # never touched
    d3 = item_of(out, "index_composite", "2022-06-D3")["properties"]
    assert d3["landpulse:inputs"] == [f"S2_{TILE}_202206{d:02d}" for d in (22, 25, 27)] and d3["landpulse:provisional"]
    np.testing.assert_array_equal(unit_values(out, "index_composite", "2022-06-D3").values,
                                  change.composite(landpulse.ndvi(reference_stack([8, 9, 10]), mask="auto"))["ndvi"].values)

    before = snapshot(out)
    third = run_job(job, echo=quiet, now=dt.datetime(2022, 6, 28))
    assert third.status == "nothing-to-do" and third.units == [] and snapshot(out) == before  # writes nothing

    # July: the open windows closed; their provisional units are made final once, then left alone
    fourth = run_job(job, echo=quiet, now=dt.datetime(2022, 7, 2))
    assert sorted(u.unit for u in fourth.units) == [f"index_composite_{TILE}_2022-06-D3", f"water_frequency_{TILE}_2022-06"]
    assert item_of(out, "water_frequency", "2022-06")["properties"]["landpulse:provisional"] is False
    before = snapshot(out)
    assert run_job(job, echo=quiet, now=dt.datetime(2022, 7, 3)).units == [] and snapshot(out) == before


def test_a_failing_scene_fails_only_its_windows(tmp_path: Path) -> None:
    store = bolzano_store(tmp_path / "scenes.zarr", range(12))
    job = parse_job(window_job(store, tmp_path, [
        {"name": "slow_composite", "window": {"kind": "dekad"}, "params": {"delay": 0.0, "fail_scene": f"S2_{TILE}_20220615"}}],
        plugins=PLUGINS))
    result = run_job(job, echo=quiet, now=NIGHT)
    assert result.exit_code == 4
    assert {u.period: u.status for u in result.units} == {"2022-06-D1": "written", "2022-06-D2": "failed",
                                                          "2022-06-D3": "written"}
    assert "S2_32TPS_20220615" in (result.failed[0].error or "")
    assert leftovers(tmp_path / "products") == []


def test_sigkill_during_a_window_unit_then_rerun_is_bit_identical(tmp_path: Path) -> None:
    store = bolzano_store(tmp_path / "scenes.zarr", range(12))
    products = [{"name": "slow_composite", "window": {"kind": "dekad"}, "params": {"delay": 0.1}}]
    ref_job = window_job(store, tmp_path / "ref", products, plugins=PLUGINS)
    assert run_job(parse_job(ref_job), echo=quiet).exit_code == 0
    reference = store_digest(tmp_path / "ref" / "products")
    assert sum(r.endswith("item.json") for r in reference) == 3

    spec = write_job(tmp_path / "job.yaml", window_job(store, tmp_path, products, plugins=PLUGINS))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "landpulse.cli", "run", str(spec)]
    out = tmp_path / "products"
    with (tmp_path / "killed.log").open("w") as log:
        proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: bool(temp_folders(out)), timeout=120, what="a window unit being written")
    finally:
        proc.kill()
        proc.wait(timeout=60)
    assert proc.returncode == -9, (tmp_path / "killed.log").read_text()
    committed = len(list(out.glob("*/*/*/item.json")))
    assert committed < 3
    rerun = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert f"{3 - committed} unit(s) to compute, {committed} already committed" in rerun.stdout
    assert store_digest(out) == reference
    assert leftovers(out) == []


def test_window_specs_are_validated() -> None:
    base = window_job(Path("s.zarr"), Path("o"), [])
    for product, message in (
        ({"name": "ndvi", "window": {"kind": "month"}}, "is a scene product"),
        ({"name": "index_composite", "window": {"kind": "fortnight"}}, "unknown window kind 'fortnight'"),
        ({"name": "index_composite", "window": {"kind": "reference", "start": "2022-06-30", "end": "2022-06-01"}},
         "is before start"),
        ({"name": "index_composite", "params": {"method": "mean"}}, "must be one of"),
        ({"name": "water_change", "window": {"kind": "month"}}, "needs a `baseline` window"),
        ({"name": "water_change", "baseline": {"kind": "reference", "start": "2022-06-01", "end": "2022-06-15"}},
         "needs a `window`"),
        ({"name": "water_change", "window": {"kind": "month"}, "baseline": {"kind": "month"}}, "one fixed window"),
        ({"name": "index_composite", "window": {"kind": "month"},
          "baseline": {"kind": "reference", "start": "2022-06-01", "end": "2022-06-15"}},
         "is for comparison and monitoring products"),
        ({"name": "bfast_break_date"}, "needs `baseline`, its stable history window"),
    ):
        with pytest.raises(JobSpecError, match=None) as info:
            parse_job({**base, "products": [product]})
        assert message in str(info.value), str(info.value)
    job = parse_job({**base, "products": [{"name": "water_frequency", "window": "season"}]})
    assert job.products[0].window_spec == {"kind": "season"}
    assert parse_job({**base, "products": ["water_frequency"]}).products[0].window_spec == {"kind": "all"}


def test_comparison_products_of_two_windows(series: Path, tmp_path: Path) -> None:
    """Water change, dNDVI and the z-score anomaly of the second half of June against the first
    (baseline 1-15 June: six dates; current 16-30 June: six dates), and dNDVI around an event."""
    baseline = {"kind": "reference", "start": "2022-06-01", "end": "2022-06-15", "label": "early"}
    late = {"kind": "range", "ranges": [{"start": "2022-06-16", "end": "2022-06-30", "label": "late"}]}
    job = window_job(series, tmp_path, [
        {"name": "water_change", "window": late, "baseline": baseline},
        {"name": "index_anomaly", "window": late, "baseline": baseline},
        {"name": "dndvi_composite", "window": {"kind": "event", "date": "2022-06-16", "pre_days": 15, "post_days": 15}},
    ])
    result = run_job(parse_job(job), echo=quiet, now=NIGHT)
    assert result.exit_code == 0, [u.error for u in result.failed]
    out = tmp_path / "products"
    early, later = reference_stack(list(range(6))), reference_stack(list(range(6, 12)))

    expected = water.compare(water.summary(water.index_water(early)), water.summary(water.index_water(later)))
    got = unit_values(out, "water_change", "late_vs_early").values  # CF-decoded: 255 -> NaN
    np.testing.assert_array_equal(np.where(np.isnan(got), 255, got), expected["water_change"].values)
    item = item_of(out, "water_change", "late_vs_early")["properties"]
    assert item["landpulse:baseline"]["label"] == "early" and item["landpulse:window"]["label"] == "late"
    assert len(item["landpulse:inputs"]) == 12 and item["landpulse:provisional"] is True
    pixel_ha = 10 * 10 / 1e4
    areas = item["landpulse:stats"]["areas_ha"]
    assert abs(areas["stable_water"] - (expected["water_change"].values == 1).sum() * pixel_ha) < 1e-6
    # the changes as polygons: one per patch of new or of lost water, every such pixel in one
    folder = out / "water_change" / TILE / "late_vs_early"
    feats = json.loads((folder / "alerts.geojson").read_text())["features"]
    assert item_of(out, "water_change", "late_vs_early")["assets"]["alerts"]["type"] == "application/geo+json"
    for code, name in ((2, "new_water"), (3, "lost_water")):
        mine = [f["properties"] for f in feats if f["properties"]["class"] == name]
        assert sum(p["pixels"] for p in mine) == int((expected["water_change"].values == code).sum())
        assert item["landpulse:stats"]["alerts"]["hectares"][name] == pytest.approx(areas[name], abs=1e-3)
    assert {f["properties"]["class"] for f in feats} <= {"new_water", "lost_water"} and feats
    assert item["landpulse:stats"]["alerts"]["patches"] == len(feats)

    # the anomaly, by hand: (median of the current window - baseline mean) / baseline sample std
    base = landpulse.ndvi(early, mask="auto").values.astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        current = np.nanmedian(landpulse.ndvi(later, mask="auto").values, axis=0)
        n = np.isfinite(base).sum(axis=0)
        z = (current - np.nanmean(base, axis=0)) / np.nanstd(base, axis=0, ddof=1)
    z[(n < 2) | ~np.isfinite(z)] = np.nan
    np.testing.assert_allclose(unit_values(out, "index_anomaly", "late_vs_early").values, z, rtol=1e-4, atol=1e-5,
                               equal_nan=True)

    pre = change.composite(landpulse.ndvi(reference_stack([0, 1, 2, 3, 4, 5]), mask="auto"))["ndvi"]
    post = change.composite(landpulse.ndvi(later, mask="auto"))["ndvi"]
    np.testing.assert_array_equal(unit_values(out, "dndvi_composite", "post-20220616_vs_pre-20220616").values,
                                  change.difference(pre, post)["difference"].values)


def _decimal_year(day: dt.date) -> float:
    """Decimal year of a date at 00:00 (days since 1 January / days in the year), as BFAST's dates."""
    start = dt.date(day.year, 1, 1)
    return day.year + (day - start).days / (dt.date(day.year + 1, 1, 1) - start).days


def test_bfast_monitor_night_by_night_equals_one_run(series: Path, tmp_path: Path) -> None:
    """A fixed history (1-20 June, eight dates) and a monitoring period grown one real scene a night
    (22, 25, 27, 30 June): the last night's break map equals one run over the whole series, and each
    night reports exactly the breaks that night's scene brought (dated that night's scene).

    The model (one harmonic, no trend, h = 0.5) is fitted on three weeks of June: a test of the
    nightly mechanics on real observations, not a land-cover change study."""
    history = {"kind": "reference", "start": "2022-06-01", "end": "2022-06-20", "label": "history"}
    products = [{"name": "bfast_break_date", "baseline": history, "params": {"order": 1, "trend": False, "h": 0.5}}]
    once = tmp_path / "once"
    assert run_job(parse_job(window_job(series, once, products)), echo=quiet).exit_code == 0
    expected = unit_values(once / "products", "bfast_break_date", "monitor-20220621").values

    store = bolzano_store(tmp_path / "growing.zarr", range(9))  # the history and 22 June
    job = parse_job(window_job(store, tmp_path, products))
    reported = 0
    for night, day in enumerate((22, 25, 27, 30)):
        if night:
            bolzano_store(store, range(8 + night, 9 + night))
        result = run_job(job, echo=quiet)
        assert result.exit_code == 0 and len(result.units) == 1, [u.error for u in result.failed]
        (alerts,) = result.report["new_breaks"]
        values = unit_values(tmp_path / "products", "bfast_break_date", "monitor-20220621").values
        # every new break is dated this night's scene
        assert set(alerts["dates"]) <= {f"{np.float32(_decimal_year(dt.date(2022, 6, day))):.6f}"}  # stored as float32, (day, alerts["dates"])
        assert alerts["pixels"] == int(np.isfinite(values).sum()) - reported
        assert alerts["hectares"] == pytest.approx(alerts["pixels"] * 0.01)
        # the same breaks as polygons a person can act on: one per patch, in the unit's folder and item
        (folder,) = (tmp_path / "products" / "bfast_break_date").glob("*/monitor-20220621")
        doc = json.loads((folder / "alerts.geojson").read_text())
        item = json.loads((folder / "item.json").read_text())
        assert item["assets"]["alerts"]["href"] == "./alerts.geojson"
        assert item["assets"]["alerts"]["type"] == "application/geo+json"
        feats = doc["features"]
        assert len(feats) == alerts["patches"] and sum(f["properties"]["pixels"] for f in feats) == alerts["pixels"]
        assert all(f["properties"]["hectares"] == pytest.approx(f["properties"]["pixels"] * 0.01) for f in feats)
        lon0, lat0, lon1, lat1 = item["bbox"]
        for f in feats:
            shape = shapely.geometry.shape(f["geometry"])
            assert shape.is_valid and shape.within(shapely.geometry.box(lon0, lat0, lon1, lat1).buffer(1e-6))
            assert f"{np.float32(f['properties']['median']):.6f}" in alerts["dates"]
        reported += alerts["pixels"]
        assert run_job(job, echo=quiet).units == []  # nothing new: nothing written, no alert
    assert reported > 1000  # breaks were found, night after night
    np.testing.assert_array_equal(values, expected)
