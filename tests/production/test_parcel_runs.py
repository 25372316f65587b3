"""Nightly parcel statistics under the ledger: only new dates are computed and committed, the item
last; a rerun writes nothing; an interrupted run leaves committed units or nothing. Raster: the real
Bolzano series; parcels: GENERATED."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import landpulse.production.parcels as runs
from landpulse.parcels import generate_parcels, zonal_stats
from landpulse.production.ledger import verify_unit
from landpulse.production.parcels import read_parcel_series, run_parcel_stats
from tests.support.series import write_bolzano_tiles


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, p.stat().st_size) for p in root.rglob("*") if p.is_file()}


@pytest.fixture()
def fields_file(tmp_path: Path) -> Path:
    fields = generate_parcels((676000, 5149000, 683000, 5154000), 40, crs="EPSG:32632", seed=11)
    path = tmp_path / "fields.gpkg"
    fields.to_file(path)
    return path


def test_nightly_runs_append_only_the_new_dates(bolzano: xr.Dataset, fields_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "products"
    first = run_parcel_stats(bolzano.isel(t=slice(0, 8)), fields_file, out, tile="32TPS")
    assert len(first.committed) == 8 and first.skipped == 0
    assert all(verify_unit(p) == [] for p in first.committed)
    before = _snapshot(out)
    second = run_parcel_stats(bolzano, fields_file, out, tile="32TPS")  # four new dates arrived
    assert len(second.committed) == 4 and second.skipped == 8
    after = _snapshot(out)
    assert {k: v for k, v in after.items() if k in before} == before  # the first eight untouched
    third = run_parcel_stats(bolzano, fields_file, out, tile="32TPS")
    assert third.wrote_nothing and third.skipped == 12 and _snapshot(out) == after  # nothing written
    series = read_parcel_series(out, "ndvi", "32TPS")
    assert len(series) == 12 * 40 and series.t.is_monotonic_increasing
    # the same numbers as one zonal_stats over the masked series
    from landpulse.products.indices import indices

    prod = indices(bolzano, ["ndvi"], mask="auto")
    ref = zonal_stats(prod["ndvi"].where(prod["mask"] == 0).astype(np.float32).compute(),
                      runs.read_parcels(fields_file))
    pd.testing.assert_series_equal(series.sort_values(["t", "parcel_id"])["mean"].reset_index(drop=True),
                                   ref.sort_values(["t", "parcel_id"])["mean"].reset_index(drop=True))


def test_an_interrupted_run_commits_whole_units_and_the_rerun_finishes(bolzano: xr.Dataset, fields_file: Path,
                                                                       tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "products"
    real = runs.write_item
    calls = {"n": 0}

    def failing(item, path):  # the third unit's commit marker fails (disk full, a kill)
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("no space left on device")
        return real(item, path)

    monkeypatch.setattr(runs, "write_item", failing)
    with pytest.raises(OSError, match="no space"):
        run_parcel_stats(bolzano.isel(t=slice(0, 5)), fields_file, out, tile="32TPS")
    unit = out / "parcels-ndvi" / "32TPS"
    assert sorted(p.name for p in unit.iterdir()) == sorted(
        p.name for p in unit.iterdir() if not p.name.startswith("."))  # no temporary folder left
    assert len([p for p in unit.iterdir() if (p / "item.json").is_file()]) == 2
    monkeypatch.setattr(runs, "write_item", real)
    again = run_parcel_stats(bolzano.isel(t=slice(0, 5)), fields_file, out, tile="32TPS")
    assert len(again.committed) == 3 and again.skipped == 2


def test_changed_parcels_recompute_every_date(bolzano: xr.Dataset, fields_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "products"
    run_parcel_stats(bolzano.isel(t=slice(0, 2)), fields_file, out, tile="32TPS", products=["ndvi"])
    other = tmp_path / "other.gpkg"
    generate_parcels((676000, 5149000, 683000, 5154000), 10, crs="EPSG:32632", seed=12).to_file(other)
    redo = run_parcel_stats(bolzano.isel(t=slice(0, 2)), other, out, tile="32TPS", products=["ndvi"])
    assert len(redo.committed) == 2  # another parcel set: the units are replaced, not kept
    assert len(read_parcel_series(out, "ndvi", "32TPS")) == 2 * 10


def test_a_job_spec_runs_parcel_statistics_that_append_nightly(sample_store: Path, tmp_path: Path, capsys) -> None:
    """Parcels in a job spec: each `landpulse run` commits the new dates only, with the raster units."""
    import landpulse
    from landpulse.cli import main
    from tests.support.series import job_dict, write_job, write_series

    store = write_series(sample_store, tmp_path / "18SVG.zarr", [0, 1])
    x0, y0, x1, y1 = landpulse.open_store(store).rio.bounds()
    fields = tmp_path / "fields.parquet"
    generate_parcels((x0 + 500, y0 + 500, x1 - 500, y1 - 500), 15, crs="EPSG:32618", seed=2).to_parquet(fields)
    job = job_dict(store, tmp_path / "job", parcels=[{"file": str(fields), "quantiles": [0.25, 0.5]}])
    path = write_job(tmp_path / "job.yaml", job)
    assert main(["run", str(path)]) == 0, capsys.readouterr().err
    assert "parcels fields.parquet on 18SVG: 2 unit(s) committed, 0 already there" in capsys.readouterr().out
    out = tmp_path / "job" / "products"
    units = out / "parcels-ndvi" / "18SVG"  # (the product's collection.json beside it lists the new units)
    first = _snapshot(units)
    write_series(sample_store, store, [2])  # tonight's new date
    assert main(["run", str(path)]) == 0
    assert "1 unit(s) committed, 2 already there" in capsys.readouterr().out
    assert {k: v for k, v in _snapshot(units).items() if k in first} == first
    settled = _snapshot(out)
    assert main(["run", str(path)]) == 0
    assert "0 unit(s) committed, 3 already there" in capsys.readouterr().out
    assert {k: v for k, v in _snapshot(out).items() if k.startswith("parcels-ndvi/")} == \
        {k: v for k, v in settled.items() if k.startswith("parcels-ndvi/")}  # nothing rewritten
    series = read_parcel_series(out, "ndvi", "18SVG")
    assert len(series) == 3 * 15 and {"p25", "median"} <= set(series.columns)
    assert main(["verify", str(out)]) == 0


@pytest.mark.parametrize("parcels,message", [
    ({"file": "f.gpkg", "products": ["no-such-index"]}, "no-such-index"),
    ({"file": "f.gpkg", "quantiles": [1.5]}, "quantiles must lie in"),
    ({"file": "f.gpkg", "mode": "fuzzy"}, "mode"),
])
def test_bad_parcel_sections_of_a_job_spec_are_refused(tmp_path: Path, parcels: dict, message: str) -> None:
    from landpulse.production.jobspec import JobSpecError, load_job
    from tests.support.series import job_dict, write_job

    path = write_job(tmp_path / "job.yaml", job_dict(tmp_path / "s.zarr", tmp_path, parcels=[parcels]))
    with pytest.raises(JobSpecError, match=message):
        load_job(path)


# ---- parcels across tiles ----------------------------------------------------------------------

def _two_tiles(tmp_path: Path, dates_west: list[int], dates_east: list[int]) -> list[tuple[str, Path]]:
    """The real Bolzano series cut into two overlapping tiles (columns 0-499 and 400-934), written as stores."""
    return write_bolzano_tiles(tmp_path, {"W": (slice(0, 500), dates_west), "E": (slice(400, None), dates_east)})


RADIOMETRY = (1e-4, 0.0, ["B02", "B03", "B04", "B08"])


def test_parcels_across_two_tiles_append_nightly_and_combine_exactly(bolzano: xr.Dataset, tmp_path: Path) -> None:
    from landpulse.production.parcels import COMBINED_TILE, run_parcel_tiles

    x0, y0, x1, y1 = bolzano.rio.bounds()
    fields = generate_parcels((x0 + 50, y0 + 50, x1 - 50, y1 - 50), 120, crs="EPSG:32632", seed=4,
                              edges_x=[x0 + 5000.0] * 3)  # 12 on the edge where the east tile's ownership starts
    fields_file = tmp_path / "fields.gpkg"
    fields.to_file(fields_file)
    out = tmp_path / "products"
    stores = _two_tiles(tmp_path, list(range(8)), list(range(12)))  # the west tile lags four dates
    first = run_parcel_tiles(stores, fields_file, out, radiometry=RADIOMETRY)
    assert len(first.committed) == 8 + 12 + 12 and all(verify_unit(p) == [] for p in first.committed)
    before = _snapshot(out)
    stores = _two_tiles(tmp_path, list(range(8, 12)), [])  # tonight the west tile's four dates arrive
    second = run_parcel_tiles(stores, fields_file, out, radiometry=RADIOMETRY)
    names = sorted(str(p.relative_to(out)) for p in second.committed)
    assert len(names) == 8 and sum(n.startswith(f"parcels-ndvi/{COMBINED_TILE}/") for n in names) == 4
    after = _snapshot(out)
    assert {k: v for k, v in after.items() if "/E/" in k} == {k: v for k, v in before.items() if "/E/" in k}
    assert {k: v for k, v in after.items() if k in before and "/W/" in k} == \
        {k: v for k, v in before.items() if "/W/" in k}  # the units already there untouched
    settled = _snapshot(out)
    third = run_parcel_tiles(stores, fields_file, out, radiometry=RADIOMETRY)
    assert third.wrote_nothing and _snapshot(out) == settled
    series = read_parcel_series(out, "ndvi")  # the combined units: every parcel once per day
    from landpulse.products.indices import indices

    prod = indices(bolzano, ["ndvi"], mask="auto")
    ref = zonal_stats(prod["ndvi"].where(prod["mask"] == 0).astype(np.float32).compute(), fields)
    a = series.sort_values(["t", "parcel_id"]).reset_index(drop=True)
    b = ref.sort_values(["t", "parcel_id"]).reset_index(drop=True)
    assert len(a) == len(b) == 12 * 120 and (a.parcel_id == b.parcel_id).all() and (a.t == b.t).all()
    for c in ("count", "masked", "covered_area_m2", "mean", "std", "min", "max", "median"):
        np.testing.assert_allclose(a[c].to_numpy(float), b[c].to_numpy(float), rtol=1e-9, atol=1e-9, err_msg=c)
    assert (a.tiles == "W,E").sum() >= 12 * 4  # parcels that cross the edge, every day
    import json

    item = json.loads((out / "parcels-ndvi" / COMBINED_TILE / "20220602" / "item.json").read_text())
    assert item["properties"]["landpulse:inputs"] == ["parcels-ndvi/W/20220602T000000", "parcels-ndvi/E/20220602T000000"]
    assert verify_unit(out / "parcels-ndvi" / COMBINED_TILE / "20220602") == []


def test_a_job_over_two_tiles_commits_the_combined_parcel_units(bolzano: xr.Dataset, tmp_path: Path, capsys) -> None:
    from landpulse.cli import main
    from tests.support.series import write_job

    x0, y0, x1, y1 = bolzano.rio.bounds()
    fields = tmp_path / "fields.parquet"
    generate_parcels((x0 + 50, y0 + 50, x1 - 50, y1 - 50), 30, crs="EPSG:32632", seed=9,
                     edges_x=[x0 + 5000.0]).to_parquet(fields)
    stores = _two_tiles(tmp_path, [3, 4], [3, 4])
    job = {"name": "two-tiles",
           "inputs": {"kind": "zarr", "stores": [{"path": str(p), "tile": t} for t, p in stores],
                      "radiometry": {"scale": 1e-4, "offset": 0.0, "bands": RADIOMETRY[2]}},
           "products": ["ndvi"], "parcels": [{"file": str(fields)}],
           "output": {"store": str(tmp_path / "job" / "products"), "reports": str(tmp_path / "job" / "reports")},
           "cluster": {"kind": "threads", "n_workers": 2}}
    path = write_job(tmp_path / "job.yaml", job)
    assert main(["run", str(path)]) == 0, capsys.readouterr().err
    assert "parcels fields.parquet on W, E (combined as all-tiles): 6 unit(s) committed, 0 already there" in \
        capsys.readouterr().out
    out = tmp_path / "job" / "products"
    assert sorted(p.name for p in (out / "parcels-ndvi" / "all-tiles").iterdir()) == ["20220610", "20220612"]
    assert len(read_parcel_series(out, "ndvi")) == 2 * 30
    assert main(["verify", str(out)]) == 0
    job["inputs"]["stores"][1]["tile"] = "all-tiles"
    with pytest.raises(Exception, match="all-tiles"):
        from landpulse.production.jobspec import parse_job

        parse_job(job)
