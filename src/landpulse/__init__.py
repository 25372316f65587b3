"""landpulse: land and water products from tiled Zarr satellite imagery, on GPUs or CPUs.

Notebook use is xarray in, xarray out::

    import landpulse
    ds = landpulse.open_store("scene.zarr")
    ndvi = landpulse.ndvi(ds)            # or ds.landpulse.ndvi()
    out = landpulse.indices(ds, ["ndvi", "mndwi", "nbr"], mask="auto")   # one pass, a Dataset
    wet = landpulse.water.index_water(ds)          # water maps; .summary(), .wofs(), .otsu_water()

``import landpulse`` needs no GPU, no CuPy and no cluster libraries.
"""

from . import accessor as _accessor  # noqa: F401  (registers ds.landpulse)
from . import (
    change,  # noqa: F401  (landpulse.change: change detection)
    water,  # noqa: F401  (landpulse.water: water extent)
)
from ._version import __version__
from .backend import device_info, set_options, to_device, to_host
from .bands import select_band, select_bands
from .catalogue import get_index, index_names
from .errors import (
    BackendUnavailableError,
    GridMismatchError,
    InputError,
    LandpulseError,
    MissingBandError,
    NotAZarrStoreError,
    RadiometryError,
    UnreadableInputError,
)
from .indices import indices, mask, ndvi
from .io import ingest, open_product, open_store, write_product
from .masking import Mask, clear_count
from .radiometry import band_radiometry, declare_radiometry, to_reflectance
from .sensors import get_sensor, sensors

__all__ = [
    "BackendUnavailableError",
    "GridMismatchError",
    "InputError",
    "LandpulseError",
    "Mask",
    "MissingBandError",
    "NotAZarrStoreError",
    "RadiometryError",
    "UnreadableInputError",
    "__version__",
    "band_radiometry",
    "change",
    "clear_count",
    "declare_radiometry",
    "device_info",
    "get_index",
    "get_sensor",
    "index_names",
    "indices",
    "ingest",
    "mask",
    "ndvi",
    "open_product",
    "open_store",
    "select_band",
    "select_bands",
    "sensors",
    "set_options",
    "to_device",
    "to_host",
    "to_reflectance",
    "water",
    "write_product",
]
