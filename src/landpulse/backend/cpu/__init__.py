"""CPU kernels (NumPy blocks in, NumPy blocks out, Numba inside). Importing registers them."""

from landpulse.backend.cpu import change as _change  # noqa: F401  (registers the change-detection kernels)
from landpulse.backend.cpu import fused as _fused  # noqa: F401  (registers "indices")
from landpulse.backend.cpu import masks as _masks  # noqa: F401  (registers "mask_buffer")
from landpulse.backend.cpu import parcels as _parcels  # noqa: F401  (registers the parcel kernels)
from landpulse.backend.cpu import water as _water  # noqa: F401  (registers the water kernels)
from landpulse.backend.cpu import window as _window  # noqa: F401  (registers "window_reduce")
