"""Per-parcel statistics of any product (xarray in, a long pandas table out) and generated field
layouts for tests and benchmarks."""

from landpulse.products.parcels.layout import generate_parcels
from landpulse.products.parcels.stats import parcel_weights, zonal_stats

__all__ = ["generate_parcels", "parcel_weights", "zonal_stats"]
