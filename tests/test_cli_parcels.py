"""`landpulse parcel-stats`: the real Bolzano store, GENERATED parcels, a table and its STAC item."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from landpulse.cli import main
from landpulse.parcels import generate_parcels, read_parcel_stats
from tests.support import BOLZANO, skip_or_fail


def test_parcel_stats_command_writes_the_table_and_its_item(tmp_path, capsys) -> None:
    if not BOLZANO.exists():
        skip_or_fail("shared_data", f"shared data not found at {BOLZANO}")
    fields = generate_parcels((675500, 5149000, 683500, 5154000), 25, crs="EPSG:32632", seed=5)
    fields.to_crs("EPSG:4326").to_file(tmp_path / "fields.gpkg")  # another CRS: reprojected to the raster's
    out = tmp_path / "out" / "ndvi-parcels.parquet"
    code = main(["parcel-stats", str(BOLZANO), "--parcels", str(tmp_path / "fields.gpkg"), "--out", str(out),
                 "--scale", "1e-4", "-p", "ndvi", "-p", "ndwi", "-q", "0.1", "-q", "0.9"])
    assert code == 0, capsys.readouterr().err
    table = read_parcel_stats(out)
    assert len(table) == 25 * 12 * 2 and set(table["product"]) == {"ndvi", "ndwi"}
    assert {"parcel_id", "t", "count", "masked", "clear_fraction", "mean", "p10", "p90", "kind", "crop"} <= set(table)
    ndvi = table[table["product"] == "ndvi"]
    cloudy = ndvi.groupby("t").clear_fraction.mean()
    assert cloudy.min() < 0.1 and cloudy.max() > 0.9  # SCL masked the cloudy dates
    clear = ndvi[ndvi.clear_fraction == 1]
    assert len(clear) and ((clear.p10 <= clear["mean"] + 1e-9) & (clear["mean"] <= clear.p90 + 1e-9)).all()
    item = json.loads(out.with_suffix(".json").read_text())
    assert item["assets"]["table"]["href"] == "./ndvi-parcels.parquet"
    assert item["properties"]["landpulse:products"] == ["ndvi", "ndwi"]
    assert pd.Timestamp(item["properties"]["start_datetime"]) == pd.Timestamp("2022-06-02", tz="UTC")
    assert np.isfinite(table["covered_area_m2"]).all()


def test_parcel_stats_command_refuses_a_bad_mode(tmp_path, capsys) -> None:
    fields = generate_parcels((0, 0, 100, 100), 2, crs="EPSG:32632")
    fields.to_file(tmp_path / "f.geojson")
    code = main(["parcel-stats", str(tmp_path), "--parcels", str(tmp_path / "f.geojson"), "--out",
                 str(tmp_path / "o.parquet"), "--mode", "fuzzy"])
    assert code == 2 and "--mode" in capsys.readouterr().err
    assert pytest  # (pytest fixtures only)


def test_parcel_stats_units_mode_appends_and_then_writes_nothing(tmp_path, capsys) -> None:
    if not BOLZANO.exists():
        skip_or_fail("shared_data", f"shared data not found at {BOLZANO}")
    generate_parcels((675500, 5149000, 683500, 5154000), 10, crs="EPSG:32632", seed=6).to_file(tmp_path / "f.gpkg")
    args = ["parcel-stats", str(BOLZANO), "--parcels", str(tmp_path / "f.gpkg"), "--out", str(tmp_path / "store"),
            "--units", "--tile", "32TPS", "--scale", "1e-4"]
    assert main(args) == 0 and "12 unit(s) committed, 0 already there" in capsys.readouterr().out
    assert main(args) == 0 and "0 unit(s) committed, 12 already there" in capsys.readouterr().out
    assert main(["verify", str(tmp_path / "store")]) == 0


def test_parcel_stats_over_two_tile_stores_combines_the_parcels_on_their_edge(tmp_path, capsys) -> None:
    if not BOLZANO.exists():
        skip_or_fail("shared_data", f"shared data not found at {BOLZANO}")
    from tests.support.series import write_bolzano_tiles

    fields = generate_parcels((675100, 5148000, 684200, 5154800), 40, crs="EPSG:32632", seed=8,
                              edges_x=[674990.0 + 4000.0])
    fields.to_file(tmp_path / "f.gpkg")
    (w, west), (e, east) = write_bolzano_tiles(tmp_path, {"west": (slice(0, 400), [4, 6]),
                                                          "east": (slice(400, None), [4, 6])})
    whole = tmp_path / "whole.zarr"
    write_bolzano_tiles(tmp_path, {"whole": (slice(None), [4, 6])})
    common = ["--parcels", str(tmp_path / "f.gpkg"), "--scale", "1e-4"]
    assert main(["parcel-stats", str(west), str(east), "--out", str(tmp_path / "tiles.parquet"), *common]) == 0
    assert "2 tiles combined" in capsys.readouterr().out
    assert main(["parcel-stats", str(whole), "--out", str(tmp_path / "whole.parquet"), *common]) == 0
    ours = read_parcel_stats(tmp_path / "tiles.parquet").sort_values(["t", "parcel_id"]).reset_index(drop=True)
    ref = read_parcel_stats(tmp_path / "whole.parquet").sort_values(["t", "parcel_id"]).reset_index(drop=True)
    assert len(ours) == len(ref) == 2 * 40 and (ours.tiles == "west,east").sum() >= 2 * 4
    for c in ("count", "covered_area_m2", "mean", "median"):
        np.testing.assert_allclose(ours[c].to_numpy(float), ref[c].to_numpy(float), rtol=1e-9, atol=1e-9)
    assert main(["parcel-stats", str(west), str(east), "--out", str(tmp_path / "s"), "--units", *common]) == 0
    assert "6 unit(s) committed" in capsys.readouterr().out  # 2 dates x (west, east, all-tiles)
    assert main(["parcel-stats", str(west), str(east), "--out", str(tmp_path / "s"), "--tile", "x", *common]) == 2
