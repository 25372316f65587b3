"""CPU entry of the fused multi-index kernel: a Numba module generated per program, cached on disk.

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
from typing import Any

import numpy as np

from landpulse.backend.codegen import FusedProgram, numba_source
from landpulse.backend.cpu.threads import in_worker_thread
from landpulse.backend.ops.fused import fused_inputs, fused_outputs
from landpulse.backend.registry import register

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


def load_module(program: FusedProgram) -> ModuleType:
    """Import (generating it first if needed) the Numba module of ``program``."""
    return load_source(numba_source(program), "lp_fused")


def load_source(source: str, prefix: str) -> ModuleType:
    """Import generated Numba module ``source``, written once to ``<cache>/<prefix>_<hash>.py``."""
    key = hashlib.sha256(source.encode()).hexdigest()[:20]
    with _LOCK:
        mod = _MODULES.get(key)
        if mod is not None:
            return mod
        path = cache_dir() / f"{prefix}_{key}.py"
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


@register("indices", "cpu", splittable=True)
def fused_indices(
    *arrays: Any,
    program: FusedProgram,
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
        ``program.n_bands`` raw band blocks (any integer or float dtype), then the classification
        block when ``program.has_class``, then one scale and one offset per band (scalars or
        per-slice arrays; reflectance = DN * scale + offset).
    program : FusedProgram
    valid : tuple of (nodata, lo, hi)
        Raw-value validity per band.
    constants : tuple of float
        Values of the program's constant slots.
    lut : numpy.ndarray of uint8, optional
        Mask code per classification value (required when ``program.has_class``).
    out_of_range : {'nan', 'clip'}
    out : tuple of numpy.ndarray, optional
        Preallocated C-contiguous outputs (float32 per index, then uint8 for the mask), shaped
        like the inputs: a tile loop that reuses them skips allocating and first-touching fresh
        memory, which costs about as much as the kernel itself.

    Returns
    -------
    numpy.ndarray or tuple of numpy.ndarray
        One float32 array per output (NaN where invalid or masked), then the uint8 mask codes
        when ``program.write_mask``; all shaped like the inputs.
    """
    stacks, shape, tables, lut_a, policy = fused_inputs(program, arrays, valid=valid, constants=constants, lut=lut,
                                                        out_of_range=out_of_range)
    outs = fused_outputs(program, stacks[0].shape, shape, out)
    args: list[Any] = list(stacks[: program.n_bands])
    if lut_a is not None:
        args += [stacks[-1], lut_a, np.int64(lut_a.shape[0])]
    args += [*tables, np.int64(stacks[0].shape[0]), *outs, policy]
    mod = load_module(program)
    driver = mod.run_serial if in_worker_thread() else mod.run_parallel
    if stacks[0].size:
        driver(*args)
    results = tuple(o.reshape(shape) for o in outs)
    return results if len(results) > 1 else results[0]
