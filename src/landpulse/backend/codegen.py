"""Fused multi-index kernels, generated from the index catalogue for the CPU (Numba) and the GPU (CUDA).

A :class:`FusedProgram` describes one request: which bands are read, which formulas are evaluated
(as expression trees over band and constant slots, see :mod:`landpulse.spec.formula`), their valid
ranges, and whether a classification band is read (mask codes through a lookup table) and the
mask written. From a program this module writes:

* :func:`numba_source`: a Python module with two Numba drivers (``run_parallel`` with ``prange``
  for eager calls, ``run_serial`` for Dask worker threads), one fused loop each: per pixel, every
  band is read once, checked on its raw value, scaled to reflectance in float32, and every
  formula is evaluated, range-checked, masked and written;
* :func:`cuda_source`: a CUDA translation unit that ``#include "pixel.cuh"``, with the same
  per-pixel function (``LP_HD``, so it also builds for the host) and an ``extern "C"`` grid-stride
  kernel.

Both sides call the same per-pixel helpers (``kernels/pixel.cuh`` and
:mod:`landpulse.backend.cpu.pixel`) and emit the same fully parenthesised arithmetic, float32
literals exactly (hexadecimal floats in C), so with ``--fmad=false`` they round identically.

Argument order of every generated entry (Numba drivers, CUDA kernel, host entry)::

    b0..b{n-1}, [q, lut, nlut], sc, of, va, cs, ns, o0..o{k-1}, [m], policy[, pixels_per_slice, n]

``sc``/``of`` hold scale and offset (in DN units) per band and slice, ``(nbands, ns)`` float32;
``va`` the raw validity ``(nodata, lo, hi)`` per band, float64; ``cs`` the constants, float32.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from landpulse.backend._version_tag import CODEGEN_VERSION
from landpulse.backend.validity import Validity, limits_for_dtype
from landpulse.spec import formula as fm

Expr = fm.Expr


@dataclass(frozen=True)
class FusedOutput:
    """One index of a fused request.

    Attributes
    ----------
    name : str
        Output name (``ndvi``).
    expr : tuple
        Expression tree over ``("band", i)``, ``("const", j)`` and ``("num", v)`` leaves.
    bands : tuple of int
        Band slots the expression reads (a pixel with any of them invalid is NaN).
    lo, hi : float
        Valid output range.
    """

    name: str
    expr: Expr
    bands: tuple[int, ...]
    lo: float
    hi: float


@dataclass(frozen=True)
class FusedProgram:
    """A fused request: ``n_bands`` bands (and maybe a class band) in, ``outputs`` (and maybe the mask) out."""

    n_bands: int
    outputs: tuple[FusedOutput, ...]
    n_constants: int = 0
    has_class: bool = False
    write_mask: bool = False

    def __post_init__(self) -> None:
        if self.write_mask and not self.has_class:
            raise ValueError("a program can only write the mask when it reads a class band")
        if self.n_bands == 0 and not self.has_class:
            raise ValueError("a program needs at least one input")
        if not self.outputs and not self.write_mask:
            raise ValueError("a program needs at least one output")
        for o in self.outputs:
            for b in o.bands:
                if not 0 <= b < self.n_bands:
                    raise ValueError(f"output {o.name} reads band slot {b} of {self.n_bands}")

    @property
    def n_outputs(self) -> int:
        return len(self.outputs) + (1 if self.write_mask else 0)

    def digest(self) -> str:
        """Stable short hash of the program (names the generated modules and kernels)."""
        return hashlib.sha256(repr((CODEGEN_VERSION, self)).encode()).hexdigest()[:16]


def bind(expr: Expr, band_slots: dict[str, int], const_slots: dict[str, int]) -> Expr:
    """Turn catalogue names into slots: ``("var", "N")`` -> ``("band", 0)``, constants -> ``("const", j)``."""
    mapping: dict[str, Expr] = {n: ("band", i) for n, i in band_slots.items()}
    mapping.update({n: ("const", j) for n, j in const_slots.items()})
    out = fm.substitute(expr, mapping)
    left = [n for n in fm.names(out)]
    if left:
        raise ValueError(f"unbound names in expression: {left}")
    return out


def _f32(v: float) -> float:
    return float(np.float32(v))


#: Float32 ulps beyond a range bound that count as rounding, not as leaving the range.
RANGE_ULPS = 4


def range_edges(lo: float, hi: float) -> tuple[float, float]:
    """Float32 values ``RANGE_ULPS`` ulps below ``lo`` and above ``hi``."""
    a, b = np.float32(lo), np.float32(hi)
    for _ in range(RANGE_ULPS):
        a = np.nextafter(a, np.float32(-np.inf))
        b = np.nextafter(b, np.float32(np.inf))
    return float(a), float(b)


class _Literals:
    """Float32 literals of a generated module, deduplicated by value."""

    def __init__(self) -> None:
        self.values: dict[float, str] = {}

    def name(self, v: float) -> str:
        v32 = _f32(v)
        key = v32 if v32 == v32 else float("nan")
        if key not in self.values:
            self.values[key] = f"K{len(self.values)}"
        return self.values[key]


def _py_expr(e: Expr, lits: _Literals) -> str:
    kind = e[0]
    if kind == "num":
        return lits.name(e[1])
    if kind == "band":
        return f"v{e[1]}"
    if kind == "const":
        return f"c{e[1]}"
    if kind == "neg":
        return f"(-{_py_expr(e[1], lits)})"
    if kind == "sqrt":
        return f"sqrt_f32({_py_expr(e[1], lits)})"
    if kind == "abs":
        return f"abs_f32({_py_expr(e[1], lits)})"
    a, b = _py_expr(e[1], lits), _py_expr(e[2], lits)
    if kind == "div":
        return f"div_or_nan({a}, {b})"
    return f"({a} {dict(add='+', sub='-', mul='*')[kind]} {b})"


def c_float(v: float) -> str:
    """A float32 value as an exact C literal (hexadecimal float)."""
    v32 = _f32(v)
    if v32 != v32:
        return "lp::nan_f32()"
    if v32 in (float("inf"), float("-inf")):
        return "(1.0f / 0.0f)" if v32 > 0 else "(-1.0f / 0.0f)"
    text = v32.hex() + "f"
    return f"({text})" if v32 < 0 else text


def _c_expr(e: Expr) -> str:
    kind = e[0]
    if kind == "num":
        return c_float(e[1])
    if kind == "band":
        return f"v{e[1]}"
    if kind == "const":
        return f"c{e[1]}"
    if kind == "neg":
        return f"(-{_c_expr(e[1])})"
    if kind == "sqrt":
        return f"lp::sqrt_f32({_c_expr(e[1])})"
    if kind == "abs":
        return f"lp::abs_f32({_c_expr(e[1])})"
    a, b = _c_expr(e[1]), _c_expr(e[2])
    if kind == "div":
        return f"lp::div_or_nan({a}, {b})"
    return f"({a} {dict(add='+', sub='-', mul='*')[kind]} {b})"


def _arg_names(program: FusedProgram) -> list[str]:
    args = [f"b{i}" for i in range(program.n_bands)]
    if program.has_class:
        args += ["q", "lut", "nlut"]
    args += ["sc", "of", "va", "cs", "ns"]
    args += [f"o{k}" for k in range(len(program.outputs))]
    if program.write_mask:
        args.append("m")
    args.append("policy")
    return args


def _pixel_helpers_stamp() -> str:
    """Hash of the per-pixel helpers the generated code calls (Numba's cache does not track them).

    Read from the file, not imported: the emitter serves both devices and imports no Numba."""
    source = (Path(__file__).parent / "cpu" / "pixel.py").read_text()
    return hashlib.sha256(source.encode()).hexdigest()[:16]


@functools.cache
def numba_source(program: FusedProgram) -> str:
    """Python source of the Numba module for ``program`` (``run_parallel`` and ``run_serial``)."""
    lits = _Literals()
    first = "b0" if program.n_bands else "q"
    body: list[str] = []
    add = body.append
    # Per row: scale/offset of the slice and the validity limits in locals (the loop then needs no
    # loads that might alias the outputs), then the mask codes of the row in a first, scalar loop
    # (a table lookup: it would keep the main loop from vectorising), then the fused main loop.
    for i in range(program.n_bands):
        add(f"        s{i} = sc[{i}, t]")
        add(f"        f{i} = of[{i}, t]")
        add(f"        nd{i} = va[{i}, 0]")
        add(f"        lo{i} = va[{i}, 1]")
        add(f"        hi{i} = va[{i}, 2]")
    if program.has_class:
        # the mask output row doubles as the buffer when the mask is written
        add("        crow = m[t, y]" if program.write_mask else "        crow = np.empty(nx, np.uint8)")
        add("        for x in range(nx):")
        add("            crow[x] = class_code(q[t, y, x], lut, nlut)")
    if program.outputs:
        add("        for x in range(nx):")
    if program.has_class and program.outputs:
        add("            clear = crow[x] == 0")
    for i in range(program.n_bands):
        add(f"            r{i} = b{i}[t, y, x]")
        add(f"            ok{i} = dn_is_valid(r{i}, nd{i}, lo{i}, hi{i})")
        add(f"            v{i} = dn_to_reflectance(r{i}, s{i}, f{i})")
    for k, out in enumerate(program.outputs):
        cond = [f"ok{b}" for b in out.bands]
        if program.has_class:
            cond.insert(0, "clear")
        expr = _py_expr(out.expr, lits)
        lo, hi = lits.name(out.lo), lits.name(out.hi)
        lo_edge, hi_edge = (lits.name(v) for v in range_edges(out.lo, out.hi))
        if cond:
            add(f"            if {' and '.join(cond)}:")
            add(f"                o{k}[t, y, x] = finish_index({expr}, {lo}, {hi}, {lo_edge}, {hi_edge}, policy)")
            add("            else:")
            add(f"                o{k}[t, y, x] = NAN")
        else:
            add(f"            o{k}[t, y, x] = finish_index({expr}, {lo}, {hi}, {lo_edge}, {hi_edge}, policy)")

    def driver(name: str, parallel: bool) -> list[str]:
        deco = "@njit(parallel=True, nogil=True, cache=True, error_model='numpy')" if parallel else \
            "@njit(nogil=True, cache=True, error_model='numpy')"
        loop = "prange" if parallel else "range"
        lines = [deco, f"def {name}({', '.join(_arg_names(program))}):  # noqa: E501",
                 f"    nt, ny, nx = {first}.shape"]
        lines += [f"    c{j} = cs[{j}]" for j in range(program.n_constants)]
        lines += [f"    for k in {loop}(nt * ny):", "        t = k // ny", "        y = k - t * ny"]
        return lines + body

    head = [
        f'"""Generated by landpulse (codegen {CODEGEN_VERSION}) for outputs: '
        f'{", ".join(o.name for o in program.outputs) or "-"}{" + mask" if program.write_mask else ""}. Do not edit."""',
        f"# program {program.digest()}; pixel helpers {_pixel_helpers_stamp()}",
        "import numpy as np",
        "from numba import njit, prange",
        "from landpulse.backend.cpu.pixel import (abs_f32, class_code, div_or_nan, dn_is_valid,",
        "                                         dn_to_reflectance, finish_index, sqrt_f32)",
        "",
        "NAN = np.float32(np.nan)",
    ]
    # literals are named while the body is generated: emit them after
    drivers = driver("run_parallel", True) + [""] + driver("run_serial", False)
    consts = [f"{name} = np.float32({value!r})" for value, name in lits.values.items()]
    return "\n".join([*head, *consts, "", "", *drivers, ""])


