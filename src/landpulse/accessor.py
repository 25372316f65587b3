"""``ds.landpulse``: a thin accessor over the free functions (the functions are the API).

Registering it costs only xarray: each method imports the function it calls when it is first
called (``import landpulse`` registers the accessor as soon as xarray is imported, see
``landpulse/__init__.py``, and a command that never computes a product must not load the kernels).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import rioxarray  # noqa: F401  (registers `.rio`, which landpulse functions rely on wherever xarray is used)
import xarray as xr

from landpulse.errors import InputError


@xr.register_dataset_accessor("landpulse")
class LandpulseAccessor:
    """Dataset accessor: ``ds.landpulse.ndvi()`` is ``landpulse.ndvi(ds)``, ``ds.landpulse.indices([...])`` is ``landpulse.indices(ds, [...])``."""

    def __init__(self, ds: xr.Dataset) -> None:
        self._ds = ds

    def ndvi(self, **kwargs: Any) -> xr.DataArray:
        """See :func:`landpulse.ndvi`."""
        from landpulse.products.indices import ndvi

        return ndvi(self._ds, **kwargs)

    def indices(self, names: Any, **kwargs: Any) -> xr.Dataset:
        """See :func:`landpulse.indices`."""
        from landpulse.products.indices import indices

        return indices(self._ds, names, **kwargs)

    def mask(self, mask: Any = "auto") -> xr.DataArray:
        """See :func:`landpulse.mask`."""
        from landpulse.products.indices import mask as make_mask

        return make_mask(self._ds, mask)

    def water(self, method: str = "index", **kwargs: Any) -> xr.Dataset:
        """Per-scene water maps: ``method='index'`` (:func:`landpulse.products.water.index_water`),
        ``'otsu'`` (:func:`landpulse.products.water.otsu_water`) or ``'wofs'`` (:func:`landpulse.products.water.wofs`)."""
        from landpulse.products import water

        functions: dict[str, Callable[..., xr.Dataset]] = {
            "index": water.index_water, "otsu": water.otsu_water, "wofs": water.wofs}
        if method not in functions:
            raise InputError(f"water method must be one of {', '.join(functions)}; got {method!r}")
        return functions[method](self._ds, **kwargs)

    def wofs(self, **kwargs: Any) -> xr.Dataset:
        """See :func:`landpulse.products.water.wofs`."""
        from landpulse.products.water import wofs

        return wofs(self._ds, **kwargs)

    def water_summary(self, method: str = "index", *, start: Any = None, end: Any = None,
                      summary_kwargs: dict[str, Any] | None = None, **kwargs: Any) -> xr.Dataset:
        """Water maps by ``method`` (see :meth:`water`), then :func:`landpulse.products.water.summary` over
        ``start``..``end`` (``summary_kwargs``: ``min_clear``, ``seasonal``, ``permanent``...)."""
        from landpulse.products.water import summary

        return summary(self.water(method, **kwargs), start=start, end=end, **(summary_kwargs or {}))

    def to_reflectance(self, band: str) -> xr.DataArray:
        """See :func:`landpulse.to_reflectance` (``band`` is a common name or variable)."""
        from landpulse.spec.bands import select_band
        from landpulse.spec.radiometry import to_reflectance

        return to_reflectance(select_band(self._ds, band), band)
