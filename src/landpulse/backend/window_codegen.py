"""Fused window kernels: raw bands of one spatial block over a window's dates in, one reduced index out.

A window kernel is the fused index kernel of :mod:`landpulse.backend.codegen` (one index of a
:class:`~landpulse.backend.codegen.FusedProgram`: raw DNs checked, scaled per date, the class band
through its mask table, the formula, its range) turned inside out: per strip of ``strip``
pixels of a row of the block, the index of every date is written to a ``(time, strip)`` float32
buffer (``+inf`` where invalid; the per-date loops vectorise as the per-scene kernel's do, the
class test too when every clear class is below 32: a bit of ``cbits``, not a table lookup), then
the strip's columns are reduced over time: sorted at once by a sorting network for medians and
percentiles (``usenet``), else per pixel
(:mod:`landpulse.backend.cpu.window_pixel`: median, max, percentile, count). No float stack of
the window is ever formed: the block is read once, as raw integers.

Every image argument ``b{i}`` (and ``q``) is the int64 address of each date's C-ordered ``(y, x)``
array, ``k{i}`` (``kq``) an array of that dtype (the element type of the addresses): the blocks
of each date are read where they lie, no ``(time, y, x)`` stack need be joined first. Argument
order of the generated Numba entries (``rows``, ``run_parallel``)::

    b0..b{n-1}, k0..k{n-1}, [q, kq, lut, nlut, cbits, usebits], sc, of, va, cs, val, cnt, policy,
    method, qfrac, net, usenet, strip, (y0, y1 | nchunk, size)

with the tables of :func:`landpulse.backend.codegen.host_arrays` (one slice per date).
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from landpulse.backend._version_tag import CODEGEN_VERSION
from landpulse.backend.codegen import FusedProgram, _Literals, _pixel_helpers_stamp, _py_expr, range_edges

#: Version of this emitter: bump it whenever the generated window code changes meaning.
WINDOW_CODEGEN_VERSION = "3"


def check_window_program(program: FusedProgram) -> None:
    """A window kernel reduces exactly one index.

    Raises
    ------
    ValueError
        For a program with no index or several, or one that writes the mask.
    """
    if len(program.outputs) != 1 or program.write_mask:
        raise ValueError("a window kernel reduces exactly one index (and writes no mask)")


def _stamp() -> str:
    here = Path(__file__).parent / "cpu" / "window_pixel.py"
    return hashlib.sha256(here.read_text().encode()).hexdigest()[:16]


def _args(program: FusedProgram) -> list[str]:
    args = [f"b{i}" for i in range(program.n_bands)] + [f"k{i}" for i in range(program.n_bands)]
    if program.has_class:
        args += ["q", "kq", "lut", "nlut", "cbits", "usebits"]
    return args + ["sc", "of", "va", "cs", "val", "cnt", "policy", "method", "qfrac", "net", "usenet", "strip"]


def _fill_loop(program: FusedProgram, lits: _Literals, clear: str | None) -> list[str]:
    """The loop over one strip's pixels at date ``t``: the index or ``+inf``, and the valid count."""
    out = program.outputs[0]
    expr = _py_expr(out.expr, lits)
    lo, hi = lits.name(out.lo), lits.name(out.hi)
    lo_edge, hi_edge = (lits.name(v) for v in range_edges(out.lo, out.hi))
    lines = ["for x in range(w):", "    X = x0 + x"]
    for i in range(program.n_bands):
        lines += [f"    r{i} = a{i}[y, X]", f"    ok{i} = dn_is_valid(r{i}, nd{i}, lo{i}, hi{i})",
                  f"    v{i} = dn_to_reflectance(r{i}, s{i}, f{i})"]
    lines.append(f"    v = finish_index({expr}, {lo}, {hi}, {lo_edge}, {hi_edge}, policy)")
    cond = [*([f"({clear})"] if clear is not None else []), *(f"ok{b}" for b in out.bands), "((v - v) == 0.0)"]
    lines += [f"    good = {' & '.join(cond)}", "    buf[t, x] = v if good else INF", "    nrow[x] += 1 if good else 0"]
    return lines


