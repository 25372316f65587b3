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

    def water(self, method: str = "index", **kwargs: Any) -> xr.Dataset:
        """Per-scene water maps: ``method='index'`` (:func:`landpulse.water.index_water`),
        ``'otsu'`` (:func:`landpulse.water.otsu_water`) or ``'wofs'`` (:func:`landpulse.water.wofs`)."""
        from . import water  # noqa: PLC0415

        functions = {"index": water.index_water, "otsu": water.otsu_water, "wofs": water.wofs}
        if method not in functions:
            from .errors import InputError  # noqa: PLC0415

            raise InputError(f"water method must be one of {', '.join(functions)}; got {method!r}")
        return functions[method](self._ds, **kwargs)

    def wofs(self, **kwargs: Any) -> xr.Dataset:
        """See :func:`landpulse.water.wofs`."""
        from .water import wofs  # noqa: PLC0415

        return wofs(self._ds, **kwargs)

    def water_summary(self, method: str = "index", *, start: Any = None, end: Any = None,
                      summary_kwargs: dict[str, Any] | None = None, **kwargs: Any) -> xr.Dataset:
        """Water maps by ``method`` (see :meth:`water`), then :func:`landpulse.water.summary` over
        ``start``..``end`` (``summary_kwargs``: ``min_clear``, ``seasonal``, ``permanent``...)."""
        from .water import summary  # noqa: PLC0415

        return summary(self.water(method, **kwargs), start=start, end=end, **(summary_kwargs or {}))

    def to_reflectance(self, band: str) -> xr.DataArray:
        """See :func:`landpulse.to_reflectance` (``band`` is a common name or variable)."""
        from .bands import select_band  # noqa: PLC0415
        from .radiometry import to_reflectance  # noqa: PLC0415

        return to_reflectance(select_band(self._ds, band), band)
