"""The formula language: only whitelisted constructs parse; trees, degrees and codegen inputs are right."""

from __future__ import annotations

import numpy as np
import pytest

from landpulse.spec import formula as fm
from landpulse.spec.index_catalogue import catalogue

NAMES = ["N", "R", "B", "L", "g"]


@pytest.mark.parametrize("text", [
    "__import__('os').system('true')",
    "N.real",
    "N[0]",
    "N if R else B",
    "N < R",
    "N ** R",            # variable exponent
    "N ** 1.7",          # exponent outside the exact set
    "exp(N)",
    "sqrt(N, R)",
    "sqrt(x=N)",
    "lambda: N",
    "X + N",             # unknown name
    "N // R",
    "N % R",
    "(N, R)",
    "'N'",
    "True + N",
    "1e400 * N",         # not finite
    "N +",
])
def test_refuses_anything_outside_the_language(text: str) -> None:
    with pytest.raises(fm.FormulaError):
        fm.parse(text, NAMES)


def test_error_names_the_problem() -> None:
    with pytest.raises(fm.FormulaError, match="unknown name 'X'.*allowed: B, L, N, R, g"):
        fm.parse("X + N", NAMES)
    with pytest.raises(fm.FormulaError, match="constant exponent"):
        fm.parse("N ** R", NAMES)


def test_trees() -> None:
    assert fm.parse("(N - R) / (N + R)", NAMES) == ("div", ("sub", ("var", "N"), ("var", "R")), ("add", ("var", "N"), ("var", "R")))
    assert fm.parse("-N", NAMES) == ("neg", ("var", "N"))
    assert fm.parse("-2.5 * N", NAMES) == ("mul", ("num", -2.5), ("var", "N"))
    assert fm.parse("+N", NAMES) == ("var", "N")
    assert fm.parse("N ** 2", NAMES) == ("mul", ("var", "N"), ("var", "N"))
    assert fm.parse("N ** 3", NAMES) == ("mul", ("mul", ("var", "N"), ("var", "N")), ("var", "N"))
    assert fm.parse("N ** 0.5", NAMES) == ("sqrt", ("var", "N"))
    assert fm.parse("abs(N)", NAMES) == ("abs", ("var", "N"))
    # left-associative, as Python and C evaluate it
    assert fm.to_text(fm.parse("N - R - B", NAMES)) == "((N - R) - B)"


def test_evaluate_matches_python_on_random_values() -> None:
    rng = np.random.default_rng(3)
    env = {k: rng.uniform(0.01, 1, 50) for k in NAMES}
    text = "g * (N - R) / (N + 6.0 * R - 7.5 * B + L) + sqrt(N ** 2 + R ** 2) - abs(B - R)"
    got = fm.evaluate(fm.parse(text, NAMES), env)
    want = eval(text, {"sqrt": np.sqrt, "abs": np.abs}, dict(env))
    np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("text,degree", [
    ("(N - R) / (N + R)", 0.0),
    ("N - R", 1.0),
    ("N * R", 2.0),
    ("sqrt(N * R) / B", 0.0),
    ("(N - R) / (N + R + L)", None),       # L adds a constant to reflectances
    ("g * (N - R) / (N + R)", 0.0),        # constants multiplying are fine
    ("N + 1", None),
    ("N + 0", 1.0),
    ("2 * N - R", 1.0),
])
def test_homogeneity(text: str, degree: float | None) -> None:
    assert fm.homogeneity(fm.parse(text, NAMES), ["N", "R", "B"]) == degree


def test_homogeneity_agrees_with_numeric_scaling_for_the_catalogue() -> None:
    """The structural degree-0 test agrees with f(k x) == f(x) evaluated numerically."""
    rng = np.random.default_rng(11)
    for spec in catalogue().indices.values():
        env = {b: rng.uniform(0.05, 0.6, 200) for b in spec.bands}
        env.update(spec.constants)
        f1 = fm.evaluate(spec.expr, env)
        f2 = fm.evaluate(spec.expr, {**env, **{b: env[b] * 7.3 for b in spec.bands}})
        numerically_invariant = bool(np.allclose(f1, f2, rtol=1e-9, atol=0))
        assert spec.scale_invariant == numerically_invariant, spec.name


def test_scale_invariant_indices_are_exactly_the_ratio_ones() -> None:
    inv = {s.name for s in catalogue().indices.values() if s.scale_invariant}
    assert inv == {"NDVI", "GNDVI", "NDREI", "NDMI", "NBR", "NBR2", "NDWI", "MNDWI", "NDBI", "NDSI", "BI", "ARVI", "GARI"}
