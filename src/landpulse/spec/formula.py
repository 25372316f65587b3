"""Index formulas as data: a small, whitelisted expression language parsed with :mod:`ast`.

A catalogue formula such as ``g * (N - R) / (N + C1 * R - C2 * B + L)`` is parsed into a tree
of plain tuples (hashable, picklable, printable), from which the CPU (Numba) and GPU (CUDA)
kernels are generated. Only what spectral indices need is accepted:

* numbers, and names (band symbols and constants, each checked against the allowed sets);
* ``+ - * /``, unary ``-`` and ``+``;
* ``x ** n`` with a constant exponent ``n`` in {1, 2, 3, 4} (expanded to multiplications, so it
  rounds the same everywhere) or ``0.5`` (a square root);
* ``sqrt(x)`` and ``abs(x)``.

Anything else (attribute access, calls to other functions, comparisons, variable exponents...)
is refused with :class:`FormulaError`, so a catalogue entry can never run arbitrary code.

Tree nodes::

    ("num", value)      a literal (float)
    ("var", name)       a band symbol or a constant
    ("neg", a)
    ("add"|"sub"|"mul"|"div", a, b)
    ("sqrt", a) | ("abs", a)

Evaluation rules (identical in every generated kernel): float32 arithmetic, one rounding per
operation, no fused multiply-add; a division by zero gives NaN; ``sqrt`` of a negative gives NaN.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from landpulse.errors import InputError

Expr = tuple[Any, ...]

#: Leaf node kinds: literals and names, plus the slots kernels bind names to.
LEAVES = frozenset({"num", "var", "band", "const"})

_BINOPS: dict[type[ast.operator], str] = {
    ast.Add: "add",
    ast.Sub: "sub",
    ast.Mult: "mul",
    ast.Div: "div",
}
_FUNCS = {"sqrt", "abs"}
_SYMBOLS = {"add": "+", "sub": "-", "mul": "*", "div": "/"}


class FormulaError(InputError):
    """A formula uses something outside the whitelisted expression language."""


def parse(text: str, names: Iterable[str]) -> Expr:
    """Parse ``text`` into an expression tree whose names all belong to ``names``.

    Raises
    ------
    FormulaError
        For syntax errors, unknown names and any construct outside the language.
    """
    allowed = set(names)
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as err:
        raise FormulaError(f"cannot parse formula {text!r}: {err.msg}") from None
    return _convert(node, allowed, text)


def _number(node: ast.AST) -> float | None:
    """The value of a numeric literal, or of ``-literal``; None otherwise."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _number(node.operand)
        if inner is not None:
            return -inner if isinstance(node.op, ast.USub) else inner
    return None


def _convert(node: ast.AST, allowed: set[str], text: str) -> Expr:
    where = f"in formula {text!r}"
    if isinstance(node, ast.Constant):
        value = _number(node)
        if value is None or not math.isfinite(value):
            raise FormulaError(f"only finite numbers are allowed {where}; got {node.value!r}")
        return ("num", value)
    if isinstance(node, ast.Name):
        if node.id not in allowed:
            raise FormulaError(f"unknown name {node.id!r} {where}; allowed: {', '.join(sorted(allowed))}")
        return ("var", node.id)
    if isinstance(node, ast.UnaryOp):
        if isinstance(node.op, ast.UAdd):
            return _convert(node.operand, allowed, text)
        if isinstance(node.op, ast.USub):
            value = _number(node)
            if value is not None:
                return ("num", value)
            return ("neg", _convert(node.operand, allowed, text))
        raise FormulaError(f"operator {type(node.op).__name__} is not allowed {where}")
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, ast.Pow):
            exponent = _number(node.right)
            base = _convert(node.left, allowed, text)
            if exponent == 0.5:
                return ("sqrt", base)
            if exponent is not None and exponent in (1.0, 2.0, 3.0, 4.0):
                out = base
                for _ in range(int(exponent) - 1):
                    out = ("mul", out, base)
                return out
            raise FormulaError(
                f"'**' needs a constant exponent of 0.5, 1, 2, 3 or 4 {where}; got {ast.unparse(node.right)!r}"
            )
        op = _BINOPS.get(type(node.op))
        if op is None:
            raise FormulaError(f"operator {type(node.op).__name__} is not allowed {where}")
        return (op, _convert(node.left, allowed, text), _convert(node.right, allowed, text))
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCS:
            raise FormulaError(f"only sqrt() and abs() may be called {where}")
        if len(node.args) != 1 or node.keywords:
            raise FormulaError(f"{node.func.id}() takes exactly one argument {where}")
        return (node.func.id, _convert(node.args[0], allowed, text))
    raise FormulaError(f"{type(node).__name__} is not allowed {where}")


