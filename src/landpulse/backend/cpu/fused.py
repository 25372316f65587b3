"""CPU entry of the fused multi-index kernel: a Numba module generated per plan, cached on disk.

The source from :func:`landpulse.backend.codegen.numba_source` is written once to
``<cache>/kernels/lp_fused_<hash>.py`` (atomically; never rewritten, so Numba's ``cache=True``
finds its compiled code in later processes) and imported. The cache folder is
``$LANDPULSE_CACHE_DIR``, else ``$XDG_CACHE_HOME/landpulse``, else ``~/.cache/landpulse``; a
temporary folder is used when none is writable.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
import threading
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

import numpy as np

from ..blocks import as_stack, radiometry_vectors
from ..codegen import FusedPlan, host_arrays, numba_source
from ..registry import register
from .pixel import OUT_OF_RANGE_CLIP, OUT_OF_RANGE_NAN
from .threads import in_worker_thread

_LOCK = threading.Lock()
_MODULES: dict[str, ModuleType] = {}


def cache_dir() -> Path:
    """Folder for generated kernel modules (created when missing)."""
    env = os.environ.get("LANDPULSE_CACHE_DIR")
    base = Path(env) if env else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "landpulse"
    folder = base / "kernels"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".probe-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
        return folder
    except OSError:
        folder = Path(tempfile.gettempdir()) / f"landpulse-{os.getuid() if hasattr(os, 'getuid') else 'user'}" / "kernels"
        folder.mkdir(parents=True, exist_ok=True)
        return folder


def load_module(plan: FusedPlan) -> ModuleType:
    """Import (generating it first if needed) the Numba module of ``plan``."""
    source = numba_source(plan)
    key = hashlib.sha256(source.encode()).hexdigest()[:20]
    with _LOCK:
        mod = _MODULES.get(key)
        if mod is not None:
            return mod
        path = cache_dir() / f"lp_fused_{key}.py"
        if not path.exists() or path.read_text() != source:
            tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_text(source)
            os.replace(tmp, path)
        name = f"landpulse_generated_{key}"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
        _MODULES[key] = mod
        return mod


def split_inputs(plan: FusedPlan, arrays: tuple[Any, ...]) -> tuple[list[Any], Any, list[Any], list[Any]]:
    """``(band blocks, class block or None, scales, offsets)`` from the kernel's positional inputs."""
    n_img = plan.n_bands + (1 if plan.has_class else 0)
    if len(arrays) != n_img + 2 * plan.n_bands:
        raise ValueError(f"fused kernel expects {n_img} images and {2 * plan.n_bands} radiometry inputs; got {len(arrays)}")
    bands = list(arrays[: plan.n_bands])
    q = arrays[plan.n_bands] if plan.has_class else None
    params = arrays[n_img:]
    return bands, q, list(params[: plan.n_bands]), list(params[plan.n_bands:])


class FusedInputs(NamedTuple):
    """What both devices' fused entries launch with, prepared and checked once."""

    stacks: list[Any]                 # (slices, y, x) blocks: the bands, then the class band
    shape: tuple[int, ...]            # the blocks' own shape (outputs are returned in it)
    tables: tuple[np.ndarray, ...]    # host (sc, of, va, cs) of codegen.host_arrays
    lut: np.ndarray | None            # uint8 mask code per class value (plans with a class band)
    policy: int                       # OUT_OF_RANGE_NAN or OUT_OF_RANGE_CLIP


def fused_inputs(plan: FusedPlan, arrays: tuple[Any, ...], *, valid: Any, constants: Any, lut: Any,
                 out_of_range: str, prepare: Any = np.ascontiguousarray) -> FusedInputs:
    """Split, check and stack the positional inputs and form the host tables (both devices);
    ``prepare`` makes each block contiguous on its device (and casts types the kernel lacks)."""
    bands, q, scales, offsets = split_inputs(plan, arrays)
    images = [prepare(a) for a in (*bands, *([q] if q is not None else []))]
    shape = images[0].shape
    if any(a.shape != shape for a in images):
        raise ValueError(f"fused kernel blocks differ in shape: {[a.shape for a in images]}")
    if plan.has_class and lut is None:
        raise ValueError("the plan reads a class band but no lookup table was given")
    stacks = [as_stack(a)[0] for a in images]
    lead = as_stack(images[0])[1]
    vecs = [radiometry_vectors(s, o, lead) for s, o in zip(scales, offsets, strict=True)]
    tables = host_arrays(plan, [v[0] for v in vecs], [v[1] for v in vecs], valid, constants, stacks[0].shape[0],
                         [a.dtype for a in stacks[: plan.n_bands]])
    policy = OUT_OF_RANGE_CLIP if out_of_range == "clip" else OUT_OF_RANGE_NAN
    return FusedInputs(stacks, shape, tables, np.ascontiguousarray(lut, np.uint8) if plan.has_class else None,
                       policy)


def _outputs(plan: FusedPlan, stack_shape: tuple[int, ...], shape: tuple[int, ...],
             out: tuple[Any, ...] | None, xp: Any = np) -> list[Any]:
    """Output arrays viewed as stacks: new ones, or the caller's (checked, never copied)."""
    dtypes = [np.float32] * len(plan.outputs) + ([np.uint8] if plan.write_mask else [])
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


@register("indices", "cpu", splittable=True)
def fused_indices(
    *arrays: Any,
    plan: FusedPlan,
    valid: tuple[tuple[float, float, float], ...] = (),
    constants: tuple[float, ...] = (),
    lut: np.ndarray | None = None,
    out_of_range: str = "nan",
    out: tuple[np.ndarray, ...] | None = None,
) -> np.ndarray | tuple[np.ndarray, ...]:
    """Several indices (and the mask) of raw blocks ``(..., y, x)`` in one pass.

    Parameters
    ----------
    *arrays : numpy.ndarray
        ``plan.n_bands`` raw band blocks (any integer or float dtype), then the classification
        block when ``plan.has_class``, then one scale and one offset per band (scalars or
        per-slice arrays; reflectance = DN * scale + offset).
    plan : FusedPlan
    valid : tuple of (nodata, lo, hi)
        Raw-value validity per band.
    constants : tuple of float
        Values of the plan's constant slots.
    lut : numpy.ndarray of uint8, optional
        Mask code per classification value (required when ``plan.has_class``).
    out_of_range : {'nan', 'clip'}
    out : tuple of numpy.ndarray, optional
        Preallocated C-contiguous outputs (float32 per index, then uint8 for the mask), shaped
        like the inputs: a tile loop that reuses them skips allocating and first-touching fresh
        memory, which costs about as much as the kernel itself.

    Returns
    -------
    numpy.ndarray or tuple of numpy.ndarray
        One float32 array per output (NaN where invalid or masked), then the uint8 mask codes
        when ``plan.write_mask``; all shaped like the inputs.
    """
    stacks, shape, tables, lut_a, policy = fused_inputs(plan, arrays, valid=valid, constants=constants, lut=lut,
                                                        out_of_range=out_of_range)
    outs = _outputs(plan, stacks[0].shape, shape, out)
    args: list[Any] = list(stacks[: plan.n_bands])
    if lut_a is not None:
        args += [stacks[-1], lut_a, np.int64(lut_a.shape[0])]
    args += [*tables, np.int64(stacks[0].shape[0]), *outs, policy]
    mod = load_module(plan)
    driver = mod.run_serial if in_worker_thread() else mod.run_parallel
    if stacks[0].size:
        driver(*args)
    results = tuple(o.reshape(shape) for o in outs)
    return results if len(results) > 1 else results[0]
