"""The declarative table of built-in products (``builtin_products.json``) against the product
modules themselves: the registry knows every built-in product without importing its module, and
the table cannot drift from what the modules register."""

from __future__ import annotations

import pickle
import subprocess
import sys

import pytest

from landpulse.errors import InputError
from landpulse.production.jobspec import check_product_params
from landpulse.products import registry

MODULES = ("landpulse.products.indices", "landpulse.products.water", "landpulse.products.temporal")


def _registered() -> dict[str, registry.Product]:
    import importlib

    for m in MODULES:
        importlib.import_module(m)
    return {n: p for n, p in registry._PRODUCTS.items() if not isinstance(p.compute, registry.LazyCompute)}


def test_table_and_imported_products_agree() -> None:
    table = registry.builtin_table()
    real = {n: p for n, p in _registered().items() if p.compute.__module__.startswith("landpulse.")}
    assert sorted(table) == sorted(real), "run scripts/update_builtin_products.py"
    for name, declared in table.items():
        product = real[name]
        assert (declared.kind, declared.inputs, declared.dtype, declared.flags, declared.quicklook,
                declared.description) == (product.kind, product.inputs, product.dtype, product.flags,
                                          product.quicklook, product.description), name
        # the declared keyword parameters are those of the real function's signature
        assert declared.params == registry.params_schema(product.compute), name
        # and the module the table names registers the product (importing it resolves the lazy compute)
        assert declared.compute.resolve() is product.compute, name


def test_ndvi_parameters_hand_checked() -> None:
    """One row read by hand against ``landpulse.products.indices.ndvi``'s signature."""
    ndvi = registry.builtin_table()["ndvi"]
    assert ndvi.params == ((("out_of_range", ("nan", "clip")), ("mask", None), ("allow_digital_numbers", None)), False)
    assert ndvi.compute.module == "landpulse.products.indices"


def test_known_without_importing_modules() -> None:
    """A fresh interpreter finds, lists and checks the built-in products without importing any
    product module, xarray, Dask arrays, rasterio or Numba."""
    code = (
        "import sys\n"
        "from landpulse.products.registry import get_product, product_names\n"
        "from landpulse.production.jobspec import check_product_params\n"
        "p = get_product('bfast_magnitude'); assert p.kind == 'monitoring', p\n"
        "assert 'ndvi' in product_names(['scene']) and 'index_composite' in product_names(['window'])\n"
        "check_product_params('ndvi', {'out_of_range': 'clip'})\n"
        "heavy = ['xarray', 'dask.array', 'rasterio', 'numba', 'landpulse.products.indices',\n"
        "         'landpulse.products.temporal', 'landpulse.products.water']\n"
        "print([m for m in heavy if m in sys.modules])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_lazy_compute_resolves_and_pickles() -> None:
    lazy = registry.LazyCompute("ndvi", "landpulse.products.indices")
    again = pickle.loads(pickle.dumps(lazy))
    assert again == lazy
    from landpulse.products.indices import ndvi

    assert again.resolve() is ndvi


def test_stale_table_entry_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="does not register product 'no_such_product'"):
        registry.LazyCompute("no_such_product", "landpulse.products.indices").resolve()


def test_params_checked_from_the_table() -> None:
    with pytest.raises(ValueError, match="must be one of \\['nan', 'clip'\\]"):
        check_product_params("ndvi", {"out_of_range": "wrap"})
    with pytest.raises(ValueError, match="unknown parameter 'window' for product ndvi"):
        check_product_params("ndvi", {"window": 3})


def test_table_is_what_the_script_writes() -> None:
    """The committed file is byte for byte what the generator writes from a fresh interpreter."""
    from tests.support import REPO

    out = subprocess.run([sys.executable, str(REPO / "scripts" / "update_builtin_products.py"), "--check"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
