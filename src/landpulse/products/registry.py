"""The product registry: every product that production runs can compute, described once.

A leaf module (it imports nothing else of landpulse but its errors): product modules register
their products here when they are imported, plugins through :func:`register_product` or the
``landpulse.products`` entry-point group, and the job spec, the plan, unit execution and the
command line read it.

The built-in products are known without importing their modules (which import xarray, Dask and
the kernels): ``builtin_products.json`` beside this module declares each one (kind, inputs,
dtype, classes, quick-look style, keyword parameters and the module that defines it), so that
validating a job spec or planning a run that has nothing to do costs no imports. A built-in
product's ``compute`` is a :class:`LazyCompute` until its module is imported (on its first call,
or by any import of the module), which registers the real function in its place.
``tests/products/test_registry.py`` checks the table against the imported products, so the two
cannot drift (``python scripts/update_builtin_products.py`` rewrites the table).

A product is a function ``compute(ds, *, bands=None, **params) -> xarray.DataArray`` of a scene
Dataset (raw digital numbers with radiometry, ``(time, y, x)`` or ``(y, x)``) plus what
production needs to know about it without calling it: its kind (the grain of its units), the
input bands it reads, how it is stored, its classes and its quick-look style.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import json
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Literal

from landpulse.errors import InputError

#: The grain of a product's units. ``scene``: one product on one tile for one acquisition time;
#: ``window``: a reduction over every scene of a time window (``compute(ds)``, ``ds`` the window's
#: scenes along time); ``comparison``: two windows, a baseline and the current one
#: (``compute(before, after)``); ``monitoring``: a fixed history and a monitoring period that grows
#: with every scene (``compute(history, monitor)``). See :mod:`landpulse.production.windows`.
ProductKind = Literal["scene", "window", "comparison", "monitoring"]

#: Quick-look styles (``landpulse.viz.STYLES``); class products (CF ``flag_values``) are drawn in
#: their class colours whatever the style.
QuicklookStyle = Literal["index", "difference", "magnitude", "frequency"]

#: Entry-point group through which installed packages register products.
ENTRY_POINT_GROUP = "landpulse.products"

ProductFunction = Callable[..., Any]

#: A product's keyword parameters: name -> the accepted values of a ``Literal``-typed parameter
#: (None: any value), and whether it accepts any keyword (``**kwargs``).
ParamsSchema = tuple[tuple[tuple[str, tuple[Any, ...] | None], ...], bool]

#: The declarative table of the built-in products.
BUILTIN_TABLE = Path(__file__).with_name("builtin_products.json")


class LazyCompute:
    """The ``compute`` of a built-in product whose module is not imported yet.

    Calling it imports ``module`` (which registers the product's real function) and calls that;
    it pickles as its two names, so a worker process resolves it in its own registry.
    """

    __slots__ = ("module", "name")

    def __init__(self, name: str, module: str) -> None:
        self.name = name
        self.module = module

    def resolve(self) -> ProductFunction:
        """The product's real function (importing its module).

        Raises
        ------
        InputError
            When the module does not register the product (the table is stale).
        """
        importlib.import_module(self.module)
        entry = _PRODUCTS.get(self.name)
        fn = entry.compute if entry is not None else self
        if isinstance(fn, LazyCompute):
            raise InputError(f"module {self.module} does not register product {self.name!r} "
                             f"(stale {BUILTIN_TABLE.name})")
        return fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LazyCompute) and (self.name, self.module) == (other.name, other.module)

    def __hash__(self) -> int:
        return hash((self.name, self.module))

    def __repr__(self) -> str:
        return f"LazyCompute({self.name!r}, {self.module!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (LazyCompute, (self.name, self.module))


@dataclass(frozen=True)
class Product:
    """One product, as production sees it.

    Attributes
    ----------
    name : str
        The registry key, the stored variable's name and the name of its units' folders.
    compute : callable
        ``compute(ds, *, bands=None, **params) -> DataArray`` (comparison and monitoring products:
        ``compute(before, after, *, bands=None, **params)``); ``params`` are the product's keyword
        parameters (checked against this signature by the job spec).
    kind : ProductKind
        The grain of its units.
    inputs : tuple of str
        Band common names the product reads (informational; ``bands`` maps them to variables).
    dtype : str
        dtype of the computed values: ``float32`` (NaN where invalid) or ``uint8`` (classes).
    flags : tuple of (tuple of int, tuple of str), optional
        CF ``flag_values`` and ``flag_meanings`` of a class product.
    quicklook : QuicklookStyle
        How its thumbnail is drawn.
    description : str
        One line for listings and errors.
    params : ParamsSchema, optional
        The keyword parameters, declared (built-in products known from the table); None: read
        from ``compute``'s signature (:func:`params_schema`).
    """

    name: str
    compute: ProductFunction
    kind: ProductKind = "scene"
    inputs: tuple[str, ...] = ()
    dtype: str = "float32"
    flags: tuple[tuple[int, ...], tuple[str, ...]] | None = None
    quicklook: QuicklookStyle = "index"
    description: str = ""
    params: ParamsSchema | None = None

    def params_schema(self) -> ParamsSchema:
        """The product's keyword parameters (declared, or read from ``compute``'s signature)."""
        return self.params if self.params is not None else params_schema(self.compute)


def reflectance_inputs(name: str, params: Mapping[str, Any] | None = None) -> tuple[str, ...]:
    """The band common names product ``name`` reads as reflectance with ``params``: its declared
    ``inputs``, or, for a product made of an index (a composite or an anomaly with ``index=``),
    that index's; empty when neither says (the caller then treats every band as read)."""
    try:
        roles = get_product(name).inputs
    except InputError:  # an unknown name: whoever computes it refuses it
        return ()
    index = (params or {}).get("index")
    if not roles and isinstance(index, str) and index != name:
        return reflectance_inputs(index)
    return tuple(roles)


