"""The kernel registry: one CPU entry and one GPU entry per operation, with the same signature.

A kernel is a pure function on raw blocks: ``kernel(arrays..., *, scalars...) -> array(s)``.
The CPU entry (NumPy in, NumPy out, Numba inside) is the reference; the GPU entry (CuPy in,
CuPy out, CUDA C from ``kernels/`` inside) must agree with it within the tolerance each product
states. Providers register on import; they are imported lazily, so asking for a CPU kernel never
imports CuPy.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from landpulse.backend.device import Device, cupy_module
from landpulse.errors import LandpulseError

Kernel = Callable[..., Any]

_REGISTRY: dict[tuple[str, str], Kernel] = {}
_SPLITTABLE: set[str] = set()
_DATE_LISTS: set[tuple[str, str]] = set()
_PROVIDERS: dict[str, str] = {
    "cpu": "landpulse.backend.cpu",
    "gpu": "landpulse.backend.gpu",
}


def register(op: str, device: Device, *, splittable: bool = False,
             date_lists: bool = False) -> Callable[[Kernel], Kernel]:
    """Decorator: register ``func`` as the ``device`` implementation of ``op``.

    ``splittable``: the kernel is independent per row (pixel-wise or per-pixel time series), so a
    block may be computed in pieces along y (used to survive GPU out-of-memory).
    ``date_lists``: the kernel also takes each image as a list of ``(dates, y, x)`` blocks
    (:func:`landpulse.backend.date_blocks.apply_date_kernel`).
    """

    def deco(func: Kernel) -> Kernel:
        if splittable:
            _SPLITTABLE.add(op)
        if date_lists:
            _DATE_LISTS.add((op, device))
        key = (op, device)
        if key in _REGISTRY and _REGISTRY[key] is not func:
            raise LandpulseError(f"kernel {op!r} for {device} registered twice")
        _REGISTRY[key] = func
        return func

    return deco


def get_kernel(op: str, device: Device) -> Kernel:
    """Return the ``device`` implementation of ``op``, importing its provider on first use.

    Raises
    ------
    LandpulseError
        When no such kernel exists (a programming error, not a user error).
    """
    key = (op, device)
    if device == "gpu":
        cupy_module()  # a clear BackendUnavailableError naming the extra, not an ImportError later
    if key not in _REGISTRY:
        importlib.import_module(_PROVIDERS[device])
    try:
        return _REGISTRY[key]
    except KeyError:
        known = sorted(o for o, d in _REGISTRY if d == device)
        raise LandpulseError(f"no {device} kernel named {op!r}; known: {known}") from None


def registered_ops(device: Device) -> list[str]:
    """Names of the operations ``device`` implements (imports the provider)."""
    importlib.import_module(_PROVIDERS[device])
    return sorted(o for o, d in _REGISTRY if d == device)


def takes_date_lists(op: str, device: Device) -> bool:
    """Whether the ``device`` kernel of ``op`` takes its images as lists of ``(dates, y, x)`` blocks."""
    get_kernel(op, device)
    return (op, device) in _DATE_LISTS


def is_splittable(op: str) -> bool:
    """Whether ``op`` may be computed on pieces of a block split along y."""
    return op in _SPLITTABLE