@functools.cache
def numba_window_source(program: FusedProgram) -> str:
    """Python source of the Numba window module of ``program`` (``rows`` and ``run_parallel``)."""
    check_window_program(program)
    out = program.outputs[0]
    lits = _Literals()
    body: list[str] = []
    add = body.append
    add("        for x0 in range(0, nx, strip):")
    add("            w = min(strip, nx - x0)")
    add("            for x in range(w):")
    add("                nrow[x] = 0")
    add("            for t in range(nt):")
    for i in range(program.n_bands):
        add(f"                a{i} = carray(date_pointer(b{i}[t], k{i}), (ny, nx))")
    if program.has_class:
        add("                qa = carray(date_pointer(q[t], kq), (ny, nx))")
    for i in range(program.n_bands):
        add(f"                s{i} = sc[{i}, t]")
        add(f"                f{i} = of[{i}, t]")
    pad = " " * 16
    if program.has_class:
        # two copies of the loop: the clear-class bit test (vectorises) or the table lookup
        add(pad + "if usebits:")
        body.extend(pad + "    " + line for line in _fill_loop(program, lits, "class_clear_bit(qa[y, X], cbits)"))
        add(pad + "else:")
        body.extend(pad + "    " + line for line in _fill_loop(program, lits, "class_code(qa[y, X], lut, nlut) == 0"))
    else:
        body.extend(pad + line for line in _fill_loop(program, lits, None))
    add("            if usenet:")
    add("                sort_strip(buf, net, w)")
    add("                for x in range(w):")
    add("                    val[y, x0 + x] = pick_sorted(buf, x, nrow[x], method, qfrac)")
    add("                    cnt[y, x0 + x] = nrow[x]")
    add("            else:")
    add("                for x in range(w):")
    add("                    v, n = reduce_pixel(buf, x, nt, work, method, qfrac)")
    add("                    val[y, x0 + x] = v")
    add("                    cnt[y, x0 + x] = n")

    args = ", ".join(_args(program))
    rows = ["@njit(nogil=True, cache=True, error_model='numpy')",
            f"def rows({args}, y0, y1):  # noqa: E501",
            f"    nt = {'b0' if program.n_bands else 'q'}.shape[0]",
            "    ny, nx = val.shape"]
    rows += [f"    c{j} = cs[{j}]" for j in range(program.n_constants)]
    for i in range(program.n_bands):
        rows += [f"    nd{i} = va[{i}, 0]", f"    lo{i} = va[{i}, 1]", f"    hi{i} = va[{i}, 2]"]
    rows += ["    buf = np.empty((nt, strip), np.float32)", "    nrow = np.empty(strip, np.int32)",
             "    work = np.empty(max(nt, 1), np.float32)", "    for y in range(y0, y1):"]
    rows += body
    parallel = ["@njit(parallel=True, nogil=True, cache=True, error_model='numpy')",
                f"def run_parallel({args}, nchunk, size):  # noqa: E501",
                "    ny = val.shape[0]",
                "    for c in prange(nchunk):",
                f"        rows({args}, c * size, min((c + 1) * size, ny))"]
    head = [
        f'"""Generated by landpulse (window codegen {WINDOW_CODEGEN_VERSION}, codegen {CODEGEN_VERSION}) '
        f'for the window reduction of {out.name}. Do not edit."""',
        f"# program {program.digest()}; pixel helpers {_pixel_helpers_stamp()}; window helpers {_stamp()}",
        "import numpy as np",
        "from numba import carray, njit, prange",
        "from landpulse.backend.cpu.pixel import (abs_f32, class_code, div_or_nan, dn_is_valid,",
        "                                         dn_to_reflectance, finish_index, sqrt_f32)",
        ("from landpulse.backend.cpu.window_pixel import (class_clear_bit, date_pointer, pick_sorted, reduce_pixel,"
         " sort_strip)"),
        "",
        "INF = np.float32(np.inf)",
    ]
    consts = [f"{name} = np.float32({value!r})" for value, name in lits.values.items()]
    return "\n".join([*head, *consts, "", "", *rows, "", "", *parallel, ""])
