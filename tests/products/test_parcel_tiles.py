"""Parcels across tile edges combine exactly: the real Bolzano NDVI cut into tiles (adjacent,
overlapping, one tile reprojected into the next UTM zone) against zonal_stats over the whole grid.
Parcels: GENERATED layouts (landpulse.products.parcels.generate_parcels), many placed on the cuts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely
from rasterio.enums import Resampling

from landpulse.errors import InputError
from landpulse.parcels import generate_parcels, zonal_stats
from landpulse.products.parcels.tiles import combine_tiles, tile_pieces, tile_regions, zonal_stats_tiles

X0, Y0 = 674990.0, 5154960.0  # the Bolzano grid's upper-left corner (EPSG:32632, 10 m)
CUT_X, CUT_Y = 400, 300  # tile edges (pixels), on which GENERATED parcels are placed
STATS = ["count", "masked", "covered_area_m2", "valid_area_m2", "clear_fraction", "mean", "std", "min", "max",
         "median"]


@pytest.fixture(scope="module")
def fields() -> object:
    return generate_parcels((X0 + 100, Y0 - 6950, X0 + 9250, Y0 - 100), 240, crs="EPSG:32632", seed=7,
                            special_fraction=0.3, edges_x=[X0 + 10 * CUT_X], edges_y=[Y0 - 10 * CUT_Y])


def _by_parcel(table: pd.DataFrame) -> pd.DataFrame:
    return table.sort_values(["t", "parcel_id"]).reset_index(drop=True)


def _assert_equal_stats(ours: pd.DataFrame, ref: pd.DataFrame) -> None:
    a, b = _by_parcel(ours), _by_parcel(ref)
    assert len(a) == len(b)
    assert (a.parcel_id.to_numpy() == b.parcel_id.to_numpy()).all() and (a.t.to_numpy() == b.t.to_numpy()).all()
    for c in STATS:
        np.testing.assert_allclose(a[c].to_numpy(float), b[c].to_numpy(float), rtol=1e-9, atol=1e-9, err_msg=c)


@pytest.mark.parametrize("layout", ["adjacent", "overlapping"])
def test_parcels_across_tiles_equal_zonal_stats_over_the_whole_grid(ndvi, fields, layout) -> None:
    if layout == "adjacent":
        parts = [ndvi.isel(x=slice(0, CUT_X)), ndvi.isel(x=slice(CUT_X, None))]
    else:  # three tiles overlapping by 100-150 px, as MGRS tiles overlap: the first listed owns the overlap
        parts = [ndvi.isel(x=slice(0, CUT_X + 100), y=slice(0, CUT_Y + 100)), ndvi.isel(x=slice(CUT_X - 50, None)),
                 ndvi.isel(y=slice(CUT_Y - 150, None))]
    combined = zonal_stats_tiles(parts, fields, tiles=[f"T{i}" for i in range(len(parts))])
    ref = zonal_stats(ndvi, fields)
    _assert_equal_stats(combined, ref)
    split = combined.tiles.str.contains(",")
    assert split.sum() >= 20  # many parcels really cross a tile edge
    assert combined.kind.notna().all()  # the parcels' attributes are kept
    # the tiles alone would be wrong for exactly those parcels: their own rows cover only a part
    table, _ = tile_pieces(parts[0], fields, tile_regions(parts)[0])
    alone = table[~table.whole].merge(ref, on=["parcel_id", "t"], suffixes=("", "_whole"))
    assert len(alone) and (alone.covered_area_m2 < alone.covered_area_m2_whole - 1.0).all()


def test_weighted_quantiles_of_split_parcels_combine_from_their_pixels(ndvi, fields) -> None:
    qs = (0.1, 0.5, 0.9)
    parts = [ndvi.isel(x=slice(0, CUT_X)), ndvi.isel(x=slice(CUT_X, None))]
    combined = _by_parcel(zonal_stats_tiles(parts, fields, quantiles=qs))
    ref = _by_parcel(zonal_stats(ndvi, fields, quantiles=qs))
    for c in ("p10", "median", "p90"):
        np.testing.assert_allclose(combined[c], ref[c], rtol=1e-9, atol=1e-9, err_msg=c)


def test_a_tile_in_the_next_utm_zone_combines_by_area(ndvi, fields) -> None:
    """The east tile reprojected to UTM 33 (nearest, 10 m): every parcel once, split parcels' area whole."""
    east = ndvi.isel(x=slice(CUT_X, None)).rio.reproject("EPSG:32633", resolution=10.0,
                                                          resampling=Resampling.nearest)
    combined = _by_parcel(zonal_stats_tiles([ndvi.isel(x=slice(0, CUT_X)), east], fields, tiles=["32T", "33T"]))
    ref = _by_parcel(zonal_stats(ndvi, fields))
    assert (combined.parcel_id.to_numpy() == ref.parcel_id.to_numpy()).all()  # no parcel twice, none lost
    split = combined.tiles == "32T,33T"
    assert split.sum() >= 10
    # areas are each grid's own square metres: UTM 33 at 11.3 E is about 0.11 % larger than UTM 32
    ratio = combined.covered_area_m2[split] / ref.covered_area_m2[split]
    assert ((ratio > 1.0) & (ratio < 1.0015)).all()
    assert (ratio < (combined.covered_area_m2 / ref.covered_area_m2)[combined.tiles == "33T"].min()).any()