def names(expr: Expr) -> list[str]:
    """Names used by ``expr``, in order of first appearance."""
    out: list[str] = []

    def walk(e: Expr) -> None:
        if e[0] == "var":
            if e[1] not in out:
                out.append(e[1])
        elif e[0] not in LEAVES:
            for child in e[1:]:
                walk(child)

    walk(expr)
    return out


def ops(expr: Expr) -> set[str]:
    """Node kinds used by ``expr`` (``{"sub", "add", "div", ...}``)."""
    kinds = {expr[0]}
    if expr[0] not in LEAVES:
        for child in expr[1:]:
            kinds |= ops(child)
    return kinds


def homogeneity(expr: Expr, bands: Iterable[str]) -> float | None:
    """Degree ``k`` such that ``f(c * bands) == c**k * f(bands)`` for every ``c > 0``, or None.

    Constants count as degree 0, like numbers. An index of degree 0 (NDVI, ARVI...) gives the same
    value whatever common scale the bands are in, so it can be computed from unscaled digital
    numbers; any other index (coefficients added to reflectances: EVI, SAVI, AWEI...) needs
    physical reflectance.
    """
    band_set = set(bands)

    def deg(e: Expr) -> float | None:
        kind = e[0]
        if kind == "num":
            return 0.0
        if kind == "var":
            return 1.0 if e[1] in band_set else 0.0
        if kind in ("neg", "abs"):
            return deg(e[1])
        if kind == "sqrt":
            d = deg(e[1])
            return None if d is None else d / 2
        a, b = deg(e[1]), deg(e[2])
        if a is None or b is None:
            return None
        if kind in ("add", "sub"):
            # x + 0 keeps the degree of x; otherwise both sides must scale alike
            if e[1] == ("num", 0.0):
                return b
            if e[2] == ("num", 0.0):
                return a
            return a if a == b else None
        if kind == "mul":
            return a + b
        return a - b  # div

    return deg(expr)


def evaluate(expr: Expr, env: Mapping[str, Any], *, div: Callable[[Any, Any], Any] | None = None) -> Any:
    """Evaluate ``expr`` with the values in ``env`` (NumPy arrays or scalars).

    Used for introspection (ranges, homogeneity checks), not by the kernels, which are generated.
    ``div`` replaces plain division (for example by a NaN-on-zero division).
    """

    def ev(e: Expr) -> Any:
        kind = e[0]
        if kind == "num":
            return e[1]
        if kind == "var":
            return env[e[1]]
        if kind == "neg":
            return -ev(e[1])
        if kind == "sqrt":
            return np.sqrt(ev(e[1]))
        if kind == "abs":
            return np.abs(ev(e[1]))
        a, b = ev(e[1]), ev(e[2])
        if kind == "add":
            return a + b
        if kind == "sub":
            return a - b
        if kind == "mul":
            return a * b
        return div(a, b) if div is not None else a / b

    return ev(expr)


def to_text(expr: Expr) -> str:
    """Fully parenthesised text of ``expr`` (a canonical form, handy in errors and provenance)."""
    kind = expr[0]
    if kind == "num":
        return repr(expr[1])
    if kind == "var":
        return str(expr[1])
    if kind == "neg":
        return f"(-{to_text(expr[1])})"
    if kind in ("sqrt", "abs"):
        return f"{kind}({to_text(expr[1])})"
    return f"({to_text(expr[1])} {_SYMBOLS[kind]} {to_text(expr[2])})"


def substitute(expr: Expr, mapping: Mapping[str, Expr]) -> Expr:
    """Replace ``("var", name)`` nodes by ``mapping[name]`` where given."""
    kind = expr[0]
    if kind == "var":
        return mapping.get(expr[1], expr)
    if kind in LEAVES:
        return expr
    return (kind, *(substitute(c, mapping) for c in expr[1:]))
