"""Sorting networks (Batcher's odd-even merge sort, pruned to ``n``): every input of ``n`` values
comes out sorted. Checked against ``numpy.sort`` on random values with many ties, and on all 0/1
inputs of small ``n`` (the 0-1 principle: a network that sorts every 0/1 sequence sorts every
sequence; Knuth, TAOCP vol. 3, 5.3.4, theorem Z)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from landpulse.backend.sorting_network import sorting_network


def _apply(net: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The network on the columns of ``values`` (``(n, k)``), with NumPy."""
    out = values.copy()
    for i, j in net:
        lo, hi = np.minimum(out[i], out[j]), np.maximum(out[i], out[j])
        out[i], out[j] = lo, hi
    return out


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 140), seed=st.integers(0, 2**31))
def test_the_network_sorts_random_values_with_ties(n: int, seed: int) -> None:
    values = np.random.default_rng(seed).integers(-3, 4, (n, 64)).astype(np.float32)
    net = sorting_network(n)
    assert net.dtype == np.int64 and net.shape[1] == 2
    assert ((net[:, 0] < net[:, 1]) & (net[:, 1] < max(n, 1))).all()
    np.testing.assert_array_equal(_apply(net, values), np.sort(values, axis=0))


@pytest.mark.parametrize("n", range(1, 13))
def test_the_network_sorts_every_zero_one_sequence(n: int) -> None:
    values = np.array(list(itertools.product([0, 1], repeat=n)), np.int8).T
    np.testing.assert_array_equal(_apply(sorting_network(n), values), np.sort(values, axis=0))


def test_sizes_and_bad_input() -> None:
    assert len(sorting_network(0)) == len(sorting_network(1)) == 0
    assert len(sorting_network(2)) == 1
    assert len(sorting_network(512)) == 9727  # the longest the CPU window kernel sorts (NETWORK_MAX_DATES)
    assert len(sorting_network(32)) == 191  # Batcher's odd-even merge sort of 32: (p^2 - p + 4) 2^(p-2) - 1, p = 5
    with pytest.raises(ValueError, match="n >= 0"):
        sorting_network(-1)
    assert not sorting_network(24).flags.writeable
