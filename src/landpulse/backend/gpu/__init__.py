"""GPU kernels (CuPy blocks in, CuPy blocks out, CUDA C from ``kernels/`` inside).

Importing this package does not import CuPy (kernel entries import it when called), so the CUDA
source table in :mod:`.cuda` can be checked on machines without CuPy; the registry asks for
CuPy before it hands out a GPU kernel.
"""

from landpulse.backend.gpu import change as _change  # noqa: F401  (registers the change-detection kernels)
from landpulse.backend.gpu import fused as _fused  # noqa: F401  (registers "indices")
from landpulse.backend.gpu import masks as _masks  # noqa: F401  (registers "mask_buffer")
from landpulse.backend.gpu import parcels as _parcels  # noqa: F401  (registers the parcel kernels)
from landpulse.backend.gpu import water as _water  # noqa: F401  (registers the water kernels)
from landpulse.backend.gpu import window as _window  # noqa: F401  (registers "window_reduce")
