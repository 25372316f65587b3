"""Reading and writing: band files and STAC items in, Zarr v3 stores and STAC items out."""

from landpulse.io.ingest import choose_chunk, ingest
from landpulse.io.inpe import read_inpe_metadata, scene_from_inpe
from landpulse.io.products import open_product, write_product
from landpulse.io.scenes import BandSource, Scene, scene_from_files, scene_from_stac_item
from landpulse.io.store import is_zarr_store, open_store, write_zarr

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
