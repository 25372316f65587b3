"""The water demo on the bundled real Sentinel-2 scene writes products, quick-looks and areas."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from landpulse.io import open_product

REPO = Path(__file__).resolve().parents[1]


def test_demo_water_writes_products_quicklooks_and_areas(tmp_path: Path) -> None:
    out = tmp_path / "water"
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "demo_water.py"), "--out", str(out)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["date"] == "2016-01-12"
    total = 800 * 800 * 100 / 1e4  # 6400 ha of 10 m pixels
    for name in ("water_mndwi", "water_otsu", "wofs"):
        areas = summary[name]["areas_ha"]["water"]["2016-01-12"]
        assert abs(sum(areas.values()) - total) < 1e-6
        assert 0.35 * total < areas["water"] < 0.7 * total  # ocean, marsh and creeks
        assert (out / f"{name}.png").stat().st_size > 5000
    assert 0.0 < summary["otsu_threshold"] < 0.5
    assert min(summary["agreement"].values()) > 0.85
    assert set(summary["wofs_flag_values"]) <= {"0", "128"}  # no mask band, all bands valid
    prod = open_product(out / "wofs.zarr")
    assert prod.rio.crs.to_epsg() == 32618
    assert prod.water.attrs["flag_meanings"] == "not_water water cloud_or_shadow"
    assert prod.wofs.attrs["input_quantity"] == "toa_reflectance"


def test_water_products_through_the_pipeline(tmp_path: Path, sample_store: Path) -> None:
    import warnings

    from landpulse import water
    from landpulse.production.run import run_store
    from landpulse.products.registry import get_product, product_names

    assert {"water", "water_otsu", "water_wofs", "water_frequency"} <= set(product_names())
    assert get_product("water_wofs").flags is not None and get_product("water_wofs").dtype == "uint8"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        result = run_store(sample_store, tmp_path / "p", products=["water", "water_wofs", "water_frequency"],
                           echo=lambda _: None)
    assert [r.status for r in result.units] == ["written"] * 3
    folders = [Path(r.folder) for r in result.units]
    assert all((f / "item.json").exists() and (f / "thumbnail.png").stat().st_size > 1000 for f in folders)
    stored = open_product(folders[0] / "water.zarr")
    assert str(stored.water.dtype) == "float32"  # CF-decoded: 255 -> NaN
    report = water.area_report(stored)
    areas = report["water"]["2016-01-12"]
    assert abs(sum(areas.values()) - 6400.0) < 1e-6 and areas["water"] > 2000
    again = run_store(sample_store, tmp_path / "p", products=["water"], echo=lambda _: None)
    assert again.status == "nothing-to-do" and not again.units  # committed products are not recomputed
