"""The statistics vector a product write takes per block (one pass with the packing kernels of
:mod:`landpulse.backend.cpu.pack`), and how the blocks' vectors combine."""

from __future__ import annotations

import numpy as np

#: Entries of a block's statistics vector (:mod:`landpulse.backend.cpu.pack` fills them).
N_STATS = 5
VALID, UNREPRESENTABLE, SUM, MIN, MAX = range(N_STATS)


def combine_stats(parts: np.ndarray) -> dict[str, float]:
    """Combine per-block statistics vectors ``(n_blocks, N_STATS)`` into a summary.

    Returns ``{"valid_pixels", "unrepresentable_pixels", "min", "mean", "max"}`` (min/mean/max only
    when there is a valid pixel).
    """
    parts = np.asarray(parts, dtype=np.float64).reshape(-1, N_STATS)
    n = float(parts[:, VALID].sum())
    out: dict[str, float] = {"valid_pixels": int(n), "unrepresentable_pixels": int(parts[:, UNREPRESENTABLE].sum())}
    if n > 0:
        out.update(min=float(parts[:, MIN].min()), mean=float(parts[:, SUM].sum() / n), max=float(parts[:, MAX].max()))
    return out
