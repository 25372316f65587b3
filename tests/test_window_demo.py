"""The window part of `make demo` (examples/window-job.yaml) on the bundled real Bolzano crop: six
units, a second run that writes nothing, water frequency equal to ``water.summary`` of the bundled
scenes; the bundled crop is at most 3 MB and holds the shared series' pixels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

import landpulse
from landpulse import water
from landpulse.datasets import sample_series_store
from landpulse.io.products import open_product
from landpulse.production.jobspec import load_job
from landpulse.production.run import run_job
from tests.support import BOLZANO, REPO
from tests.support.series import snapshot


def test_bundled_series_is_small_and_real() -> None:
    store = sample_series_store()
    root = store.parent
    assert sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) <= 3_000_000
    assert (root / "NOTICE").read_text().startswith("Contains modified Copernicus Sentinel data 2022")
    assert (root / "LICENSE-openeo-processes-dask").is_file()
    ds = landpulse.open_store(store)
    assert ds.sizes == {"t": 12, "y": 160, "x": 160}
    if BOLZANO.exists():
        src = landpulse.open_store(BOLZANO).isel(y=slice(480, 640), x=slice(200, 360))
        np.testing.assert_array_equal(ds["B08"].values, np.nan_to_num(src["B08"].values, nan=0).round())
        np.testing.assert_array_equal(ds["SCL"].values, np.nan_to_num(src["SCL"].values, nan=0))


def test_window_demo_job(tmp_path: Path) -> None:
    spec = yaml.safe_load((REPO / "examples" / "window-job.yaml").read_text())
    spec["inputs"]["stores"][0]["path"] = str(sample_series_store())
    spec["output"].update(store=str(tmp_path / "windows"), reports=str(tmp_path / "reports"))
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(spec))
    job = load_job(path)
    first = run_job(job, echo=lambda _: None)
    assert first.exit_code == 0 and len(first.units) == 6, [u.error for u in first.failed]
    before = snapshot(tmp_path / "windows")
    assert run_job(job, echo=lambda _: None).units == [] and snapshot(tmp_path / "windows") == before
    ds = landpulse.declare_radiometry(landpulse.open_store(sample_series_store()), scale=1e-4, offset=0.0,
                                      bands=["B02", "B03", "B04", "B08"])
    expected = water.summary(water.index_water(ds))["frequency"].values
    got = open_product(tmp_path / "windows" / "water_frequency" / "32TPS" / "2022-06" / "water_frequency.zarr")
    np.testing.assert_array_equal(got["water_frequency"].values, expected)
    assert np.nanmax(expected) > 0.5  # the rivers
