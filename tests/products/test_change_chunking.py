"""Chunk plans for time series: whole time axis per block, bounded block bytes."""

from __future__ import annotations

import numpy as np
import xarray as xr

from landpulse.backend.chunking import plan_chunks, time_contiguous


def test_plan_keeps_time_whole_and_fits_the_budget() -> None:
    sizes = {"time": 24, "y": 10980, "x": 10980}
    plan = plan_chunks(sizes, {"time": 1, "y": 2196, "x": 2196}, ["time"], ("y", "x"), 4, 128 * 2**20)
    assert plan["time"] == 24
    assert 24 * plan["y"] * plan["x"] * 4 <= 128 * 2**20
    assert 2196 % plan["y"] == 0 and 2196 % plan["x"] == 0  # divisors of the stored chunks


def test_time_contiguous_rechunks_date_chunked_dask_only() -> None:
    da = xr.DataArray(np.zeros((12, 64, 64), np.float32), dims=("time", "y", "x"))
    assert time_contiguous(da) is da  # in memory: untouched
    lazy = da.chunk({"time": 1})
    out = time_contiguous(lazy, budget_bytes=12 * 32 * 32 * 4)
    assert out.chunks[0] == (12,)
    assert max(out.chunks[1]) * max(out.chunks[2]) * 12 * 4 <= 12 * 32 * 32 * 4
    ready = da.chunk({"time": -1, "y": 32})
    assert time_contiguous(ready) is ready
