"""The change demo on the bundled real Landsat pair, and the bundled files' integrity."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from landpulse.datasets import change_scene_items
from landpulse.io import open_product

REPO = Path(__file__).resolve().parents[1]


def test_bundled_landsat_files_match_their_items() -> None:
    for item_path in change_scene_items():
        item = json.loads(item_path.read_text())
        assert len(item["assets"]) == 6
        for asset in item["assets"].values():
            data = (item_path.parent / asset["href"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == asset["file:checksum_sha256"]
            rb = asset["raster:bands"][0]
            assert 0 < rb["scale"] < 0.01 and -0.2 < rb["offset"] < 0


def test_demo_change_writes_products_and_quicklooks(tmp_path: Path) -> None:
    out = tmp_path / "change"
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "demo_change.py"), "--out", str(out)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["dates"] == ["2001-07-30", "2013-07-07"]
    sev = summary["dnbr.burn_severity"]
    assert sev["unburned"] > 0.7 * 41 * 41 and sev["nodata"] == 0  # no fire in 2001-2013 here
    assert 0 < summary["cva.threshold"] < 0.2
    for name in ("dndvi_change_class.png", "dnbr_burn_severity.png", "cva_change.png", "cva_magnitude.png"):
        assert (out / name).stat().st_size > 1000
    prod = open_product(out / "dnbr.zarr")
    assert prod.rio.crs.to_epsg() == 32632
    sev_values = prod.burn_severity.values
    assert np.nanmax(sev_values) <= 7  # nodata (255) decodes to NaN, classes 1..7 survive
    assert prod.burn_severity.attrs["flag_meanings"].startswith("enhanced_regrowth_high")


def test_make_change_data_reproduces_the_bundled_files(tmp_path: Path) -> None:
    """scripts/make_change_data.py rebuilds the bundled band files byte for byte (needs
    ``apt-get download``; skipped where the Debian archive cannot be reached)."""
    import shutil

    import pytest

    if shutil.which("apt-get") is None or shutil.which("dpkg") is None:
        pytest.skip("apt-get/dpkg not available")
    dl = subprocess.run(["apt-get", "download", "r-cran-satellite=1.0.4-2+b1"], cwd=tmp_path,
                        capture_output=True, text=True, timeout=300)
    debs = list(tmp_path.glob("r-cran-satellite_*.deb"))
    if dl.returncode != 0 or not debs:
        pytest.skip(f"cannot download r-cran-satellite: {dl.stderr.strip()[:200]}")
    out = tmp_path / "out"
    subprocess.run([sys.executable, str(REPO / "scripts" / "make_change_data.py"), "--deb", str(debs[0]),
                    "--out", str(out)], check=True, capture_output=True, timeout=300)
    for item_path in change_scene_items():
        item = json.loads(item_path.read_text())
        rebuilt = json.loads((out / item_path.parent.name / "item.json").read_text())
        assert rebuilt["assets"] == item["assets"]
