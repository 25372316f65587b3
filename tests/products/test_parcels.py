"""Parcel statistics against independent oracles: exactextract (coverage fractions and weighted
statistics), rasterio's rasterization (centre and all-touched modes), shapely's polygon clipping
and NumPy's percentiles. Raster: the real Bolzano NDVI; parcels: GENERATED layouts
(landpulse.products.parcels.generate_parcels), not real field boundaries."""

from __future__ import annotations

import exactextract
import numpy as np
import pytest
import rasterio.features
import shapely
from shapely.geometry import MultiPolygon, Point, Polygon, box

from landpulse.backend.ops.parcels import segmented_parcel_stats
from landpulse.backend.parcels import coverage_weights
from landpulse.errors import InputError
from landpulse.parcels import generate_parcels, parcel_weights, zonal_stats

X0, Y0 = 674990.0, 5154960.0  # the Bolzano grid's upper-left corner (EPSG:32632, 10 m)
CHUNK_EDGES_X = [X0 + 2560.0, X0 + 5120.0]  # edges of 256-pixel chunks
CHUNK_EDGES_Y = [Y0 - 2560.0, Y0 - 5120.0]


@pytest.fixture(scope="module")
def fields() -> object:
    """GENERATED fields over the Bolzano grid: slivers, holes, multiparts, overlaps, chunk edges."""
    return generate_parcels((X0 + 100, Y0 - 6950, X0 + 9250, Y0 - 100), 240, crs="EPSG:32632", seed=7,
                            special_fraction=0.25, edges_x=CHUNK_EDGES_X, edges_y=CHUNK_EDGES_Y)


def _exactextract(tif: str, parcels: object, ops: list[str]) -> object:
    return exactextract.exact_extract(tif, parcels, ops, output="pandas")


def test_the_generated_layout_has_every_awkward_case(fields) -> None:
    assert set(fields.kind) == {"field", "holed", "multipart", "sliver", "overlap", "edge"}
    assert fields.generated.all() and fields.is_valid.all()
    assert (fields.geom_type == "MultiPolygon").any()
    assert (fields[fields.kind == "holed"].geometry.apply(lambda g: len(g.interiors) if g.geom_type == "Polygon"
                                                         else 0) > 0).any()
    assert (fields.geometry.area < 100.0).any()  # smaller than one pixel


def test_exact_coverage_and_weighted_statistics_match_exactextract(ndvi, fields, tmp_path) -> None:
    full, tif = str(tmp_path / "filled.tif"), str(tmp_path / "ndvi.tif")
    ndvi.isel(t=0).fillna(0.0).rio.to_raster(full)  # every pixel valid: exactextract lists every covered cell
    ndvi.isel(t=1).rio.to_raster(tif)  # the cloudy date, NaN where masked
    cov = _exactextract(full, fields, ["cell_id", "coverage"])
    ee = _exactextract(tif, fields, ["mean", "stdev", "min", "max", "count"])
    cw = parcel_weights(ndvi, fields)
    m = cw.to_scipy()
    for i in range(len(fields)):
        ours = dict(zip(m[[i]].indices.tolist(), m[[i]].data.tolist(), strict=True))
        theirs = dict(zip(np.asarray(cov.cell_id[i]).astype(int).tolist(), np.asarray(cov.coverage[i]).tolist(),
                          strict=True))
        assert set(ours) == set(theirs), i
        # exactextract hands coverage out as float32: equal within 1e-6 of the pixel area
        assert max(abs(ours[k] - theirs[k]) for k in ours) < 1e-6, (i, fields.kind[i])
    table = zonal_stats(ndvi.isel(t=1), fields, weights=cw)
    for ours, theirs in (("mean", "mean"), ("std", "stdev"), ("min", "min"), ("max", "max")):
        a, b = table[ours].to_numpy(), ee[theirs].to_numpy(dtype=float)
        assert np.array_equal(np.isnan(a), np.isnan(b)), ours
        ok = ~np.isnan(a)
        np.testing.assert_allclose(a[ok], b[ok], rtol=1e-6, atol=1e-9, err_msg=ours)
    # exactextract's count is the sum of the valid pixels' coverage
    np.testing.assert_allclose(table.valid_area_m2 / 100.0, ee["count"].to_numpy(float), rtol=1e-6, atol=1e-6)
    assert (table.masked > 0).any() and (table["count"] == 0).any()  # the cloudy date masks parcels