def test_tiles_combine_by_utc_day_and_a_missing_day_covers_part(ndvi, fields) -> None:
    west, east = ndvi.isel(x=slice(0, CUT_X)), ndvi.isel(x=slice(CUT_X, None))
    east = east.assign_coords(t=east.t + np.timedelta64(4, "s"))  # one datatake, seconds apart
    combined = _by_parcel(zonal_stats_tiles([west, east.isel(t=[0])], fields, tiles=["W", "E"]))
    ref = _by_parcel(zonal_stats(ndvi, fields))
    day0 = combined.t == ndvi.t.values[0]
    assert set(combined.t) == set(ndvi.t.values)  # the earliest time of the day names it
    _assert_equal_stats(combined[day0], ref[ref.t == ndvi.t.values[0]])
    # on the second day only the west tile has a scene: split parcels cover their west part only
    second = combined[~day0].merge(ref[ref.t == ndvi.t.values[1]], on="parcel_id", suffixes=("", "_whole"))
    assert (second.tiles == "W").all()
    assert (second.covered_area_m2 <= second.covered_area_m2_whole + 1e-6).all()
    assert (second.covered_area_m2 < second.covered_area_m2_whole - 1.0).any()


def test_tile_regions_own_each_bit_of_ground_once(ndvi) -> None:
    parts = [ndvi.isel(x=slice(0, 500)), ndvi.isel(x=slice(300, None)), ndvi.isel(y=slice(200, None))]
    regions = tile_regions(parts)
    whole = shapely.box(*ndvi.rio.bounds())
    assert abs(sum(r.area for r in regions) - whole.area) < 1e-3
    for i, a in enumerate(regions):
        for b in regions[i + 1:]:
            assert shapely.intersection(a, b).area < 1e-6
    assert tile_regions([ndvi, ndvi])[1].is_empty  # a tile the earlier one covers owns nothing


def test_bad_inputs_are_typed_errors(ndvi, fields) -> None:
    twice = fields.copy()
    twice.loc[1, "id"] = twice.loc[0, "id"]
    with pytest.raises(InputError, match="repeat"):
        zonal_stats_tiles([ndvi.isel(x=slice(0, CUT_X)), ndvi.isel(x=slice(CUT_X, None))], twice)
    with pytest.raises(InputError, match="no CRS"):
        tile_regions([ndvi.drop_vars("spatial_ref")])
    with pytest.raises(InputError, match="at least one tile"):
        zonal_stats_tiles([], fields)
    with pytest.raises(InputError, match="one table and one pieces table per tile"):
        combine_tiles([pd.DataFrame()], [], fields, tiles=["a"])
