"""``ds.landpulse``: a thin accessor over the free functions (the functions are the API)."""

from __future__ import annotations

from typing import Any

import xarray as xr


@xr.register_dataset_accessor("landpulse")
class LandpulseAccessor:
    """Dataset accessor: ``ds.landpulse.ndvi()`` is ``landpulse.ndvi(ds)``, ``ds.landpulse.indices([...])`` is ``landpulse.indices(ds, [...])``."""

    def __init__(self, ds: xr.Dataset) -> None:
        self._ds = ds

    def ndvi(self, **kwargs: Any) -> xr.DataArray:
        """See :func:`landpulse.ndvi`."""
        from .indices import ndvi  # noqa: PLC0415

        return ndvi(self._ds, **kwargs)

    def indices(self, names: Any, **kwargs: Any) -> xr.Dataset:
        """See :func:`landpulse.indices`."""
        from .indices import indices  # noqa: PLC0415

        return indices(self._ds, names, **kwargs)

    def mask(self, mask: Any = "auto") -> xr.DataArray:
        """See :func:`landpulse.mask`."""
        from .indices import mask as make_mask  # noqa: PLC0415

        return make_mask(self._ds, mask)

    def to_reflectance(self, band: str) -> xr.DataArray:
        """See :func:`landpulse.to_reflectance` (``band`` is a common name or variable)."""
        from .bands import select_band  # noqa: PLC0415
        from .radiometry import to_reflectance  # noqa: PLC0415

        return to_reflectance(select_band(self._ds, band), band)
