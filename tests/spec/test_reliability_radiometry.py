"""RELIABILITY.md, radiometry: the Sentinel-2 offset follows the processing baseline (not the
acquisition date), and 32767 / 65535 are saturation on the 20 m and 60 m bands, decided from the raw
DNs before scale and offset (MASK).

Generated data: small GeoTIFFs of digital numbers chosen by hand (no real scene).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import landpulse
from landpulse.io import ingest, scene_from_files, scene_from_stac_item
from tests.support import WriteBand

SHAPE = (12, 24)  # 10 m pixels; 6 x 12 at 20 m, 2 x 4 at 60 m (Sentinel-2's nested grids)


def _surface() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(18)
    return rng.integers(500, 3000, SHAPE) / 1e4, rng.integers(1500, 6000, SHAPE) / 1e4


def _item(files: dict[str, Path], when: str, baseline: str) -> dict[str, Any]:
    """A STAC item without raster:bands: scale and offset must come from the registry's baseline rule."""
    return {
        "type": "Feature", "stac_version": "1.0.0", "id": f"generated-{when[:10]}-{baseline}",
        "collection": "sentinel-2-l2a", "geometry": None,
        "properties": {"datetime": when, "platform": "sentinel-2a", "s2:processing_baseline": baseline},
        "assets": {band: {"href": str(path), "type": "image/tiff; application=geotiff", "roles": ["data"],
                          "eo:bands": [{"name": name, "common_name": band}]}
                   for (band, name), path in zip((("red", "B04"), ("nir", "B08")), files.values(), strict=True)},
    }


@pytest.mark.parametrize("source", ["files", "stac"])
def test_the_offset_follows_the_baseline_not_the_date(source: str, write_band: WriteBand, tmp_path: Path) -> None:
    # A 2019 scene reprocessed with baseline 05.00 (DN = 1e4 R + 1000) and a 2023 scene still on
    # baseline 03.01 (DN = 1e4 R): same surface, so the offset must go by baseline to give the same
    # reflectance. A rule by date (offset from 2022-01-25 on) would get both dates wrong.
    red, nir = _surface()
    reprocessed = {b: write_band(f"old/{b}.tif", np.round(v * 1e4 + 1000).astype(np.uint16)) for b, v in (("B04", red), ("B08", nir))}
    legacy = {b: write_band(f"new/{b}.tif", np.round(v * 1e4).astype(np.uint16)) for b, v in (("B04", red), ("B08", nir))}
    if source == "files":
        old = scene_from_files(reprocessed, datetime="2019-06-01T10:00:00Z", sensor="sentinel2-l2a",
                               processing_baseline="05.00", scene_id="old-reprocessed")
        new = scene_from_files(legacy, datetime="2023-06-01T10:00:00Z", sensor="sentinel2-l2a",
                               processing_baseline="03.01", scene_id="new-old-baseline")
    else:
        old = scene_from_stac_item(_item(reprocessed, "2019-06-01T10:00:00Z", "05.00"))
        new = scene_from_stac_item(_item(legacy, "2023-06-01T10:00:00Z", "03.01"))
    assert old.bands["red"].offset == -0.1 and new.bands["red"].offset == 0.0
    ds = landpulse.open_store(ingest([old, new], tmp_path / "mixed.zarr"))
    np.testing.assert_array_equal(ds["red_dn_offset"].values, [-0.1, 0.0])
    refl = landpulse.to_reflectance(ds["red"]).values
    np.testing.assert_allclose(refl[0], red, atol=1e-7)  # the -1000 DN removed once on 2019...
    np.testing.assert_allclose(refl[1], red, atol=1e-7)  # ...and not at all on 2023
    out = landpulse.ndvi(ds).values
    np.testing.assert_array_equal(out[0], out[1])
    np.testing.assert_allclose(out[0], (nir - red) / (nir + red), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("baseline,add", [("03.01", 0), ("05.09", 1000)])
def test_32767_and_65535_are_saturation_on_20_and_60_m_bands(baseline: str, add: int, write_band: WriteBand,
                                                            tmp_path: Path) -> None:
    red, nir = _surface()
    dn10 = {"B04": np.round(red * 1e4 + add), "B08": np.round(nir * 1e4 + add)}
    dn10["B04"][11, 23] = 32767
    rng = np.random.default_rng(5)
    dn20 = {b: rng.integers(1000 + add, 3000 + add, (6, 12)) for b in ("B05", "B11", "B12")}
    for a in dn20.values():
        a[0, :4] = [32767, 65535, 32766, 0]  # saturated (20 m), saturated (any), the top valid DN, nodata
    dn60 = rng.integers(1000 + add, 3000 + add, (2, 4))
    dn60[0, :3] = [32767, 65535, 32766]
    files = {b: write_band(f"{b}.tif", a.astype(np.uint16)) for b, a in dn10.items()}
    files.update({b: write_band(f"{b}.tif", a.astype(np.uint16), res=20.0) for b, a in dn20.items()})
    files["B01"] = write_band("B01.tif", dn60.astype(np.uint16), res=60.0)
    scene = scene_from_files(files, datetime="2023-06-01T10:00:00Z", sensor="sentinel2-l2a", processing_baseline=baseline)
    ds = landpulse.open_store(ingest(scene, tmp_path / "s2.zarr"))
    for band in ("rededge1", "swir16", "swir22"):
        refl = landpulse.to_reflectance(ds[band]).values[0]
        assert np.isnan(refl[0:2, 0:4]).all(), band    # 32767: saturated on a 20 m band
        assert np.isnan(refl[0:2, 2:4]).all(), band    # 65535
        np.testing.assert_allclose(refl[0:2, 4:6], (32766 - add) * 1e-4, rtol=1e-6)  # valid, decided before the offset
        assert np.isnan(refl[0:2, 6:8]).all(), band    # nodata 0
        assert np.isfinite(refl[2:, :]).all(), band
    coastal = landpulse.to_reflectance(ds["coastal"]).values[0]
    assert np.isnan(coastal[0:6, 0:12]).all()          # 32767 and 65535 on the 60 m band
    np.testing.assert_allclose(coastal[0:6, 12:18], (32766 - add) * 1e-4, rtol=1e-6)
    assert np.isfinite(coastal[6:, :]).all()
    # 32767 on a 10 m band is a valid DN (their range goes up to 65534)
    assert np.isfinite(landpulse.to_reflectance(ds["red"]).values[0][11, 23])
    # the products that use them mask those pixels: NDREI (rededge1), NDMI (swir16), NBR2 (swir16, swir22)
    out = landpulse.indices(ds, ["ndrei", "ndmi", "nbr2"], mask=None).compute()
    for name in ("ndrei", "ndmi", "nbr2"):
        v = out[name].values[0]
        assert np.isnan(v[0:2, 0:4]).all() and np.isnan(v[0:2, 6:8]).all(), name
        assert np.isfinite(v[0:2, 4:6]).all() and np.isfinite(v[2:, :]).all(), name
