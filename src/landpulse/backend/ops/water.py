"""Device-neutral preparation of the water kernels: positional inputs split and checked, host
tables of the WOfS tree (both devices' entries use these)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from landpulse.backend.blocks import scaled_radiometry_vectors
from landpulse.backend.validity import Validity, limits_for_dtype

#: The WOfS tree thresholds are in surface reflectance x 10000.
WOFS_REFLECTANCE_FACTOR = 10000.0


def threshold_inputs(index: Any, rest: tuple[Any, ...], has_mask: bool) -> tuple[Any | None, Any]:
    """``(codes or None, threshold)`` from the positional inputs, checked (both devices)."""
    if len(rest) != (2 if has_mask else 1):
        raise ValueError(f"water_threshold expects {'codes and ' if has_mask else ''}a threshold; got {len(rest)} inputs")
    codes = rest[0] if has_mask else None
    if codes is not None and codes.shape != index.shape:
        raise ValueError(f"index and mask blocks differ in shape: {index.shape} vs {codes.shape}")
    return codes, rest[-1]


def wofs_inputs(arrays: tuple[Any, ...], has_class: bool,
                lut: np.ndarray | None) -> tuple[list[Any], Any, list[Any], list[Any]]:
    """``(six bands, class block or None, six scales, six offsets)`` from the positional inputs,
    checked (same shapes; a table when there is a classification band) for both devices."""
    n_img = 6 + (1 if has_class else 0)
    if len(arrays) != n_img + 12:
        raise ValueError(f"wofs expects {n_img} images and 12 radiometry inputs; got {len(arrays)}")
    bands = list(arrays[:6])
    q = arrays[6] if has_class else None
    shape = bands[0].shape
    if any(b.shape != shape for b in bands) or (q is not None and q.shape != shape):
        raise ValueError(f"wofs blocks differ in shape: {[b.shape for b in bands]}")
    if has_class and lut is None:
        raise ValueError("wofs reads a classification band but no lookup table was given")
    params = arrays[n_img:]
    return bands, q, list(params[:6]), list(params[6:])


def wofs_host_arrays(scales: list[Any], offsets: list[Any], valid: Any, lead: tuple[int, ...],
                     band_dtypes: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(sc, of, va)``: (6, slices) scale to reflectance x 10000 and offset in DN, (6, 3) validity
    prepared for each band's dtype (:func:`landpulse.backend.validity.limits_for_dtype`)."""
    ns = int(np.prod(lead)) if lead else 1
    sc = np.empty((6, ns), np.float32)
    of = np.empty((6, ns), np.float32)
    for b in range(6):
        sc[b], of[b] = scaled_radiometry_vectors(scales[b], offsets[b], lead, WOFS_REFLECTANCE_FACTOR)
    rows = [limits_for_dtype(Validity(*v), dt) for v, dt in zip(np.asarray(valid, np.float64).reshape(6, 3), band_dtypes, strict=True)]
    va = np.ascontiguousarray(np.asarray(rows, np.float64).reshape(6, 3))
    return sc, of, va
