"""Window kernels over each date's stored chunks (:func:`landpulse.backend.apply_date_kernel`).

Each task gets the list of the stored ``(dates, y, x)`` blocks of one spatial chunk, never a
joined time stack. Checked on the real Bolzano series (12 dates, SCL-masked NDVI median): the same
bits for every chunking (one date per chunk, several, all; spatial chunks that differ between the
bands), in memory, on the time-contiguous fallback and on the host-joined branch of kernels that
take no date lists; and the graph holds no rechunk of the dates.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import landpulse
import landpulse.backend.date_blocks as date_blocks
from landpulse.backend.cpu.window import date_addresses
from landpulse.products.temporal import window_reduce
from tests.support import BOLZANO, skip_or_fail


@pytest.fixture(scope="module")
def scenes() -> xr.Dataset:
    if not BOLZANO.exists():
        skip_or_fail("shared_data", f"shared data not found at {BOLZANO}")
    ds = landpulse.open_store(BOLZANO).isel(y=slice(150, 390), x=slice(250, 530)).load()
    return landpulse.declare_radiometry(ds, scale=1e-4, offset=0.0)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def reference(scenes: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """In memory: the time-contiguous path (no Dask)."""
    val, cnt = window_reduce(scenes, "ndvi", method="median")
    assert 0.3 < np.isfinite(val.values).mean() <= 1.0 and cnt.values.max() <= scenes.sizes["t"]
    return val.values, cnt.values


@pytest.mark.parametrize("chunks", [{"t": 1, "y": 64, "x": 96}, {"t": 5, "y": 100, "x": 280},
                                    {"t": 12, "y": 240, "x": 280}, {"t": 1, "y": 240, "x": 17}])
def test_every_chunking_gives_the_same_bits(scenes: xr.Dataset, reference: tuple[np.ndarray, np.ndarray],
                                            chunks: dict[str, int]) -> None:
    val, cnt = window_reduce(scenes.chunk(chunks), "ndvi", method="median")
    np.testing.assert_array_equal(val.values.view(np.uint32), reference[0].view(np.uint32))
    np.testing.assert_array_equal(cnt.values, reference[1])
    assert val.rio.crs == scenes.rio.crs and val.dims == ("y", "x")
    np.testing.assert_array_equal(val["x"].values, scenes["x"].values)


def test_bands_chunked_differently_are_read_on_the_first_bands_chunks(scenes: xr.Dataset,
                                                                      reference: tuple[np.ndarray, np.ndarray]) -> None:
    ds = scenes.chunk({"t": 1, "y": 64, "x": 96})
    ds["SCL"] = scenes["SCL"].chunk({"t": 3, "y": 50, "x": 70})
    val, cnt = window_reduce(ds, "ndvi", method="median")
    np.testing.assert_array_equal(val.values.view(np.uint32), reference[0].view(np.uint32))
    np.testing.assert_array_equal(cnt.values, reference[1])


def test_the_dates_are_never_joined_into_a_stack(scenes: xr.Dataset) -> None:
    """One date per stored chunk: no rechunk layer in the graph, one task per spatial chunk."""
    val, _ = window_reduce(scenes.chunk({"t": 1, "y": 120, "x": 140}), "ndvi", method="median")
    layers = list(val.data.dask.layers)
    assert not [name for name in layers if "rechunk" in name or "concatenate" in name], layers
    assert val.data.numblocks == (2, 2)


def test_the_fallbacks_give_the_same_bits(scenes: xr.Dataset, reference: tuple[np.ndarray, np.ndarray],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    lazy = scenes.chunk({"t": 1, "y": 64, "x": 96})
    # stored chunks above the task budget: the time-contiguous path (the dates rechunked)
    monkeypatch.setattr(date_blocks, "DATE_BLOCK_BYTES", 1)
    val, _ = window_reduce(lazy, "ndvi", method="median")
    assert [n for n in val.data.dask.layers if "rechunk" in n]
    np.testing.assert_array_equal(val.values.view(np.uint32), reference[0].view(np.uint32))
    monkeypatch.undo()
    # a kernel that takes no date lists: the dates joined on the host, per task
    monkeypatch.setattr(date_blocks, "takes_date_lists", lambda op, device: False)
    val, cnt = window_reduce(lazy, "ndvi", method="median")
    np.testing.assert_array_equal(val.values.view(np.uint32), reference[0].view(np.uint32))
    np.testing.assert_array_equal(cnt.values, reference[1])


def test_date_addresses_refuse_dates_that_differ() -> None:
    a = np.zeros((3, 4), np.uint16)
    with pytest.raises(ValueError, match="differ in dtype or shape"):
        date_addresses([a, np.zeros((3, 5), np.uint16)], 3, 4)
    with pytest.raises(ValueError, match="differ in dtype or shape"):
        date_addresses([a, np.zeros((3, 4), np.int16)], 3, 4)
    addresses, like, keep = date_addresses([a, np.zeros((4, 3), np.uint16).T], 3, 4)  # a transposed date: copied
    assert like.dtype == np.uint16 and keep[0] is a and keep[1].flags.c_contiguous
    assert addresses[0] == a.__array_interface__["data"][0]
