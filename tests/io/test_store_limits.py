"""Store metadata is untrusted input (RELIABILITY): what it declares is checked against limits
before anything is allocated or computed. The stores here hold metadata only (no chunk written),
as a hostile or broken store would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import zarr

import landpulse
from landpulse.errors import InputError
from tests.support import REPO


def metadata_only_store(path: Path, shape: tuple[int, ...], chunks: tuple[int, ...], dtype: str = "uint16") -> Path:
    """A Zarr v3 store with time/y/x coordinates and one band ``red`` whose chunks were never written."""
    root = zarr.open_group(path, mode="w", zarr_format=3)
    dims = ["time", "y", "x"][-len(shape):] if len(shape) <= 3 else [f"d{i}" for i in range(len(shape))]
    red = root.create_array("red", shape=shape, chunks=chunks, dtype=dtype, fill_value=0, dimension_names=dims)
    red.attrs.update({"common_name": "red", "scale_factor": 1e-4})
    for dim, n in zip(dims, shape, strict=True):
        coord = root.create_array(dim, shape=(n,), chunks=(min(n, 1 << 20),), dtype="float64", dimension_names=[dim])
        coord[:] = np.arange(n, dtype="float64")
    return path


@pytest.mark.parametrize("shape,chunks,dtype,message", [
    ((1, 40000, 40000), (1, 40000, 40000), "uint16", "GiB each, decoded whole"),
    ((1, 1_000_000, 1_000_000), (1, 2048, 2048), "uint16", "pixels per slice"),
    ((1, 64, 64), (1, 64, 64), "complex64", "imagery is boolean, integer or float"),
    ((2, 2, 2, 64, 64), (1, 1, 1, 64, 64), "uint16", "at most 4"),
])
def test_absurd_metadata_is_refused_before_any_allocation(tmp_path: Path, shape: tuple[int, ...],
                                                          chunks: tuple[int, ...], dtype: str, message: str) -> None:
    store = metadata_only_store(tmp_path / "s.zarr", shape, chunks, dtype)
    with pytest.raises(InputError, match=message):
        landpulse.open_store(store)


def test_the_cli_refuses_it_in_one_line_and_writes_nothing(tmp_path: Path) -> None:
    store = metadata_only_store(tmp_path / "big.zarr", (1, 40000, 40000), (1, 40000, 40000))
    done = subprocess.run([sys.executable, "-m", "landpulse.cli", "compute", str(store), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "GiB each" in done.stderr, done.stderr
    assert not (tmp_path / "o").exists()


def test_real_stores_pass(sample_store: Path, bolzano: object) -> None:
    landpulse.open_store(sample_store)  # a landpulse store; the foreign Bolzano store opened in the fixture
