"""NDVI: closed-form values, the full uint16 range, NaN rules, chunking, CRS, every backend."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import landpulse
from landpulse.backend import Validity
from landpulse.products.indices import index_program, ndvi_block
from tests.support import Placement, numpy_ndvi_reference

S2 = Validity.of(0, (1, 65534))


def scene(red: np.ndarray, nir: np.ndarray, *, scale: float = 1e-4, offset: float = 0.0, nodata: float | None = 0,
          valid_range: tuple[float, float] | None = (1, 65534)) -> xr.Dataset:
    ny, nx = red.shape[-2:]
    dims = ("time", "y", "x") if red.ndim == 3 else ("y", "x")
    coords = {"y": 5200015.0 - 10 * np.arange(ny), "x": 600005.0 + 10 * np.arange(nx)}
    if red.ndim == 3:
        coords["time"] = np.arange(red.shape[0]).astype("datetime64[D]").astype("datetime64[ns]")
    ds = xr.Dataset({"red": (dims, red), "nir": (dims, nir)}, coords=coords).rio.write_crs("EPSG:32632")
    return landpulse.declare_radiometry(ds, scale=scale, offset=offset, nodata=nodata, valid_range=valid_range)


# --- closed-form values ------------------------------------------------------------------------

@pytest.mark.parametrize("red,nir,scale,offset,expected", [
    (1000, 3000, 1e-4, 0.0, 0.5),          # (0.3 - 0.1) / (0.3 + 0.1)
    (500, 4500, 1e-4, 0.0, 0.8),           # (0.45 - 0.05) / 0.5
    (2000, 2000, 1e-4, 0.0, 0.0),
    (3000, 1000, 1e-4, 0.0, -0.5),
    (2000, 7000, 1e-4, -0.1, 5 / 7),       # offset applied: (0.6 - 0.1) / (0.6 + 0.1)
    (1100, 2100, 1e-4, -0.1, 5 / 6),       # (0.11 - 0.01) / (0.11 + 0.01) after the -1000 DN offset
    (1, 65534, 1e-4, 0.0, 65533 / 65535),  # extremes of the valid range, no wrap-around
])
def test_closed_form_values(backend: Placement, red: int, nir: int, scale: float, offset: float, expected: float) -> None:
    ds = backend(scene(np.full((2, 3), red, np.uint16), np.full((2, 3), nir, np.uint16), scale=scale, offset=offset))
    out = backend.host(landpulse.ndvi(ds)).values
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=2e-6, atol=2e-7)


def test_kernel_matches_published_rouse_formula_on_reflectances() -> None:
    # Reflectance inputs (already physical): NDVI = (NIR - Red) / (NIR + Red); Tucker (1979) style pairs.
    red = np.array([[0.05, 0.08, 0.2]], np.float32)
    nir = np.array([[0.45, 0.32, 0.25]], np.float32)
    ds = xr.Dataset({"red": (("y", "x"), red), "nir": (("y", "x"), nir)}, coords={"y": [0.0], "x": [0.0, 1.0, 2.0]})
    ds = landpulse.declare_radiometry(ds, scale=1.0, offset=0.0)
    np.testing.assert_allclose(landpulse.ndvi(ds).values, [[0.8, 0.6, 1 / 9]], rtol=1e-6)


# --- the full uint16 range (property) ----------------------------------------------------------

uint16_images = arrays(np.uint16, st.tuples(st.integers(1, 3), st.integers(1, 16), st.integers(1, 16)),
                       elements=st.integers(0, 65535))


@settings(max_examples=200, deadline=None)
@given(data=st.data(), offset=st.sampled_from([0.0, -0.1]))
def test_uint16_full_range_matches_float64_reference(data: st.DataObject, offset: float) -> None:
    red = data.draw(uint16_images)
    nir = data.draw(arrays(np.uint16, red.shape, elements=st.integers(0, 65535)))
    got = ndvi_block(red, nir, 1e-4, offset, 1e-4, offset, red_valid=S2, nir_valid=S2)
    ref = numpy_ndvi_reference(red, nir, 1e-4, offset)
    # NaN exactly where the reference says invalid (nodata 0, saturated 65535, zero denominator,
    # out of range); elsewhere within float32 rounding of the float64 reference.
    finite = np.isfinite(ref)
    # float32 cancellation near a zero denominator can move a value across +-1: allow those only
    near_edge = np.abs(np.abs(ref) - 1) < 1e-4
    assert np.array_equal(np.isnan(got) & ~near_edge, ~finite & ~near_edge)
    both = finite & np.isfinite(got)
    den = np.abs(red.astype(np.float64) * 1e-4 + offset + nir.astype(np.float64) * 1e-4 + offset)
    tol = 1e-5 + 4e-7 * 2 / np.maximum(den[both], 1e-4)  # float32 relative error scales with 1/denominator
    assert np.all(np.abs(got[both] - ref[both]) <= tol)
    assert np.all((got[np.isfinite(got)] >= -1) & (got[np.isfinite(got)] <= 1))


def test_no_integer_wraparound_at_top_of_range() -> None:
    red = np.array([[65534, 40000, 1]], np.uint16)
    nir = np.array([[65534, 65000, 65534]], np.uint16)
    got = ndvi_block(red, nir, 1e-4, 0.0, 1e-4, 0.0, red_valid=S2, nir_valid=S2)
    # uint16 sums would wrap (65534 + 65534 = 65532 mod 65536) and give garbage.
    np.testing.assert_allclose(got, [[0.0, 25000 / 105000, 65533 / 65535]], rtol=1e-6)


# --- NaN rules -----------------------------------------------------------------------------------

def test_nodata_saturation_and_zero_denominator_give_nan(backend: Placement) -> None:
    red = np.array([[0, 1000, 65535, 1000, 1000]], np.uint16)
    nir = np.array([[3000, 0, 3000, 1000, 3000]], np.uint16)
    ds = backend(scene(red, nir, offset=-0.1))  # DN 1000 + offset -0.1 = reflectance 0
    out = backend.host(landpulse.ndvi(ds)).values
    # nodata red, nodata nir, saturated red, 0 + 0 denominator, (0.2 - 0) / 0.2 = 1
    assert np.isnan(out[0, :4]).all()
    assert out[0, 4] == pytest.approx(1.0)


def test_zero_denominator_without_nodata_is_nan_not_inf() -> None:
    ds = scene(np.zeros((1, 2), np.uint16), np.zeros((1, 2), np.uint16), nodata=None, valid_range=None)
    with np.errstate(all="raise"):
        out = landpulse.ndvi(ds).values
    assert np.isnan(out).all()


def test_nan_in_float_input_is_nan() -> None:
    red = np.array([[np.nan, 0.1]], np.float32)
    nir = np.array([[0.5, np.nan]], np.float32)
    ds = landpulse.declare_radiometry(xr.Dataset({"red": (("y", "x"), red), "nir": (("y", "x"), nir)},
                                                 coords={"y": [0.0], "x": [0.0, 1.0]}), scale=1.0, offset=0.0)
    assert np.isnan(landpulse.ndvi(ds).values).all()


def test_out_of_range_nan_or_clip(backend: Placement) -> None:
    # red DN 500 with the -0.1 offset is reflectance -0.05: (0.3 + 0.05) / (0.3 - 0.05) = 1.4
    ds = backend(scene(np.array([[500]], np.uint16), np.array([[4000]], np.uint16), offset=-0.1))
    assert np.isnan(backend.host(landpulse.ndvi(ds)).values).all()
    assert backend.host(landpulse.ndvi(ds, out_of_range="clip")).values[0, 0] == 1.0
    with pytest.raises(landpulse.InputError, match="out_of_range"):
        landpulse.ndvi(ds, out_of_range="wrap")  # type: ignore[arg-type]


# --- chunking, metadata, laziness --------------------------------------------------------------

def test_chunked_equals_unchunked(backend: Placement) -> None:
    rng = np.random.default_rng(7)
    red = rng.integers(0, 12000, (3, 37, 53), dtype=np.uint16)
    nir = rng.integers(0, 12000, (3, 37, 53), dtype=np.uint16)
    ds = backend(scene(red, nir, offset=-0.1))
    whole = backend.host(landpulse.ndvi(ds)).values
    for chunks in ({"time": 1, "y": 10, "x": 17}, {"time": 3, "y": 37, "x": 1}, {"time": 2, "y": 5, "x": 53}):
        lazy = landpulse.ndvi(ds.chunk(chunks))
        assert lazy.chunks is not None
        np.testing.assert_array_equal(backend.host(lazy).values, whole)


def test_crs_transform_coords_and_attrs_preserved(backend: Placement, sample_store) -> None:  # type: ignore[no-untyped-def]
    ds = landpulse.open_store(sample_store)
    out = landpulse.ndvi(backend(ds))
    assert out.rio.crs == ds.rio.crs == "EPSG:32618"
    assert out.rio.transform() == ds.red.rio.transform()
    assert out.dims == ("time", "y", "x")
    for c in ("time", "y", "x", "scene_id"):
        np.testing.assert_array_equal(out[c].values, ds[c].values)
    assert not any(str(c).endswith(("_dn_scale", "_dn_offset")) for c in out.coords)
    assert out.attrs["valid_range"] == [-1.0, 1.0] and out.attrs["units"] == "1"
    prov = landpulse.products.provenance.provenance(out)
    assert prov["radiometry"]["red"]["scale"] == 1e-4 and prov["inputs"] == {"red": "red", "nir": "nir"}


def test_result_is_lazy_for_dask_input(sample_store) -> None:  # type: ignore[no-untyped-def]
    out = landpulse.ndvi(landpulse.open_store(sample_store))
    import dask.array as dsa

    assert isinstance(out.data, dsa.Array)


def test_accessor_is_the_free_function(sample_store) -> None:  # type: ignore[no-untyped-def]
    ds = landpulse.open_store(sample_store)
    np.testing.assert_array_equal(ds.landpulse.ndvi().values, landpulse.ndvi(ds).values)


def test_grids_must_match_never_inner_join() -> None:
    # Two arrays one pixel apart would overlap on 3 of 4 columns: xarray's default inner join
    # would silently return a 4 x 3 result. The dispatch seam refuses instead.
    from landpulse.backend import apply_kernel

    a = scene(np.ones((4, 4), np.uint16) * 1000, np.ones((4, 4), np.uint16) * 3000)
    kwargs = {"program": index_program(["ndvi"]).program, "valid": (Validity(), Validity())}
    shifted = a["nir"].assign_coords(x=a.x + 10)
    with pytest.raises(landpulse.GridMismatchError, match="different grids"):
        apply_kernel("indices", shifted, a["red"], 1e-4, 1e-4, 0.0, 0.0, kwargs=kwargs)
    other_crs = a["nir"].rio.write_crs("EPSG:32633")
    with pytest.raises(landpulse.GridMismatchError, match="EPSG:32633"):
        apply_kernel("indices", other_crs, a["red"], 1e-4, 1e-4, 0.0, 0.0, kwargs=kwargs)


# --- real imagery --------------------------------------------------------------------------------

@pytest.mark.shared_data
def test_bolzano_vegetation_ndvi_well_above_water(bolzano: xr.Dataset) -> None:
    ndvi = landpulse.ndvi(bolzano).values
    scl = bolzano["SCL"].values
    veg, water = ndvi[scl == 4], ndvi[scl == 6]
    veg, water = veg[np.isfinite(veg)], water[np.isfinite(water)]
    assert veg.size > 100_000 and water.size > 1_000
    # ESA's own classes, an independent classification: vegetation NDVI is high, water NDVI low.
    assert np.median(veg) > 0.6
    assert np.median(water) < 0.2
    assert np.median(veg) - np.median(water) > 0.5
    assert np.percentile(veg, 10) > np.percentile(water, 90)


@pytest.mark.shared_data
def test_bolzano_chunked_like_the_store_equals_one_chunk(bolzano: xr.Dataset) -> None:
    lazy = landpulse.ndvi(bolzano).values
    whole = landpulse.ndvi(bolzano.compute()).values
    np.testing.assert_array_equal(lazy, whole)


def test_real_sample_scene_values(sample_store) -> None:  # type: ignore[no-untyped-def]
    ds = landpulse.open_store(sample_store)
    out = landpulse.ndvi(ds).values[0]
    red = ds.red.values[0].astype(np.float64) * 1e-4
    nir = ds.nir.values[0].astype(np.float64) * 1e-4
    np.testing.assert_allclose(out, (nir - red) / (nir + red), rtol=1e-5, atol=1e-6)
    # ocean (east) is negative, farmland (west) positive, in January
    assert np.nanmedian(out[:, -100:]) < -0.1
    assert np.nanmedian(out[:, :150]) > 0.2


@pytest.mark.parametrize("pixel", [10.0, 1.0])
def test_grid_tolerance_is_a_fraction_of_the_pixel_not_of_the_coordinate(pixel: float) -> None:
    # Issue 18: at x ~ 600000 m a tolerance relative to the coordinate (1e-6 * 6e5 = 0.6 m) let a
    # 0.3 pixel offset of a 1 m grid through to xarray's alignment error, and refused to see a
    # 1e-6 pixel rounding difference as one grid. Hand-built UTM coordinates (generated data).
    from landpulse.backend import apply_kernel

    red = xr.DataArray(np.full((3, 4), 1000, np.uint16), dims=("y", "x"), name="red",
                       coords={"y": 5200015.0 - pixel * np.arange(3), "x": 600005.0 + pixel * np.arange(4)})
    red = red.rio.write_crs("EPSG:32632")
    kwargs = {"program": index_program(["ndvi"]).program, "valid": (Validity(), Validity())}
    near = (red * 3).rename("nir").assign_coords(x=red.x + 0.3 * pixel)
    with pytest.raises(landpulse.GridMismatchError, match=r"red and nir .*'x'.*0\.3 pixel apart") as err:
        apply_kernel("indices", near, red, 1e-4, 1e-4, 0.0, 0.0, kwargs=kwargs)
    assert f"{600005.0 + 0.3 * pixel!r}" in str(err.value) and "600005.0" in str(err.value)
    same = (red * 3).rename("nir").assign_coords(x=red.x + 1e-6 * pixel, y=red.y - 1e-6 * pixel)
    out = apply_kernel("indices", same, red, 1e-4, 1e-4, 0.0, 0.0, kwargs=kwargs)
    np.testing.assert_allclose(np.asarray(out), 0.5, rtol=1e-6)  # (0.3 - 0.1) / (0.3 + 0.1)
    assert out.shape == (3, 4) and (out.x.values == same.x.values).all()  # the first input's grid
