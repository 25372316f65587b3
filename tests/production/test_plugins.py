"""A job spec is data, not code (RELIABILITY: plugins only from installed entry points or an explicit
allow-list, and ``validate`` imports nothing the spec names)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from landpulse.products.registry import ENTRY_POINT_GROUP
from tests.support import REPO
from tests.support.series import job_dict, write_job, write_series

PLUGIN = "tests.support.marker_plugin"


@pytest.fixture
def spec(tmp_path: Path, sample_store: Path) -> Path:
    series = write_series(sample_store, tmp_path / "18SVG.zarr", [0])
    return write_job(tmp_path / "job.yaml", job_dict(series, tmp_path, products=["marked_ndvi"], plugins=[PLUGIN]))


def landpulse(*args: str, allowed: str, marker: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "LANDPULSE_PLUGINS": allowed, "LANDPULSE_TEST_MARKER": str(marker)}
    return subprocess.run([sys.executable, "-m", "landpulse.cli", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=180)


def test_validate_imports_no_plugin(spec: Path, tmp_path: Path) -> None:
    marker = tmp_path / "imported.txt"
    done = landpulse("validate", str(spec), "--plan", allowed=PLUGIN, marker=marker, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "not checked: marked_ndvi" in done.stdout and "compute marked_ndvi_18SVG_" in done.stdout
    assert not marker.exists()


def test_run_refuses_a_plugin_the_operator_has_not_allowed(spec: Path, tmp_path: Path) -> None:
    marker = tmp_path / "imported.txt"
    done = landpulse("run", str(spec), allowed="some.other_module", marker=marker, cwd=tmp_path)
    assert done.returncode == 2
    assert "not allowed" in done.stderr and "LANDPULSE_PLUGINS" in done.stderr and len(done.stderr.splitlines()) == 1
    assert not marker.exists() and not (tmp_path / "products").exists()


def test_run_imports_an_allowed_plugin(spec: Path, tmp_path: Path) -> None:
    marker = tmp_path / "imported.txt"
    done = landpulse("run", str(spec), allowed=f"x.y,{PLUGIN}", marker=marker, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert marker.exists() and len(list((tmp_path / "products" / "marked_ndvi").glob("*/*/item.json"))) == 1


def test_installed_packages_register_through_entry_points(tmp_path: Path) -> None:
    """An installed distribution (here a dist-info folder on the path, as pip leaves it) that names a
    Product in the landpulse.products group is found without any spec naming it."""
    (tmp_path / "ep_products.py").write_text(
        "from landpulse.products.indices import ndvi\n"
        "from landpulse.products.registry import Product\n"
        "PRODUCT = Product('ep_ndvi', ndvi, inputs=('red', 'nir'), description='from an entry point')\n")
    info = tmp_path / "ep_products-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ep-products\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nep_ndvi = ep_products:PRODUCT\n")
    code = ("from landpulse.products.registry import get_product, product_names\n"
            "assert 'ep_ndvi' in product_names(), product_names()\n"
            "print(get_product('ep_ndvi').description)\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "from an entry point", done.stderr
