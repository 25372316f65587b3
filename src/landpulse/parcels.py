"""Parcel statistics, the public API: ``landpulse.parcels.zonal_stats(product, parcels)``.

Read parcels (:func:`read_parcels`), build their coverage weights once per grid
(:func:`parcel_weights`), reduce any product per parcel and date (:func:`zonal_stats`), write the
long table (:func:`write_parcel_stats`) and its STAC item (:func:`parcel_stats_item`); over several
tiles, parcels across their edges combined exactly (:func:`zonal_stats_tiles`).
:func:`generate_parcels` makes GENERATED field layouts for tests and demonstrations.
"""

from landpulse.io.parcels import parcel_stats_item, read_parcel_stats, read_parcels, write_parcel_stats
from landpulse.products.parcels import generate_parcels, parcel_weights, zonal_stats
from landpulse.products.parcels.tiles import zonal_stats_tiles

__all__ = ["generate_parcels", "parcel_stats_item", "parcel_weights", "read_parcel_stats", "read_parcels",
           "write_parcel_stats", "zonal_stats", "zonal_stats_tiles"]
