"""Masks: Sentinel-2 SCL classes, Landsat QA_PIXEL bits, buffers in metres, chunking, real clouds."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import landpulse
from landpulse.backend import disc_spans, get_kernel
from landpulse.errors import ProductMeaningWarning
from landpulse.products.masking import (
    MASK_BUFFER,
    MASK_CLEAR,
    MASK_MASKED,
    MASK_NODATA,
    Mask,
    sensor_mask_rules,
)
from tests.support import Placement


def scl_dataset(scl: np.ndarray, *, res: float = 10.0, crs: str = "EPSG:32632", extra: bool = True) -> xr.Dataset:
    ny, nx = scl.shape[-2:]
    dims = ("time", "y", "x") if scl.ndim == 3 else ("y", "x")
    coords = {"y": 5200000.0 - res / 2 - res * np.arange(ny), "x": 600000.0 + res / 2 + res * np.arange(nx)}
    if scl.ndim == 3:
        coords["time"] = np.arange(scl.shape[0]).astype("datetime64[D]").astype("datetime64[ns]")
    ds = xr.Dataset({"SCL": (dims, scl.astype(np.uint8))}, coords=coords).rio.write_crs(crs)
    if extra:
        red = np.full(scl.shape, 1000, np.uint16)
        nir = np.full(scl.shape, 3000, np.uint16)
        ds["red"], ds["nir"] = (dims, red), (dims, nir)
        ds = landpulse.declare_radiometry(ds, scale=1e-4, offset=0.0, bands=["red", "nir"], nodata=0, valid_range=(1, 65534))
    return ds


# --- the rules, from the published tables --------------------------------------------------------

def test_scl_defaults_follow_the_esa_table() -> None:
    lut, blut = sensor_mask_rules("sentinel2-l2a").tables(Mask())
    # ESA L2A SCL: 0 no data; 1 saturated/defective; 2 dark/cast shadow; 3 cloud shadow; 4 vegetation;
    # 5 not vegetated; 6 water; 7 unclassified; 8 cloud medium; 9 cloud high; 10 thin cirrus; 11 snow
    assert lut[:12].tolist() == [3, 1, 0, 1, 0, 0, 0, 0, 1, 1, 1, 0]
    assert (lut[12:] == MASK_NODATA).all()  # not an SCL value: treated as no data
    assert blut[:12].tolist() == [0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 1, 0]
    lut2, _ = sensor_mask_rules("sentinel2-l2a").tables(Mask(classes=["cloud_high", "snow"]))
    assert np.flatnonzero(lut2[:12] == MASK_MASKED).tolist() == [9, 11]


# Landsat 8-9 C2 QA_PIXEL values from USGS's pixel value interpretation table ("Landsat Collection
# 2 Quality Assessment Bands"), with their published meaning; then values built bit by bit from the
# product guide's bit table (bit 1 dilated cloud, 2 cirrus, 3 cloud, 4 shadow, 5 snow, 6 clear,
# 7 water, 8-9 / 10-11 / 12-13 / 14-15 cloud / shadow / snow / cirrus confidence).
LOWS = (1 << 8) | (1 << 10) | (1 << 12) | (1 << 14)
QA_VALUES = [
    (1, "published: fill", MASK_NODATA),
    (21824, "published: clear, low confidence cloud/shadow/snow/cirrus", MASK_CLEAR),
    (21952, "published: clear water, lows set", MASK_CLEAR),
    (22080, "published: clear, medium confidence cloud", MASK_CLEAR),
    (22280, "published: cloud, high confidence cloud", MASK_MASKED),
    (30048, "published: snow, high confidence snow", MASK_CLEAR),
    (54596, "published: cirrus, high confidence cirrus", MASK_MASKED),
    ((1 << 1) | LOWS, "built: dilated cloud, lows set", MASK_MASKED),
    ((1 << 4) | (3 << 10) | (1 << 8) | (1 << 12) | (1 << 14), "built: cloud shadow, high confidence shadow", MASK_MASKED),
    ((1 << 7) | LOWS, "built: water, not clear, lows set", MASK_CLEAR),
    ((1 << 0) | (1 << 3), "built: fill wins over cloud", MASK_NODATA),
]


@pytest.mark.parametrize("value,meaning,code", QA_VALUES, ids=[m for _, m, _ in QA_VALUES])
def test_landsat_qa_pixel_published_values(value: int, meaning: str, code: int) -> None:
    lut, _ = sensor_mask_rules("landsat8-9-c2-l2").tables(Mask())
    assert lut[value] == code, meaning


def test_landsat_qa_options_confidence_snow_and_tm_rules() -> None:
    rules = sensor_mask_rules("landsat8-9-c2-l2")
    lut, _ = rules.tables(Mask(confidences={"cloud_confidence": "medium"}))
    assert lut[22080] == MASK_MASKED and lut[21824] == MASK_CLEAR  # medium masked, low not
    lut, _ = rules.tables(Mask(classes=["cloud", "snow"]))
    assert lut[30048] == MASK_MASKED and lut[54596] == MASK_CLEAR  # snow now masked; cirrus not asked for
    with pytest.raises(landpulse.InputError, match="no class or flag"):
        rules.tables(Mask(classes=["clouds"]))
    with pytest.raises(landpulse.InputError, match="confidence level 'very'"):
        rules.tables(Mask(confidences={"cloud_confidence": "very"}))
    # Landsat 4-7: no cirrus bit; 5440 (clear, lows set, no cirrus confidence) is clear
    tm, _ = sensor_mask_rules("landsat4-7-c2-l2").tables(Mask())
    assert tm[5440] == MASK_CLEAR and tm[1] == MASK_NODATA and tm[22280] == MASK_MASKED
    with pytest.raises(landpulse.InputError, match="no class or flag"):
        sensor_mask_rules("landsat4-7-c2-l2").tables(Mask(classes=["cirrus"]))


# --- buffers in metres ----------------------------------------------------------------------------

@pytest.mark.parametrize("radius,res_y,res_x", [(0, 10, 10), (60, 10, 10), (60, 20, 20), (100, 10, 20), (35, 30, 30)])
def test_disc_spans_are_the_lattice_points_of_the_disc(radius: float, res_y: float, res_x: float) -> None:
    spans = disc_spans(radius, res_y, res_x)
    ry = len(spans) - 1
    brute = {(dy, dx) for dy in range(-ry - 2, ry + 3) for dx in range(-50, 51)
             if (dy * res_y) ** 2 + (dx * res_x) ** 2 <= radius ** 2}
    ours = {(dy, dx) for dy in range(-ry, ry + 1) for dx in range(-int(spans[abs(dy)]), int(spans[abs(dy)]) + 1)}
    assert ours == brute
    with pytest.raises(ValueError):
        disc_spans(-1, 10, 10)


def test_buffer_matches_an_independent_dilation() -> None:
    ndimage = pytest.importorskip("scipy.ndimage")
    rng = np.random.default_rng(3)
    scl = rng.choice([4, 5, 6, 8, 9, 3, 0], size=(2, 60, 80), p=[0.6, 0.2, 0.05, 0.05, 0.04, 0.03, 0.03])
    ds = scl_dataset(scl)
    codes = landpulse.mask(ds, Mask(buffer=40)).values
    spans = disc_spans(40, 10, 10)
    ry = len(spans) - 1
    footprint = np.zeros((2 * ry + 1, 2 * spans[0] + 1), bool)
    for dy in range(-ry, ry + 1):
        footprint[dy + ry, spans[0] - spans[abs(dy)]: spans[0] + spans[abs(dy)] + 1] = True
    for t in range(2):
        source = np.isin(scl[t], [3, 8, 9])
        grown = ndimage.binary_dilation(source, structure=footprint, border_value=0)
        base = np.select([scl[t] == 0, np.isin(scl[t], [3, 8, 9])], [MASK_NODATA, MASK_MASKED], MASK_CLEAR)
        want = np.where((base == MASK_CLEAR) & grown, MASK_BUFFER, base)
        np.testing.assert_array_equal(codes[t], want)


def test_same_buffer_in_metres_covers_the_same_ground_at_10_and_20_m() -> None:
    scl = np.full((41, 41), 4, np.uint8)
    scl[20, 20] = 9  # one 10 m cloud pixel
    at10 = landpulse.mask(scl_dataset(scl), Mask(buffer=60)).values
    scl20 = np.full((21, 21), 4, np.uint8)
    scl20[10, 10] = 9
    at20 = landpulse.mask(scl_dataset(scl20, res=20.0), Mask(buffer=60)).values
    area10 = (at10 != 0).sum() * 100.0
    area20 = (at20 != 0).sum() * 400.0
    disc = np.pi * 60 ** 2
    assert abs(area10 - disc) / disc < 0.05 and abs(area20 - disc) / disc < 0.1
    # a buffer given in pixels (6 px) would cover four times the ground at 20 m
    pixels20 = (landpulse.mask(scl_dataset(scl20, res=20.0), Mask(buffer=120)).values != 0).sum() * 400.0
    assert pixels20 / area10 > 3.5


def test_buffer_needs_a_projected_grid() -> None:
    ds = scl_dataset(np.full((5, 5), 4, np.uint8), crs="EPSG:4326", res=0.0001)
    with pytest.raises(landpulse.GridMismatchError, match="projected"):
        landpulse.mask(ds, Mask(buffer=30))
    assert (landpulse.mask(ds).values == 0).all()  # no buffer: no metres needed


@pytest.mark.parametrize("buffer", [0.0, 50.0])
def test_chunked_equals_unchunked(backend: Placement, buffer: float) -> None:
    rng = np.random.default_rng(11)
    blobs = rng.random((3, 53, 71)) < 0.02
    scl = np.where(blobs, 9, rng.choice([4, 5, 6], size=blobs.shape)).astype(np.uint8)
    scl[:, 10:14, 30:36] = 3
    ds = backend(scl_dataset(scl))
    whole = backend.host(landpulse.indices(ds, ["ndvi"], mask=Mask(buffer=buffer)))
    # chunks of 1 and 3 pixels are smaller than the 5-pixel halo: the seam must cope
    for chunks in ({"time": 1, "y": 10, "x": 17}, {"time": 2, "y": 3, "x": 71}, {"time": 3, "y": 53, "x": 1}):
        lazy = landpulse.indices(ds.chunk(chunks), ["ndvi"], mask=Mask(buffer=buffer))
        assert lazy["mask"].chunks is not None
        lazy = backend.host(lazy).compute()
        np.testing.assert_array_equal(lazy["mask"].values, whole["mask"].values)
        np.testing.assert_array_equal(lazy["ndvi"].values, whole["ndvi"].values)
    if buffer:
        assert (whole["mask"].values == MASK_BUFFER).any()


def test_masked_pixels_are_nan_in_every_index_and_codes_are_cf_flags() -> None:
    scl = np.array([[0, 1, 3, 4, 8, 9, 10, 11, 13]], np.uint8)
    out = landpulse.indices(scl_dataset(scl), ["ndvi", "savi"], mask="auto")
    codes = out["mask"].values[0]
    assert codes.tolist() == [3, 1, 1, 0, 1, 1, 1, 0, 3]
    for name in ("ndvi", "savi"):
        assert np.array_equal(np.isnan(out[name].values[0]), codes != 0)
    assert out["mask"].attrs["flag_values"] == [0, 1, 2, 3]
    assert out["mask"].attrs["flag_meanings"] == "clear masked buffer nodata"
    assert out["mask"].dtype == np.uint8 and out["mask"].rio.crs == "EPSG:32632"


def test_float_classification_band_with_nan_fill() -> None:
    # openEO exports SCL as float32 with NaN fill (the Bolzano store): NaN is no data
    ds = scl_dataset(np.array([[4, 9, 4]], np.uint8), extra=False)
    ds["SCL"] = ds["SCL"].astype(np.float32).where([[True, True, False]])
    assert landpulse.mask(ds).values.tolist() == [[0, 1, 3]]


def test_mask_errors_name_the_fix() -> None:
    ds = scl_dataset(np.full((3, 3), 4, np.uint8))
    # an explicit mask needs the band; mask="auto" means no mask then, and says so (issue 15)
    with pytest.raises(landpulse.MissingBandError, match="no classification band"):
        landpulse.indices(ds.drop_vars("SCL"), ["ndvi"], mask=Mask())
    with pytest.warns(ProductMeaningWarning, match="no classification band"):
        assert "mask" not in landpulse.indices(ds.drop_vars("SCL"), ["ndvi"], mask="auto")
    with pytest.raises(landpulse.InputError, match="no class or flag"):
        landpulse.mask(ds, Mask(classes=["clouds"]))
    with pytest.raises(landpulse.InputError, match="sensor 'sentinel3'"):
        landpulse.mask(ds, Mask(sensor="sentinel3"))
    with pytest.raises(landpulse.MissingBandError, match="'QA'"):
        landpulse.mask(ds, Mask(band="QA"))
    with pytest.raises(landpulse.InputError, match="mask must be"):
        landpulse.mask(ds, "clouds")  # type: ignore[arg-type]


def test_clear_count() -> None:
    rng = np.random.default_rng(4)
    scl = rng.choice([4, 9, 0, 3], size=(5, 20, 30), p=[0.6, 0.2, 0.1, 0.1]).astype(np.uint8)
    scl[:, 0, 0] = 9  # never clear
    ds = scl_dataset(scl)
    codes = landpulse.mask(ds.chunk({"time": 2, "y": 7, "x": 30}))
    count = landpulse.clear_count(codes)
    assert count.dtype == np.uint16 and count.dims == ("y", "x") and count.rio.crs == "EPSG:32632"
    np.testing.assert_array_equal(count.values, (scl == 4).sum(axis=0))
    assert count.values[0, 0] == 0
    with pytest.raises(landpulse.InputError, match="time dimension"):
        landpulse.clear_count(codes.isel(time=0))


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int16", "int32", "int64", "uint64", "float32", "float64"])
def test_class_lookup_of_every_dtype_matches_a_plain_reference(dtype: str) -> None:
    """The per-pixel table lookup (integer and float implementations): ``lut[q]`` for whole
    values in ``[0, n)``, the fallback for anything else (negative, too large, NaN, fractional)."""
    from numba import njit

    from landpulse.backend.cpu.pixel import lut_bits

    @njit
    def lookup(q, lut, n, fallback):  # type: ignore[no-untyped-def]
        out = np.empty(q.size, np.uint8)
        for i in range(q.size):
            out[i] = lut_bits(q[i], lut, n, fallback)
        return out

    info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else None
    values = [0, 1, 5, 11, 12, 13, 255, 256, 1000]
    if info is not None:
        values += [int(info.min), int(info.max), int(info.max) - 1]
        if info.min < 0:
            values += [-1, -12]
    else:
        values += [-1.0, -0.5, 4.5, 11.999, 1e30, float("inf"), float("-inf"), float("nan")]
    q = np.array([v for v in values if info is None or info.min <= v <= info.max], dtype=dtype)
    lut = np.arange(10, 22, dtype=np.uint8)  # n = 12 entries
    got = lookup(q, lut, lut.size, 99)
    expected = [lut[int(v)] if v == v and float(v).is_integer() and 0 <= v < lut.size else 99 for v in q.tolist()]
    np.testing.assert_array_equal(got, np.array(expected, np.uint8))


def test_mask_kernel_rejects_mismatched_tables() -> None:
    with pytest.raises(ValueError, match="one length"):
        get_kernel("mask_buffer", "cpu")(np.zeros((2, 2), np.uint8), lut=np.zeros(256, np.uint8),
                                         buffer_lut=np.zeros(10, np.uint8), spans=np.zeros(1, np.int32))


# --- the real Bolzano series ---------------------------------------------------------------------

CLOUDY = [1, 2, 8]            # SCL: 100 % cloud (classes 8/9)
CLEAR = [3, 4, 7, 10, 11]     # SCL: < 1 % cloud


@pytest.mark.shared_data
def test_bolzano_cloudy_dates_masked_clear_dates_clear(bolzano: xr.Dataset) -> None:
    out = landpulse.indices(bolzano, ["ndvi", "ndwi"], mask="auto").compute()
    masked = (out["mask"].values != MASK_CLEAR).mean(axis=(1, 2))
    valid_ndvi = np.isfinite(out["ndvi"].values).mean(axis=(1, 2))
    for t in CLOUDY:
        assert masked[t] > 0.99 and valid_ndvi[t] < 0.01, t
    for t in CLEAR:
        assert masked[t] < 0.02 and valid_ndvi[t] > 0.97, t
    # date 0 is half cloudy: the mask agrees with ESA's cloud and shadow classes there
    scl = bolzano["SCL"].values[0]
    assert masked[0] == pytest.approx(np.isin(scl, [1, 3, 8, 9, 10]).mean(), abs=1e-6)
    count = landpulse.clear_count(out["mask"])
    assert count.values.max() <= 9 and count.values.min() >= 6  # 12 dates, 3 fully cloudy, date 0 and 6 partly


@pytest.mark.shared_data
@pytest.mark.parametrize("buffer", [60.0, 300.0])
def test_bolzano_buffers_in_metres_match_at_10_and_20_m(bolzano: xr.Dataset, buffer: float) -> None:
    at10 = landpulse.mask(bolzano, Mask(buffer=buffer)).values
    coarse = bolzano.isel(y=slice(0, None, 2), x=slice(0, None, 2))  # a 20 m grid (nearest resampling)
    at20 = landpulse.mask(coarse, Mask(buffer=buffer)).values
    in_pixels = landpulse.mask(coarse, Mask(buffer=buffer / 2)).values  # "the same number of pixels"
    for t in (0, 3, 5, 6, 9):
        f10, f20, fpx = ((m[t] != MASK_CLEAR).mean() for m in (at10, at20, in_pixels))
        assert abs(f10 - f20) < 0.01, t               # same ground covered, within 1 percentage point
        assert (at10[t, ::2, ::2] == at20[t]).mean() > 0.99, t
        assert (f10 - fpx) > 2 * abs(f10 - f20), t     # a buffer in pixels would not match
    assert (at10 == MASK_BUFFER).mean() > 0.005


@pytest.mark.shared_data
def test_bolzano_buffer_chunked_like_the_store_equals_one_chunk(bolzano: xr.Dataset) -> None:
    lazy = landpulse.mask(bolzano, Mask(buffer=200)).values  # the store's chunks: 177 x 468
    whole = landpulse.mask(bolzano.compute(), Mask(buffer=200)).values
    np.testing.assert_array_equal(lazy, whole)
