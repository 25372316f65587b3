"""Host/device copies go through one counted place (the GPU half runs on the GPU machine)."""

from __future__ import annotations

import numpy as np

from landpulse.backend.transfers import TRANSFERS, to_host_array


def test_host_arrays_are_not_counted() -> None:
    TRANSFERS.reset()
    a = np.arange(4)
    assert to_host_array(a) is a or np.array_equal(to_host_array(a), a)
    assert TRANSFERS.as_dict() == {"h2d": 0, "d2h": 0, "h2d_bytes": 0, "d2h_bytes": 0}
