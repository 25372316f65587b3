"""GPU kernels (CuPy blocks in, CuPy blocks out, CUDA C from ``kernels/`` inside).

Importing this package imports CuPy; the registry does so only when a GPU kernel is asked for.
"""

from ..device import cupy_module

cupy_module()  # a clear BackendUnavailableError instead of an ImportError deep inside

from . import ndvi as _ndvi  # noqa: E402,F401  (registers "ndvi")
