"""GPU faults inside a task: out of memory is a task event, not a worker death.

On a shared GPU node another process can take the memory a block needs. :func:`run_gpu_block`
then frees CuPy's memory pool and retries; kernels registered as ``splittable`` (pixel-wise
along y) are retried on halves of the block, recursively; as a last resort the block runs on
the CPU (copied to the host and back) and the event is reported; only if that fails too does a
typed :class:`~landpulse.errors.GpuOutOfMemoryError` reach the caller.

A sticky CUDA error (illegal address, launch failure, ECC) leaves the context unusable for the
rest of the process: inside a Dask worker the process exits, so its nanny restarts it and the
scheduler reruns the task elsewhere; outside one, :class:`~landpulse.errors.GpuFaultError`.

Everything here takes its device operations as arguments, so the logic is tested on the CPU.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from landpulse.errors import GpuFaultError, GpuOutOfMemoryError

log = logging.getLogger("landpulse.gpu")

#: Substrings of CUDA errors after which the context cannot be used again.
STICKY_CUDA_ERRORS = (
    "cudaErrorIllegalAddress", "CUDA_ERROR_ILLEGAL_ADDRESS",
    "cudaErrorLaunchFailure", "CUDA_ERROR_LAUNCH_FAILED",
    "cudaErrorMisalignedAddress", "CUDA_ERROR_MISALIGNED_ADDRESS",
    "cudaErrorIllegalInstruction", "CUDA_ERROR_ILLEGAL_INSTRUCTION",
    "cudaErrorHardwareStackError", "CUDA_ERROR_HARDWARE_STACK_ERROR",
    "cudaErrorECCUncorrectable", "CUDA_ERROR_ECC_UNCORRECTABLE",
    "cudaErrorAssert", "CUDA_ERROR_ASSERT",
)
#: Exit status of a worker process that leaves because its CUDA context is broken.
STICKY_EXIT_STATUS = 70


class GpuFallbackWarning(UserWarning):
    """A GPU block was retried smaller or ran on the CPU because device memory ran out."""


@dataclass
class FaultLog:
    """Counts of GPU fault events in this process. A production unit reports what changed while
    it ran (``gpu_faults`` in its result and the run report); each event is also logged and warned."""

    oom_retries: int = 0
    splits: int = 0
    cpu_fallbacks: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"oom_retries": self.oom_retries, "splits": self.splits, "cpu_fallbacks": self.cpu_fallbacks}

    def since(self, before: dict[str, int]) -> dict[str, int]:
        """The counts that grew since ``before`` (an earlier :meth:`as_dict`), non-zero ones only."""
        return {k: v - before.get(k, 0) for k, v in self.as_dict().items() if v != before.get(k, 0)}


FAULTS = FaultLog()


def is_out_of_memory(err: BaseException) -> bool:
    """True for CuPy's OutOfMemoryError and CUDA allocation failures (by name: no CuPy import)."""
    text = f"{type(err).__name__}: {err}"
    return (type(err).__name__ == "OutOfMemoryError" or "cudaErrorMemoryAllocation" in text
            or "CUDA_ERROR_OUT_OF_MEMORY" in text)


def is_sticky_cuda_error(err: BaseException) -> bool:
    """True for CUDA errors that poison the context for the rest of the process."""
    text = f"{type(err).__name__}: {err}"
    return any(code in text for code in STICKY_CUDA_ERRORS)


def in_dask_worker() -> bool:
    """True inside a ``distributed`` worker (whose nanny restarts it when it exits)."""
    try:
        from distributed import get_worker  # optional (the cluster extra)

        get_worker()
        return True
    except Exception:
        return False


