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
from landpulse.products.indices import ndvi_block

pytestmark = pytest.mark.gpu

S2 = Validity.of(0, (1, 65534))


def test_gpu_kernel_equals_cpu_kernel_on_random_uint16() -> None:
    import cupy as cp

    rng = np.random.default_rng(0)
    red = rng.integers(0, 65536, (3, 257, 301), dtype=np.uint16)
    nir = rng.integers(0, 65536, (3, 257, 301), dtype=np.uint16)
    scale, offset = np.array([1e-4] * 3), np.array([0.0, -0.1, -0.1])
    s3, o3 = scale[:, None, None], offset[:, None, None]
    cpu = ndvi_block(red, nir, s3, o3, s3, o3, red_valid=S2, nir_valid=S2)
    gpu = ndvi_block(cp.asarray(red), cp.asarray(nir), s3, o3, s3, o3, red_valid=S2, nir_valid=S2)
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


# --- fused catalogue kernels and masks (issue 3) -----------------------------------------------
# Tolerance: none. Every generated formula uses + - * / and sqrt only, compiled with
# --fmad=false; the host builds of the same CUDA source are bit-identical to Numba
# (tests/test_cuda_sources.py), so the device is expected to be as well.


def test_gpu_fused_catalogue_equals_cpu_bit_for_bit() -> None:
    import cupy as cp

    from landpulse.products.indices import index_program
    from landpulse.spec.index_catalogue import index_names

    info = index_program(index_names(), with_mask=True)
    program = info.program
    rng = np.random.default_rng(1)
    bands = [rng.integers(0, 14000, (2, 129, 211), dtype=np.uint16) for _ in range(program.n_bands)]
    for b in bands:
        b.flat[rng.integers(0, b.size, 500)] = 0
    q = rng.integers(0, 13, (2, 129, 211), dtype=np.uint8)
    lut = np.zeros(256, np.uint8)
    lut[[1, 3, 8, 9, 10]] = 1
    lut[0] = 3
    scale, offset = np.array([1e-4, 1e-4])[:, None, None], np.array([0.0, -0.1])[:, None, None]
    params = [scale] * program.n_bands + [offset] * program.n_bands
    kw = dict(program=program, valid=(S2,) * program.n_bands, constants=info.constant_values, lut=lut)
    cpu = get_kernel("indices", "cpu")(*bands, q, *params, **kw)
    gpu = get_kernel("indices", "gpu")(*[cp.asarray(b) for b in bands], cp.asarray(q), *params, **kw)
    for k, (c, g) in enumerate(zip(cpu, gpu, strict=True)):
        np.testing.assert_array_equal(c, cp.asnumpy(g), err_msg=f"output {k}")


def test_gpu_mask_buffer_equals_cpu() -> None:
    import cupy as cp

    from landpulse.backend import disc_spans

    rng = np.random.default_rng(2)
    q = rng.choice([4, 5, 9, 3, 0], size=(2, 300, 257), p=[0.7, 0.2, 0.05, 0.03, 0.02]).astype(np.uint8)
    lut = np.zeros(256, np.uint8)
    lut[[3, 9]] = 1
    lut[0] = 3
    blut = np.zeros(256, np.uint8)
    blut[[3, 9]] = 1
    spans = disc_spans(100.0, 10.0, 10.0)
    cpu = get_kernel("mask_buffer", "cpu")(q, lut=lut, buffer_lut=blut, spans=spans)
    gpu = get_kernel("mask_buffer", "gpu")(cp.asarray(q), lut=lut, buffer_lut=blut, spans=spans)
    np.testing.assert_array_equal(cpu, cp.asnumpy(gpu))


