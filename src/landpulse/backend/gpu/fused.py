"""GPU entry of the fused multi-index kernel: CUDA generated per plan and dtypes, compiled by NVRTC.

The twin of :func:`landpulse.backend.cpu.fused.fused_indices` (same signature, same per-pixel
helpers from ``kernels/pixel.cuh``, ``--fmad=false``): the source comes from
:func:`landpulse.backend.codegen.cuda_source` and is compiled once per device through
:func:`landpulse.backend.gpu.cuda.get_generated_function`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..blocks import as_stack, radiometry_vectors
from ..codegen import C_TYPES, FusedPlan, cuda_source, host_arrays, kernel_name
from ..cpu.fused import split_inputs
from ..device import cupy_module
from ..registry import register
from .cuda import get_generated_function, launch_config


@register("indices", "gpu", splittable=True)
def fused_indices(
    *arrays: Any,
    plan: FusedPlan,
    valid: tuple[tuple[float, float, float], ...] = (),
    constants: tuple[float, ...] = (),
    lut: np.ndarray | None = None,
    out_of_range: str = "nan",
) -> Any:
    """Several indices (and the mask) of raw CuPy blocks in one pass (see the CPU twin)."""
    cp = cupy_module()
    bands, q, scales, offsets = split_inputs(plan, arrays)

    def prepare(a: Any) -> Any:
        a = cp.ascontiguousarray(a)
        return a if a.dtype.name in C_TYPES else a.astype(cp.float32)

    images = [prepare(a) for a in (*bands, *([q] if q is not None else []))]
    shape = images[0].shape
    if any(a.shape != shape for a in images):
        raise ValueError(f"fused kernel blocks differ in shape: {[a.shape for a in images]}")
    stacks = [as_stack(a)[0] for a in images]
    lead = as_stack(images[0])[1]
    ns = stacks[0].shape[0]
    vecs = [radiometry_vectors(s, o, lead) for s, o in zip(scales, offsets, strict=True)]
    sc, of, va, cs = (cp.asarray(v) for v in host_arrays(plan, [v[0] for v in vecs], [v[1] for v in vecs],
                                                          valid, constants, ns))
    outs = [cp.empty(stacks[0].shape, cp.float32) for _ in plan.outputs]
    if plan.write_mask:
        outs.append(cp.empty(stacks[0].shape, cp.uint8))
    band_types = tuple(a.dtype.name for a in stacks[: plan.n_bands])
    class_type = stacks[-1].dtype.name if plan.has_class else None
    args: list[Any] = list(stacks[: plan.n_bands])
    if plan.has_class:
        if lut is None:
            raise ValueError("the plan reads a class band but no lookup table was given")
        lut_d = cp.asarray(np.ascontiguousarray(lut, np.uint8))
        args += [stacks[-1], lut_d, np.int64(lut_d.shape[0])]
    args += [sc, of, va, cs, np.int64(ns), *outs, np.int32(1 if out_of_range == "clip" else 0)]
    n = stacks[0].size
    if n:
        kernel = get_generated_function(cuda_source(plan, band_types, class_type),
                                        kernel_name(plan, band_types, class_type))
        grid, block = launch_config(n)
        kernel(grid, block, (*args, np.int64(stacks[0].shape[1] * stacks[0].shape[2]), np.int64(n)))
    results = tuple(o.reshape(shape) for o in outs)
    return results if len(results) > 1 else results[0]
