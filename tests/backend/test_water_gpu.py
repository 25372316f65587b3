"""Water products on the GPU against the CPU kernels (marked ``gpu``; skipped without a GPU).

Every water product is computed with IEEE float32 basic operations and comparisons only, so the
GPU is bit-identical to the CPU for the classes, the WOfS flags, the counts, the frequencies and
the Otsu thresholds (the host builds of the same CUDA functions prove it without a GPU:
tests/test_water_cuda_host.py).
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from landpulse import set_options, water
from landpulse.backend import is_device_array, to_device, to_host
from tests.support.water_cases import WOFS_BANDS, reflectance_dataset

pytestmark = pytest.mark.gpu


def scene(seed: int = 0, nt: int = 5, ny: int = 96, nx: int = 128) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    bands = {n: rng.integers(1, 3500, (nt, ny, nx)) for n in WOFS_BANDS}
    bands["blue"][:, :, : nx // 2] = rng.integers(1, 500, (nt, ny, nx // 2))
    bands["swir16"][:, : ny // 3] = rng.integers(1, 300, (nt, ny // 3, nx))
    bands["green"][:, 5, 5] = 0
    scl = rng.choice(np.array([4, 5, 6, 3, 8, 9, 0, 1]), (nt, ny, nx), p=[0.4, 0.2, 0.2, 0.05, 0.05, 0.05, 0.03, 0.02])
    return reflectance_dataset(bands, scl=scl, offset_dn=1000)


def run_all(ds: xr.Dataset) -> dict[str, xr.Dataset]:
    out = {"index": water.index_water(ds), "ndwi": water.index_water(ds, index="ndwi", threshold=-0.05),
           "otsu": water.otsu_water(ds), "wofs": water.wofs(ds)}
    out["summary"] = water.summary(out["wofs"])
    t = [str(v)[:10] for v in ds.time.values]
    out["change"] = water.period_change(out["index"], before=(t[0], t[2]), after=(t[3], t[4]))
    return out


@pytest.mark.parametrize("chunked", [False, True])
def test_water_gpu_equals_cpu(chunked: bool) -> None:
    ds = scene()
    if chunked:
        ds = ds.chunk({"time": 1, "y": 48, "x": 64})
    with set_options(backend="cpu"):
        cpu = {k: v.compute() for k, v in run_all(ds).items()}
    with set_options(backend="gpu"):
        gpu = {k: v.compute() for k, v in run_all(ds).items()}
    for name in cpu:
        for v in cpu[name].data_vars:
            np.testing.assert_array_equal(to_host(gpu[name][v]).values, cpu[name][v].values, err_msg=f"{name}.{v}")


def test_device_data_stays_on_device() -> None:
    ds = to_device(scene(1).chunk({"time": 1, "x": 64}))
    out = water.summary(water.wofs(ds))
    assert is_device_array(out.frequency.data)
    assert type(out.water_class.data.compute()).__module__.startswith("cupy")
    otsu = water.otsu_water(ds)
    assert is_device_array(otsu.water.data)