def test_gpu_indices_equal_cpu_on_real_scene(sample_store: Path) -> None:
    from landpulse.spec.index_catalogue import index_names

    ds = landpulse.open_store(sample_store)
    with landpulse.set_options(backend="cpu"):
        cpu = landpulse.indices(ds, index_names()).compute()
    with landpulse.set_options(backend="gpu"):
        gpu = landpulse.indices(ds, index_names()).compute()
    for name in index_names():
        np.testing.assert_array_equal(gpu[name].values, cpu[name].values, err_msg=name)


@pytest.mark.shared_data
def test_gpu_bolzano_masks_with_buffer_stay_on_device(bolzano) -> None:  # type: ignore[no-untyped-def]
    ds = to_device(bolzano)
    out = landpulse.indices(ds, ["ndvi", "ndwi"], mask=landpulse.Mask(buffer=100))
    assert is_device_array(out["ndvi"].data) and is_device_array(out["mask"].data)
    with landpulse.set_options(backend="cpu"):
        cpu = landpulse.indices(bolzano, ["ndvi", "ndwi"], mask=landpulse.Mask(buffer=100)).compute()
    host = landpulse.to_host(out).compute()
    np.testing.assert_array_equal(host["mask"].values, cpu["mask"].values)
    np.testing.assert_array_equal(host["ndvi"].values, cpu["ndvi"].values)


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


def test_production_unit_moves_inputs_once_and_only_the_product_back(sample_store: Path, tmp_path: Path) -> None:
    # A job unit on the GPU: every input chunk goes to the device once, a multi-step product runs
    # there, and the only copies back are the product's chunks at the write.
    from landpulse.backend.transfers import TRANSFERS
    from landpulse.production.jobspec import parse_job
    from landpulse.production.run import run_job

    job = parse_job({
        "name": "gpu-unit", "backend": "gpu",
        "inputs": {"kind": "zarr", "stores": [{"path": str(sample_store), "tile": "18SVG"}]},
        "products": ["water"],
        "output": {"store": str(tmp_path / "products"), "reports": str(tmp_path / "reports"), "quicklooks": False},
        "cluster": {"kind": "threads"},
    })
    TRANSFERS.reset()
    assert run_job(job, echo=lambda _: None).exit_code == 0
    ds = landpulse.open_store(sample_store)
    input_chunks = sum(len(ds[v].data.chunks[-1]) * len(ds[v].data.chunks[-2]) for v in ("green", "swir16"))
    assert TRANSFERS.h2d <= input_chunks + 1  # the bands the product reads (+ the class band if any)
    assert TRANSFERS.d2h == 1  # one product chunk (800 x 800), back once


def test_gpu_window_composite_from_stored_date_chunks_equals_cpu() -> None:
    """The fused median composite of the real Bolzano series, its dates left in their one-date
    chunks (``apply_date_kernel``: joined on the device per task), on device data and on host
    data sent to the GPU, against the CPU kernel that reads the dates in place."""
    import cupy as cp

    from landpulse.backend import set_options
    from landpulse.products.temporal import window_reduce
    from tests.support import BOLZANO

    if not BOLZANO.exists():
        pytest.skip("shared data not found")
    ds = landpulse.declare_radiometry(landpulse.open_store(BOLZANO).isel(y=slice(0, 300), x=slice(0, 400)),
                                      scale=1e-4, offset=0.0).chunk({"t": 1, "y": 128, "x": 160})
    cpu_val, cpu_cnt = (a.values for a in window_reduce(ds, "ndvi", method="median"))
    on_device = window_reduce(to_device(ds), "ndvi", method="median")
    assert is_device_array(on_device[0].data._meta)
    np.testing.assert_array_equal(cp.asnumpy(on_device[0].data.compute()), cpu_val)
    np.testing.assert_array_equal(cp.asnumpy(on_device[1].data.compute()), cpu_cnt)
    with set_options(backend="gpu"):
        moved = window_reduce(ds, "ndvi", method="median")
        np.testing.assert_array_equal(moved[0].values, cpu_val)
        np.testing.assert_array_equal(moved[1].values, cpu_cnt)
