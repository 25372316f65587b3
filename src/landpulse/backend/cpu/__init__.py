"""CPU kernels (NumPy blocks in, NumPy blocks out, Numba inside). Importing registers them."""

from . import change as _change  # noqa: F401  (registers the change-detection kernels)
from . import fused as _fused  # noqa: F401  (registers "indices")
from . import masks as _masks  # noqa: F401  (registers "mask_buffer")
from . import water as _water  # noqa: F401  (registers the water kernels)
