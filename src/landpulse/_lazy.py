"""Attributes of a package imported from their modules on first use (PEP 562).

``import landpulse`` and ``import landpulse.io`` stay cheap this way: a name such as
``landpulse.ndvi`` loads xarray, Dask and the products only when it is first looked up.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any


def lazy_attributes(namespace: MutableMapping[str, Any], table: Mapping[str, str]
                    ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module-level ``__getattr__`` and ``__dir__`` of a package whose public names load lazily.

    Parameters
    ----------
    namespace : mutable mapping
        The package's ``globals()``; a name is stored there once loaded (later lookups are plain).
    table : mapping of str to str
        Public name -> the module that defines it.
    """

    def __getattr__(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(table))

    return __getattr__, __dir__