#: C type of each block dtype the generated CUDA code is specialised for.
C_TYPES: dict[str, str] = {
    "uint8": "unsigned char",
    "int8": "signed char",
    "uint16": "unsigned short",
    "int16": "short",
    "uint32": "unsigned int",
    "int32": "int",
    "float32": "float",
    "float64": "double",
}


def kernel_name(program: FusedProgram, band_types: tuple[str, ...], class_type: str | None) -> str:
    """Name of the ``extern "C"`` CUDA kernel for ``program`` and these block dtypes."""
    tag = hashlib.sha256(repr((program.digest(), band_types, class_type)).encode()).hexdigest()[:16]
    return f"lp_fused_{tag}"


@functools.cache
def cuda_source(program: FusedProgram, band_types: tuple[str, ...], class_type: str | None = None) -> str:
    """CUDA C++ source for ``program`` with bands of NumPy dtypes ``band_types`` (and class band dtype).

    The per-pixel function is ``LP_HD`` (host and device); the ``extern "C" __global__`` kernel is
    compiled only by nvcc/NVRTC; with ``-DLP_HOST_ENTRY`` a host loop is compiled too (tests).
    """
    if len(band_types) != program.n_bands:
        raise ValueError(f"program reads {program.n_bands} bands; got {len(band_types)} dtypes")
    if program.has_class != (class_type is not None):
        raise ValueError("class_type must be given exactly when the program reads a class band")
    try:
        ctypes = [C_TYPES[t] for t in band_types]
        qtype = C_TYPES[class_type] if class_type else None
    except KeyError as err:
        raise ValueError(f"no CUDA type for dtype {err.args[0]}; supported: {', '.join(C_TYPES)}") from None
    name = kernel_name(program, band_types, class_type)

    params = [f"const {t}* __restrict__ b{i}" for i, t in enumerate(ctypes)]
    if program.has_class:
        params += [f"const {qtype}* __restrict__ q", "const unsigned char* __restrict__ lut", "long long nlut"]
    params += ["const float* __restrict__ sc", "const float* __restrict__ of",
               "const double* __restrict__ va", "const float* __restrict__ cs", "long long ns"]
    params += [f"float* __restrict__ o{k}" for k in range(len(program.outputs))]
    if program.write_mask:
        params.append("unsigned char* __restrict__ m")
    params.append("int policy")
    call_args = ", ".join(_arg_names(program))

    body: list[str] = []
    add = body.append
    if program.has_class:
        add("    const unsigned char code = lp::class_code(q[i], lut, nlut);")
    for j in range(program.n_constants):
        add(f"    const float c{j} = cs[{j}];")
    for i, t in enumerate(ctypes):
        add(f"    const {t} r{i} = b{i}[i];")
        add(f"    const bool ok{i} = lp::dn_is_valid(r{i}, va[{3 * i}], va[{3 * i + 1}], va[{3 * i + 2}]);")
        add(f"    const float v{i} = lp::dn_to_reflectance(r{i}, sc[{i} * ns + s], of[{i} * ns + s]);")
    for k, out in enumerate(program.outputs):
        cond = [f"ok{b}" for b in out.bands]
        if program.has_class:
            cond.insert(0, "code == 0")
        edges = range_edges(out.lo, out.hi)
        value = (f"lp::finish_index({_c_expr(out.expr)}, {c_float(out.lo)}, {c_float(out.hi)}, "
                 f"{c_float(edges[0])}, {c_float(edges[1])}, policy)")
        if cond:
            add(f"    o{k}[i] = ({' && '.join(cond)}) ? {value} : lp::nan_f32();")
        else:
            add(f"    o{k}[i] = {value};")
    if program.write_mask:
        add("    m[i] = code;")
    unused = [f"(void)ok{i};" for i in range(program.n_bands) if not any(i in o.bands for o in program.outputs)]
    unused += [f"(void)v{i};" for i in range(program.n_bands) if not any(i in o.bands for o in program.outputs)]
    if unused:
        add("    " + " ".join(unused))
    if not program.outputs:
        add("    (void)policy;")

    sig = ",\n        ".join(params)
    lines = [
        f"// Generated by landpulse (codegen {CODEGEN_VERSION}) for outputs: "
        f"{', '.join(o.name for o in program.outputs) or '-'}{' + mask' if program.write_mask else ''}.",
        f"// Program {program.digest()}; band types {', '.join(band_types) or '-'}; class type {class_type or '-'}. Do not edit.",
        '#include "pixel.cuh"',
        "",
        "namespace lpgen {",
        "",
        f"LP_HD void {name}_pixel(long long i, long long s,\n        {sig}) {{",
        *body,
        "}",
        "",
        "}  // namespace lpgen",
        "",
        "#if defined(__CUDACC__) || defined(__CUDACC_RTC__)",
        f'extern "C" __global__ void {name}(\n        {sig},\n        long long pixels_per_slice, long long n) {{',
        "    const long long stride = (long long)blockDim.x * gridDim.x;",
        "    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {",
        f"        lpgen::{name}_pixel(i, i / pixels_per_slice, {call_args});",
        "    }",
        "}",
        "#endif",
        "",
        "#if defined(LP_HOST_ENTRY)",
        f'extern "C" void {name}_host(\n        {sig},\n        long long pixels_per_slice, long long n) {{',
        "    for (long long i = 0; i < n; ++i) {",
        f"        lpgen::{name}_pixel(i, i / pixels_per_slice, {call_args});",
        "    }",
        "}",
        "#endif",
        "",
    ]
    return "\n".join(lines)


def host_arrays(program: FusedProgram, scales: list[np.ndarray], offsets_dn: list[np.ndarray],
                valid: Any, constants: Any, n_slices: int,
                band_dtypes: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(sc, of, va, cs)`` as the generated kernels take them (host NumPy arrays).

    ``va`` holds each band's validity limits prepared for its block dtype
    (:func:`landpulse.backend.validity.limits_for_dtype`: whole numbers for integer bands).
    """
    if len(band_dtypes) != program.n_bands:
        raise ValueError(f"program reads {program.n_bands} bands; got {len(band_dtypes)} dtypes")
    sc = np.empty((program.n_bands, n_slices), np.float32)
    of = np.empty((program.n_bands, n_slices), np.float32)
    for i in range(program.n_bands):
        sc[i], of[i] = scales[i], offsets_dn[i]
    rows = [limits_for_dtype(Validity(*v), dt) for v, dt in zip(valid, band_dtypes, strict=True)]
    va = np.asarray(rows, np.float64).reshape(program.n_bands, 3) if program.n_bands else np.zeros((0, 3), np.float64)
    cs = np.asarray(constants, np.float32).reshape(program.n_constants) if program.n_constants else np.zeros(1, np.float32)
    return sc, of, np.ascontiguousarray(va), cs
