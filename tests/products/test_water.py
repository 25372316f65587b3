"""Water extent: classifiers on hand-built reflectances with known answers, Otsu, summaries, change,
areas, chunk invariance, masking, metadata and errors; every backend through the fixture."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import landpulse
from landpulse import water
from landpulse.backend import get_kernel
from landpulse.backend.reductions import histograms, otsu_from_counts
from landpulse.errors import GridMismatchError, InputError, MissingBandError, RadiometryError
from landpulse.products.masking import Mask
from tests.support import Placement
from tests.support.water_cases import (
    WOFS_BANDS,
    WOFS_LEAVES,
    reflectance_dataset,
    wofs_case_dataset,
    wofs_leaves,
    wofs_reference,
)

# SCL: 0 nodata, 1 saturated, 3 cloud shadow, 4 vegetation, 6 water, 8/9 cloud, 10 cirrus


def host(x: xr.DataArray | xr.Dataset) -> np.ndarray:
    return np.asarray(landpulse.to_host(x).values)


# --- index thresholds -----------------------------------------------------------------------------

def index_scene() -> tuple[xr.Dataset, np.ndarray]:
    """Five pixels: MNDWI 0.5, 0.0 (exactly the threshold), -0.2, NDWI-only water, and SCL cloud."""
    green = np.array([[1500, 1000, 800, 900, 900]])
    swir = np.array([[500, 1000, 1200, 2000, 300]])
    nir = np.array([[300, 2000, 2500, 500, 300]])
    scl = np.array([[6, 6, 4, 4, 9]])
    ds = reflectance_dataset({"green": green, "swir16": swir, "nir": nir}, scl=scl)
    mndwi = (green - swir) / (green + swir)
    return ds, mndwi


def test_index_water_mndwi_known_answers(backend: Placement) -> None:
    ds, mndwi = index_scene()
    out = water.index_water(backend(ds))
    assert out.water.attrs["index"] == "mndwi"  # SWIR present: Xu's MNDWI
    np.testing.assert_allclose(host(out.mndwi)[0, :4], mndwi[0, :4], rtol=1e-6)
    # 0.5 water; 0.0 water (>= threshold); -0.2 land; -0.38 land (NDWI would say water); cloud masked
    assert host(out.water).tolist() == [[1, 1, 0, 0, 2]]
    assert out.water.dtype == np.uint8 and out.water.attrs["_FillValue"] == 255
    assert out.water.attrs["flag_meanings"] == "not_water water cloud_or_shadow"
    assert out.water.rio.crs.to_epsg() == 32632


def test_index_water_threshold_is_configurable_and_ndwi_without_swir(backend: Placement) -> None:
    ds, _ = index_scene()
    strict = water.index_water(backend(ds), threshold=0.3)
    assert host(strict.water).tolist() == [[1, 0, 0, 0, 2]]
    no_swir = water.index_water(backend(ds.drop_vars("swir16")))
    assert no_swir.water.attrs["index"] == "ndwi"  # McFeeters: (green - nir) / (green + nir)
    # NDWI: 0.667, -0.333, -0.515, +0.286, cloud
    assert host(no_swir.water).tolist() == [[1, 0, 0, 1, 2]]
    named = water.index_water(backend(ds), index="NDWI")
    assert host(named.water).tolist() == host(no_swir.water).tolist()


def test_index_water_without_classification_band_masks_nothing_and_says_so(backend: Placement) -> None:
    ds, _ = index_scene()
    out = water.index_water(backend(ds.drop_vars("SCL")))
    assert host(out.water).tolist() == [[1, 1, 0, 0, 1]]  # the "cloud" pixel is bright water-like here
    assert out.water.attrs["masking"].startswith("none")
    with pytest.raises(MissingBandError):
        water.index_water(ds.drop_vars("SCL"), mask=Mask())  # an explicit mask needs the band


def test_nodata_and_invalid_bands_are_nodata_never_water(backend: Placement) -> None:
    green = np.array([[0, 1500, 1500, 1500, 65535]])
    swir = np.array([[500, 0, 500, 500, 500]])
    scl = np.array([[6, 6, 0, 3, 6]])  # SCL nodata at pixel 2, cloud shadow at 3
    ds = reflectance_dataset({"green": green, "swir16": swir}, scl=scl)
    out = water.index_water(backend(ds))
    assert host(out.water).tolist() == [[255, 255, 255, 2, 255]]


def test_baseline_offset_gives_the_same_classes(backend: Placement) -> None:
    ds0, _ = index_scene()
    bands = {k: ds0[k].values for k in ("green", "swir16", "nir")}
    ds1 = reflectance_dataset(bands, scl=ds0.SCL.values, offset_dn=1000)  # DN + 1000, offset -0.1
    a, b = water.index_water(backend(ds0)), water.index_water(backend(ds1))
    assert host(a.water).tolist() == host(b.water).tolist() == [[1, 1, 0, 0, 2]]
    np.testing.assert_array_equal(host(a.mndwi), host(b.mndwi))


# --- WOfS -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("offset_dn", [0, 1000])
def test_wofs_reaches_every_leaf_with_the_published_answer(backend: Placement, offset_dn: int) -> None:
    ds, expected = wofs_case_dataset(offset_dn)
    out = water.wofs(backend(ds), mask=None)
    flags = host(out.wofs)
    assert flags.tolist() == np.where(expected, 128, 0).tolist(), [c[0] for c in WOFS_LEAVES]
    assert host(out.water).tolist() == expected.astype(int).tolist()


def test_wofs_case_table_reaches_the_named_leaves() -> None:
    values = np.array([c[2] for c in WOFS_LEAVES]).T
    assert list(wofs_leaves(*values)) == [c[0] for c in WOFS_LEAVES]
    assert len({c[0] for c in WOFS_LEAVES}) == 23  # every leaf of the tree


def test_wofs_thresholds_are_met_exactly_in_reflectance_x_10000(backend: Placement) -> None:
    """N14/N15 at b1 = 379 and 380: 'b1 <= 379' holds for 379 with and without the -1000 DN offset."""
    for offset in (0, 1000):
        bands = {n: np.array([[v, v2]]) for n, v, v2 in zip(WOFS_BANDS, (379, 1000, 500, 929, 538, 900),
                                                              (380, 1000, 500, 929, 538, 900), strict=True)}
        out = water.wofs(backend(reflectance_dataset(bands, offset_dn=offset)), mask=None)
        assert host(out.wofs).tolist() == [[128, 0]]


def test_wofs_matches_the_reference_tree_on_random_reflectances(backend: Placement) -> None:
    rng = np.random.default_rng(7)
    n = 40_000
    b = {name: rng.integers(1, 3500, n).reshape(200, 200) for name in WOFS_BANDS}
    b["blue"][:, :100] = rng.integers(1, 600, (200, 100))  # dark pixels exercise the water leaves
    b["swir22"][::3] = rng.integers(1, 400, (67, 200))
    out = water.wofs(backend(reflectance_dataset(b)), mask=None)
    ref = wofs_reference(*(b[k] for k in WOFS_BANDS))
    np.testing.assert_array_equal(host(out.wofs) == 128, ref)
    assert 0.05 < ref.mean() < 0.95


def test_wofs_flags_from_bands_and_scl(backend: Placement) -> None:
    v = (100, 1000, 300, 450, 1857, 600)  # N44: water when clear
    bands = {n: np.full((1, 8), x) for n, x in zip(WOFS_BANDS, v, strict=True)}
    bands["blue"][0, 0] = 0
    for n in WOFS_BANDS:
        bands[n][0, 1] = 0  # every band missing
    bands["swir22"][0, 2] = 65535  # saturated
    scl = np.array([[6, 6, 6, 9, 3, 1, 0, 10]])
    out = water.wofs(backend(reflectance_dataset(bands, scl=scl)))
    # 0: one band missing -> non-contiguous; 1: all missing -> nodata; 2: saturated -> non-contiguous;
    # 3: cloud high -> cloud; 4: cloud shadow; 5: SCL saturated -> non-contiguous; 6: SCL nodata; 7: cirrus -> cloud
    assert host(out.wofs).tolist() == [[2, 1, 2, 64, 32, 2, 1, 64]]
    assert host(out.water).tolist() == [[255, 255, 255, 2, 2, 255, 255, 2]]
    assert out.wofs.attrs["flag_masks"].tolist() == [1, 2, 4, 8, 16, 32, 64, 128]
    assert "sea" in out.wofs.attrs["flags_never_set"]
    clear = water.wofs(backend(reflectance_dataset({n: np.full((1, 2), x) for n, x in zip(WOFS_BANDS, v, strict=True)},
                                                   scl=np.array([[6, 4]]))))
    assert host(clear.wofs).tolist() == [[128, 128]]  # the tree decides, not SCL


def test_wofs_on_landsat_surface_reflectance_with_qa_pixel(backend: Placement) -> None:
    """Landsat 8/9 C2 L2: reflectance = DN * 2.75e-5 - 0.2, nir08 as TM band 4, QA_PIXEL bits."""
    leaves = np.array([c[2] for c in WOFS_LEAVES], np.float64).T  # reflectance x 10000
    dn = np.round(leaves / 10000.0 / 2.75e-5 + 0.2 / 2.75e-5).astype(np.uint16)
    names = ("blue", "green", "red", "nir08", "swir16", "swir22")
    qa = np.full((1, dn.shape[1]), 1 << 6, np.uint16)  # clear
    qa[0, :5] = [1, 1 << 3, 1 << 4, 1 << 1, (1 << 3) | (1 << 4)]  # fill, cloud, shadow, dilated cloud, both
    ds = xr.Dataset({n: (("y", "x"), np.vstack([dn[i], dn[i]])) for i, n in enumerate(names)},
                    coords={"y": [5200005.0, 5199995.0], "x": 600005.0 + 30.0 * np.arange(dn.shape[1])})
    ds["QA_PIXEL"] = (("y", "x"), np.vstack([qa[0], qa[0]]))
    ds = ds.rio.write_crs("EPSG:32632")
    ds.attrs["sensor"] = '["landsat8-9-c2-l2"]'
    ds = landpulse.declare_radiometry(ds, scale=2.75e-5, offset=-0.2, bands=list(names), nodata=0,
                                      valid_range=(7273, 43636))
    out = water.wofs(backend(ds))
    refl = (dn.astype(np.float32) + np.float32(-0.2 / 2.75e-5)) * np.float32(2.75e-5 * 10000)
    expected = np.where(wofs_reference(*refl), 128, 0)
    expected[:5] = [1, 64, 32, 64, 96]
    assert host(out.wofs)[0].tolist() == expected.tolist()
    assert host(out.wofs)[0, 5:].tolist() == np.where([c[1] for c in WOFS_LEAVES[5:]], 128, 0).tolist()


def test_wofs_with_a_buffer_uses_the_cloud_bit(backend: Placement) -> None:
    v = (100, 1000, 300, 450, 1857, 600)
    bands = {n: np.full((3, 9), x) for n, x in zip(WOFS_BANDS, v, strict=True)}
    scl = np.full((3, 9), 4)
    scl[1, 4] = 3  # a cloud shadow; 20 m at 10 m pixels reaches two columns either side
    out = water.wofs(backend(reflectance_dataset(bands, scl=scl)), mask=Mask(buffer=20.0))
    assert host(out.wofs)[1].tolist() == [128, 128, 64, 64, 64, 64, 64, 128, 128]


def test_wofs_needs_swir_and_reflectance() -> None:
    ds, _ = wofs_case_dataset()
    with pytest.raises(MissingBandError, match="swir22"):
        water.wofs(ds.drop_vars("swir22"))
    bare = xr.Dataset({n: xr.DataArray(ds[n].values, dims=ds[n].dims, coords=ds[n].coords) for n in WOFS_BANDS})
    dn = landpulse.declare_radiometry(bare, scale=1.0, offset=0.0)  # integer data "as reflectance": raw DNs
    with pytest.raises(RadiometryError, match="unscaled digital numbers"):
        water.wofs(dn)


def test_wofs_warns_on_top_of_atmosphere_input() -> None:
    ds, _ = wofs_case_dataset()
    ds.attrs["sensor"] = '["sentinel2-l1c"]'
    with pytest.warns(UserWarning, match="surface reflectance"):
        out = water.wofs(ds, mask=None)
    assert out.wofs.attrs["input_quantity"] == "toa_reflectance"


# --- Otsu ------------------------------------------------------------------------------------------

def brute_force_otsu(values: np.ndarray, bins: int, lo: float, hi: float) -> float:
    """Otsu by definition: the bin edge that maximises w0 w1 (mu0 - mu1)^2 over binned values."""
    counts, edges = np.histogram(values, bins=bins, range=(lo, hi))
    centres = 0.5 * (edges[:-1] + edges[1:])
    best, arg = -1.0, None
    for k in range(1, bins):
        c0, c1 = counts[:k], counts[k:]
        w0, w1 = c0.sum(), c1.sum()
        if w0 == 0 or w1 == 0:
            continue
        m0, m1 = (c0 * centres[:k]).sum() / w0, (c1 * centres[k:]).sum() / w1
        score = w0 * w1 * (m0 - m1) ** 2
        if score > best:
            best, arg = score, edges[k]
    return float(arg)


def test_otsu_on_a_bimodal_histogram() -> None:
    rng = np.random.default_rng(1)
    values = np.concatenate([rng.normal(-0.5, 0.08, 60_000), rng.normal(0.4, 0.1, 40_000)])
    counts, _ = np.histogram(values, bins=256, range=(-1, 1))
    thr = otsu_from_counts(counts, (-1.0, 1.0))
    assert thr == pytest.approx(brute_force_otsu(values, 256, -1.0, 1.0), abs=1e-12)
    assert -0.25 < thr < 0.15  # in the valley between the modes
    assert np.isnan(otsu_from_counts(np.zeros(256), (-1.0, 1.0)))
    one = np.zeros(256)
    one[10] = 5
    assert np.isnan(otsu_from_counts(one, (-1.0, 1.0)))


def bimodal_stack(nt: int = 3, ny: int = 60, nx: int = 50, seed: int = 2) -> xr.Dataset:
    """Green/SWIR stack whose MNDWI is bimodal (water fraction rising over time), with clouds."""
    rng = np.random.default_rng(seed)
    green = rng.integers(600, 900, (nt, ny, nx))
    swir = rng.integers(1500, 2500, (nt, ny, nx))
    scl = np.full((nt, ny, nx), 4)
    for t in range(nt):
        wet = np.zeros((ny, nx), bool)
        wet[:, : 10 + 10 * t] = True
        swir[t][wet] = rng.integers(50, 250, wet.sum())
        scl[t][wet] = 6
    scl[:, 40:45, 20:30] = 9
    return reflectance_dataset({"green": green, "swir16": swir}, scl=scl)


def test_otsu_water_per_scene_and_chunk_invariant(backend: Placement) -> None:
    ds = bimodal_stack()
    eager = water.otsu_water(backend(ds))
    thr = eager.threshold.values
    assert thr.shape == (3,) and np.all((thr > -0.4) & (thr < 0.6))
    w = host(eager.water)
    assert (w[:, :, :10] == 1).all() and (w[:, 40:45, 20:30] == 2).all()
    assert (w[0, :, 30:][w[0, :, 30:] != 2] == 0).all()
    for chunks in ({"time": 1, "y": 17, "x": 13}, {"time": 2, "y": 60, "x": 7}):
        lazy = water.otsu_water(backend(ds.chunk(chunks)))
        np.testing.assert_array_equal(lazy.threshold.values, thr)
        np.testing.assert_array_equal(host(lazy.water.compute()), w)
    one = water.otsu_water(backend(ds.isel(time=2)))  # a single (y, x) scene: a scalar threshold
    assert one.threshold.ndim == 0 and float(one.threshold) == thr[2]
    np.testing.assert_array_equal(host(one.water), w[2])


def test_histograms_match_numpy_and_ignore_chunking() -> None:
    rng = np.random.default_rng(3)
    a = rng.normal(0, 0.4, (4, 41, 37)).astype(np.float32)
    a[0] = np.nan
    a[1, :3] = 1.0  # the top edge counts in the last bin
    a[2, :2] = 5.0  # out of range: not counted
    da = xr.DataArray(a, dims=("time", "y", "x"))
    h = histograms(da, "time", 32, (-1.0, 1.0))
    for t in range(4):
        v = a[t][np.isfinite(a[t]) & (np.abs(a[t]) <= 1)]
        np.testing.assert_array_equal(h[t], np.histogram(v, 32, (-1, 1))[0])
    np.testing.assert_array_equal(histograms(da.chunk({"time": 3, "y": 10, "x": 9}), "time", 32, (-1.0, 1.0)), h)
    assert histograms(da.isel(time=1), None, 32, (-1.0, 1.0)).tolist() == h[1:2].tolist()


def test_change_otsu_threshold_uses_the_shared_otsu() -> None:
    rng = np.random.default_rng(4)
    v = np.concatenate([rng.normal(0.05, 0.02, 5000), rng.normal(0.4, 0.05, 1000)])
    da = xr.DataArray(v.reshape(60, 100), dims=("y", "x"))
    assert landpulse.products.change.otsu_threshold(da, value_range=(0.0, 1.0)) == pytest.approx(
        brute_force_otsu(v, 256, 0.0, 1.0), abs=1e-12)


# --- summaries --------------------------------------------------------------------------------------

def class_stack(codes: list[list[int]], rows: int = 1) -> xr.DataArray:
    """A (time, rows, n) water product from per-date rows of codes (repeated ``rows`` times)."""
    arr = np.repeat(np.asarray(codes, np.uint8)[:, None, :], rows, axis=1)
    ds = reflectance_dataset({"green": np.ones(arr.shape, int)})
    da = xr.DataArray(arr, dims=("time", "y", "x"), coords={"time": ds.time, "y": ds.y, "x": ds.x}, name="water",
                      attrs=water.water_attrs("test")).rio.write_crs("EPSG:32632")
    return da


def test_summary_counts_frequency_and_classes(backend: Placement) -> None:
    # ten dates; columns: always wet, 9 wet / 1 dry, 1 wet / 9 dry, never, wet but masked 5x, all masked,
    # 1 wet of 9 clear + 1 nodata
    cols = [
        [1] * 10, [1] * 9 + [0], [1] + [0] * 9, [0] * 10, [1] * 5 + [2] * 5, [2] * 10, [1] + [0] * 8 + [255],
    ]
    da = class_stack([list(r) for r in zip(*cols, strict=True)])
    s = water.summary(backend(da))
    assert host(s.wet_count).tolist() == [[10, 9, 1, 0, 5, 0, 1]]
    assert host(s.clear_count).tolist() == [[10, 10, 10, 10, 5, 0, 9]]
    f = host(s.frequency)[0]
    np.testing.assert_array_equal(f[:5], np.float32([1.0, 0.9, 0.1, 0.0, 1.0]))
    assert np.isnan(f[5]) and f[6] == np.float32(1) / np.float32(9)
    # permanent >= 0.9; seasonal >= 0.1; never below; nodata without clear observations
    assert host(s.water_class).tolist() == [[2, 2, 1, 0, 2, 255, 1]]
    assert s.water_class.attrs["flag_meanings"] == "never seasonal permanent"
    assert s.frequency.rio.crs.to_epsg() == 32632
    strict = water.summary(backend(da), min_clear=6, seasonal=0.2, permanent=1.0)
    assert host(strict.water_class).tolist() == [[2, 1, 0, 0, 255, 255, 0]]


def test_summary_of_wofs_flags_and_of_a_period(backend: Placement) -> None:
    da = class_stack([[1, 0, 2], [0, 0, 1], [1, 1, 1]])
    flags = xr.DataArray(np.where(host(da) == 1, 128, np.where(host(da) == 2, 64, 0)).astype(np.uint8), dims=da.dims,
                         coords=da.coords, name="wofs", attrs={"flag_masks": [1, 2, 4, 8, 16, 32, 64, 128],
                                                               "flag_meanings": " ".join(n for n, _ in water.WOFS_BITS)})
    a, b = water.summary(backend(da)), water.summary(backend(flags))
    np.testing.assert_array_equal(host(a.wet_count), host(b.wet_count))
    np.testing.assert_array_equal(host(a.clear_count), host(b.clear_count))
    t1 = str(da.time.values[1])[:10]
    late = water.summary(backend(da), start=t1)
    assert host(late.wet_count).tolist() == [[1, 1, 2]] and late.frequency.attrs["n_dates"] == 2


def test_all_cloudy_stack_gives_zero_counts_and_nodata_not_an_exception(backend: Placement) -> None:
    nt, ny, nx = 4, 6, 5
    ds = reflectance_dataset({"green": np.full((nt, ny, nx), 900), "swir16": np.full((nt, ny, nx), 200),
                              "nir": np.full((nt, ny, nx), 300)}, scl=np.full((nt, ny, nx), 9))
    for result in (water.index_water(backend(ds)), water.otsu_water(backend(ds))):
        assert (host(result.water) == 2).all()
        s = water.summary(result)
        assert (host(s.wet_count) == 0).all() and (host(s.clear_count) == 0).all()
        assert np.isnan(host(s.frequency)).all() and (host(s.water_class) == 255).all()
    assert np.isnan(water.otsu_water(backend(ds)).threshold.values).all()
    assert (host(water.summary(water.index_water(backend(ds.chunk({"time": 1, "y": 3}))))["clear_count"]) == 0).all()


def test_summary_chunked_equals_unchunked(backend: Placement) -> None:
    rng = np.random.default_rng(5)
    codes = rng.choice(np.array([0, 1, 2, 255], np.uint8), size=(9, 1, 300), p=[0.5, 0.3, 0.15, 0.05])
    da = class_stack(codes[:, 0, :].tolist())
    eager = water.summary(backend(da))
    for chunks in ({"time": 1, "x": 7}, {"time": 4, "x": 300}, {"time": 9, "x": 64}):
        lazy = water.summary(backend(da.chunk(chunks))).compute()
        for v in eager.data_vars:
            np.testing.assert_array_equal(host(lazy[v]), host(eager[v]))


def test_summary_refuses_non_water_products_and_single_maps() -> None:
    da = class_stack([[1, 0]])
    with pytest.raises(InputError, match="time dimension"):
        water.summary(da.isel(time=0))
    other = da.copy()
    other.attrs = {"flag_values": [1, 2], "flag_meanings": "loss gain"}
    with pytest.raises(InputError, match="not a water product"):
        water.summary(other)
    with pytest.raises(InputError):
        water.summary(da, seasonal=0.9, permanent=0.5)
    with pytest.raises(InputError, match="no date"):
        water.summary(da, start="2030-01-01")


# --- change -----------------------------------------------------------------------------------------

def test_change_between_two_periods(backend: Placement) -> None:
    # columns: stable wet, stable dry, flooded, dried, no clear obs before, half wet before / wet after
    before = [[1, 0, 0, 1, 2, 1], [1, 0, 0, 1, 2, 0]]
    after = [[1, 0, 1, 0, 1, 1], [1, 0, 1, 0, 1, 1]]
    da = class_stack(before + after)
    t = [str(v)[:10] for v in da.time.values]
    out = water.period_change(backend(da), before=(t[0], t[1]), after=(t[2], t[3]))
    assert host(out.water_change).tolist() == [[1, 0, 2, 3, 255, 1]]
    assert out.water_change.attrs["flag_meanings"] == "stable_not_water stable_water new_water lost_water"
    high = water.period_change(backend(da), before=(t[0], t[1]), after=(t[2], t[3]), threshold=0.75)
    assert host(high.water_change)[0, 5] == 2  # 0.5 before is not water at 0.75: flooding
    assert out.water_change.rio.crs.to_epsg() == 32632


def test_change_refuses_mismatched_grids() -> None:
    da = class_stack([[1, 0], [0, 1]])
    s = water.summary(da)
    shifted = s.assign_coords(x=s.x + 10.0)
    with pytest.raises(GridMismatchError):
        water.change(s, shifted)
    with pytest.raises(InputError, match="summary"):
        water.change(s, s["frequency"])  # type: ignore[arg-type]


# --- areas ------------------------------------------------------------------------------------------

def test_class_areas_in_hectares_projected() -> None:
    da = class_stack([[1, 1, 0, 2, 255]], rows=2).isel(time=0, drop=True)  # (2, 5) pixels of 10 m: 0.01 ha
    areas = water.class_areas(da)
    assert areas == {"not_water": 0.02, "water": 0.04, "cloud_or_shadow": 0.02, "nodata": 0.02}
    twenty = da.assign_coords(x=600000.0 + 10 + 20.0 * np.arange(5), y=[5200010.0, 5199990.0])
    assert water.class_areas(twenty)["water"] == pytest.approx(0.16)
    per_date = water.class_areas(class_stack([[1, 0, 0, 0, 0], [1, 1, 1, 0, 0]], rows=2))
    assert [v["water"] for v in per_date.values()] == [0.02, 0.06]


def test_class_areas_geographic_sum_to_the_ellipsoidal_area() -> None:
    from pyproj import Geod

    ny, nx, d = 40, 30, 0.01
    lat = 45.0 - d / 2 - d * np.arange(ny)
    lon = 11.0 + d / 2 + d * np.arange(nx)
    da = xr.DataArray(np.ones((ny, nx), np.uint8), dims=("y", "x"), coords={"y": lat, "x": lon}, name="water",
                      attrs=water.water_attrs("test")).rio.write_crs("EPSG:4326")
    # the region bounded by meridians and parallels: a geodesic polygon with densely sampled parallels
    lons = np.linspace(11.0, 11.3, 3001)
    poly_lon = np.concatenate([lons, lons[::-1]])
    poly_lat = np.concatenate([np.full(lons.size, 44.6), np.full(lons.size, 45.0)])
    area, _ = Geod(ellps="WGS84").polygon_area_perimeter(poly_lon, poly_lat)
    assert water.class_areas(da)["water"] == pytest.approx(abs(area) / 1e4, rel=1e-7)


def test_area_report_is_json_and_names_every_class_variable() -> None:
    da = class_stack([[1, 0, 0], [0, 0, 1]], rows=2)
    t = [str(v)[:10] for v in da.time.values]
    ch = water.period_change(da, before=(t[0], t[0]), after=(t[1], t[1]))
    report = water.area_report(ch)
    json.dumps(report)
    assert report["units"] == "ha" and report["pixel_area_m2"] == 100.0
    assert report["water_change"] == {"stable_not_water": 0.02, "stable_water": 0.0, "new_water": 0.02,
                                      "lost_water": 0.02, "nodata": 0.0}
    with pytest.raises(InputError):
        water.class_areas(ch.frequency_before)


# --- kernels directly: odd dtypes and shapes ---------------------------------------------------------

def test_threshold_kernel_per_slice_thresholds() -> None:
    k = get_kernel("water_threshold", "cpu")
    idx = np.array([[[0.1, 0.3]], [[0.1, 0.3]]], np.float32)
    out = k(idx, np.array([0.2, np.nan], np.float32).reshape(2, 1, 1))
    assert out.tolist() == [[[0, 1]], [[255, 255]]]
    codes = np.array([[[0, 3]], [[1, 2]]], np.uint8)
    assert k(idx, codes, 0.0, has_mask=True).tolist() == [[[1, 255]], [[2, 2]]]


def test_wofs_kernel_on_float_bands_and_float_scl_like_openeo_stores() -> None:
    ds, expected = wofs_case_dataset()
    f32 = ds.copy()
    for n in WOFS_BANDS:
        f32[n] = ds[n].astype(np.float32)
        f32[n].attrs = ds[n].attrs
    f32["SCL"] = xr.DataArray(np.full(ds.blue.shape, 4.0, np.float32), dims=ds.blue.dims, coords=ds.blue.coords)
    f32["SCL"][0, 0] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = water.wofs(f32)
    exp = np.where(expected, 128, 0)
    exp[0, 0] = 1  # NaN classification value: nodata
    assert host(out.wofs).tolist() == exp.tolist()


# --- agreement with a reference mask: numbers worked out by hand ------------------------------------

def test_agreement_confusion_matrix_by_hand(backend: Placement) -> None:
    """Sixteen pixels, each listed with what it counts as. The map's 2 (cloud) and 255 (nodata),
    and pixels the reference marks unusable (valid False), are left out; the rest give
    tp 3, fn 1, fp 2, tn 3 (n 9): overall accuracy 6/9, recall 3/4, precision 3/5 and, with
    chance agreement pe = (4 * 5 + 5 * 4) / 81 = 40/81, kappa (6/9 - 40/81) / (1 - 40/81) = 14/41."""
    pixels = [  # (map code, reference water, reference valid): counts as
        (1, True, True),     # tp
        (1, True, True),     # tp
        (1, True, True),     # tp
        (1, False, True),    # fp
        (0, True, True),     # fn
        (0, False, True),    # tn
        (0, False, True),    # tn
        (0, False, True),    # tn
        (2, True, True),     # cloud in the map: out
        (255, True, True),   # nodata in the map: out
        (1, True, False),    # reference unusable: out (would be tp)
        (0, True, False),    # reference unusable: out (would be fn)
        (2, False, True),    # cloud: out
        (255, False, True),  # nodata: out
        (0, False, False),   # reference unusable: out (would be tn)
        (1, False, True),    # fp
    ]
    codes, ref, valid = (np.array([p[i] for p in pixels]).reshape(4, 4) for i in range(3))
    dims = ("y", "x")
    water_map = xr.DataArray(codes.astype(np.uint8), dims=dims)
    reference = xr.DataArray(ref.astype(bool), dims=dims)
    usable = xr.DataArray(valid.astype(bool), dims=dims)

    got = water.agreement(backend(water_map), backend(reference), backend(usable))
    assert got["matrix"] == [[3, 2], [1, 3]] and got["n"] == 9  # [[tn, fp], [fn, tp]]
    assert got["overall_accuracy"] == pytest.approx(6 / 9)
    assert got["water_recall"] == pytest.approx(3 / 4)
    assert got["water_precision"] == pytest.approx(3 / 5)
    assert got["kappa"] == pytest.approx(14 / 41)

    # without a validity mask the three unusable pixels count: tp 4, fn 2, fp 2, tn 4 (n 12),
    # accuracy 8/12, recall 4/6, precision 4/6, pe = (6 * 6 + 6 * 6) / 144 = 1/2, kappa 1/3
    got = water.agreement(backend(water_map), backend(reference))
    assert got["matrix"] == [[4, 2], [2, 4]] and got["n"] == 12
    assert got["overall_accuracy"] == pytest.approx(8 / 12)
    assert got["water_recall"] == pytest.approx(4 / 6)
    assert got["water_precision"] == pytest.approx(4 / 6)
    assert got["kappa"] == pytest.approx(1 / 3)

    # nothing usable: an empty matrix, no rates
    assert water.agreement(backend(water_map), backend(reference), backend(usable & False)) == {
        "matrix": [[0, 0], [0, 0]], "n": 0}


def test_areas_counted_while_writing_equal_class_areas_of_the_stored_map(tmp_path: Path) -> None:
    """The production write counts classes per row as it writes (no second read of the store):
    the areas equal class_areas of the stored map, on a projected and on a geographic grid."""
    from landpulse.io.products import open_product, write_product_blocks
    from landpulse.products.areas import areas_from_row_counts, class_areas

    rng = np.random.default_rng(3)
    codes = rng.choice(np.array([0, 1, 2, 255], np.uint8), size=(2, 300, 260), p=[0.5, 0.3, 0.15, 0.05])
    for crs, y, x in (("EPSG:32632", 5_200_000.0 - 5 - 10 * np.arange(300), 600_000.0 + 5 + 10 * np.arange(260)),
                      ("EPSG:4326", 60.0 - 0.005 - 0.01 * np.arange(300), 10.0 + 0.005 + 0.01 * np.arange(260))):
        da = xr.DataArray(codes, dims=("time", "y", "x"), name="water", attrs=water.water_attrs("test"),
                          coords={"time": np.array(["2022-06-01", "2022-06-11"], "datetime64[ns]"), "y": y, "x": x})
        da = da.rio.write_crs(crs).chunk({"time": 1, "y": 128, "x": 100})
        path = tmp_path / f"{crs.replace(':', '')}.zarr"
        written = write_product_blocks(da, path)
        stored = open_product(path)["water"].isel(time=0)
        assert written.row_counts is not None and written.row_counts.sum() == 300 * 260
        assert areas_from_row_counts(da.isel(time=0), written.row_counts) == class_areas(stored)
