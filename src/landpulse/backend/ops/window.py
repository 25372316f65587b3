"""Device-neutral preparation of the fused window kernels (``window_reduce``), for both devices.

``apply_kernel`` hands a window kernel its blocks with the time dimension last (``(y, x, time)``
views of the ``(time, y, x)`` blocks Dask concatenated), ``apply_date_kernel`` as lists of the
stored ``(dates, y, x)`` blocks (never concatenated); both are viewed here (never copied), the
per-date radiometry is tabulated once (``codegen.host_arrays``, one slice per date) and the
method is coded. ``percentile_of_sorted`` is the array form of NumPy's linear
percentile the GPU entry uses (tested with NumPy against the CPU kernel).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from landpulse.backend.blocks import radiometry_vectors
from landpulse.backend.codegen import FusedProgram, host_arrays
from landpulse.backend.ops.fused import OUT_OF_RANGE_CLIP, OUT_OF_RANGE_NAN, split_inputs
from landpulse.backend.window_codegen import check_window_program

#: Reduction codes shared with :mod:`landpulse.backend.cpu.window_pixel`.
METHODS = {"median": 0, "max": 1, "percentile": 2, "count": 3}


class WindowInputs(NamedTuple):
    """What both devices' window entries launch with."""

    stacks: list[Any]                 # (time, y, x) blocks or lists of (y, x) dates: bands, then the class band
    tables: tuple[np.ndarray, ...]    # host (sc, of, va, cs), one slice per date
    lut: np.ndarray | None            # uint8 mask code per class value (programs with a class band)
    policy: int                       # OUT_OF_RANGE_NAN or OUT_OF_RANGE_CLIP
    method: int                       # METHODS code
    qfrac: float                      # percentile / 100
    pixels: tuple[int, int]           # (y, x) of the block


def check_window_request(program: FusedProgram, method: str, q: float) -> None:
    """Refuse a program the window kernels cannot run, an unknown method or a percentile outside
    [0, 100] (``ValueError``); the same checks for both devices."""
    check_window_program(program)
    if method not in METHODS:
        raise ValueError(f"window kernel method must be one of {sorted(METHODS)}; got {method!r}")
    if not 0.0 <= float(q) <= 100.0:
        raise ValueError(f"window kernel percentile must be in [0, 100]; got {q}")


def per_date(values: Any, nt: int) -> np.ndarray:
    """A scale or offset input as float64 host values, one per date (a scalar is repeated)."""
    arr = np.asarray(values.get() if hasattr(values, "get") else values, np.float64).reshape(-1)
    if arr.size == 1:
        return np.full(nt, arr[0])
    if arr.size != nt:
        raise ValueError(f"window kernel: a per-date radiometry input has {arr.size} values for {nt} dates")
    return arr


def date_slices(image: Any) -> list[Any]:
    """One ``(y, x)`` array per date of an image given as a list of ``(dates, y, x)`` blocks (the
    date-list form of :func:`landpulse.backend.date_blocks.apply_date_kernel`): views, never copies."""
    return [block[t] for block in image for t in range(block.shape[0])]


def window_inputs(program: FusedProgram, arrays: tuple[Any, ...], *, method: str, q: float, valid: Any,
                  constants: Any, lut: Any, out_of_range: str, prepare: Any = None) -> WindowInputs:
    """Split, check and lay out the positional inputs (images ``(y, x, time)``, or lists of
    ``(dates, y, x)`` blocks in date order; radiometry per date).

    Images given as lists come back as lists of ``(y, x)`` arrays, one per date; ``(y, x, time)``
    images as ``(time, y, x)`` views.

    Raises
    ------
    ValueError
        For an unknown method, a percentile outside [0, 100], blocks of different shapes or a
        block that is not ``(y, x, time)`` (or ``(dates, y, x)`` in a list).
    """
    check_window_request(program, method, q)
    bands, cls, scales, offsets = split_inputs(program, arrays)
    images = [*bands, *([cls] if cls is not None else [])]
    if program.has_class and lut is None:
        raise ValueError("the program reads a class band but no lookup table was given")
    stacks: list[Any]
    if all(isinstance(a, (list, tuple)) for a in images):
        if any(b.ndim != 3 for a in images for b in a):
            raise ValueError("window kernel: a list input must hold (dates, y, x) blocks")
        stacks = [date_slices(a) for a in images]
        shapes = {tuple(s.shape) for st in stacks for s in st}
        if len(shapes) > 1 or len({len(st) for st in stacks}) != 1:
            raise ValueError(f"window kernel blocks must share one (y, x) shape and one number of dates; got "
                             f"{sorted(shapes)} and {[len(st) for st in stacks]} dates")
        nt = len(stacks[0])
        dtypes = [st[0].dtype if st else np.dtype(np.float32) for st in stacks]
        first = images[0][0] if images[0] else None
        pixels = (int(first.shape[1]), int(first.shape[2])) if first is not None else (0, 0)
    else:
        if any(a.ndim != 3 for a in images) or len({tuple(a.shape) for a in images}) != 1:
            raise ValueError(f"window kernel blocks must share one (y, x, time) shape; got {[a.shape for a in images]}")
        # (time, y, x) views, not copies: the kernels index them with their strides (a copy of the
        # block would cost about as much as the kernel itself)
        stacks = [a.transpose(2, 0, 1) if prepare is None else prepare(a.transpose(2, 0, 1)) for a in images]
        nt = stacks[0].shape[0]
        dtypes = [a.dtype for a in stacks]
        pixels = (int(stacks[0].shape[1]), int(stacks[0].shape[2]))
    vecs = [radiometry_vectors(per_date(s, nt), per_date(o, nt), (nt,)) for s, o in zip(scales, offsets, strict=True)]
    tables = host_arrays(program, [v[0] for v in vecs], [v[1] for v in vecs], valid, constants, nt,
                         dtypes[: program.n_bands])
    policy = OUT_OF_RANGE_CLIP if out_of_range == "clip" else OUT_OF_RANGE_NAN
    return WindowInputs(stacks, tables, np.ascontiguousarray(lut, np.uint8) if program.has_class else None, policy,
                        METHODS[method], float(q) / 100.0, pixels)


def percentile_of_sorted(xp: Any, srt: Any, n: Any, qfrac: float) -> Any:
    """Linear percentile (as ``numpy.nanpercentile`` of float32 values with a Python-float ``q``)
    of ``(time, ...)`` float32 values sorted along time with NaN last, ``n`` valid per pixel.

    Returns float32, NaN where ``n == 0``.
    """
    n64 = n.astype(xp.int64)
    h = qfrac * xp.maximum(n64 - 1, 0).astype(xp.float64)
    lo = xp.floor(h).astype(xp.int64)
    hi = xp.minimum(lo + 1, xp.maximum(n64 - 1, 0))
    g = h - lo
    a = xp.take_along_axis(srt, lo[None], axis=0)[0]
    b = xp.take_along_axis(srt, hi[None], axis=0)[0]
    d = b - a
    low = a + d * g.astype(xp.float32)
    high = b - d * (1.0 - g).astype(xp.float32)
    out = xp.where(g >= 0.5, high, low).astype(xp.float32)
    return xp.where(n64 > 0, out, xp.float32(np.nan))
