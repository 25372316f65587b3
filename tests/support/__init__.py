"""Shared test helpers (one support package; conftest.py holds only fixtures and hooks).

* :class:`Placement`: moves data to one device and back (the ``backend`` fixture yields one);
* :func:`skip_or_fail`: skip for a missing resource, or fail where ``LANDPULSE_REQUIRE`` lists it;
* paths of the repository and of the shared real data;
* :func:`numpy_ndvi_reference`: an independent NDVI in float64;
* submodules: ``series`` (small real time series, job specs, store digests), ``slurm`` (a real
  single-node Slurm), ``cuda`` (nvcc / NVRTC builds), ``water_cases``, ``bfast_reference``,
  ``index_references`` (independent oracles), ``fault_plugins`` (products for fault tests).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pytest

from landpulse.backend import to_device, to_host

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(os.environ.get("LANDPULSE_SHARED_DATA", REPO.parent / "shared" / "data"))
BOLZANO = SHARED_DATA / "s2l2a-bolzano-2022-06.zarr"
EARTH_SEARCH_ITEM = SHARED_DATA / "earth-search-s2-l2a-item.json"

class Placement:
    """Moves data to one device and back; ``name`` is ``'cpu'`` or ``'gpu'``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, obj: Any) -> Any:
        return to_device(obj) if self.name == "gpu" else obj

    def host(self, obj: Any) -> Any:
        return to_host(obj) if self.name == "gpu" else obj

    def __repr__(self) -> str:
        return self.name


#: What this machine promises the tests (comma-separated names in LANDPULSE_REQUIRE; .ci/run sets
#: it): a test that needs one of them fails instead of skipping when it is missing, so a CI run
#: cannot go green by skipping the tests it was meant to run. Names: shared_data, nvcc, g++,
#: nvrtc, slurm, browser, nginx, stac-api, gdalwarp.
REQUIRED = frozenset(filter(None, os.environ.get("LANDPULSE_REQUIRE", "").split(",")))


def skip_or_fail(resource: str, reason: str) -> NoReturn:
    """Skip the test for the missing ``resource``, or fail it where the resource is required."""
    if resource in REQUIRED:
        pytest.fail(f"{reason} (required here: LANDPULSE_REQUIRE lists {resource!r})")
    pytest.skip(reason)


WriteBand = Callable[..., Path]


def numpy_ndvi_reference(red_dn: np.ndarray, nir_dn: np.ndarray, scale: float, offset: float,
                         nodata: float | None = 0, valid: tuple[float, float] = (1, 65534)) -> np.ndarray:
    """An independent NDVI reference in float64 (no landpulse code involved)."""
    r = red_dn.astype(np.float64) * scale + offset
    n = nir_dn.astype(np.float64) * scale + offset
    bad = ~np.isfinite(r) | ~np.isfinite(n)
    for dn in (red_dn, nir_dn):
        d = dn.astype(np.float64)
        if nodata is not None:
            bad |= d == nodata
        bad |= (d < valid[0]) | (d > valid[1])
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (n - r) / (n + r)
    out[bad | ((n + r) == 0) | (out < -1) | (out > 1)] = np.nan
    return out
