"""A plugin that leaves a mark when it is imported (plugin tests: which commands import a spec's
plugins). Registers ``marked_ndvi``, NDVI under another name."""

from __future__ import annotations

import os
from pathlib import Path

from landpulse.products.indices import ndvi
from landpulse.products.registry import Product, register_product

marker = os.environ.get("LANDPULSE_TEST_MARKER")
if marker:
    with Path(marker).open("a") as f:
        f.write(f"imported by pid {os.getpid()}\n")


def marked_ndvi(ds, *, bands=None):  # type: ignore[no-untyped-def]
    return ndvi(ds, bands=bands).rename("marked_ndvi")


register_product(Product("marked_ndvi", marked_ndvi, inputs=("red", "nir"), description="NDVI (plugin tests)"))
