"""CPU entry of the fused window kernel (``window_reduce``): a Numba module generated per program.

The source from :func:`landpulse.backend.window_codegen.numba_window_source` is cached on disk like
the fused index kernels' (:func:`landpulse.backend.cpu.fused.load_source`). A Dask worker thread
runs it serially over the block's rows (the scheduler already runs one task per core); an eager
call from the main thread runs ``prange`` over row chunks.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from landpulse.backend.codegen import FusedProgram
from landpulse.backend.cpu.fused import load_source
from landpulse.backend.cpu.threads import in_worker_thread, pixel_chunks
from landpulse.backend.cpu.window_pixel import MEDIAN, NETWORK_MAX_DATES, PERCENTILE, strip_width
from landpulse.backend.ops.window import window_inputs
from landpulse.backend.registry import register
from landpulse.backend.sorting_network import sorting_network
from landpulse.backend.window_codegen import numba_window_source


def clear_class_bits(lut: np.ndarray, class_dtype: np.dtype) -> tuple[np.uint32, bool]:
    """``(bits, usable)``: bit ``c`` of ``bits`` set where class ``c`` (< 32) is clear (mask code 0),
    usable when the class band is an integer of at most 16 bits and no clear class is 32 or above
    (then the kernel tests a bit instead of looking the class up in ``lut``)."""
    clear = np.flatnonzero(np.asarray(lut) == 0)
    usable = class_dtype.kind in "iu" and class_dtype.itemsize <= 2 and bool((clear < 32).all())
    return np.uint32(sum(1 << int(c) for c in clear if c < 32)), usable


def date_addresses(stack: Any, ny: int, nx: int) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """One image's dates as the generated kernel takes them: ``(addresses, like, keep)``.

    ``addresses``: int64, the data address of each date's C-ordered ``(ny, nx)`` array; ``like``: an
    empty array of their dtype; ``keep``: the arrays themselves, to be held until the kernel
    returns. Views are used where they already are C-ordered; other dates are copied.

    Raises
    ------
    ValueError
        Where the dates differ in dtype or shape.
    """
    keep = [d if d.flags.c_contiguous else np.ascontiguousarray(d) for d in stack]
    dtypes = {d.dtype for d in keep}
    if len(dtypes) > 1 or any(d.shape != (ny, nx) for d in keep):
        raise ValueError(f"window kernel: the dates of one image differ in dtype or shape ({sorted(map(str, dtypes))}, "
                         f"{sorted({d.shape for d in keep})})")
    addresses = np.array([d.__array_interface__["data"][0] for d in keep], np.int64)
    return addresses, np.empty((0, 0), keep[0].dtype), keep


@register("window_reduce", "cpu", splittable=True, date_lists=True)
def window_reduce(
    *arrays: Any,
    program: FusedProgram,
    method: str = "median",
    q: float = 50.0,
    valid: tuple[tuple[float, float, float], ...] = (),
    constants: tuple[float, ...] = (),
    lut: np.ndarray | None = None,
    out_of_range: str = "nan",
) -> tuple[np.ndarray, np.ndarray]:
    """One index of raw blocks, masked and reduced over the window's dates, in one pass per block.

    Parameters
    ----------
    *arrays : numpy.ndarray or list of numpy.ndarray
        ``program.n_bands`` raw band blocks ``(y, x, time)`` (any integer or float dtype), or
        lists of ``(dates, y, x)`` blocks in date order (:func:`landpulse.backend.date_blocks.apply_date_kernel`),
        then the classification block when ``program.has_class``, then one scale and one offset
        per band (a scalar or one value per date; reflectance = DN * scale + offset).
    program : FusedProgram
        Exactly one index (:func:`landpulse.backend.window_codegen.check_window_program`).
    method : {'median', 'max', 'percentile', 'count'}
        The reduction over the valid observations (see :mod:`landpulse.backend.cpu.window_pixel`).
    q : float
        Percentile in [0, 100] of ``method='percentile'``.
    valid, constants, lut, out_of_range
        As for the fused index kernel (``indices``).

    Returns
    -------
    tuple of numpy.ndarray
        ``(y, x)`` float32 values (NaN where no observation is valid; NaN for ``count``) and
        uint16 counts of the valid observations.
    """
    w = window_inputs(program, arrays, method=method, q=q, valid=valid, constants=constants, lut=lut,
                      out_of_range=out_of_range)
    ny, nx = w.pixels
    val = np.empty((ny, nx), np.float32)
    cnt = np.empty((ny, nx), np.uint16)
    nt = len(w.stacks[0])
    if nt == 0:
        val.fill(np.nan)
        cnt.fill(0)
        return val, cnt
    dates = [date_addresses(s, ny, nx) for s in w.stacks]  # the arrays stay referenced until the kernel returns
    args: list[Any] = [d[0] for d in dates[: program.n_bands]] + [d[1] for d in dates[: program.n_bands]]
    if w.lut is not None:
        bits, usebits = clear_class_bits(w.lut, dates[-1][1].dtype)
        args += [dates[-1][0], dates[-1][1], w.lut, np.int64(w.lut.shape[0]), bits, usebits]
    usenet = w.method in (MEDIAN, PERCENTILE) and nt <= NETWORK_MAX_DATES
    net = sorting_network(nt) if usenet else sorting_network(0)
    args += [*w.tables, val, cnt, np.int64(w.policy), np.int64(w.method), np.float64(w.qfrac), net, usenet,
             np.int64(strip_width(nt))]
    if ny and nx:
        mod = load_source(numba_window_source(program), "lp_window")
        if in_worker_thread():
            mod.rows(*args, np.int64(0), np.int64(ny))
        else:
            nchunk, size = pixel_chunks(ny, False)
            mod.run_parallel(*args, np.int64(nchunk), np.int64(size))
    return val, cnt
