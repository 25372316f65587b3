"""A product plugin for fault tests (imported through a job's ``plugins:`` on driver and workers).

``slow_ndvi`` is NDVI with a pause per chunk, so a test can kill a worker or the driver while a
unit is being written; with ``crash_scene`` it kills the worker process that computes that scene
(a poison scene, like a corrupt file that crashes a native decoder). Values equal ``ndvi``'s.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import xarray as xr

from landpulse.products.indices import ndvi
from landpulse.products.registry import Product, register_product

#: What a test running the job in its own process (a ``threads`` cluster) does before a chunk of
#: ``slow_ndvi`` is computed, at an exact moment of a unit instead of a racing timer: each hook is
#: called before every chunk until it returns True (it acted), then dropped.
BLOCK_HOOKS: list[Callable[[], bool]] = []


def slow_ndvi(ds: xr.Dataset, *, delay: float = 0.2, crash_scene: str = "") -> xr.DataArray:
    out = ndvi(ds)
    scenes = [str(s) for s in ds["scene_id"].values] if "scene_id" in ds.coords else []

    def pause(block: Any) -> Any:
        if crash_scene and crash_scene in scenes:
            os._exit(17)  # the worker process dies, as with a segfault
        for hook in list(BLOCK_HOOKS):
            if hook():
                BLOCK_HOOKS.remove(hook)
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


def slow_composite(ds: xr.Dataset, *, delay: float = 0.2, fail_scene: str = "") -> xr.DataArray:
    """The window product ``index_composite`` (median NDVI) with a pause per chunk, so a test can kill
    the run while a window unit is being written; it raises for a window holding ``fail_scene``
    (a scene whose pixels a unit cannot use). Values equal ``index_composite``'s."""
    from landpulse.errors import InputError
    from landpulse.products.temporal import index_composite

    scenes = [str(s) for s in ds["scene_id"].values] if "scene_id" in ds.coords else []
    if fail_scene and fail_scene in scenes:
        raise InputError(f"scene {fail_scene} cannot be read (fault test)")
    out = index_composite(ds)

    def pause(block: Any) -> Any:
        time.sleep(delay)
        return block

    return out.copy(data=out.data.map_blocks(pause, dtype=out.dtype)).rename("slow_composite")


register_product(Product("slow_composite", slow_composite, kind="window", inputs=("red", "nir"),
                         description="median NDVI composite over a window, slowly (fault tests)"))
