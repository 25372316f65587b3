"""GPU path (marked ``gpu``; skipped without CuPy and a CUDA device; run by ``make gpu-check``).

Tolerances: index products agree with the CPU within 1 ulp-level float32 differences
(``atol=1e-6``); with ``-fmad=false`` they are expected to be bit-identical, which is asserted
on the integer path where every operation is IEEE float32 on both sides.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import landpulse
from landpulse.backend import Validity, get_kernel, is_device_array, to_device

pytestmark = pytest.mark.gpu

S2 = Validity.of(0, (1, 65534))


def test_gpu_kernel_equals_cpu_kernel_on_random_uint16() -> None:
    import cupy as cp

    rng = np.random.default_rng(0)
    red = rng.integers(0, 65536, (3, 257, 301), dtype=np.uint16)
    nir = rng.integers(0, 65536, (3, 257, 301), dtype=np.uint16)
    scale, offset = np.array([1e-4] * 3), np.array([0.0, -0.1, -0.1])
    cpu = get_kernel("ndvi", "cpu")(red, nir, scale[:, None, None], offset[:, None, None], scale[:, None, None],
                                    offset[:, None, None], red_valid=S2, nir_valid=S2)
    gpu = get_kernel("ndvi", "gpu")(cp.asarray(red), cp.asarray(nir), scale[:, None, None], offset[:, None, None],
                                    scale[:, None, None], offset[:, None, None], red_valid=S2, nir_valid=S2)
    np.testing.assert_array_equal(cpu, cp.asnumpy(gpu))


def test_gpu_equals_cpu_on_real_scene(sample_store: Path) -> None:
    ds = landpulse.open_store(sample_store)
    with landpulse.set_options(backend="cpu"):
        cpu = landpulse.ndvi(ds).values
    with landpulse.set_options(backend="gpu"):
        gpu = landpulse.ndvi(ds).values  # host in, host out: moved to the device and back
    np.testing.assert_allclose(gpu, cpu, atol=1e-6)
    np.testing.assert_array_equal(np.isnan(gpu), np.isnan(cpu))


def test_device_data_stays_on_device_with_cupy_meta(sample_store: Path) -> None:
    ds = to_device(landpulse.open_store(sample_store))
    out = landpulse.ndvi(ds)
    assert is_device_array(out.data)  # the Dask meta is a CuPy array: no hidden host copy
    assert type(out.data.compute()).__module__.startswith("cupy")


def test_gpu_resident_pipeline_copies_only_products_back(sample_store: Path) -> None:
    # CuPy refuses implicit host conversions, and landpulse counts its explicit ones: computing
    # on device-resident data moves nothing back; bringing the product home moves one copy per chunk.
    from landpulse.backend.transfers import TRANSFERS

    ds = to_device(landpulse.open_store(sample_store).chunk({"y": 400, "x": 400}))
    out = landpulse.ndvi(ds)
    TRANSFERS.reset()
    result = out.data.compute()
    assert TRANSFERS.d2h == 0 and type(result).__module__.startswith("cupy")
    assert TRANSFERS.h2d == 2 * 4  # red and nir, 4 chunks each, moved once (lazily, at compute)
    TRANSFERS.reset()
    landpulse.to_host(out).compute()
    assert TRANSFERS.d2h == 4  # one copy per product chunk
