"""GPU fault handling, tested on the CPU with stand-in device operations.

The logic in landpulse.backend.oom_recovery takes its device operations (free the pool, concatenate,
copy to and from the host) as arguments; here NumPy plays the device and a fake kernel raises
an error named like CuPy's OutOfMemoryError when a block is larger than its "free memory".
"""

from __future__ import annotations

import numpy as np
import pytest

from landpulse.backend import Validity
from landpulse.backend.oom_recovery import (
    FAULTS,
    GpuFallbackWarning,
    is_out_of_memory,
    is_sticky_cuda_error,
    run_gpu_block,
)
from landpulse.errors import GpuFaultError, GpuOutOfMemoryError

S2 = Validity.of(0, (1, 65534))
from landpulse.products.indices import ndvi_block as ndvi_cpu  # noqa: E402  (NumPy in: the CPU kernel)


class OutOfMemoryError(Exception):
    """Named like cupy.cuda.memory.OutOfMemoryError."""


class CUDARuntimeError(Exception):
    """Named like cupy_backends.cuda.api.runtime.CUDARuntimeError."""


def fake_gpu_kernel(max_rows: int, calls: list[int]):  # type: ignore[no-untyped-def]
    def kernel(red, nir, *params, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(red.shape[-2])
        if red.shape[-2] > max_rows:
            raise OutOfMemoryError(f"Out of memory allocating {red.nbytes * 4:,} bytes")
        return ndvi_cpu(red, nir, *params, **kwargs)

    return kernel


def _blocks() -> list[object]:
    rng = np.random.default_rng(1)
    red = rng.integers(0, 12000, (2, 64, 40), dtype=np.uint16)
    nir = rng.integers(0, 12000, (2, 64, 40), dtype=np.uint16)
    scale = np.full((2, 1, 1), 1e-4)
    offset = np.array([0.0, -0.1]).reshape(2, 1, 1)
    return [red, nir, scale, offset, scale, offset]


KW = {"red_valid": S2, "nir_valid": S2}


def _run(kernel, *, splittable: bool, cpu=ndvi_cpu, frees: list[int] | None = None):  # type: ignore[no-untyped-def]
    frees = frees if frees is not None else []
    return run_gpu_block(kernel, _blocks(), dict(KW), splittable=splittable, free_memory=lambda: frees.append(1),
                         concatenate=np.concatenate, cpu_kernel=cpu, to_host=np.asarray, to_device=np.asarray, op="ndvi")


def test_error_classification() -> None:
    assert is_out_of_memory(OutOfMemoryError("Out of memory allocating 1,024 bytes"))
    assert is_out_of_memory(CUDARuntimeError("cudaErrorMemoryAllocation: out of memory"))
    assert not is_out_of_memory(ValueError("shape mismatch"))
    assert is_sticky_cuda_error(CUDARuntimeError("cudaErrorIllegalAddress: an illegal memory access was encountered"))
    assert not is_sticky_cuda_error(OutOfMemoryError("x"))


def test_oom_splits_the_block_and_gives_the_same_answer() -> None:
    calls: list[int] = []
    frees: list[int] = []
    before = FAULTS.splits
    got = _run(fake_gpu_kernel(20, calls), splittable=True, frees=frees)
    np.testing.assert_array_equal(got, ndvi_cpu(*_blocks(), **KW))
    assert calls[0] == 64 and max(calls[1:]) <= 32 and min(calls) == 16  # 64 -> 32 -> 16 rows
    assert frees and FAULTS.splits > before


def test_oom_on_unsplittable_kernel_falls_back_to_cpu_and_reports() -> None:
    calls: list[int] = []
    before = FAULTS.cpu_fallbacks
    with pytest.warns(GpuFallbackWarning, match="computed on the CPU"):
        got = _run(fake_gpu_kernel(20, calls), splittable=False)
    np.testing.assert_array_equal(got, ndvi_cpu(*_blocks(), **KW))
    assert calls == [64, 64]  # tried, freed the pool, tried once more, then the CPU
    assert FAULTS.cpu_fallbacks == before + 1


def test_oom_everywhere_is_a_typed_error() -> None:
    def cpu_also_fails(*a, **k):  # type: ignore[no-untyped-def]
        raise MemoryError("host is full too")

    with pytest.warns(GpuFallbackWarning), pytest.raises(GpuOutOfMemoryError, match="neither the GPU nor host"):
        _run(fake_gpu_kernel(0, []), splittable=True, cpu=cpu_also_fails)
    with pytest.raises(GpuOutOfMemoryError, match="does not fit"):
        _run(fake_gpu_kernel(0, []), splittable=False, cpu=None)


def test_other_errors_pass_through_untouched() -> None:
    def broken(*a, **k):  # type: ignore[no-untyped-def]
        raise ValueError("a real bug")

    with pytest.raises(ValueError, match="a real bug"):
        _run(broken, splittable=True)


def test_sticky_cuda_error_outside_a_worker_is_typed() -> None:
    def sticky(*a, **k):  # type: ignore[no-untyped-def]
        raise CUDARuntimeError("cudaErrorIllegalAddress: an illegal memory access was encountered")

    with pytest.raises(GpuFaultError, match="restart"):
        _run(sticky, splittable=True)


def test_sticky_cuda_error_inside_a_worker_exits_the_process() -> None:
    # In a real distributed worker process the nanny restarts it and the task reruns elsewhere.
    distributed = pytest.importorskip("distributed")
    import dask
    from distributed import KilledWorker

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        pid_before = client.run(lambda: __import__("os").getpid())

        def task() -> None:
            from landpulse.backend.oom_recovery import run_gpu_block

            def sticky(*a, **k):  # type: ignore[no-untyped-def]
                raise RuntimeError("cudaErrorIllegalAddress: an illegal memory access was encountered")

            run_gpu_block(sticky, [np.zeros((2, 2))], {}, splittable=False, free_memory=lambda: None,
                          concatenate=np.concatenate, cpu_kernel=None, to_host=np.asarray, to_device=np.asarray)

        future = client.submit(task, pure=False)
        with pytest.raises(KilledWorker):  # its worker exited, and no retries are allowed
            future.result(timeout=60)
        client.wait_for_workers(1, timeout=60)
        assert client.run(lambda: __import__("os").getpid()) != pid_before  # restarted by its nanny