def _split_y(blocks: Sequence[Any]) -> tuple[list[Any], list[Any]] | None:
    """Split every image block in two along y (axis -2); per-slice parameters are shared."""
    ny = max((b.shape[-2] for b in blocks if getattr(b, "ndim", 0) >= 2), default=0)
    if ny < 2:
        return None
    half = ny // 2
    top, bottom = [], []
    for b in blocks:
        if getattr(b, "ndim", 0) >= 2 and b.shape[-2] == ny:
            top.append(b[..., :half, :])
            bottom.append(b[..., half:, :])
        else:
            top.append(b)
            bottom.append(b)
    return top, bottom


def _concat_y(a: Any, b: Any, concatenate: Callable[..., Any]) -> Any:
    if isinstance(a, tuple):
        return tuple(concatenate([x, y], axis=-2) for x, y in zip(a, b, strict=True))
    return concatenate([a, b], axis=-2)


def run_gpu_block(
    kernel: Callable[..., Any],
    blocks: Sequence[Any],
    kwargs: dict[str, Any],
    *,
    splittable: bool,
    free_memory: Callable[[], None],
    concatenate: Callable[..., Any],
    cpu_kernel: Callable[..., Any] | None,
    to_host: Callable[[Any], Any],
    to_device: Callable[[Any], Any],
    max_depth: int = 4,
    op: str = "?",
) -> Any:
    """Run a GPU kernel on one block, surviving out-of-memory (see the module docstring).

    Raises
    ------
    GpuOutOfMemoryError
        When the block fits neither on the device (after freeing and splitting) nor on the host.
    GpuFaultError
        On a sticky CUDA error outside a Dask worker (inside one, the process exits).
    """

    def call(parts: Sequence[Any]) -> Any:
        try:
            return kernel(*parts, **kwargs)
        except Exception as err:
            if is_sticky_cuda_error(err):
                _sticky(err, op)
            raise

    def attempt(parts: Sequence[Any], depth: int) -> Any:
        try:
            return call(parts)
        except Exception as err:
            if not is_out_of_memory(err):
                raise
            FAULTS.oom_retries += 1
            free_memory()  # the pool may hold freed blocks of earlier tasks
            halves = _split_y(parts) if splittable and depth < max_depth else None
            if halves is None:
                return call(parts)  # once more at this size, after freeing; OOM propagates
            FAULTS.splits += 1
            log.warning("GPU out of memory in %s: retrying on halves (depth %d)", op, depth + 1)
            return _concat_y(attempt(halves[0], depth + 1), attempt(halves[1], depth + 1), concatenate)

    try:
        return attempt(blocks, 0)
    except Exception as err:
        if not is_out_of_memory(err):
            raise
        if cpu_kernel is None:
            raise GpuOutOfMemoryError(f"{op}: a block of {_shape(blocks)} does not fit on the GPU") from err
        FAULTS.cpu_fallbacks += 1
        message = f"GPU out of memory in {op} for a block of {_shape(blocks)}: computed on the CPU instead"
        log.warning(message)
        warnings.warn(message, GpuFallbackWarning, stacklevel=2)
        try:
            host = [to_host(b) if getattr(b, "ndim", 0) >= 1 else b for b in blocks]
            result = cpu_kernel(*host, **kwargs)
        except MemoryError as host_err:
            raise GpuOutOfMemoryError(f"{op}: a block of {_shape(blocks)} fits neither the GPU nor host memory") from host_err
        return tuple(to_device(r) for r in result) if isinstance(result, tuple) else to_device(result)


def _shape(blocks: Sequence[Any]) -> str:
    shapes = [tuple(b.shape) for b in blocks if getattr(b, "ndim", 0) >= 2]
    return str(shapes[0]) if shapes else "?"


def _sticky(err: BaseException, op: str) -> None:
    message = f"sticky CUDA error in {op}: {err}; the CUDA context is unusable"
    log.error(message)
    if in_dask_worker():
        log.error("exiting this worker process (status %d) so its nanny restarts it", STICKY_EXIT_STATUS)
        os._exit(STICKY_EXIT_STATUS)
    raise GpuFaultError(message + "; restart the process") from err