def params_schema(fn: ProductFunction) -> ParamsSchema:
    """The keyword parameters of a product function, from its signature and type hints.

    The data arguments (the scenes; a comparison's two windows) are positional without defaults
    and ``bands`` is common to all: neither is a parameter. A parameter typed as a ``Literal``
    accepts its choices only.
    """
    sig = inspect.signature(fn)
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # unresolvable annotations: check names only
        hints = {}
    accepted = []
    for p in sig.parameters.values():
        if (p.kind == p.KEYWORD_ONLY or (p.kind == p.POSITIONAL_OR_KEYWORD and p.default is not p.empty)) \
                and p.name not in ("ds", "bands"):
            hint = hints.get(p.name)
            accepted.append((p.name, tuple(typing.get_args(hint)) if typing.get_origin(hint) is Literal else None))
    return tuple(accepted), any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values())


_PRODUCTS: dict[str, Product] = {}
_entry_points_loaded = False
_builtins_loaded = False


def _same_declaration(a: Product, b: Product) -> bool:
    """Whether two entries describe the same product (all but ``compute`` and ``params``)."""
    return (a.name, a.kind, a.inputs, a.dtype, a.flags, a.quicklook, a.description) == \
        (b.name, b.kind, b.inputs, b.dtype, b.flags, b.quicklook, b.description)


def builtin_table() -> dict[str, Product]:
    """The built-in products as the table declares them (``compute``: a :class:`LazyCompute`)."""
    rows = json.loads(BUILTIN_TABLE.read_text())
    out = {}
    for row in rows["products"]:
        flags = row.get("flags")
        params = tuple((n, None if c is None else tuple(c)) for n, c in row["params"])
        out[row["name"]] = Product(
            row["name"], LazyCompute(row["name"], row["module"]), kind=row["kind"], inputs=tuple(row["inputs"]),
            dtype=row["dtype"], flags=(tuple(flags[0]), tuple(flags[1])) if flags else None,
            quicklook=row["quicklook"], description=row["description"], params=(params, bool(row["open_ended"])))
    return out


def builtin_row(product: Product, module: str) -> dict[str, Any]:
    """A product's row of the table; ``module``: the module whose import registers it."""
    params, open_ended = params_schema(product.compute)
    return {"name": product.name, "module": module, "kind": product.kind, "inputs": list(product.inputs),
            "dtype": product.dtype, "flags": [list(product.flags[0]), list(product.flags[1])] if product.flags else None,
            "quicklook": product.quicklook, "description": product.description,
            "params": [[n, None if c is None else list(c)] for n, c in params], "open_ended": open_ended}


def _load_builtins() -> None:
    global _builtins_loaded
    if _builtins_loaded:
        return
    _builtins_loaded = True
    for name, product in builtin_table().items():
        _PRODUCTS.setdefault(name, product)  # a module imported already registered the real one


def register_product(product: Product, *, replace: bool = False) -> Product:
    """Add ``product`` to the registry and return it.

    Raises
    ------
    InputError
        When another product of that name is registered and ``replace`` is false.
    """
    old = _PRODUCTS.get(product.name)
    if old is not None and isinstance(old.compute, LazyCompute) and _same_declaration(old, product):
        replace = True  # the built-in product's module registers its real function
    if old is not None and old != product and not replace:
        raise InputError(f"product {product.name!r} is registered twice (pass replace=True to override it)")
    _PRODUCTS[product.name] = product
    return product


def _load_entry_points() -> None:
    """Register the products of installed plugins (entry points in :data:`ENTRY_POINT_GROUP`): each
    names a callable that registers its products, or a :class:`Product`."""
    global _entry_points_loaded
    _load_builtins()
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        obj = ep.load()
        if isinstance(obj, Product):
            register_product(obj)
        elif callable(obj):
            obj()


def get_product(name: str) -> Product:
    """The registered product ``name``.

    Raises
    ------
    InputError
        For an unknown name (with the closest known one).
    """
    _load_builtins()
    if name not in _PRODUCTS:
        _load_entry_points()
    try:
        return _PRODUCTS[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(_PRODUCTS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise InputError(f"unknown product {name!r}{hint}; available: {', '.join(sorted(_PRODUCTS))}") from None


def product_names(kinds: Iterable[ProductKind] | None = None) -> list[str]:
    """Names of the registered products (of ``kinds``, or all), sorted."""
    _load_entry_points()
    wanted = set(kinds) if kinds is not None else None
    return sorted(n for n, p in _PRODUCTS.items() if wanted is None or p.kind in wanted)


def is_registered(name: str) -> bool:
    """Whether a product of that name is registered."""
    _load_builtins()
    if name not in _PRODUCTS:
        _load_entry_points()
    return name in _PRODUCTS


__all__ = ["BUILTIN_TABLE", "ENTRY_POINT_GROUP", "LazyCompute", "ParamsSchema", "Product", "ProductKind",
           "QuicklookStyle", "builtin_row", "builtin_table", "get_product", "is_registered", "params_schema",
           "product_names", "register_product"]
