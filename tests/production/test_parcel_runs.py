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
