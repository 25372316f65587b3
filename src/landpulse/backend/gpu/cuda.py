"""Loading the CUDA sources shipped in ``landpulse._kernels`` (the top-level ``kernels/`` folder).

Modules are compiled by NVRTC through :class:`cupy.RawModule`, with the same options everywhere
(``NVRTC_OPTIONS``), and memoized per (source, device, instantiations): the first call on each
device pays the compile, later calls are a dictionary lookup (CuPy also caches the binary on disk).
"""

from __future__ import annotations

import functools
import importlib.resources
from pathlib import Path
from typing import Any

from landpulse.backend.device import cupy_module

#: ``-fmad=false``: no fused multiply-add, so float32 results round exactly like the CPU kernels.
#: (NVRTC compiles C++17 by default; CuPy adds the ``-arch`` option for the device itself.)
NVRTC_OPTIONS: tuple[str, ...] = ("--fmad=false",)

#: C++ type names of the band dtypes the templated kernels (WOfS) are instantiated for
#: (others are cast to float32).
CUDA_TYPE_NAMES: dict[str, str] = {
    "uint16": "unsigned short",
    "int16": "short",
    "float32": "float",
}

#: Classification-band dtypes the mask kernel is instantiated for (others are cast to float32).
MASK_TYPE_NAMES: dict[str, str] = {
    "uint8": "unsigned char",
    "uint16": "unsigned short",
    "float32": "float",
}


#: Every CUDA source in ``kernels/`` and the template instantiations the GPU entries launch
#: (NVRTC ``name_expressions``). Tests compile each one with NVRTC and nvcc on machines without GPU.
CUDA_MODULES: dict[str, tuple[str, ...]] = {
    "masks": tuple(f"mask_buffer_kernel<{t}>" for t in MASK_TYPE_NAMES.values()),
    "change": (
        "classify_difference_kernel",
        "cva_kernel",
        "median_composite_kernel",
        "max_composite_kernel",
        "zscore_kernel",
        "trend_kernel",
        "bfast_monitor_kernel",
    ),
    "water": (
        "water_threshold_kernel",
        *(f"wofs_kernel<{t}, {q}>" for t in CUDA_TYPE_NAMES.values() for q in MASK_TYPE_NAMES.values()),
        "water_summary_kernel",
        "water_change_kernel",
    ),
}


def kernel_dir() -> Path:
    """Folder holding the ``*.cu``/``*.cuh`` files (works for editable installs and wheels)."""
    return Path(str(importlib.resources.files("landpulse._kernels")))


def kernel_source(name: str) -> str:
    """Text of ``kernels/<name>.cu``."""
    return (kernel_dir() / f"{name}.cu").read_text()


def compile_options() -> tuple[str, ...]:
    """NVRTC options: :data:`NVRTC_OPTIONS` plus the include path of the shared headers."""
    return (*NVRTC_OPTIONS, f"-I{kernel_dir()}")


@functools.cache
def _module(name: str, device_id: int, name_expressions: tuple[str, ...]) -> Any:
    cp = cupy_module()
    with cp.cuda.Device(device_id):
        module = cp.RawModule(
            code=kernel_source(name),
            options=compile_options(),
            name_expressions=name_expressions,
        )
        module.compile()
    return module


@functools.cache
def _generated_module(code: str, device_id: int) -> Any:
    cp = cupy_module()
    with cp.cuda.Device(device_id):
        module = cp.RawModule(code=code, options=compile_options())
        module.compile()
    return module


def get_generated_function(code: str, name: str) -> Any:
    """Compile generated CUDA source ``code`` (it may ``#include`` the shared headers) with the
    same NVRTC options as the shipped kernels, memoized per device, and return its ``extern "C"``
    kernel ``name``."""
    cp = cupy_module()
    return _generated_module(code, cp.cuda.Device().id).get_function(name)


def get_function(source: str, expression: str) -> Any:
    """Return the compiled kernel ``expression`` (for example ``mask_buffer_kernel<float>``) of ``source``."""
    cp = cupy_module()
    module = _module(source, cp.cuda.Device().id, CUDA_MODULES[source])
    return module.get_function(expression)


@functools.cache
def _multiprocessors(device_id: int) -> int:
    """SM count of a device, asked once (``Device.attributes`` queries every attribute each time)."""
    cp = cupy_module()
    return int(cp.cuda.Device(device_id).attributes["MultiProcessorCount"])


def launch_config(n: int, threads: int = 256) -> tuple[tuple[int], tuple[int]]:
    """Grid and block sizes for a grid-stride loop over ``n`` items (sized from the device)."""
    cp = cupy_module()
    sms = _multiprocessors(cp.cuda.Device().id)
    blocks = max(1, min((n + threads - 1) // threads, sms * 32))
    return (blocks,), (threads,)
