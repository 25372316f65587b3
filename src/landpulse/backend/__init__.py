"""The only package that knows NumPy vs CuPy vs Dask.

Product modules call :func:`apply_kernel` with xarray objects; this package picks the device,
moves data when the backend option asks for it, and runs the registered CPU or GPU kernel on
each block. ``import landpulse.backend`` never imports CuPy.
"""

from landpulse.backend.device import (
    DeviceInfo,
    cupy_module,
    device_info,
    gpu_available,
    gpu_count,
    resolve_device,
)
from landpulse.backend.dispatch import (
    apply_kernel,
    array_module,
    block_device,
    check_same_grid,
    is_device_array,
    spatial_dims,
    to_device,
    to_host,
)
from landpulse.backend.neighbourhood import apply_overlap_kernel, disc_spans
from landpulse.backend.options import get_backend_option, set_options
from landpulse.backend.registry import get_kernel, register, registered_ops
from landpulse.backend.validity import Validity

__all__ = [
    "DeviceInfo",
    "Validity",
    "apply_kernel",
    "apply_overlap_kernel",
    "array_module",
    "block_device",
    "check_same_grid",
    "cupy_module",
    "device_info",
    "disc_spans",
    "get_backend_option",
    "get_kernel",
    "gpu_available",
    "gpu_count",
    "is_device_array",
    "register",
    "registered_ops",
    "resolve_device",
    "set_options",
    "spatial_dims",
    "to_device",
    "to_host",
]
