"""CPU NDVI kernel: one fused pass over two raw bands (Numba, parallel when called eagerly).

Two compiled drivers share the per-pixel function :func:`~.pixel.ndvi_from_dn`:

* ``_ndvi_parallel`` (``prange``) when called from the main thread on a whole array;
* ``_ndvi_serial`` (``nogil``) when called from a worker thread (a Dask task), where the
  scheduler already runs one task per core and nested thread pools would only oversubscribe.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from numba import njit, prange

from ..blocks import as_stack, radiometry_vectors
from ..registry import register
from ..validity import Validity
from .pixel import OUT_OF_RANGE_CLIP, OUT_OF_RANGE_NAN, ndvi_from_dn


@njit(parallel=True, nogil=True, cache=True)
def _ndvi_parallel(red, nir, rs, ro, ns, no, out, rv0, rv1, rv2, nv0, nv1, nv2, policy):  # type: ignore[no-untyped-def]
    nt, ny, nx = red.shape
    for k in prange(nt * ny):
        t = k // ny
        y = k - t * ny
        for x in range(nx):
            out[t, y, x] = ndvi_from_dn(red[t, y, x], nir[t, y, x], rs[t], ro[t], ns[t], no[t],
                                        rv0, rv1, rv2, nv0, nv1, nv2, policy)


@njit(nogil=True, cache=True)
def _ndvi_serial(red, nir, rs, ro, ns, no, out, rv0, rv1, rv2, nv0, nv1, nv2, policy):  # type: ignore[no-untyped-def]
    nt, ny, nx = red.shape
    for k in range(nt * ny):
        t = k // ny
        y = k - t * ny
        for x in range(nx):
            out[t, y, x] = ndvi_from_dn(red[t, y, x], nir[t, y, x], rs[t], ro[t], ns[t], no[t],
                                        rv0, rv1, rv2, nv0, nv1, nv2, policy)


def in_worker_thread() -> bool:
    """True inside Dask (or any non-main) threads: use the serial drivers there."""
    return threading.current_thread() is not threading.main_thread()


@register("ndvi", "cpu", splittable=True)
def ndvi(
    red: np.ndarray,
    nir: np.ndarray,
    red_scale: Any = 1.0,
    red_offset: Any = 0.0,
    nir_scale: Any = 1.0,
    nir_offset: Any = 0.0,
    *,
    red_valid: Validity = Validity(),
    nir_valid: Validity = Validity(),
    out_of_range: str = "nan",
) -> np.ndarray:
    """NDVI of raw blocks ``(..., y, x)``; float32 with NaN where invalid.

    Parameters
    ----------
    red, nir : numpy.ndarray
        Raw digital numbers (any integer or float dtype; cast to float32 per pixel).
    red_scale, red_offset, nir_scale, nir_offset : scalar or array
        Reflectance = DN * scale + offset, per leading slice (per date).
    red_valid, nir_valid : Validity
        ``(nodata, lo, hi)`` of the raw values (checked before scaling); NaN inputs are invalid too.
    out_of_range : {'nan', 'clip'}
        What happens to values outside [-1, 1] (possible only with negative reflectances).

    Returns
    -------
    numpy.ndarray
        float32, same shape as ``red``.
    """
    if red.shape != nir.shape:
        raise ValueError(f"red and nir blocks differ in shape: {red.shape} vs {nir.shape}")
    r3, lead = as_stack(np.ascontiguousarray(red))
    n3, _ = as_stack(np.ascontiguousarray(nir))
    out = np.empty(r3.shape, dtype=np.float32)
    policy = OUT_OF_RANGE_CLIP if out_of_range == "clip" else OUT_OF_RANGE_NAN
    driver = _ndvi_serial if in_worker_thread() else _ndvi_parallel
    driver(r3, n3, *radiometry_vectors(red_scale, red_offset, lead),
           *radiometry_vectors(nir_scale, nir_offset, lead), out, *map(float, red_valid), *map(float, nir_valid), policy)
    return out.reshape(red.shape)