def test_exact_coverage_equals_shapely_clipping_cell_by_cell(ndvi, fields) -> None:
    cw = parcel_weights(ndvi, fields)
    tr = ndvi.rio.transform()
    nx = ndvi.sizes["x"]
    picks = [i for k in ("sliver", "holed", "multipart", "overlap", "edge") for i in
             np.flatnonzero(fields.kind.to_numpy() == k)[:3]]
    for i in picks:
        g = fields.geometry.iloc[i]
        for j in range(cw.indptr[i], cw.indptr[i + 1]):
            r, c = divmod(int(cw.indices[j]), nx)
            x0, y0 = tr * (c, r + 1)
            ref = box(x0, y0, x0 + 10.0, y0 + 10.0).intersection(g).area / 100.0
            assert abs(cw.weights[j] - ref) < 1e-9
        assert abs(cw.weights[cw.indptr[i]:cw.indptr[i + 1]].sum() * 100.0 - g.area) < 1e-6 * max(g.area, 1.0)


@pytest.mark.parametrize("mode,all_touched", [("centre", False), ("all_touched", True)])
def test_centre_and_all_touched_modes_match_rasterio(ndvi, fields, mode, all_touched) -> None:
    cw = parcel_weights(ndvi, fields, mode=mode)
    m = cw.to_scipy()
    shape = (ndvi.sizes["y"], ndvi.sizes["x"])
    for i in range(0, len(fields), 3):
        burnt = rasterio.features.rasterize([(fields.geometry.iloc[i], 1)], out_shape=shape,
                                            transform=ndvi.rio.transform(), all_touched=all_touched, dtype="uint8")
        ours = np.zeros(shape[0] * shape[1])
        ours[m[[i]].indices] = m[[i]].data
        assert np.array_equal(ours.reshape(shape), burnt.astype(float)), (i, fields.kind[i])


def test_holes_multipolygons_overlaps_and_pixels_outside_by_hand() -> None:
    tr = (1.0, 0.0, 0.0, 0.0, -1.0, 4.0)  # 4 x 4 unit pixels, y up
    ring = box(0, 0, 4, 4).difference(box(1, 1, 3, 3))  # a hole of four whole pixels
    parts = MultiPolygon([box(0, 3.5, 0.5, 4), box(3, 0, 4, 0.25)])  # a quarter pixel, a quarter pixel
    outside = box(10, 10, 12, 12)
    a, b = box(0, 0, 2, 4), box(1, 0, 3, 4)  # overlapping: each on its own
    across = Polygon([(-2.5, 1), (2, 1), (2, 5.5), (-2.5, 5.5)])  # over the tile's west and north edges
    cw = coverage_weights([ring, parts, outside, a, b, None, across], tr, (4, 4))
    dense = cw.to_scipy().toarray().reshape(7, 4, 4)
    assert dense[6].sum() == pytest.approx(6.0) and (dense[6][:3, :2] == 1).all()  # only the part on the grid
    assert dense[0].sum() == pytest.approx(12) and (dense[0][1:3, 1:3] == 0).all()
    assert dense[1][0, 0] == pytest.approx(0.25) and dense[1][3, 3] == pytest.approx(0.25) and dense[1].sum() == 0.5
    assert cw.indptr[3] - cw.indptr[2] == 0 and cw.indptr[6] - cw.indptr[5] == 0
    assert (dense[3][:, :2] == 1).all() and (dense[4][:, 1:3] == 1).all() and dense[3].sum() == dense[4].sum() == 8


