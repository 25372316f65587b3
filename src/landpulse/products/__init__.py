"""Products: xarray in, xarray out, on whatever device the data lives (never CuPy or Numba here).

- :mod:`~landpulse.products.indices`: spectral indices in one fused pass, and the cloud mask;
- :mod:`~landpulse.products.masking`: mask rules of the classification bands, buffers in metres;
- :mod:`~landpulse.products.water`: water classification, summaries over periods, comparisons;
- :mod:`~landpulse.products.change`: bitemporal change, composites, trends, BFAST-Monitor;
- :mod:`~landpulse.products.temporal`: the window products of production runs (composites,
  water summaries, trends, clear-observation counts over a time window);
- :mod:`~landpulse.products.areas` and :mod:`~landpulse.products.provenance`: class areas in
  hectares, the provenance record every product carries;
- :mod:`~landpulse.products.registry`: the products production runs can compute (importing this
  package registers the built-in ones).
"""

from landpulse.products import change, indices, temporal, water

__all__ = ["change", "indices", "temporal", "water"]
