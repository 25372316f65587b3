"""Block-shape helpers shared by the CPU and GPU kernel entries (no device knowledge here).

Kernels see raw blocks whose last two axes are ``(y, x)``. Any leading axes (time, band...)
are flattened into one "slice" axis, so one loop handles 2-D images and 3-D stacks alike.
Per-slice parameters (a scale and offset per date, for example) arrive as arrays that
broadcast against the leading axes and are flattened the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from landpulse.backend.transfers import to_host_array


def as_stack(block: Any) -> tuple[Any, tuple[int, ...]]:
    """Reshape ``(..., y, x)`` to ``(slices, y, x)``; return it and the leading shape.

    Works for NumPy and CuPy arrays (only ``.reshape`` is used; no copy for contiguous input).
    """
    if block.ndim < 2:
        raise ValueError(f"kernel blocks need at least 2 dimensions (y, x); got shape {block.shape}")
    lead = tuple(block.shape[:-2])
    n = int(np.prod(lead)) if lead else 1
    return block.reshape((n,) + tuple(block.shape[-2:])), lead


def per_slice(values: Any, lead: tuple[int, ...], dtype: Any = np.float32) -> np.ndarray:
    """Broadcast a per-slice parameter to the leading shape and flatten it (on the host).

    ``values`` may be a scalar, a 1-D vector over the first leading axis, or an array shaped
    like the leading axes followed by singleton ``(y, x)`` axes (what ``xarray.apply_ufunc``
    passes for a coordinate that varies along time only).
    """
    arr = np.asarray(to_host_array(values), dtype=dtype)
    while arr.ndim > len(lead) and arr.shape[-1] == 1:
        arr = arr[..., 0]
    return np.ascontiguousarray(np.broadcast_to(arr, lead).reshape(-1) if lead else arr.reshape(1))


def radiometry_vectors(scale: Any, offset: Any, lead: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Per-slice ``(scale, offset_dn)`` as float32 vectors, with the offset in DN units.

    Kernels compute reflectance as ``(DN + offset_dn) * scale``; ``offset_dn = offset / scale`` is
    formed in float64 on the host (-0.1 / 1e-4 = -1000 exactly), so integer offsets stay exact.

    Raises
    ------
    ValueError
        When a scale is zero or not finite.
    """
    s = per_slice(scale, lead, np.float64)
    o = per_slice(offset, lead, np.float64)
    if not np.all(np.isfinite(s)) or np.any(s == 0):
        raise ValueError(f"radiometric scale must be finite and non-zero; got {np.unique(s)}")
    return s.astype(np.float32), (o / s).astype(np.float32)


def core_to_front(block: Any, ncore: int, xp: Any = np) -> tuple[Any, tuple[int, ...]]:
    """``(..., core...)`` -> contiguous ``(core..., pixels)``; return it and the leading shape.

    ``xarray.apply_ufunc`` hands a kernel its core dimensions (time, band) last; the kernels work
    on ``(core..., pixels)``. For a Dask block of a ``(time, y, x)`` array the transposed view
    moves back to the original contiguous layout, so no copy is made.
    """
    nd = block.ndim
    axes = tuple(range(nd - ncore, nd)) + tuple(range(nd - ncore))
    moved = block.transpose(axes)
    core = tuple(moved.shape[:ncore])
    lead = tuple(moved.shape[ncore:])
    n = int(np.prod(lead)) if lead else 1
    return xp.ascontiguousarray(moved).reshape(core + (n,)), lead


def core_to_back(out: Any, lead: tuple[int, ...]) -> Any:
    """Inverse of :func:`core_to_front` for an output ``(core..., pixels)``: a ``(..., core...)`` view."""
    ncore = out.ndim - 1
    arr = out.reshape(tuple(out.shape[:-1]) + tuple(lead))
    axes = tuple(range(ncore, arr.ndim)) + tuple(range(ncore))
    return arr.transpose(axes)


def scaled_radiometry_vectors(scale: Any, offset: Any, lead: tuple[int, ...], factor: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`radiometry_vectors` for reflectance x ``factor`` (the WOfS tree works in reflectance
    x 10000): ``(scale * factor, offset_dn)`` as float32, products formed in float64 on the host.

    For Sentinel-2 (scale 1e-4) the scale becomes exactly 1.0, so integer digital numbers give
    exact reflectance x 10000 and thresholds such as 379 are met exactly.
    """
    s = per_slice(scale, lead, np.float64) * float(factor)
    o = per_slice(offset, lead, np.float64) * float(factor)
    if lead:
        s, o = s.reshape(lead), o.reshape(lead)
    return radiometry_vectors(s, o, lead)
