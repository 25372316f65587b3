"""Products: xarray in, xarray out, on whatever device the data lives (never CuPy or Numba here).

- :mod:`~landpulse.products.indices`: spectral indices in one fused pass, and the cloud mask;
- :mod:`~landpulse.products.masking`: mask rules of the classification bands, buffers in metres;
- :mod:`~landpulse.products.water`: water classification, summaries over periods, comparisons;
- :mod:`~landpulse.products.change`: bitemporal change, composites, trends, BFAST-Monitor;
- :mod:`~landpulse.products.temporal`: the window products of production runs (composites,
  water summaries, trends, clear-observation counts over a time window);
- :mod:`~landpulse.products.areas` and :mod:`~landpulse.products.provenance`: class areas in
  hectares, the provenance record every product carries;
- :mod:`~landpulse.products.registry`: the products production runs can compute (it knows the
  built-in ones from a declarative table, without importing their modules).

Importing this package imports none of its modules (they import xarray, Dask and the kernels):
``landpulse.products.indices`` and the others load on first use, so the registry and what reads
it (a job spec, a plan with nothing to do) stay cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from landpulse.products import change, indices, temporal, water

__all__ = ["change", "indices", "temporal", "water"]


def __getattr__(name: str) -> Any:
    """The submodules (``change``, ``provenance``...), imported on first access (PEP 562)."""
    if not name.startswith("_"):
        try:
            return importlib.import_module(f"landpulse.products.{name}")
        except ModuleNotFoundError as err:
            if err.name != f"landpulse.products.{name}":
                raise
    raise AttributeError(f"module 'landpulse.products' has no attribute {name!r}")
