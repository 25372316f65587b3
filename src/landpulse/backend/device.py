"""Device detection: is CuPy importable, how many CUDA devices are there, which one is in use.

Nothing here imports CuPy at module import time; every probe is lazy and cached, so
``import landpulse`` works on machines with no GPU and no CuPy.
"""

from __future__ import annotations

import functools
import os
import platform
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

from landpulse.backend.options import get_backend_option
from landpulse.errors import BackendUnavailableError

Device = Literal["cpu", "gpu"]

GPU_EXTRA_HINT = (
    "install the GPU extra matching your CUDA driver: pip install 'landpulse[gpu]' "
    "(CUDA 12) or 'landpulse[gpu-cuda13]' (CUDA 13)"
)


@functools.cache
def _import_cupy() -> ModuleType | None:
    try:
        import cupy  # optional (the gpu extra)
    except Exception:  # ImportError, or a CUDA library that fails to load
        return None
    return cupy


def cupy_module() -> ModuleType:
    """Return the ``cupy`` module, or raise :class:`BackendUnavailableError` naming the extra."""
    cp = _import_cupy()
    if cp is None:
        raise BackendUnavailableError(f"the GPU backend needs CuPy, which is not installed: {GPU_EXTRA_HINT}")
    return cp


@functools.cache
def gpu_count() -> int:
    """Number of CUDA devices visible to this process (0 without CuPy or a driver)."""
    cp = _import_cupy()
    if cp is None:
        return 0
    try:
        return int(cp.cuda.runtime.getDeviceCount())
    except Exception:  # no driver, no device, or CUDA_VISIBLE_DEVICES=""
        return 0


def gpu_available() -> bool:
    """True when CuPy imports and at least one CUDA device is visible."""
    return gpu_count() > 0


def resolve_device() -> Device:
    """Turn the ``backend`` option into the device new data is placed on.

    Returns
    -------
    {'cpu', 'gpu'}

    Raises
    ------
    BackendUnavailableError
        When ``gpu`` is requested but CuPy or a CUDA device is missing.
    """
    option = get_backend_option()
    if option == "cpu":
        return "cpu"
    if option == "gpu":
        if _import_cupy() is None:
            raise BackendUnavailableError(
                f"LANDPULSE_BACKEND=gpu but CuPy is not installed: {GPU_EXTRA_HINT}"
            )
        if gpu_count() == 0:
            raise BackendUnavailableError(
                "LANDPULSE_BACKEND=gpu but no CUDA device is visible "
                "(check nvidia-smi and CUDA_VISIBLE_DEVICES), or use LANDPULSE_BACKEND=cpu"
            )
        return "gpu"
    return "gpu" if gpu_available() else "cpu"


@dataclass(frozen=True)
class DeviceInfo:
    """What computes products in this process; recorded in every product's provenance."""

    device: Device
    name: str
    memory_bytes: int | None = None
    cuda_runtime: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def device_info(device: Device | None = None) -> DeviceInfo:
    """Describe the device that ``device`` (default: :func:`resolve_device`) refers to.

    The device's name and memory are read from the driver, never assumed.
    """
    device = device or resolve_device()
    if device == "cpu":
        return DeviceInfo("cpu", f"{platform.processor() or platform.machine()} x{os.cpu_count()}")
    cp = cupy_module()
    dev = cp.cuda.Device()
    props = cp.cuda.runtime.getDeviceProperties(dev.id)
    name = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
    free, total = dev.mem_info
    return DeviceInfo("gpu", name, int(total), str(cp.cuda.runtime.runtimeGetVersion()))
