"""Every catalogue formula against independent references; ranges as properties; API contract.

References (see tests/index_references.py): each formula transcribed from its source paper in
float64, hand-computed worked values, and spyndex as a second, independent evaluator (trusted
only where it agrees with the paper; its known disagreements are asserted, not ignored).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import landpulse
from landpulse.spec.index_catalogue import catalogue, get_index, index_names
from tests.support import Placement
from tests.support.index_references import ASI_SYMBOLS, BANDS, PAPER, SPYNDEX_DISAGREES, WORKED

ALL = [s.name for s in catalogue().indices.values()]


def reflectance_dataset(values: dict[str, np.ndarray], *, time: bool = False) -> xr.Dataset:
    """Float32 reflectance bands (already physical: declared scale 1) on a small UTM grid."""
    first = np.asarray(next(iter(values.values())))
    ny, nx = first.shape[-2:]
    dims = ("time", "y", "x") if first.ndim == 3 else ("y", "x")
    coords = {"y": 5200015.0 - 10 * np.arange(ny), "x": 600005.0 + 10 * np.arange(nx)}
    if first.ndim == 3:
        coords["time"] = np.arange(first.shape[0]).astype("datetime64[D]").astype("datetime64[ns]")
    ds = xr.Dataset({k: (dims, np.asarray(v, np.float32)) for k, v in values.items()}, coords=coords)
    return landpulse.declare_radiometry(ds.rio.write_crs("EPSG:32632"), scale=1.0, offset=0.0)


def as64(values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.asarray(v, np.float32).astype(np.float64) for k, v in values.items()}


# --- the catalogue itself ---------------------------------------------------------------------------

def test_every_index_has_an_independent_reference_and_a_worked_value() -> None:
    assert set(PAPER) == set(ALL)
    assert {w[0] for w in WORKED} == set(ALL)


def test_required_indices_are_in_the_catalogue() -> None:
    names = set(landpulse.spec.index_catalogue.catalogue().all_names())
    for n in ["ndvi", "evi", "evi2", "savi", "msavi", "gndvi", "ndre", "ndmi", "nbr", "nbr2", "ndwi", "mndwi",
              "aweinsh", "aweish", "ndbi", "ndsi", "bsi"]:
        assert n in names


def test_catalogue_entries_are_complete() -> None:
    for spec in catalogue().indices.values():
        assert spec.long_name and spec.reference and spec.url.startswith("http"), spec.name
        assert spec.range_basis in ("unit-reflectance", "convention")
        assert set(spec.bands) <= set(ASI_SYMBOLS)
    # the documented spyndex disagreements are recorded in the catalogue too
    for name in SPYNDEX_DISAGREES:
        assert "spyndex" in get_index(name).notes


# --- worked values -----------------------------------------------------------------------------

@pytest.mark.parametrize("name,bands,expected,arith", WORKED, ids=[f"{w[0]}:{w[3]}" for w in WORKED])
def test_worked_values(backend: Placement, name: str, bands: dict[str, float], expected: float, arith: str) -> None:
    ds = backend(reflectance_dataset({k: np.full((2, 3), v) for k, v in bands.items()}))
    out = backend.host(landpulse.indices(ds, [name])[name.lower()]).values
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=3e-6, atol=3e-7)


# --- every formula vs the paper on many values, all in one fused pass ----------------------------

def test_all_formulas_match_the_papers_in_one_pass() -> None:
    rng = np.random.default_rng(2024)
    values = {b: rng.uniform(0.005, 0.6, (64, 80)).astype(np.float32) for b in BANDS}
    out = landpulse.indices(reflectance_dataset(values), ALL)
    ref_in = as64(values)
    for name in ALL:
        spec = get_index(name)
        ref = PAPER[name](ref_in)
        got = out[name.lower()].values.astype(np.float64)
        inside = np.isfinite(ref) & (ref >= spec.valid_range[0]) & (ref <= spec.valid_range[1])
        # NaN exactly where the reference leaves the valid range (away from the boundary)
        edge = np.abs(ref - spec.valid_range[0]) < 1e-5
        edge |= np.abs(ref - spec.valid_range[1]) < 1e-5
        assert np.array_equal(np.isnan(got) & ~edge, ~inside & ~edge), name
        ok = inside & ~np.isnan(got)
        # float32 arithmetic: a few ulps relative to the terms involved
        np.testing.assert_allclose(got[ok], ref[ok], rtol=2e-5, atol=2e-6, err_msg=name)


def test_spyndex_agrees_with_the_papers_except_where_documented() -> None:
    spyndex = pytest.importorskip("spyndex")
    rng = np.random.default_rng(7)
    values = as64({b: rng.uniform(0.01, 0.6, 500) for b in BANDS})
    params = {sym: values[common] for sym, common in ASI_SYMBOLS.items()}
    for name in ALL:
        spec = get_index(name)
        theirs = np.asarray(spyndex.computeIndex(index=name, params={**params, **spec.constants}), np.float64)
        ours = PAPER[name](values)
        agree = np.allclose(theirs, ours, rtol=1e-9, atol=1e-12)
        if name in SPYNDEX_DISAGREES:
            assert not agree, f"spyndex now agrees with the paper on {name}: update SPYNDEX_DISAGREES and the notes"
        else:
            assert agree, name


def test_landpulse_matches_spyndex_where_spyndex_is_right() -> None:
    spyndex = pytest.importorskip("spyndex")
    rng = np.random.default_rng(8)
    values = {b: rng.uniform(0.01, 0.6, (40, 50)).astype(np.float32) for b in BANDS}
    names = [n for n in ALL if n not in SPYNDEX_DISAGREES]
    out = landpulse.indices(reflectance_dataset(values), names)
    params = {sym: as64(values)[common] for sym, common in ASI_SYMBOLS.items()}
    for name in names:
        spec = get_index(name)
        theirs = np.asarray(spyndex.computeIndex(index=name, params={**params, **spec.constants}), np.float64)
        got = out[name.lower()].values
        ok = np.isfinite(got)
        assert ok.mean() > 0.5, name
        np.testing.assert_allclose(got[ok], theirs[ok], rtol=2e-5, atol=2e-6, err_msg=name)


# --- output ranges as properties ---------------------------------------------------------------

UNIT = [s.name for s in catalogue().indices.values() if s.range_basis == "unit-reflectance"]
CONVENTION = [s.name for s in catalogue().indices.values() if s.range_basis == "convention"]
unit_values = arrays(np.float32, (1, 24), elements=st.floats(0, 1, width=32))


@settings(max_examples=120, deadline=None)
@given(data=st.data())
def test_unit_reflectance_ranges_hold(data: st.DataObject) -> None:
    """For reflectances in [0, 1] these indices never leave their declared range (NaN only for 0/0)."""
    values = {b: data.draw(unit_values, label=b) for b in BANDS}
    out = landpulse.indices(reflectance_dataset(values), UNIT)
    ref_in = as64(values)
    for name in UNIT:
        lo, hi = get_index(name).valid_range
        got = out[name.lower()].values
        with np.errstate(all="ignore"):
            ref = PAPER[name](ref_in)
        finite = np.isfinite(got)
        assert np.all((got[finite] >= lo) & (got[finite] <= hi)), name
        # NaN only where the paper's formula is undefined (a zero denominator)
        assert np.all(~np.isfinite(ref[~finite])), (name, ref[~finite])


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_convention_ranges_nan_or_inside(data: st.DataObject) -> None:
    values = {b: data.draw(unit_values, label=b) for b in BANDS}
    out = landpulse.indices(reflectance_dataset(values), CONVENTION)
    ref_in = as64(values)
    for name in CONVENTION:
        lo, hi = get_index(name).valid_range
        got = out[name.lower()].values
        with np.errstate(all="ignore"):
            ref = PAPER[name](ref_in)
        finite = np.isfinite(got)
        assert np.all((got[finite] >= lo) & (got[finite] <= hi)), name
        clearly_out = ~np.isfinite(ref) | (ref < lo - 1e-4) | (ref > hi + 1e-4)
        clearly_in = np.isfinite(ref) & (ref > lo + 1e-4) & (ref < hi - 1e-4)
        assert np.all(~finite[clearly_out]) and np.all(finite[clearly_in]), name


def test_declared_unit_ranges_are_attained() -> None:
    """The unit-reflectance ranges are tight: their ends are reached at corners of [0, 1]^n."""
    import itertools

    for name in UNIT:
        spec = get_index(name)
        corners = [dict(zip(BANDS, c, strict=True)) for c in itertools.product([0.0, 1.0], repeat=len(BANDS))]
        with np.errstate(all="ignore"):
            vals = np.array([PAPER[name](as64({k: np.array(v) for k, v in c.items()})) for c in corners], np.float64)
        vals = vals[np.isfinite(vals)]
        lo, hi = spec.valid_range
        assert vals.max() == pytest.approx(hi) or name == "EVI2" and vals.min() >= lo, name
        if name != "EVI2":  # EVI2's lower end (-0.735) sits inside the symmetric-ish [-1, 1.25]
            assert vals.min() == pytest.approx(lo), name


def test_out_of_range_clip() -> None:
    # negative red (Sentinel-2 offset products can give it): NDVI (0.3 + 0.05) / 0.25 = 1.4
    ds = reflectance_dataset({"red": np.array([[-0.05]]), "nir": np.array([[0.3]]), "green": np.array([[0.1]])})
    assert np.isnan(landpulse.indices(ds, ["ndvi"])["ndvi"].values).all()
    clipped = landpulse.indices(ds, ["ndvi", "gndvi"], out_of_range="clip")
    assert clipped["ndvi"].values[0, 0] == 1.0
    assert clipped["gndvi"].values[0, 0] == pytest.approx(0.5)


def test_msavi_negative_discriminant_is_nan_not_an_error() -> None:
    # (2N + 1)^2 - 8 (N - R) < 0 needs N - R > (2N + 1)^2 / 8: N = 0.5, R = -0.3 gives 4 - 6.4 < 0
    ds = reflectance_dataset({"red": np.array([[-0.3, 0.1]]), "nir": np.array([[0.5, 0.5]])})
    out = landpulse.indices(ds, ["msavi"], out_of_range="clip")["msavi"].values
    assert np.isnan(out[0, 0]) and np.isfinite(out[0, 1])


def test_zero_denominators_are_nan_for_every_ratio_index() -> None:
    zeros = {b: np.zeros((1, 2)) for b in BANDS}
    out = landpulse.indices(reflectance_dataset(zeros), ALL)
    for name in ALL:
        spec = get_index(name)
        with np.errstate(all="ignore"):
            ref = PAPER[name](as64(zeros))
        if spec.scale_invariant:
            assert np.isnan(out[name.lower()].values).all(), name  # 0 / 0
        np.testing.assert_array_equal(np.isnan(out[name.lower()].values), ~np.isfinite(ref) | (ref < spec.valid_range[0]) | (ref > spec.valid_range[1]))


# --- constants ---------------------------------------------------------------------------------

def test_constants_override_per_index() -> None:
    rng = np.random.default_rng(1)
    values = {b: rng.uniform(0.02, 0.5, (8, 9)) for b in ("red", "nir", "blue")}
    ds = reflectance_dataset(values)
    out = landpulse.indices(ds, ["savi", "ndvi", "evi"], constants={"savi": {"L": 0.0}, "EVI": {"L": 0.5}})
    # SAVI with L = 0 is NDVI (Huete 1988): a check of the constant plumbing
    np.testing.assert_allclose(out["savi"].values, out["ndvi"].values, rtol=1e-6, atol=1e-7)
    v = as64(values)
    evi = 2.5 * (v["nir"] - v["red"]) / (v["nir"] + 6 * v["red"] - 7.5 * v["blue"] + 0.5)
    ok = np.isfinite(out["evi"].values)
    np.testing.assert_allclose(out["evi"].values[ok], evi[ok], rtol=2e-5, atol=2e-6)
    assert json.loads(out["evi"].attrs["constants"])["L"] == 0.5
    with pytest.raises(landpulse.InputError, match="SAVI has no constant 'Q'"):
        landpulse.indices(ds, ["savi"], constants={"savi": {"Q": 1.0}})
    with pytest.raises(landpulse.InputError, match="not requested"):
        landpulse.indices(ds, ["ndvi"], constants={"savi": {"L": 1.0}})


# --- names, errors, metadata --------------------------------------------------------------------

def test_names_aliases_and_errors() -> None:
    rng = np.random.default_rng(2)
    ds = reflectance_dataset({b: rng.uniform(0.02, 0.5, (4, 5)) for b in BANDS})
    out = landpulse.indices(ds, ["NDVI", "bsi", "ndre", "AWEInsh"])
    assert list(out.data_vars) == ["ndvi", "bsi", "ndre", "aweinsh"]
    assert out["bsi"].attrs["short_name"] == "BI" and out["ndre"].attrs["short_name"] == "NDREI"
    with pytest.raises(landpulse.InputError, match="unknown index 'ndxx'.*ndvi"):
        landpulse.indices(ds, ["ndxx"])
    with pytest.raises(landpulse.InputError, match="requested twice"):
        landpulse.indices(ds, ["bi", "bsi"])
    with pytest.raises(landpulse.InputError, match="nothing to compute"):
        landpulse.indices(ds, [])
    with pytest.raises(landpulse.InputError, match="out_of_range"):
        landpulse.indices(ds, ["ndvi"], out_of_range="wrap")  # type: ignore[arg-type]
    with pytest.raises(landpulse.MissingBandError, match="no 'swir22' band"):
        landpulse.indices(ds.drop_vars("swir22"), ["nbr"])


def test_every_output_carries_catalogue_attrs_and_provenance(sample_store) -> None:  # type: ignore[no-untyped-def]
    ds = landpulse.open_store(sample_store)
    out = landpulse.indices(ds, index_names())
    for name in index_names():
        da = out[name]
        assert da.dtype == np.float32 and da.dims == ("time", "y", "x")
        assert da.rio.crs == ds.rio.crs and da.rio.transform() == ds.red.rio.transform()
        assert da.attrs["references"] and da.attrs["valid_range"] == list(get_index(name).valid_range)
        prov = landpulse.products.provenance.provenance(da)
        assert prov["product"] == name and set(prov["inputs"]) == {ASI_SYMBOLS[b] for b in get_index(name).bands}
        assert not any(str(c).endswith(("_dn_scale", "_dn_offset")) for c in da.coords)
    request = json.loads(out.attrs["landpulse_provenance"])
    assert request["request"] == index_names()


def test_real_sample_scene_every_index_matches_the_papers(sample_store) -> None:  # type: ignore[no-untyped-def]
    """The bundled real Sentinel-2 L1C crop (all bands, baseline < 04.00: scale 1e-4, offset 0)."""
    ds = landpulse.open_store(sample_store)
    out = landpulse.indices(ds, ALL).compute()
    raw = {b: ds[b].values[0].astype(np.float64) for b in BANDS}
    refl = {b: v * 1e-4 for b, v in raw.items()}
    valid = np.ones(raw["red"].shape, bool)
    for name in ALL:
        spec = get_index(name)
        bands_used = [ASI_SYMBOLS[s] for s in spec.bands]
        ok_in = np.logical_and.reduce([(raw[b] >= 1) & (raw[b] <= (65534 if b in ("blue", "green", "red", "nir") else 32766)) for b in bands_used])
        with np.errstate(all="ignore"):
            ref = PAPER[name](refl)
        got = out[name.lower()].values[0].astype(np.float64)
        inside = ok_in & np.isfinite(ref) & (ref >= spec.valid_range[0]) & (ref <= spec.valid_range[1])
        assert inside.mean() > 0.5, name
        both = inside & np.isfinite(got)
        assert (both.sum() / inside.sum()) > 0.999, name
        np.testing.assert_allclose(got[both], ref[both], rtol=2e-5, atol=2e-6, err_msg=name)
        valid &= ok_in
    # a plausibility check against the scene: ocean (east) is water by MNDWI, farmland (west) is not
    assert np.nanmedian(out["mndwi"].values[0][:, -100:]) > 0.3
    assert np.nanmedian(out["mndwi"].values[0][:, :150]) < 0.0


# --- chunking, laziness, accessor ---------------------------------------------------------------

def test_chunked_equals_unchunked_and_accessor(backend: Placement) -> None:
    rng = np.random.default_rng(5)
    values = {b: rng.uniform(-0.05, 0.7, (3, 37, 53)) for b in BANDS}
    ds = backend(reflectance_dataset(values))
    whole = backend.host(landpulse.indices(ds, ALL))
    for chunks in ({"time": 1, "y": 10, "x": 17}, {"time": 3, "y": 37, "x": 1}):
        lazy = ds.chunk(chunks).landpulse.indices(ALL)
        assert lazy["ndvi"].chunks is not None
        lazy = backend.host(lazy).compute()
        for name in ALL:
            np.testing.assert_array_equal(lazy[name.lower()].values, whole[name.lower()].values)


def test_fused_request_calls_the_kernel_once_per_block(monkeypatch: pytest.MonkeyPatch) -> None:
    """Six indices plus the mask: one kernel call per chunk, each band chunk read once."""
    import dask

    from landpulse.backend import registry

    calls: list[tuple[int, ...]] = []
    original = registry.get_kernel("indices", "cpu")

    def spy(*arrays, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(arrays[0].shape)
        return original(*arrays, **kwargs)

    monkeypatch.setitem(registry._REGISTRY, ("indices", "cpu"), spy)
    rng = np.random.default_rng(9)
    values = {b: rng.uniform(0.01, 0.6, (2, 20, 30)) for b in BANDS}
    ds = reflectance_dataset(values)
    ds["SCL"] = (("time", "y", "x"), rng.integers(0, 12, (2, 20, 30)).astype(np.uint8))
    lazy = ds.chunk({"time": 1, "y": 10, "x": 30}).landpulse.indices(
        ["ndvi", "evi", "ndwi", "mndwi", "nbr", "ndmi"], mask="auto")
    with dask.config.set(scheduler="synchronous"):
        lazy.compute()
    assert len(calls) == 4  # 2 dates x 2 row chunks, not 4 x 7 outputs
