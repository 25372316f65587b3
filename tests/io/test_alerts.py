"""Change alerts as polygons: one per 4-connected patch of changed pixels, with its area and
values, rasterizing back to exactly those pixels; GeoJSON in WGS 84. Real pixels: a mask of one
real Bolzano date (NDVI below 0.3: built-up land, water, bare rock), its NDVI as the values."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import shapely.geometry
from rasterio.features import rasterize
from scipy import ndimage

from landpulse.io.alerts import change_patches, class_patches, write_alerts
from tests.support import BOLZANO, skip_or_fail


@pytest.fixture(scope="module")
def real_mask() -> tuple[np.ndarray, np.ndarray, object, str]:
    if not BOLZANO.exists():
        skip_or_fail("shared_data", f"shared data not found at {BOLZANO}")
    import landpulse

    ds = landpulse.declare_radiometry(landpulse.open_store(BOLZANO).isel(t=[3]), scale=1e-4, offset=0.0,
                                      bands=["B04", "B08"])
    ndvi = landpulse.ndvi(ds).isel(t=0).compute()
    values = ndvi.values.astype(np.float64)
    return values < 0.3, values, ndvi.rio.transform(), str(ndvi.rio.crs)


def test_patches_rasterize_back_to_the_changed_pixels(real_mask: tuple[np.ndarray, np.ndarray, object, str]) -> None:
    changed, values, transform, _ = real_mask
    feats = change_patches(changed, values, transform, 100.0)
    labels, n = ndimage.label(changed)
    assert len(feats) == n > 10
    assert sum(f["properties"]["pixels"] for f in feats) == int(changed.sum())
    burnt = rasterize(((f["geometry"], f["properties"]["patch"]) for f in feats), out_shape=changed.shape,
                      transform=transform, fill=0, dtype="int32")
    np.testing.assert_array_equal(burnt > 0, changed)  # the pixels' own edges: exactly these pixels
    # each patch is one connected component of the mask, with its values summarised
    for f in feats[:25]:
        inside = burnt == f["properties"]["patch"]
        (label,) = np.unique(labels[inside])
        assert np.array_equal(inside, labels == label)
        v = values[inside]
        p = f["properties"]
        assert (p["pixels"], p["hectares"]) == (int(inside.sum()), pytest.approx(inside.sum() * 0.01))
        assert (p["first"], p["median"], p["last"]) == pytest.approx((v.min(), np.median(v), v.max()), abs=1e-6)
    sizes = [f["properties"]["pixels"] for f in feats]
    assert sizes == sorted(sizes, reverse=True)  # largest first
    assert change_patches(np.zeros_like(changed), values, transform, 100.0) == []


def test_alerts_are_geojson_in_wgs84(real_mask: tuple[np.ndarray, np.ndarray, object, str], tmp_path: Path) -> None:
    changed, values, transform, crs = real_mask
    feats = change_patches(changed, values, transform, 100.0)
    path = write_alerts(feats, tmp_path / "alerts.geojson", crs, properties={"landpulse:since": "test"})
    doc = json.loads(path.read_text())
    assert doc["type"] == "FeatureCollection" and doc["landpulse:since"] == "test"
    assert len(doc["features"]) == len(feats) and not list(tmp_path.glob(".*tmp*"))
    for f in doc["features"][:50]:
        shape = shapely.geometry.shape(f["geometry"])
        lon, lat = shape.centroid.x, shape.centroid.y
        assert 11.2 < lon < 11.5 and 46.4 < lat < 46.6  # Bolzano, in longitude / latitude
    with pytest.raises(ValueError, match="one \\(y, x\\) grid"):
        change_patches(changed, values[:-1], transform, 100.0)


def test_class_patches_are_one_class_each(real_mask: tuple[np.ndarray, np.ndarray, object, str]) -> None:
    _, values, transform, _ = real_mask
    codes = np.digitize(np.nan_to_num(values, nan=-9), [-1, 0.3, 0.6]).astype(np.uint8)  # 0 nodata, 1-3 classes
    feats = class_patches(codes, {1: "bare", 3: "dense"}, transform, 100.0)
    assert [f["properties"]["patch"] for f in feats] == list(range(1, len(feats) + 1))
    for code, name in ((1, "bare"), (3, "dense")):
        mine = [f for f in feats if f["properties"]["class"] == name]
        burnt = rasterize((f["geometry"] for f in mine), out_shape=codes.shape, transform=transform, fill=0, dtype="uint8")
        np.testing.assert_array_equal(burnt > 0, codes == code)
        assert "median" not in mine[0]["properties"]
    assert not any(f["properties"]["class"] == "sparse" for f in feats)
