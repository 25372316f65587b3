"""landpulse: land and water products from tiled Zarr satellite imagery, on GPUs or CPUs.

Notebook use is xarray in, xarray out::

    import landpulse
    ds = landpulse.open_store("scene.zarr")
    ndvi = landpulse.ndvi(ds)            # or ds.landpulse.ndvi()
    out = landpulse.indices(ds, ["ndvi", "mndwi", "nbr"], mask="auto")   # one pass, a Dataset
    wet = landpulse.water.index_water(ds)          # water maps; .summary(), .wofs(), .otsu_water()

``import landpulse`` needs no GPU, no CuPy and no cluster libraries.

The package is layered; each layer imports only the ones below it:

- ``landpulse.spec``: domain data (sensors, bands, index catalogue and formula language,
  radiometry, saturation);
- ``landpulse.backend``: the only code that knows NumPy, CuPy and Dask (dispatch, kernels);
- ``landpulse.products``: xarray in, xarray out (indices, masks, water, change) and the product
  registry;
- ``landpulse.io``: reading imagery and writing products (Zarr, COG, STAC), knowing no production;
- ``landpulse.production``: job specs, plans, unit execution, commits, the ledger, clusters, runs
  and reports;
- the interface: this module's free functions, ``ds.landpulse`` (accessor), ``landpulse.viz`` and
  the ``landpulse`` command (``landpulse.cli``).
"""

import sys as _sys

from landpulse import accessor as _accessor  # noqa: F401  (registers ds.landpulse)
from landpulse._version import __version__
from landpulse.backend import device_info, set_options, to_device, to_host
from landpulse.errors import (
    BackendUnavailableError,
    GridMismatchError,
    InputError,
    LandpulseError,
    MissingBandError,
    NotAZarrStoreError,
    RadiometryError,
    UnreadableInputError,
)
from landpulse.io import ingest, open_product, open_store, write_product
from landpulse.products import change, water
from landpulse.products.indices import indices, mask, ndvi
from landpulse.products.masking import Mask, clear_count
from landpulse.spec.bands import select_band, select_bands
from landpulse.spec.index_catalogue import get_index, index_names
from landpulse.spec.radiometry import band_radiometry, declare_radiometry, to_reflectance
from landpulse.spec.sensors import get_sensor, sensors

# ``landpulse.water`` and ``landpulse.change`` are the public namespaces of the water and change
# products: ``import landpulse.water`` and ``from landpulse.change import composite`` keep working
_sys.modules[__name__ + ".water"] = water
_sys.modules[__name__ + ".change"] = change

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
