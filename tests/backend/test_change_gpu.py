"""Change detection on the GPU against the CPU kernels (marked ``gpu``; skipped without a GPU).

Tolerances: every output computed with IEEE basic operations (differences, classes, CVA
magnitude and sector, composites, z-scores, Theil-Sen slopes, trend classes and every
BFAST-Monitor output) is bit-identical, as the host builds of the same CUDA functions are
(tests/test_change_cuda_host.py); the CVA direction (atan2f) and the Mann-Kendall p-value (erfc)
use CUDA's libdevice and agree within 1e-5 relative.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from landpulse import change, set_options
from landpulse.backend import get_kernel, is_device_array, to_device

pytestmark = pytest.mark.gpu


def _series(T: int, ny: int, nx: int, seed: int) -> xr.DataArray:
    rng = np.random.default_rng(seed)
    t = 2016.0 + np.arange(T) / 23.0
    y = 0.5 + 0.2 * np.sin(2 * np.pi * t)[:, None, None] + 0.03 * rng.standard_normal((T, ny, nx))
    y[t >= 2019.3, :, : nx // 2] -= 0.2
    y[rng.random(y.shape) < 0.25] = np.nan
    y[:, 0, 0] = np.nan
    da = xr.DataArray(y.astype(np.float32), dims=("time", "y", "x"), name="ndvi",
                      coords={"time": t, "y": 5000.0 - 10 * np.arange(ny), "x": 10.0 * np.arange(nx)})
    return da.rio.write_crs("EPSG:32632")


@pytest.mark.parametrize("history", ["roc", "all"])
def test_bfast_gpu_equals_cpu(history: str) -> None:
    da = _series(92, 64, 96, 0)
    with set_options(backend="cpu"):
        cpu = change.bfast_monitor(da, 2019.0, history=history)
    with set_options(backend="gpu"):
        gpu = change.bfast_monitor(da, 2019.0, history=history)
    for v in cpu.data_vars:
        np.testing.assert_array_equal(gpu[v].values, cpu[v].values)


def test_trend_zscore_composite_gpu_equal_cpu() -> None:
    da = _series(24, 48, 64, 1)
    for fn in (lambda d: change.theil_sen(d), lambda d: change.zscore_anomaly(d, 2016.5),
               lambda d: change.composite(d, "median"), lambda d: change.composite(d, "max")):
        with set_options(backend="cpu"):
            cpu = fn(da)
        with set_options(backend="gpu"):
            gpu = fn(da)
        for v in cpu.data_vars:
            if v == "p_value":
                np.testing.assert_allclose(gpu[v].values, cpu[v].values, rtol=1e-5)
            else:
                np.testing.assert_array_equal(gpu[v].values, cpu[v].values)


def test_bitemporal_gpu_equal_cpu() -> None:
    da = _series(4, 40, 50, 2)
    pre = xr.Dataset({"a": da.isel(time=0), "b": da.isel(time=1)})
    post = xr.Dataset({"a": da.isel(time=2), "b": da.isel(time=3)})
    with set_options(backend="cpu"):
        cpu = xr.merge([change.cva(pre, post), change.dnbr(pre.a, post.a)])
    with set_options(backend="gpu"):
        gpu = xr.merge([change.cva(pre, post), change.dnbr(pre.a, post.a)])
    for v in cpu.data_vars:
        if v == "direction":
            np.testing.assert_allclose(gpu[v].values, cpu[v].values, rtol=1e-5, atol=1e-3)
        else:
            np.testing.assert_array_equal(gpu[v].values, cpu[v].values)


def test_device_stack_stays_on_device() -> None:
    da = to_device(_series(46, 32, 32, 3).chunk({"time": 1, "x": 16}))
    out = change.bfast_monitor(da, 2017.5, history="all")
    assert is_device_array(out.breaks.data)
    assert type(out.breaks.data.compute()).__module__.startswith("cupy")


def test_gpu_kernel_direct_random() -> None:
    import cupy as cp

    rng = np.random.default_rng(4)
    y = rng.normal(size=(50, 40, 30)).astype(np.float32)
    y[rng.random(y.shape) < 0.3] = np.nan
    td = (np.arange(30) * 12).astype(np.float32)
    cpu = get_kernel("trend", "cpu")(y, tdays=td)
    gpu = get_kernel("trend", "gpu")(cp.asarray(y), tdays=td)
    np.testing.assert_array_equal(cp.asnumpy(gpu[0]), cpu[0])
    np.testing.assert_array_equal(cp.asnumpy(gpu[2]), cpu[2])