def test_statistics_of_masked_pixels_outside_parcels_and_chunk_edges(ndvi, fields) -> None:
    eager = zonal_stats(ndvi, fields, quantiles=(0.1, 0.5, 0.9))
    lazy = zonal_stats(ndvi.chunk({"t": 1, "y": 256, "x": 256}), fields, quantiles=(0.1, 0.5, 0.9))
    assert eager.equals(lazy)  # chunked in space and time: the same pixels, the same numbers
    assert list(eager.columns[:3]) == ["parcel_id", "t", "product"] and len(eager) == 2 * len(fields)
    assert {"kind", "crop", "generated"} <= set(eager.columns)
    cloudy = eager[eager.t == ndvi.t.values[1]]
    none = cloudy[cloudy["count"] == 0]
    assert len(none) and none[["mean", "std", "min", "max", "median"]].isna().all().all()
    assert (none.clear_fraction == 0).all() and (none.covered_area_m2 > 0).all()
    part = cloudy[(cloudy["count"] > 0) & (cloudy.masked > 0)]
    assert len(part) and ((part.clear_fraction > 0) & (part.clear_fraction < 1)).all()
    off = zonal_stats(ndvi, fields.iloc[:1].set_geometry([Point(0, 0).buffer(50)], crs="EPSG:32632"))
    assert (off["count"] == 0).all() and (off.covered_area_m2 == 0).all() and off.clear_fraction.isna().all()


def test_weighted_quantiles_against_numpy(ndvi, fields) -> None:
    """Centre weights are all 1: the weighted quantile is NumPy's linear percentile. Exact weights:
    the documented definition, written here with np.interp."""
    one = ndvi.isel(t=0)
    table = zonal_stats(one, fields, quantiles=(0.25, 0.5, 0.8), mode="centre")
    m = parcel_weights(one, fields, mode="centre").to_scipy()
    flat = one.values.reshape(-1)
    exact = zonal_stats(one, fields, quantiles=(0.25, 0.5, 0.8))
    me = parcel_weights(one, fields).to_scipy()
    for i in range(0, len(fields), 7):
        v = flat[m[[i]].indices]
        v = v[~np.isnan(v)]
        if v.size:
            np.testing.assert_allclose(table[["p25", "median", "p80"]].iloc[i], np.percentile(v.astype(float),
                                       [25, 50, 80]), rtol=1e-12)
        v, w = flat[me[[i]].indices].astype(float), me[[i]].data
        ok = ~np.isnan(v)
        v, w = v[ok], w[ok]
        if v.size > 1:
            o = np.argsort(v, kind="stable")  # equal values in raster order, as documented
            v, w = v[o], w[o]
            n = v.size
            s = np.arange(n) * w + (n - 1) * np.concatenate([[0.0], np.cumsum(w)[:-1]])
            ref = [np.interp(q * (n - 1) * w.sum(), s, v) for q in (0.25, 0.5, 0.8)]
            np.testing.assert_allclose(exact[["p25", "median", "p80"]].iloc[i], ref, rtol=1e-9)


def test_the_gpu_reduction_computed_with_numpy_equals_the_numba_kernel(ndvi, fields) -> None:
    """The CuPy entry runs ops.parcels.segmented_parcel_stats; run with NumPy it must give the
    Numba kernel's numbers (no GPU needed to check its arithmetic)."""
    from landpulse.backend.cpu.parcels import parcel_stats

    cw = parcel_weights(ndvi, fields)
    values = ndvi.values.reshape(2, -1)
    qs = np.array([0.0, 0.1, 0.5, 0.9, 1.0])
    ref = parcel_stats(values, cw.indptr, cw.indices, cw.weights, quantiles=qs)
    seg = segmented_parcel_stats(np, values, cw.indptr, cw.indices, cw.weights, qs)
    assert np.array_equal(np.isnan(ref), np.isnan(seg))
    np.testing.assert_allclose(seg, ref, rtol=1e-9, atol=1e-12, equal_nan=True)


