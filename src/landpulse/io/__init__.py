"""Reading and writing: band files and STAC items in, Zarr v3 stores and STAC items out.

The names below are imported from their modules on first use (PEP 562): ``from landpulse.io.store
import ...`` (what the job spec and the planner need) then loads neither rasterio nor rioxarray.
"""

import sys as _sys
import types as _types
from typing import TYPE_CHECKING, Any

from landpulse._lazy import lazy_attributes as _lazy_attributes

if TYPE_CHECKING:
    from landpulse.io.ingest import choose_chunk, ingest
    from landpulse.io.inpe import read_inpe_metadata, scene_from_inpe
    from landpulse.io.products import open_product, write_product
    from landpulse.io.scenes import BandSource, Scene, scene_from_files, scene_from_stac_item
    from landpulse.io.store import is_zarr_store, open_store, write_zarr

_LAZY = {
    "choose_chunk": "landpulse.io.ingest", "ingest": "landpulse.io.ingest",
    "read_inpe_metadata": "landpulse.io.inpe", "scene_from_inpe": "landpulse.io.inpe",
    "open_product": "landpulse.io.products", "write_product": "landpulse.io.products",
    "BandSource": "landpulse.io.scenes", "Scene": "landpulse.io.scenes", "scene_from_files": "landpulse.io.scenes",
    "scene_from_stac_item": "landpulse.io.scenes",
    "is_zarr_store": "landpulse.io.store", "open_store": "landpulse.io.store", "write_zarr": "landpulse.io.store",
}


__getattr__, __dir__ = _lazy_attributes(globals(), _LAZY)


class _Package(_types.ModuleType):
    """``landpulse.io.ingest`` is the function, as when this package imported it eagerly: importing
    the submodule of the same name (which sets the package's attribute to the module) keeps it."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "ingest" and isinstance(value, _types.ModuleType):
            value = value.ingest
        super().__setattr__(name, value)


_sys.modules[__name__].__class__ = _Package


__all__ = [
    "BandSource",
    "Scene",
    "choose_chunk",
    "ingest",
    "is_zarr_store",
    "open_product",
    "open_store",
    "read_inpe_metadata",
    "scene_from_files",
    "scene_from_inpe",
    "scene_from_stac_item",
    "write_product",
    "write_zarr",
]
