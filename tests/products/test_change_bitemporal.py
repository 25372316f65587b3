"""Bi-temporal change: differences and classes, dNBR burn severity, CVA and Otsu.

Oracles: closed forms (planted burns and changes whose class is known), the USGS dNBR table at
its integer boundaries, NumPy expressions, and an independent brute-force Otsu.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import landpulse
from landpulse import change
from landpulse.errors import GridMismatchError, InputError
from tests.support import Placement


def grid(values: np.ndarray, name: str = "nbr", x0: float = 600005.0) -> xr.DataArray:
    ny, nx = values.shape
    da = xr.DataArray(values.astype(np.float32), dims=("y", "x"), name=name,
                      coords={"y": 5200015.0 - 10 * np.arange(ny), "x": x0 + 10 * np.arange(nx)})
    return da.rio.write_crs("EPSG:32632")


# USGS / Key & Benson (2006) dNBR x 1000 table: integer values at both ends of every class
DNBR_TABLE = [(-500, 1), (-251, 1), (-250, 2), (-101, 2), (-100, 3), (99, 3), (100, 4), (269, 4), (270, 5),
              (439, 5), (440, 6), (659, 6), (660, 7), (1300, 7)]


def test_dnbr_classes_follow_the_usgs_table(backend: Placement) -> None:
    scaled = np.array([v for v, _ in DNBR_TABLE], np.float64)
    post = np.zeros((1, scaled.size), np.float32)
    pre = (scaled / 1000.0).astype(np.float32)[None, :]
    out = backend.host(change.dnbr(backend(grid(pre)), backend(grid(post))))
    assert out.burn_severity.dtype == np.uint8
    np.testing.assert_array_equal(out.burn_severity.values[0], [c for _, c in DNBR_TABLE])
    assert out.burn_severity.attrs["flag_meanings"].split()[3] == "low_severity"
    assert out.burn_severity.rio.crs.to_epsg() == 32632


def test_planted_burn_scar(backend: Placement) -> None:
    rng = np.random.default_rng(0)
    pre = 0.55 + 0.02 * rng.standard_normal((40, 50))
    post = pre + 0.01 * rng.standard_normal((40, 50))
    post[10:20, 10:30] = pre[10:20, 10:30] - 0.8   # high severity burn
    post[25:30, 5:15] = pre[25:30, 5:15] - 0.35    # moderate-low
    post[0, 0] = np.nan
    out = backend.host(change.dnbr(backend(grid(pre)), backend(grid(post))))
    sev = out.burn_severity.values
    assert np.all(sev[10:20, 10:30] == 7)
    assert np.all(sev[25:30, 5:15] == 5)
    assert np.mean(sev[35:, :] == 3) > 0.99
    assert sev[0, 0] == 255 and np.isnan(out.dnbr.values[0, 0])
    np.testing.assert_allclose(out.dnbr.values[1:], (pre - post).astype(np.float32)[1:], atol=1e-6)


def test_dnbr_offset_is_subtracted() -> None:
    pre = grid(np.full((2, 2), 0.5))
    post = grid(np.full((2, 2), 0.3))
    out = change.dnbr(pre, post, offset=0.05)
    np.testing.assert_allclose(out.dnbr.values, 0.15, atol=1e-6)
    assert np.all(out.burn_severity.values == 4)


def test_difference_thresholds_and_labels(backend: Placement) -> None:
    a = grid(np.array([[0.5, 0.5, 0.5, 0.5, np.nan]]), "ndvi")
    b = grid(np.array([[0.2, 0.45, 0.6, 0.9, 0.5]]), "ndvi")
    out = backend.host(change.difference(backend(a), backend(b), thresholds=(-0.1, 0.1), labels=("loss", "stable", "gain")))
    np.testing.assert_allclose(out.difference.values[0, :4], [-0.3, -0.05, 0.1, 0.4], atol=1e-6)
    np.testing.assert_array_equal(out.change_class.values[0], [1, 2, 3, 3, 255])
    assert out.change_class.attrs["flag_meanings"] == "loss stable gain"
    assert list(out.change_class.attrs["flag_values"]) == [1, 2, 3]


def test_dndvi_from_bands() -> None:
    def scene(red: float, nir: float) -> xr.Dataset:
        ds = xr.Dataset({"red": grid(np.full((3, 3), red), "red"), "nir": grid(np.full((3, 3), nir), "nir")})
        return landpulse.declare_radiometry(ds, scale=1.0, offset=0.0)

    out = change.dndvi(scene(0.1, 0.3), scene(0.2, 0.2), thresholds=(-0.2,))
    np.testing.assert_allclose(out.dndvi.values, -0.5, atol=1e-6)
    assert np.all(out.change_class.values == 1)


def test_difference_refuses_different_grids() -> None:
    with pytest.raises(GridMismatchError):
        change.difference(grid(np.zeros((2, 2))), grid(np.zeros((2, 2)), x0=700005.0))


def test_bad_thresholds_are_errors() -> None:
    with pytest.raises(InputError, match="increasing"):
        change.difference(grid(np.zeros((2, 2))), grid(np.zeros((2, 2))), thresholds=(0.1, -0.1))
    with pytest.raises(InputError, match="labels"):
        change.difference(grid(np.zeros((2, 2))), grid(np.zeros((2, 2))), thresholds=(0.1,), labels=("a",))


def brute_otsu(v: np.ndarray) -> float:
    """Otsu by exhaustive search over the sorted data (no histogram)."""
    s = np.sort(v[np.isfinite(v)]).astype(np.float64)
    best, thr = -1.0, np.nan
    for i in range(1, s.size):
        if s[i] == s[i - 1]:
            continue
        a, b = s[:i], s[i:]
        var = a.size * b.size * (a.mean() - b.mean()) ** 2
        if var > best:
            best, thr = var, 0.5 * (s[i - 1] + s[i])
    return thr


def planted_change(seed: int = 0) -> tuple[xr.Dataset, xr.Dataset, np.ndarray]:
    rng = np.random.default_rng(seed)
    ny, nx = 60, 80
    red = 0.05 + 0.01 * rng.standard_normal((ny, nx))
    nir = 0.35 + 0.02 * rng.standard_normal((ny, nx))
    changed = np.zeros((ny, nx), bool)
    changed[20:40, 30:70] = True
    red2 = red + 0.005 * rng.standard_normal((ny, nx)) + np.where(changed, 0.1, 0.0)
    nir2 = nir + 0.005 * rng.standard_normal((ny, nx)) - np.where(changed, 0.2, 0.0)
    red2[0, 0] = np.nan
    pre = xr.Dataset({"red": grid(red, "red"), "nir": grid(nir, "nir")})
    post = xr.Dataset({"red": grid(red2, "red"), "nir": grid(nir2, "nir")})
    return pre, post, changed


def test_cva_planted_change_with_otsu(backend: Placement) -> None:
    pre, post, changed = planted_change()
    out = backend.host(change.cva(backend(pre), backend(post)))
    d_red = (post.red - pre.red).values.astype(np.float32)
    d_nir = (post.nir - pre.nir).values.astype(np.float32)
    np.testing.assert_allclose(out.magnitude.values, np.sqrt(d_red**2 + d_nir**2), rtol=1e-6)
    np.testing.assert_allclose(out.direction.values[changed], np.degrees(np.arctan2(-0.2, 0.1)) + 360, atol=5.0)
    assert np.all(out.sector.values[changed] == 0b01)  # red up, nir down
    assert out.change.values[0, 0] == 255 and out.sector.values[0, 0] == 255
    valid = np.isfinite(out.magnitude.values)
    np.testing.assert_array_equal(out.change.values[valid] == 1, changed[valid])
    thr = out.change.attrs["threshold"]
    ref = brute_otsu(out.magnitude.values)
    mag = out.magnitude.values[valid]
    # the same split of the data as exhaustive Otsu (any threshold inside the gap is optimal)
    np.testing.assert_array_equal(mag >= thr, mag > ref)


def test_otsu_is_chunk_independent() -> None:
    pre, post, _ = planted_change(3)
    whole = change.cva(pre, post)
    chunked = change.cva(pre.chunk({"y": 17, "x": 23}), post.chunk({"y": 17, "x": 23}))
    assert chunked.change.attrs["threshold"] == whole.change.attrs["threshold"]
    for v in whole.data_vars:
        np.testing.assert_array_equal(chunked[v].values, whole[v].values)


def test_cva_three_variables_sector_codes_and_fixed_threshold() -> None:
    pre, post, changed = planted_change(1)
    pre = pre.assign(swir=pre.red * 2)
    post = post.assign(swir=post.red * 2 + 0.05)
    out = change.cva(pre, post, threshold=0.15)
    assert "direction" not in out
    assert np.all(out.sector.values[changed] == 0b101)
    assert out.change.attrs["threshold"] == 0.15


def test_cva_applies_radiometry_to_raw_bands() -> None:
    pre, post, _ = planted_change(2)
    raw_pre = landpulse.declare_radiometry(
        xr.Dataset({k: (pre[k] * 10000).round().astype(np.uint16) for k in pre}), scale=1e-4, offset=0.0, nodata=0)
    raw_pre["red"][0, 1] = 0  # nodata
    out = change.cva(raw_pre, post, threshold=None)
    assert np.isnan(out.magnitude.values[0, 1]) and "change" not in out