def test_parcels_are_reprojected_and_the_raster_is_not(ndvi, fields) -> None:
    a = parcel_weights(ndvi, fields.iloc[:40])
    b = parcel_weights(ndvi, fields.iloc[:40].to_crs("EPSG:4326"))
    assert np.array_equal(a.indptr, b.indptr) and np.array_equal(a.indices, b.indices)
    np.testing.assert_allclose(a.weights, b.weights, atol=1e-6)


def test_bad_inputs_are_typed_errors(ndvi, fields) -> None:
    with pytest.raises(InputError, match="polygons or multipolygons"):
        coverage_weights([shapely.LineString([(0, 0), (1, 1)])], (1, 0, 0, 0, -1, 0), (2, 2))
    with pytest.raises(InputError, match="no CRS"):
        zonal_stats(ndvi, fields.set_crs(None, allow_override=True))
    with pytest.raises(InputError, match="coverage mode"):
        parcel_weights(ndvi, fields, mode="fuzzy")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="do not belong"):
        zonal_stats(ndvi, fields.iloc[:3], weights=parcel_weights(ndvi, fields))
    with pytest.raises(InputError, match="quantiles"):
        zonal_stats(ndvi, fields, quantiles=(1.5,))
    with pytest.raises(InputError, match="floating"):
        zonal_stats(ndvi.fillna(0).astype(np.int16).rio.write_crs("EPSG:32632"), fields)


def test_weighted_quantiles_match_exactextract_where_no_values_tie(ndvi, fields, tmp_path) -> None:
    """The definition is exactextract's: parcels without equal values agree within 1e-6 relative.
    Where values tie, the cumulative weights depend on the order of the tied pixels (here raster
    order; exactextract's order is its own), which moves a quantile within the gap between two
    neighbouring values of the parcel."""
    one = ndvi.isel(t=0)
    tif = str(tmp_path / "clear.tif")
    one.rio.to_raster(tif)
    ee = _exactextract(tif, fields, ["median", "quantile(q=0.1)", "quantile(q=0.9)"])
    ours = zonal_stats(one, fields, quantiles=(0.1, 0.5, 0.9))
    m = parcel_weights(one, fields).to_scipy()
    flat = one.values.reshape(-1)
    values = [v[~np.isnan(v)].astype(float) for v in (flat[m[[i]].indices] for i in range(len(fields)))]
    tied = np.array([len(np.unique(v)) < len(v) for v in values])
    gap = np.array([np.diff(np.sort(v)).max() if len(v) > 1 else 0.0 for v in values])
    assert (~tied).sum() > 100 and tied.sum() > 0
    for a, b in (("median", "median"), ("p10", "quantile_10"), ("p90", "quantile_90")):
        x, y = ours[a].to_numpy(), ee[b].to_numpy(float)
        assert np.array_equal(np.isnan(x), np.isnan(y))
        ok = ~np.isnan(x)
        np.testing.assert_allclose(x[ok & ~tied], y[ok & ~tied], rtol=1e-6)
        assert (np.abs(x - y)[ok & tied] <= gap[ok & tied] + 1e-7).all()


@pytest.mark.gpu
def test_the_gpu_kernel_gives_the_cpu_numbers(ndvi, fields) -> None:
    """On a GPU machine: CuPy values run the CuPy reduction; the table equals the Numba one."""
    import pandas as pd

    from landpulse.backend import to_device

    cpu = zonal_stats(ndvi, fields, quantiles=(0.1, 0.5, 0.9))
    gpu = zonal_stats(to_device(ndvi), fields, quantiles=(0.1, 0.5, 0.9))
    lazy = zonal_stats(to_device(ndvi.chunk({"t": 1})), fields, quantiles=(0.1, 0.5, 0.9))
    pd.testing.assert_frame_equal(gpu, cpu, rtol=1e-9)
    pd.testing.assert_frame_equal(lazy, cpu, rtol=1e-9)
