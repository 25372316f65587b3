"""The only package that knows NumPy vs CuPy vs Dask.

Product modules call :func:`apply_kernel` with xarray objects; this package picks the device,
moves data when the backend option asks for it, and runs the registered CPU or GPU kernel on
each block. ``import landpulse.backend`` never imports CuPy, and loads its modules on first use
(PEP 562): ``landpulse.backend.grid`` or ``.validity`` alone load neither xarray nor Dask.
"""

from typing import TYPE_CHECKING

from landpulse._lazy import lazy_attributes as _lazy_attributes

if TYPE_CHECKING:
    from landpulse.backend.date_blocks import apply_date_kernel
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

_LAZY = {
    "DeviceInfo": "landpulse.backend.device",
    "Validity": "landpulse.backend.validity",
    "apply_date_kernel": "landpulse.backend.date_blocks",
    "apply_kernel": "landpulse.backend.dispatch",
    "apply_overlap_kernel": "landpulse.backend.neighbourhood",
    "array_module": "landpulse.backend.dispatch",
    "block_device": "landpulse.backend.dispatch",
    "check_same_grid": "landpulse.backend.dispatch",
    "cupy_module": "landpulse.backend.device",
    "device_info": "landpulse.backend.device",
    "disc_spans": "landpulse.backend.neighbourhood",
    "get_backend_option": "landpulse.backend.options",
    "get_kernel": "landpulse.backend.registry",
    "gpu_available": "landpulse.backend.device",
    "gpu_count": "landpulse.backend.device",
    "is_device_array": "landpulse.backend.dispatch",
    "register": "landpulse.backend.registry",
    "registered_ops": "landpulse.backend.registry",
    "resolve_device": "landpulse.backend.device",
    "set_options": "landpulse.backend.options",
    "spatial_dims": "landpulse.backend.dispatch",
    "to_device": "landpulse.backend.dispatch",
    "to_host": "landpulse.backend.dispatch",
}

__getattr__, __dir__ = _lazy_attributes(globals(), _LAZY)

__all__ = [
    "DeviceInfo",
    "Validity",
    "apply_date_kernel",
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
