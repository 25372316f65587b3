"""Parcels read from GeoPackage, GeoParquet (fiboa), GeoJSON and Shapefile; the per-parcel table
written as Parquet / GeoParquet and described by a STAC item. Parcels: GENERATED layouts."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pystac
import pytest
import shapely
import xarray as xr
from rasterio.transform import from_origin

from landpulse.errors import InputError, UnreadableInputError
from landpulse.parcels import (
    generate_parcels,
    parcel_stats_item,
    read_parcel_stats,
    read_parcels,
    write_parcel_stats,
    zonal_stats,
)


@pytest.fixture(scope="module")
def parcels() -> gpd.GeoDataFrame:
    return generate_parcels((500_000, 4_999_000, 501_000, 5_000_000), 30, crs="EPSG:32632", seed=3,
                            special_fraction=0.3)


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson", ".shp", ".parquet"])
def test_every_format_reads_back_the_same_parcels(parcels, tmp_path, suffix) -> None:
    path = tmp_path / f"fields{suffix}"
    if suffix == ".parquet":
        parcels.to_parquet(path)
    else:
        parcels.to_file(path, engine="pyogrio")
    back = read_parcels(path)
    assert back.crs == parcels.crs and list(back["id"]) == list(parcels["id"])
    # formats may promote polygons to multipolygons or turn rings round: compare the areas covered
    assert (shapely.area(shapely.symmetric_difference(back.geometry.values, parcels.geometry.values)) < 1e-6).all()


def test_a_fiboa_geoparquet_file_is_read_unchanged(parcels, tmp_path) -> None:
    fiboa = gpd.GeoDataFrame({"id": parcels["id"], "determination_datetime": pd.Timestamp("2022-05-01", tz="UTC"),
                              "area": parcels.area / 10_000, "crop:name": parcels["crop"]},
                             geometry=parcels.geometry, crs=parcels.crs)
    path = tmp_path / "fiboa.parquet"
    fiboa.to_parquet(path)
    back = read_parcels(path)
    assert list(back.columns) == list(fiboa.columns)
    pd.testing.assert_frame_equal(pd.DataFrame(back.drop(columns="geometry")), pd.DataFrame(fiboa.drop(columns="geometry")))


def test_bad_parcel_files_are_typed_errors(parcels, tmp_path) -> None:
    with pytest.raises(UnreadableInputError, match="does not exist"):
        read_parcels(tmp_path / "none.gpkg")
    (tmp_path / "junk.gpkg").write_bytes(b"not a geopackage")
    with pytest.raises(UnreadableInputError):
        read_parcels(tmp_path / "junk.gpkg")
    lines = gpd.GeoDataFrame({"id": ["a"]}, geometry=[shapely.LineString([(0, 0), (1, 1)])], crs="EPSG:32632")
    lines.to_file(tmp_path / "lines.geojson")
    with pytest.raises(InputError, match="polygons or multipolygons"):
        read_parcels(tmp_path / "lines.geojson")
    with pytest.raises(InputError, match="unknown format"):
        (tmp_path / "x.csv").write_text("id,wkt\n")
        read_parcels(tmp_path / "x.csv")


def test_the_long_table_round_trips_with_attributes_and_a_stac_item(parcels, tmp_path) -> None:
    values = np.random.default_rng(0).random((3, 100, 100)).astype(np.float32)  # GENERATED values
    values[1, :50] = np.nan
    da = xr.DataArray(values, dims=("t", "y", "x"), name="ndvi",
                      coords={"t": pd.date_range("2022-06-01", periods=3, freq="5D"),
                              "y": 5_000_000 - 5 - 10 * np.arange(100), "x": 500_005 + 10 * np.arange(100)})
    da = da.rio.write_crs("EPSG:32632").rio.write_transform(from_origin(500_000, 5_000_000, 10, 10))
    table = zonal_stats(da, parcels)
    plain = write_parcel_stats(table, tmp_path / "stats.parquet")
    back = read_parcel_stats(plain)
    pd.testing.assert_frame_equal(back, table)
    geo = read_parcel_stats(write_parcel_stats(table, tmp_path / "stats-geo.parquet", parcels=parcels))
    assert isinstance(geo, gpd.GeoDataFrame) and geo.crs == parcels.crs and len(geo) == len(table)
    assert b"geo" in pq.read_metadata(tmp_path / "stats-geo.parquet").metadata
    assert shapely.equals(geo.geometry.values[::3], np.repeat(parcels.geometry.values, 3)[::3]).all()
    item = parcel_stats_item(table, "./stats.parquet", parcels, item_id="ndvi-parcels", date_column="t",
                             products=["ndvi"])
    d = pystac.Item.from_dict(item.to_dict()).to_dict()
    assert d["properties"]["start_datetime"] == "2022-06-01T00:00:00Z"
    assert d["properties"]["end_datetime"] == "2022-06-11T00:00:00Z"
    assert d["properties"]["table:row_count"] == len(table) == 3 * len(parcels)
    assert d["assets"]["table"]["type"] == "application/vnd.apache.parquet"
    lon0, lat0, lon1, lat1 = d["bbox"]
    assert 8.99 < lon0 < lon1 < 9.02 and 45.1 < lat0 < lat1 < 45.2  # UTM 32N, 500 km E (9 E), 5000 km N
