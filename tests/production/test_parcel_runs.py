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
