"""A product plugin for fault tests (imported through a job's ``plugins:`` on driver and workers).

``slow_ndvi`` is NDVI with a pause per chunk, so a test can kill a worker or the driver while a
unit is being written; with ``crash_scene`` it kills the worker process that computes that scene
(a poison scene, like a corrupt file that crashes a native decoder). Values equal ``ndvi``'s.
"""

from __future__ import annotations

import os
import time
from typing import Any

import xarray as xr

from landpulse.products.indices import ndvi
from landpulse.products.registry import Product, register_product


def slow_ndvi(ds: xr.Dataset, *, delay: float = 0.2, crash_scene: str = "") -> xr.DataArray:
    out = ndvi(ds)
    scenes = [str(s) for s in ds["scene_id"].values] if "scene_id" in ds.coords else []

    def pause(block: Any) -> Any:
        if crash_scene and crash_scene in scenes:
            os._exit(17)  # the worker process dies, as with a segfault
        time.sleep(delay)
        return block

    return out.copy(data=out.data.map_blocks(pause, dtype=out.dtype)).rename("slow_ndvi")


register_product(Product("slow_ndvi", slow_ndvi, inputs=("red", "nir"), description="NDVI, slowly (fault tests)"))


def oom_ndvi(ds: xr.Dataset) -> xr.DataArray:
    """NDVI whose every chunk counts one GPU out-of-memory fallback, as
    :func:`landpulse.backend.oom_recovery.run_gpu_block` does when a block ran on the CPU instead."""
    from landpulse.backend.oom_recovery import FAULTS

    out = ndvi(ds)

    def fallback(block: Any) -> Any:
        FAULTS.cpu_fallbacks += 1
        return block

    return out.copy(data=out.data.map_blocks(fallback, dtype=out.dtype)).rename("oom_ndvi")


register_product(Product("oom_ndvi", oom_ndvi, inputs=("red", "nir"), description="NDVI counting GPU fallbacks (fault tests)"))
