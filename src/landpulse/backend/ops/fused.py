"""Device-neutral preparation of the fused index kernels: inputs split, checked and tabulated once
for both devices' entries, and their outputs allocated or checked (``xp`` is NumPy or CuPy)."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from landpulse.backend.blocks import as_stack, radiometry_vectors
from landpulse.backend.codegen import FusedProgram, host_arrays

#: Out-of-range policy codes shared with the kernels (``OUT_OF_RANGE_*`` in ``kernels/pixel.cuh``).
OUT_OF_RANGE_NAN = 0
OUT_OF_RANGE_CLIP = 1


def split_inputs(program: FusedProgram, arrays: tuple[Any, ...]) -> tuple[list[Any], Any, list[Any], list[Any]]:
    """``(band blocks, class block or None, scales, offsets)`` from the kernel's positional inputs."""
    n_img = program.n_bands + (1 if program.has_class else 0)
    if len(arrays) != n_img + 2 * program.n_bands:
        raise ValueError(f"fused kernel expects {n_img} images and {2 * program.n_bands} radiometry inputs; got {len(arrays)}")
    bands = list(arrays[: program.n_bands])
    q = arrays[program.n_bands] if program.has_class else None
    params = arrays[n_img:]
    return bands, q, list(params[: program.n_bands]), list(params[program.n_bands:])


class FusedInputs(NamedTuple):
    """What both devices' fused entries launch with, prepared and checked once."""

    stacks: list[Any]                 # (slices, y, x) blocks: the bands, then the class band
    shape: tuple[int, ...]            # the blocks' own shape (outputs are returned in it)
    tables: tuple[np.ndarray, ...]    # host (sc, of, va, cs) of codegen.host_arrays
    lut: np.ndarray | None            # uint8 mask code per class value (programs with a class band)
    policy: int                       # OUT_OF_RANGE_NAN or OUT_OF_RANGE_CLIP


def fused_inputs(program: FusedProgram, arrays: tuple[Any, ...], *, valid: Any, constants: Any, lut: Any,
                 out_of_range: str, prepare: Any = np.ascontiguousarray) -> FusedInputs:
    """Split, check and stack the positional inputs and form the host tables (both devices);
    ``prepare`` makes each block contiguous on its device (and casts types the kernel lacks)."""
    bands, q, scales, offsets = split_inputs(program, arrays)
    images = [prepare(a) for a in (*bands, *([q] if q is not None else []))]
    shape = images[0].shape
    if any(a.shape != shape for a in images):
        raise ValueError(f"fused kernel blocks differ in shape: {[a.shape for a in images]}")
    if program.has_class and lut is None:
        raise ValueError("the program reads a class band but no lookup table was given")
    stacks = [as_stack(a)[0] for a in images]
    lead = as_stack(images[0])[1]
    vecs = [radiometry_vectors(s, o, lead) for s, o in zip(scales, offsets, strict=True)]
    tables = host_arrays(program, [v[0] for v in vecs], [v[1] for v in vecs], valid, constants, stacks[0].shape[0],
                         [a.dtype for a in stacks[: program.n_bands]])
    policy = OUT_OF_RANGE_CLIP if out_of_range == "clip" else OUT_OF_RANGE_NAN
    return FusedInputs(stacks, shape, tables, np.ascontiguousarray(lut, np.uint8) if program.has_class else None,
                       policy)


def fused_outputs(program: FusedProgram, stack_shape: tuple[int, ...], shape: tuple[int, ...],
             out: tuple[Any, ...] | None, xp: Any = np) -> list[Any]:
    """Output arrays viewed as stacks: new ones, or the caller's (checked, never copied)."""
    dtypes = [np.float32] * len(program.outputs) + ([np.uint8] if program.write_mask else [])
    if out is None:
        return [xp.empty(stack_shape, dt) for dt in dtypes]
    if len(out) != len(dtypes):
        raise ValueError(f"out needs {len(dtypes)} arrays; got {len(out)}")
    views = []
    for o, dt in zip(out, dtypes, strict=True):
        if tuple(o.shape) != tuple(shape) or o.dtype != dt or not o.flags.c_contiguous:
            raise ValueError(f"out arrays must be C-contiguous {np.dtype(dt).name} of shape {shape}; got {o.dtype} {o.shape}")
        views.append(o.reshape(stack_shape))
    return views
