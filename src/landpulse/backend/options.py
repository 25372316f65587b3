"""Process-wide options of the compute backend: ``LANDPULSE_BACKEND`` and :func:`set_options`.

``backend`` decides whether landpulse *moves* data to the GPU:

``auto`` (default)
    use the GPU when CuPy imports and a CUDA device is present, otherwise the CPU;
``cpu``
    never move data to the GPU (arrays already on the GPU still run GPU kernels);
``gpu``
    always use the GPU; an error names the extra to install when it is not available.

The environment variable ``LANDPULSE_BACKEND`` sets the default; :func:`set_options` overrides it
for a block of code (it is thread-safe for reading, and meant to be used by one thread at a time).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from typing import Literal, get_args

from landpulse.errors import InputError

BackendName = Literal["auto", "cpu", "gpu"]
_VALID: tuple[str, ...] = get_args(BackendName)
_local = threading.local()
_global_overrides: dict[str, str] = {}


def _validate(value: str, source: str) -> BackendName:
    value = value.strip().lower()
    if value not in _VALID:
        raise InputError(
            f"{source} must be one of {', '.join(_VALID)}; got {value!r}"
        )
    return value  # type: ignore[return-value]


def get_backend_option() -> BackendName:
    """Return the requested backend: ``set_options`` first, then ``LANDPULSE_BACKEND``, then auto.

    Returns
    -------
    {'auto', 'cpu', 'gpu'}
    """
    if "backend" in _global_overrides:
        return _global_overrides["backend"]  # type: ignore[return-value]
    env = os.environ.get("LANDPULSE_BACKEND")
    if env:
        return _validate(env, "LANDPULSE_BACKEND")
    return "auto"


@contextlib.contextmanager
def set_options(*, backend: BackendName | None = None) -> Iterator[None]:
    """Set landpulse options for the duration of a ``with`` block.

    Parameters
    ----------
    backend : {'auto', 'cpu', 'gpu'}, optional
        Which device computes products (see the module docstring).

    Examples
    --------
    >>> import landpulse
    >>> with landpulse.set_options(backend="cpu"):
    ...     pass
    """
    previous = dict(_global_overrides)
    if backend is not None:
        _global_overrides["backend"] = _validate(backend, "backend")
    try:
        yield
    finally:
        _global_overrides.clear()
        _global_overrides.update(previous)
