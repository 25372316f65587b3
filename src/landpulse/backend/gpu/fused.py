"""GPU entry of the fused multi-index kernel: CUDA generated per program and dtypes, compiled by NVRTC.

The twin of :func:`landpulse.backend.cpu.fused.fused_indices` (same signature, same per-pixel
helpers from ``kernels/pixel.cuh``, ``--fmad=false``): the source comes from
:func:`landpulse.backend.codegen.cuda_source` and is compiled once per device through
:func:`landpulse.backend.gpu.cuda.get_generated_function`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from landpulse.backend.codegen import C_TYPES, FusedProgram, cuda_source, kernel_name
from landpulse.backend.device import cupy_module
from landpulse.backend.gpu.cuda import get_generated_function, launch_config
from landpulse.backend.ops.fused import fused_inputs, fused_outputs
from landpulse.backend.registry import register


@register("indices", "gpu", splittable=True)
def fused_indices(
    *arrays: Any,
    program: FusedProgram,
    valid: tuple[tuple[float, float, float], ...] = (),
    constants: tuple[float, ...] = (),
    lut: np.ndarray | None = None,
    out_of_range: str = "nan",
    out: tuple[Any, ...] | None = None,
) -> Any:
    """Several indices (and the mask) of raw CuPy blocks in one pass (see the CPU twin)."""
    cp = cupy_module()

    def prepare(a: Any) -> Any:
        a = cp.ascontiguousarray(a)
        return a if a.dtype.name in C_TYPES else a.astype(cp.float32)

    stacks, shape, tables, lut_a, policy = fused_inputs(program, arrays, valid=valid, constants=constants, lut=lut,
                                                        out_of_range=out_of_range, prepare=prepare)
    outs = fused_outputs(program, stacks[0].shape, shape, out, cp)
    band_types = tuple(a.dtype.name for a in stacks[: program.n_bands])
    class_type = stacks[-1].dtype.name if program.has_class else None
    args: list[Any] = list(stacks[: program.n_bands])
    if lut_a is not None:
        args += [stacks[-1], cp.asarray(lut_a), np.int64(lut_a.shape[0])]
    args += [*(cp.asarray(t) for t in tables), np.int64(stacks[0].shape[0]), *outs, np.int32(policy)]
    n = stacks[0].size
    if n:
        kernel = get_generated_function(cuda_source(program, band_types, class_type),
                                        kernel_name(program, band_types, class_type))
        grid, block = launch_config(n)
        kernel(grid, block, (*args, np.int64(stacks[0].shape[1] * stacks[0].shape[2]), np.int64(n)))
    results = tuple(o.reshape(shape) for o in outs)
    return results if len(results) > 1 else results[0]
