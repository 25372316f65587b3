"""``ds.landpulse``: a thin accessor over the free functions (the functions are the API)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import xarray as xr

from landpulse.errors import InputError
from landpulse.products import water
from landpulse.products.indices import indices, ndvi
from landpulse.products.indices import mask as make_mask
from landpulse.products.water import summary, wofs
from landpulse.spec.bands import select_band
from landpulse.spec.radiometry import to_reflectance


@xr.register_dataset_accessor("landpulse")
class LandpulseAccessor:
    """Dataset accessor: ``ds.landpulse.ndvi()`` is ``landpulse.ndvi(ds)``, ``ds.landpulse.indices([...])`` is ``landpulse.indices(ds, [...])``."""

    def __init__(self, ds: xr.Dataset) -> None:
        self._ds = ds

    def ndvi(self, **kwargs: Any) -> xr.DataArray:
        """See :func:`landpulse.ndvi`."""
        return ndvi(self._ds, **kwargs)

    def indices(self, names: Any, **kwargs: Any) -> xr.Dataset:
        """See :func:`landpulse.indices`."""
        return indices(self._ds, names, **kwargs)

    def mask(self, mask: Any = "auto") -> xr.DataArray:
        """See :func:`landpulse.mask`."""
        return make_mask(self._ds, mask)

    def water(self, method: str = "index", **kwargs: Any) -> xr.Dataset:
        """Per-scene water maps: ``method='index'`` (:func:`landpulse.products.water.index_water`),
        ``'otsu'`` (:func:`landpulse.products.water.otsu_water`) or ``'wofs'`` (:func:`landpulse.products.water.wofs`)."""

        functions: dict[str, Callable[..., xr.Dataset]] = {
            "index": water.index_water, "otsu": water.otsu_water, "wofs": water.wofs}
        if method not in functions:
            raise InputError(f"water method must be one of {', '.join(functions)}; got {method!r}")
        return functions[method](self._ds, **kwargs)

    def wofs(self, **kwargs: Any) -> xr.Dataset:
        """See :func:`landpulse.products.water.wofs`."""
        return wofs(self._ds, **kwargs)

    def water_summary(self, method: str = "index", *, start: Any = None, end: Any = None,
                      summary_kwargs: dict[str, Any] | None = None, **kwargs: Any) -> xr.Dataset:
        """Water maps by ``method`` (see :meth:`water`), then :func:`landpulse.products.water.summary` over
        ``start``..``end`` (``summary_kwargs``: ``min_clear``, ``seasonal``, ``permanent``...)."""
        return summary(self.water(method, **kwargs), start=start, end=end, **(summary_kwargs or {}))

    def to_reflectance(self, band: str) -> xr.DataArray:
        """See :func:`landpulse.to_reflectance` (``band`` is a common name or variable)."""
        return to_reflectance(select_band(self._ds, band), band)
