"""Storage encoding on the host, fused with the statistics a run report needs (Numba).

Index products are stored as int16 scaled by ``scale`` (1e-4) with a nodata value: half the
bytes of float32 and far better compression. Packing with NumPy takes four passes over a block
(divide, round, NaN fill, cast: ~0.5 core-seconds per Sentinel-2 tile, as much as reading the
inputs); these kernels do it in one pass and count the block's statistics in the same pass.

Statistics vector (float64, :data:`N_STATS` entries): valid count, count of values that int16
cannot hold (stored as nodata), sum, minimum and maximum of the valid values.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from landpulse.backend.ops.stats import MAX, MIN, N_STATS, SUM, VALID


@njit(nogil=True, cache=True)
def _pack_int16(flat, scale, nodata, out, istats):
    # Branch-free (selects only) so LLVM vectorises it; statistics on the stored integers, so the
    # sum is an exact int64 and the reductions need no reassociation of float additions.
    fill = np.float64(nodata)
    n_valid = 0
    n_nan = 0
    total = 0
    lo = 32767
    hi = -32768
    for k in range(flat.size):
        v = np.float64(flat[k])
        q = np.rint(v / scale)
        ok = (q >= -32768.0) & (q <= 32767.0) & (q != fill)
        isnan = v != v
        qi = np.int64(q if ok else fill)
        out[k] = qi
        n_valid += ok
        n_nan += isnan
        # (numba types these int64; mypy sees int | np.int64 assigned to an int)
        total += qi if ok else 0  # type: ignore[assignment]
        lo = min(lo, qi if ok else 32767)  # type: ignore[assignment]
        hi = max(hi, qi if ok else -32768)  # type: ignore[assignment]
    istats[0] = n_valid
    istats[1] = flat.size - n_valid - n_nan
    istats[2] = total
    istats[3] = lo
    istats[4] = hi


@njit(nogil=True, cache=True)
def _float_stats(flat, stats):
    n_valid = 0.0
    total = 0.0
    lo = np.inf
    hi = -np.inf
    for k in range(flat.size):
        v = np.float64(flat[k])
        if v != v:
            continue
        n_valid += 1.0
        total += v
        if v < lo:
            lo = v
        if v > hi:
            hi = v
    stats[0] = n_valid
    stats[1] = 0.0
    stats[2] = total
    stats[3] = lo
    stats[4] = hi


def pack_int16(block: np.ndarray, scale: float, nodata: int) -> tuple[np.ndarray, np.ndarray]:
    """Pack float values as ``round(value / scale)`` in int16; NaN and unrepresentable -> nodata.

    Parameters
    ----------
    block : numpy.ndarray
        float32 (or float64) values, NaN where invalid.
    scale : float
        Stored = round-half-even(value / scale), divided in float64 (value = stored * scale on read).
    nodata : int
        The int16 nodata value (never produced by a valid pixel: a value that rounds to it, or
        falls outside [-32768, 32767] after scaling, is stored as nodata and counted).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        The int16 block (same shape) and the statistics vector of the *stored* values (float64,
        see the module docstring; min, mean and max in value units).
    """
    flat = np.ascontiguousarray(block).reshape(-1)
    out = np.empty(flat.size, dtype=np.int16)
    istats = np.empty(N_STATS, dtype=np.int64)
    _pack_int16(flat, float(scale), np.int16(nodata), out, istats)
    stats = istats.astype(np.float64)
    stats[SUM:] *= float(scale)
    if istats[VALID] == 0:
        stats[MIN], stats[MAX] = np.inf, -np.inf
    return out.reshape(block.shape), stats


def float_stats(block: np.ndarray) -> np.ndarray:
    """Statistics vector of a float block (NaN = invalid), one pass."""
    stats = np.empty(N_STATS, dtype=np.float64)
    _float_stats(np.ascontiguousarray(block).reshape(-1), stats)
    return stats
