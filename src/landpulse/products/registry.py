"""The product registry: every product that production runs can compute, described once.

A leaf module (it imports nothing else of landpulse but its errors): product modules register
their products here when they are imported (``landpulse.products`` imports them all), plugins
through :func:`register_product` or the ``landpulse.products`` entry-point group, and the job
spec, the plan, unit execution and the command line read it.

A product is a function ``compute(ds, *, bands=None, **params) -> xarray.DataArray`` of a scene
Dataset (raw digital numbers with radiometry, ``(time, y, x)`` or ``(y, x)``) plus what
production needs to know about it without calling it: its kind (the grain of its units), the
input bands it reads, how it is stored, its classes and its quick-look style.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.metadata import entry_points
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
    """

    name: str
    compute: ProductFunction
    kind: ProductKind = "scene"
    inputs: tuple[str, ...] = ()
    dtype: str = "float32"
    flags: tuple[tuple[int, ...], tuple[str, ...]] | None = None
    quicklook: QuicklookStyle = "index"
    description: str = ""


_PRODUCTS: dict[str, Product] = {}
_entry_points_loaded = False


def register_product(product: Product, *, replace: bool = False) -> Product:
    """Add ``product`` to the registry and return it.

    Raises
    ------
    InputError
        When another product of that name is registered and ``replace`` is false.
    """
    old = _PRODUCTS.get(product.name)
    if old is not None and old != product and not replace:
        raise InputError(f"product {product.name!r} is registered twice (pass replace=True to override it)")
    _PRODUCTS[product.name] = product
    return product


def _load_entry_points() -> None:
    """Register the products of installed plugins (entry points in :data:`ENTRY_POINT_GROUP`): each
    names a callable that registers its products, or a :class:`Product`."""
    global _entry_points_loaded
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
    if name not in _PRODUCTS:
        _load_entry_points()
    return name in _PRODUCTS


__all__ = ["ENTRY_POINT_GROUP", "Product", "ProductKind", "QuicklookStyle", "get_product", "is_registered",
           "product_names", "register_product"]
