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

import importlib as _importlib
import importlib.abc as _importlib_abc
import importlib.machinery as _machinery
import sys as _sys
from typing import TYPE_CHECKING, Any

from landpulse._lazy import lazy_attributes as _lazy_attributes
from landpulse._version import __version__
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

if TYPE_CHECKING:
    from landpulse.backend import device_info, set_options, to_device, to_host
    from landpulse.io import ingest, open_product, open_store, write_product
    from landpulse.products import change, water
    from landpulse.products.indices import indices, mask, ndvi
    from landpulse.products.masking import Mask, clear_count
    from landpulse.spec.bands import select_band, select_bands
    from landpulse.spec.index_catalogue import get_index, index_names
    from landpulse.spec.radiometry import band_radiometry, declare_radiometry, to_reflectance
    from landpulse.spec.sensors import get_sensor, sensors

# Start-up: ``import landpulse`` (which every ``landpulse`` command runs first) loads only the
# version and the error types. Each public name below is imported from its module on first use
# (PEP 562), so ``landpulse --help`` or a run with nothing to do never loads xarray, Dask, Numba,
# rasterio or matplotlib for names it does not touch.
_LAZY = {
    "device_info": "landpulse.backend", "set_options": "landpulse.backend", "to_device": "landpulse.backend",
    "to_host": "landpulse.backend",
    "ingest": "landpulse.io", "open_product": "landpulse.io", "open_store": "landpulse.io",
    "write_product": "landpulse.io",
    "change": "landpulse.products", "water": "landpulse.products",
    "indices": "landpulse.products.indices", "mask": "landpulse.products.indices", "ndvi": "landpulse.products.indices",
    "Mask": "landpulse.products.masking", "clear_count": "landpulse.products.masking",
    "select_band": "landpulse.spec.bands", "select_bands": "landpulse.spec.bands",
    "get_index": "landpulse.spec.index_catalogue", "index_names": "landpulse.spec.index_catalogue",
    "band_radiometry": "landpulse.spec.radiometry", "declare_radiometry": "landpulse.spec.radiometry",
    "to_reflectance": "landpulse.spec.radiometry",
    "get_sensor": "landpulse.spec.sensors", "sensors": "landpulse.spec.sensors",
}

#: ``landpulse.water`` and ``landpulse.change`` are the public namespaces of the water and change
#: products: ``import landpulse.water`` and ``from landpulse.change import composite`` keep working.
_ALIASES = {__name__ + ".water": "landpulse.products.water", __name__ + ".change": "landpulse.products.change"}


__getattr__, __dir__ = _lazy_attributes(globals(), _LAZY)


class _AliasLoader(_importlib_abc.Loader):
    """Loads ``landpulse.water`` as the module ``landpulse.products.water`` itself (one module, two names)."""

    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: _machinery.ModuleSpec) -> Any:
        return _importlib.import_module(self.target)

    def exec_module(self, module: Any) -> None:
        """Nothing to run: the target module is already executed."""


class _Hooks(_importlib_abc.MetaPathFinder):
    """The two imports ``import landpulse`` used to do eagerly, done when they are needed: the
    product namespaces' aliases, and ``ds.landpulse`` (registered right after xarray is imported,
    by whoever imports it)."""

    _busy = False

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> _machinery.ModuleSpec | None:
        if fullname in _ALIASES:
            return _machinery.ModuleSpec(fullname, _AliasLoader(_ALIASES[fullname]))
        if fullname != "xarray" or self._busy:
            return None
        self._busy = True
        try:  # whichever finder would have found xarray (a path entry, an editable install...)
            spec = next((s for f in _sys.meta_path if f is not self and hasattr(f, "find_spec")
                         for s in [f.find_spec(fullname, path, target)] if s is not None), None)
        finally:
            self._busy = False
        loader = spec.loader if spec is not None else None
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        run = loader.exec_module

        def exec_module(module: Any) -> None:
            run(module)
            _importlib.import_module("landpulse.accessor")  # registers ds.landpulse

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


if "xarray" in _sys.modules:
    from landpulse import accessor as _accessor  # noqa: F401  (registers ds.landpulse)
_sys.meta_path.insert(0, _Hooks())

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
