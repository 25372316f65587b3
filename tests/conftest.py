"""Shared fixtures (helpers live in tests/support): every backend through one fixture, real data
where it exists, small scenes.

* ``backend``: runs a test once per available device (``cpu`` always, ``gpu`` where CuPy and a
  CUDA device exist; skipped otherwise) and gives it a function that places data there.
* ``bolzano``: the real Sentinel-2 L2A series in ../shared/data (skipped when absent).
* ``sample_item``: the real CC0 Sentinel-2 L1C crop shipped with landpulse.
* ``write_band``: writes a small GeoTIFF band (synthetic values, for error and contract tests).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
import xarray as xr
from rasterio.transform import from_origin

import landpulse
from landpulse.backend import gpu_available
from tests.support import BOLZANO, Placement, WriteBand, skip_or_fail

# the test product plugin, allowed as an operator would allow it (inherited by subprocesses)
os.environ.setdefault("LANDPULSE_PLUGINS", "tests.support.fault_plugins")
from tests.support.slurm import SlurmUnavailable, start_slurm, stop_slurm


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``gpu``-marked tests where there is no GPU, with the reason."""
    if gpu_available():
        return
    skip = pytest.mark.skip(reason="no CUDA device or CuPy here (GPU tests run on the GPU machine: make gpu-check)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(params=["cpu", pytest.param("gpu", marks=pytest.mark.gpu)])
def backend(request: pytest.FixtureRequest) -> Iterator[Placement]:
    """Every backend through one fixture: the test body places its inputs with it."""
    with landpulse.set_options(backend=request.param):
        yield Placement(request.param)


@pytest.fixture(scope="session")
def bolzano() -> xr.Dataset:
    """The real Bolzano Sentinel-2 L2A series (12 dates), opened in place, read-only."""
    if not BOLZANO.exists():
        skip_or_fail("shared_data", f"shared data not found at {BOLZANO}")
    ds = landpulse.open_store(BOLZANO)
    # openEO exported reflectance x 1e4 as float32 with the L2A offset already removed.
    return landpulse.declare_radiometry(ds, scale=1e-4, offset=0.0, bands=["B02", "B03", "B04", "B08"])


@pytest.fixture(scope="session")
def sample_item() -> Path:
    from landpulse.datasets import sample_scene_item

    return sample_scene_item()


@pytest.fixture(scope="session")
def sample_store(tmp_path_factory: pytest.TempPathFactory, sample_item: Path) -> Path:
    """The bundled real scene ingested once per session (read-only for tests)."""
    from landpulse.io import ingest, scene_from_stac_item

    path = tmp_path_factory.mktemp("sample") / "scenes.zarr"
    return ingest(scene_from_stac_item(sample_item), path)


@pytest.fixture
def write_band(tmp_path: Path) -> WriteBand:
    """Write a single-band GeoTIFF: ``write_band(name, array, crs=..., origin=..., res=...)``."""

    def write(name: str, data: np.ndarray, *, crs: str = "EPSG:32632", origin: tuple[float, float] = (600000.0, 5200020.0),
              res: float = 10.0, nodata: float | None = 0) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with rasterio.open(path, "w", driver="GTiff", width=data.shape[1], height=data.shape[0], count=1,
                           dtype=data.dtype, crs=crs, transform=from_origin(*origin, res, res), nodata=nodata) as dst:
            dst.write(data, 1)
        return path

    return write


@pytest.fixture(scope="session")
def slurm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real single-node Slurm (munge + slurmctld + slurmd) for the session, or a skip with the reason."""
    workdir = tmp_path_factory.mktemp("slurm")
    try:
        cluster, pid_files = start_slurm(workdir)
    except SlurmUnavailable as err:
        skip_or_fail("slurm", f"Slurm cannot be started here: {err}")
    previous = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(cluster.conf)
    try:
        yield cluster
    finally:
        stop_slurm(pid_files, cluster)
        if previous is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = previous


@pytest.fixture(scope="session")
def bolzano_cogs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    """COGs of three real Bolzano dates (one cloudy, two clear; 512 x 512 px) and their STAC items
    (hrefs relative to the folder: tests/support/remote_data.py)."""
    from tests.support.remote_data import write_bolzano_cogs

    if not BOLZANO.exists():
        skip_or_fail("shared_data", f"real data not found: {BOLZANO}")
    root = tmp_path_factory.mktemp("bolzano-cogs")
    return root, write_bolzano_cogs(root)


@pytest.fixture(scope="session")
def cog_server(bolzano_cogs: tuple[Path, list[dict[str, Any]]], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Debian's nginx over the Bolzano COGs, with its fault locations (tests/support/servers.py)."""
    from tests.support.servers import ServerUnavailable, start_nginx

    try:
        server = start_nginx(bolzano_cogs[0], tmp_path_factory.mktemp("nginx"))
    except ServerUnavailable as err:
        skip_or_fail("nginx", f"nginx cannot be started here: {err}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def stac_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real STAC API: stac-fastapi-pgstac over PostgreSQL + pgstac (tests/support/servers.py), empty."""
    from tests.support.servers import ServerUnavailable, start_stac_api

    try:
        api = start_stac_api(tmp_path_factory.mktemp("stac-api"))
    except ServerUnavailable as err:
        skip_or_fail("stac-api", f"the STAC API cannot be started here: {err}")
    try:
        yield api
    finally:
        api.stop()
