"""A job with a target grid (``inputs.grid``): scenes of one solar day from two UTM zones become one
mosaicked unit on the grid, and the product is the one computed from ``load_on_grid``.

The data: one real Bolzano date (tests/support/remote_data.py), its left half as it is in UTM 32N
and its right half warped by gdalwarp into UTM 33N (a made second zone, stated as such).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import landpulse
from landpulse.io import open_product, scene_from_stac_item
from landpulse.io.load import load_on_grid
from landpulse.io.warp import TargetGrid
from landpulse.production.jobspec import JobSpecError, parse_job
from landpulse.production.plan import make_plan
from landpulse.production.run import run_job
from tests.support import skip_or_fail
from tests.support.remote_data import zone_halves


def test_a_grid_job_mosaics_two_zones_into_one_unit(bolzano_cogs: Any, tmp_path: Path) -> None:
    root, items = bolzano_cogs
    try:
        halves = zone_halves(root, items[1], tmp_path / "scenes", band="B04")
        zone_halves(root, items[1], tmp_path / "scenes", band="B08")
    except FileNotFoundError:
        skip_or_fail("gdalwarp", "gdalwarp not installed (Debian gdal-bin; .ci/run installs it)")
    for name in ("west", "east"):  # one item per half with both bands
        red = json.loads((tmp_path / "scenes" / name / "item.json").read_text())
        for band in ("B04", "B08"):
            red["assets"][band] = {**items[1]["assets"][band], "href": str(tmp_path / "scenes" / name / f"{band}.tif")}
            for k in ("proj:shape", "proj:transform"):
                red["assets"][band].pop(k, None)
        (tmp_path / "scenes" / name / "item.json").write_text(json.dumps(red))
    grid = {"name": "bolzano-32N-20m", "crs": "EPSG:32632", "resolution": 20.0,
            "bounds": [675000.0, 5150000.0, 680000.0, 5154800.0], "resampling": {"red": "average", "nir": "average"}}
    job = parse_job({"name": "grid", "inputs": {"kind": "scenes", "path": str(tmp_path / "scenes"), "grid": grid},
                     "products": ["ndvi"], "output": {"store": str(tmp_path / "products"), "reports": str(tmp_path / "reports")},
                     "cluster": {"kind": "threads", "n_workers": 2}})
    plan = make_plan(job)
    assert len(plan.todo) == 1 and sorted(plan.todo[0].inputs) == sorted(h["id"] for h in halves)
    assert plan.todo[0].tile == "bolzano-32N-20m"
    result = run_job(job, echo=lambda _: None)
    assert result.exit_code == 0, [u.error for u in result.units]
    (item_json,) = (tmp_path / "products").glob("ndvi/*/*/item.json")
    stored = open_product(item_json.parent / "ndvi.zarr")["ndvi"]
    target = TargetGrid.from_bounds("EPSG:32632", 20.0, (675000.0, 5150000.0, 680000.0, 5154800.0))
    scenes = [scene_from_stac_item(str(tmp_path / "scenes" / n / "item.json")) for n in ("east", "west")]
    # the same blocks as the unit's (GDAL's approximate transformer is fitted per warped block)
    expected = landpulse.ndvi(load_on_grid(scenes, target, chunks=(240, 240),
                                           resampling={"red": "average", "nir": "average"}))
    assert stored.shape[-2:] == target.shape and stored.rio.crs.to_epsg() == 32632
    np.testing.assert_allclose(np.squeeze(stored.values), np.squeeze(expected.values), atol=5.01e-5, equal_nan=True)  # int16 x 1e-4
    assert np.isfinite(np.squeeze(stored.values)).mean() > 0.9  # both halves are there
    assert make_plan(job).todo == []  # committed: a rerun has nothing to do


def test_grid_spec_is_checked() -> None:
    base = {"name": "x", "products": ["ndvi"], "output": {"store": "out"}}
    good = {"name": "g", "crs": "EPSG:32632", "resolution": 10, "bounds": [0, 0, 100, 100]}
    with pytest.raises(JobSpecError, match="unknown CRS"):
        parse_job({**base, "inputs": {"kind": "scenes", "path": ".", "grid": {**good, "crs": "EPSG:99999999"}}})
    with pytest.raises(JobSpecError, match="unknown resampling"):
        parse_job({**base, "inputs": {"kind": "scenes", "path": ".", "grid": {**good, "resampling": {"red": "magic"}}}})
    with pytest.raises(JobSpecError, match="grid name"):
        parse_job({**base, "inputs": {"kind": "scenes", "path": ".", "grid": {**good, "name": "../x"}}})
