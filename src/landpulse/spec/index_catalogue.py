"""The spectral-index catalogue, as data: ``landpulse/spec/index_specs/indices.json``.

Each index has its Awesome Spectral Indices name, a formula in ASI band symbols (``N``, ``R``,
``S1``...), its constants with defaults, a valid output range, and its source reference. Adding
an index is a data change: the CPU and GPU kernels are generated from the formulas (see
:mod:`landpulse.backend.codegen`).

Whether an index may be computed from unscaled digital numbers is not declared but derived from
its formula (:func:`landpulse.spec.formula.homogeneity`): only indices whose value does not change
when every band is multiplied by the same factor (degree 0: NDVI, NDWI, ARVI...) qualify.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from landpulse.errors import InputError
from landpulse.spec import formula as fm


@dataclass(frozen=True)
class BandSymbol:
    """An ASI band symbol (``N``) and the common names that can serve for it, in order."""

    symbol: str
    common_name: str
    fallbacks: tuple[str, ...] = ()
    description: str = ""

    @property
    def candidates(self) -> tuple[str, ...]:
        return (self.common_name, *self.fallbacks)


@dataclass(frozen=True)
class IndexSpec:
    """One catalogue entry.

    Attributes
    ----------
    name : str
        Awesome Spectral Indices short name (``NDVI``, ``AWEInsh``).
    formula : str
        The formula as written in the catalogue (ASI symbols).
    expr : tuple
        The parsed expression tree (:mod:`landpulse.spec.formula`).
    bands : tuple of str
        ASI band symbols used, in order of first appearance.
    constants : dict of str to float
        Constants and their defaults.
    valid_range : (float, float)
    range_basis : str
        ``unit-reflectance`` (the range holds every value for reflectances in [0, 1]) or
        ``convention``.
    scale_invariant : bool
        True when the index is homogeneous of degree 0 in the bands (computable from DNs).
    """

    name: str
    long_name: str
    formula: str
    expr: fm.Expr
    bands: tuple[str, ...]
    constants: dict[str, float]
    valid_range: tuple[float, float]
    range_basis: str
    reference: str
    url: str
    application_domain: str = ""
    aliases: tuple[str, ...] = ()
    notes: str = ""
    scale_invariant: bool = False
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def key(self) -> str:
        """Lower-case name (``ndvi``): product and variable names."""
        return self.name.lower()

    def constants_with(self, overrides: Mapping[str, float] | None) -> dict[str, float]:
        """Default constants updated by ``overrides``.

        Raises
        ------
        InputError
            For a constant the index does not have.
        """
        values = dict(self.constants)
        for k, v in (overrides or {}).items():
            if k not in values:
                raise InputError(
                    f"{self.name} has no constant {k!r}"
                    + (f"; its constants: {', '.join(values)}" if values else " (it has no constants)")
                )
            values[k] = float(v)
        return values

    def attrs(self, constants: Mapping[str, float] | None = None) -> dict[str, Any]:
        """CF-style attributes of the product variable."""
        out: dict[str, Any] = {
            "long_name": self.long_name,
            "short_name": self.name,
            "units": "1",
            "valid_range": [float(self.valid_range[0]), float(self.valid_range[1])],
            "formula": self.formula,
            "references": f"{self.reference}; {self.url}" if self.url else self.reference,
        }
        consts = dict(constants if constants is not None else self.constants)
        if consts:
            out["constants"] = json.dumps(consts, sort_keys=True)
        return out


@dataclass(frozen=True)
class Catalogue:
    """The loaded catalogue: band symbols and indices."""

    bands: dict[str, BandSymbol]
    indices: dict[str, IndexSpec]

    def get(self, name: str) -> IndexSpec:
        """Look an index up by name or alias, case-insensitively (``ndvi``, ``NDRE``, ``bsi``).

        Raises
        ------
        InputError
            For an unknown name (the message lists the catalogue).
        """
        key = str(name).lower()
        for spec in self.indices.values():
            if key == spec.key or key in (a.lower() for a in spec.aliases):
                return spec
        raise InputError(f"unknown index {name!r}; the catalogue has: {', '.join(self.names())}")

    def names(self) -> list[str]:
        """Lower-case names of every index (aliases not included)."""
        return [s.key for s in self.indices.values()]

    def all_names(self) -> list[str]:
        """Lower-case names and aliases."""
        return [n.lower() for s in self.indices.values() for n in (s.name, *s.aliases)]


def _load(data: Mapping[str, Any]) -> Catalogue:
    bands = {
        sym: BandSymbol(sym, b["common_name"], tuple(b.get("fallbacks", ())), b.get("description", ""))
        for sym, b in data["bands"].items()
    }
    indices: dict[str, IndexSpec] = {}
    for name, d in data["indices"].items():
        consts = {k: float(v) for k, v in d.get("constants", {}).items()}
        clash = set(consts) & set(bands)
        if clash:
            raise InputError(f"catalogue: {name} names constants like bands: {sorted(clash)}")
        expr = fm.parse(d["formula"], [*bands, *consts])
        used = fm.names(expr)
        band_syms = tuple(n for n in used if n in bands)
        unused = set(consts) - set(used)
        if unused:
            raise InputError(f"catalogue: {name} declares constants its formula does not use: {sorted(unused)}")
        lo, hi = (float(v) for v in d["valid_range"])
        if not lo < hi:
            raise InputError(f"catalogue: {name} has an empty valid_range")
        if d.get("range_basis") not in ("unit-reflectance", "convention"):
            raise InputError(f"catalogue: {name} needs range_basis 'unit-reflectance' or 'convention'")
        indices[name] = IndexSpec(
            name=name,
            long_name=d["long_name"],
            formula=d["formula"],
            expr=expr,
            bands=band_syms,
            constants=consts,
            valid_range=(lo, hi),
            range_basis=d["range_basis"],
            reference=d["reference"],
            url=d.get("url", ""),
            application_domain=d.get("application_domain", ""),
            aliases=tuple(d.get("aliases", ())),
            notes=d.get("notes", ""),
            scale_invariant=fm.homogeneity(expr, band_syms) == 0.0,
            raw=dict(d),
        )
    keys = [n.lower() for s in indices.values() for n in (s.name, *s.aliases)]
    dupes = {k for k in keys if keys.count(k) > 1}
    if dupes:
        raise InputError(f"catalogue: names or aliases used twice: {sorted(dupes)}")
    return Catalogue(bands, indices)


@functools.cache
def catalogue() -> Catalogue:
    """The catalogue shipped with landpulse (parsed and checked once per process)."""
    path = importlib.resources.files("landpulse.spec") / "index_specs" / "indices.json"
    return _load(json.loads(path.read_text()))


def get_index(name: str) -> IndexSpec:
    """The catalogue entry for ``name`` (case-insensitive; aliases accepted)."""
    return catalogue().get(name)


def index_names() -> list[str]:
    """Lower-case names of every catalogue index."""
    return catalogue().names()


def resolve(names: Iterable[str]) -> list[tuple[str, IndexSpec]]:
    """``[(requested lower-case name, spec), ...]``; refuses duplicates (also through aliases)."""
    if isinstance(names, str):
        names = [names]
    out: list[tuple[str, IndexSpec]] = []
    seen: dict[str, str] = {}
    for n in names:
        spec = get_index(n)
        if spec.name in seen:
            raise InputError(f"index {n!r} requested twice (as {seen[spec.name]!r} and {n!r})")
        seen[spec.name] = n
        out.append((str(n).lower(), spec))
    return out
