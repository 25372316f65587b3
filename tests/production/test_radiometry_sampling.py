"""A unit warns about a doubtful declared scale only for the bands its product reads (a warning
about a band nothing reads is noise), and notes it on the unit; the offset is still checked on
every declared band (tests/test_cli.py::test_compute_refuses_an_offset_the_pixels_rule_out: only
the dark blue band rules the offset out there). Real store: the shared Bolzano series copied to
tmp, its blue band (B02) multiplied by 50 so that the declared scale puts it far above reflectance 1."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr

from landpulse.production.jobspec import parse_job
from landpulse.production.run import run_job
from tests.support import BOLZANO, skip_or_fail


@pytest.fixture
def bright_blue(tmp_path: Path) -> Path:
    if not BOLZANO.exists():
        skip_or_fail("shared_data", f"shared data not found at {BOLZANO}")
    store = Path(shutil.copytree(BOLZANO, tmp_path / "bolzano.zarr"))
    blue = zarr.open_array(str(store / "B02"), mode="r+")
    blue[:] = np.asarray(blue[:]) * 50
    return store


def _spec(store: Path, out: Path, product: str) -> dict[str, Any]:
    return {"name": "sampling", "inputs": {"kind": "zarr", "stores": [{"path": str(store), "tile": "32TPS"}],
                                           "bands": {"red": "B04", "nir": "B08", "green": "B03", "blue": "B02"},
                                           "radiometry": {"scale": 1e-4, "offset": 0}},
            "dates": {"start": "2022-06-02", "end": "2022-06-05"}, "products": [product],
            "output": {"store": str(out / "products"), "reports": str(out / "reports")},
            "cluster": {"kind": "threads"}}


def test_units_warn_about_the_bands_their_product_reads(bright_blue: Path, tmp_path: Path) -> None:
    # NDVI reads red and nir only: nothing is said of the blue band, neither as a warning of the
    # process (what a worker prints) nor as a note of a unit
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ndvi = run_job(parse_job(_spec(bright_blue, tmp_path / "ndvi", "ndvi")), echo=lambda line: None)
    assert ndvi.exit_code == 0 and len(ndvi.units) == 2
    said = [str(w.message) for w in caught] + [w for u in ndvi.units for w in u.warnings]
    assert not any("'B02'" in w for w in said), said
    # EVI reads the blue band: its units do sample it, and record the warning
    evi = run_job(parse_job(_spec(bright_blue, tmp_path / "evi", "evi")), echo=lambda line: None)
    assert evi.exit_code == 0 and len(evi.units) == 2
    assert all(any("band 'B02'" in w and "probably wrong" in w for w in u.warnings) for u in evi.units), \
        [u.warnings for u in evi.units]
