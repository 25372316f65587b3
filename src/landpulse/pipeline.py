"""From a scene store to committed products: compute, write, quick-look, then the STAC item.

A product ``<out>/<name>/`` is complete only when its STAC item ``<name>.json`` exists: the item
is written last, atomically, after the Zarr store (itself renamed into place whole) and the
quick-look. :func:`run_products` skips products whose item is already there unless told to
overwrite, so rerunning a finished run writes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
import dask
import xarray as xr

from .backend import device_info, resolve_device
from .errors import InputError
from .catalogue import catalogue as _catalogue
from .indices import index_product, ndvi
from .io.products import INDEX_SCALE, INT16_NODATA, Encoding, open_product, write_product
from .io.stac import product_item, write_item
from .io.store import PathLike, open_store, validate_name
from .radiometry import declare_radiometry
from .viz import quicklook
from .water import water_product

ProductFn = Callable[..., xr.DataArray]


def all_index_names() -> list[str]:
    """Catalogue index names and aliases (lower case)."""
    return _catalogue().all_names()

#: Products ``landpulse run`` knows, by name: the function and its quick-look style.
PRODUCTS: dict[str, tuple[ProductFn, str]] = {
    "ndvi": (ndvi, "index"),
}
# every spectral index of the catalogue (and its aliases), by the names landpulse.indices takes
PRODUCTS.update({n: (index_product(n), "index") for n in all_index_names() if n not in PRODUCTS})
# water maps (class products: quick-looks with their class colours) and the water frequency
PRODUCTS.update({n: (water_product(n), "frequency" if n == "water_frequency" else "index")
                 for n in ("water", "water_otsu", "water_wofs", "water_frequency")})


@dataclass
class ProductResult:
    """What happened to one product of a run."""

    name: str
    status: str  # "written" | "skipped" (already committed)
    store: Path
    item: Path
    quicklook: Path | None = None
    seconds: float = 0.0
    stats: dict[str, float] = field(default_factory=dict)


def product_paths(out_dir: Path, name: str) -> tuple[Path, Path, Path]:
    """``(zarr store, quick-look PNG, STAC item)`` of product ``name`` under ``out_dir``."""
    base = out_dir / validate_name(name, "product name")
    return base / f"{name}.zarr", base / f"{name}.png", base / f"{name}.json"


def _stats(da: xr.DataArray) -> dict[str, float]:
    """Valid fraction, min, mean and max of a (lazy) product in one pass over its chunks."""
    valid, lo, mean, hi = dask.compute(da.notnull().mean(), da.min(), da.mean(), da.max())
    if float(valid) == 0.0:
        return {"valid_fraction": 0.0}
    return {"valid_fraction": float(valid), "min": float(lo), "mean": float(mean), "max": float(hi)}


def write_run_report(results: Sequence[ProductResult], out_dir: PathLike, *, store: str) -> Path:
    """Write ``<out_dir>/run-report.json``: what each product did, its statistics and timing."""
    import datetime as dt  # noqa: PLC0415
    import json  # noqa: PLC0415

    from ._version import __version__  # noqa: PLC0415

    report = {
        "software": f"landpulse {__version__}",
        "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "store": store,
        "device": device_info(resolve_device()).as_dict(),
        "products": [
            {"name": r.name, "status": r.status, "store": str(r.store), "item": str(r.item),
             "quicklook": str(r.quicklook) if r.quicklook else None, "seconds": round(r.seconds, 3), "stats": r.stats}
            for r in results
        ],
    }
    path = Path(out_dir) / "run-report.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path


def run_products(
    store: PathLike | xr.Dataset,
    out_dir: PathLike,
    *,
    products: Sequence[str] = ("ndvi",),
    bands: Mapping[str, str] | None = None,
    encoding: Encoding = "int16",
    overwrite: bool = False,
    quicklooks: bool = True,
    radiometry: tuple[float, float] | None = None,
    progress: bool = False,
) -> list[ProductResult]:
    """Compute ``products`` for a store and commit each one (Zarr, quick-look, STAC item last).

    Parameters
    ----------
    store : path or xarray.Dataset
        A scene store (``landpulse ingest`` output, or a foreign Zarr store).
    out_dir : path
        Products go to ``<out_dir>/<product>/``.
    products : sequence of str
        Names from :data:`PRODUCTS`.
    bands : mapping, optional
        Explicit band variables, ``{"red": "B04"}``.
    encoding : {'int16', 'float32'}
        Storage of index products.
    overwrite : bool
        Recompute products that are already committed.
    quicklooks : bool
        Write a PNG quick-look per product.
    radiometry : (scale, offset), optional
        Declare the radiometry of a foreign store whose bands carry none.
    progress : bool
        Show progress while computing.

    Returns
    -------
    list of ProductResult
    """
    unknown = [p for p in products if p not in PRODUCTS]
    if unknown:
        raise InputError(f"unknown product(s) {unknown}; available: {', '.join(PRODUCTS)}")
    ds = store if isinstance(store, xr.Dataset) else open_store(store)
    if radiometry is not None:
        ds = declare_radiometry(ds, scale=radiometry[0], offset=radiometry[1])
    out = Path(out_dir)
    device = device_info(resolve_device()).as_dict()
    input_ids = [str(v) for v in ds["scene_id"].values] if "scene_id" in ds.coords else []
    results = []
    for name in products:
        zarr_path, png_path, item_path = product_paths(out, name)
        if item_path.exists() and not overwrite:
            results.append(ProductResult(name, "skipped", zarr_path, item_path,
                                         png_path if png_path.exists() else None))
            continue
        t0 = time.perf_counter()
        fn, style = PRODUCTS[name]
        product = fn(ds, bands=bands) if bands else fn(ds)
        write_product(product, zarr_path, encoding=encoding, overwrite=True, progress=progress)
        stored = open_product(zarr_path)[name]
        stats = _stats(stored)
        png = quicklook(stored, png_path, style=style, title=f"{name.upper()}: {', '.join(input_ids[:3]) or out.name}") if quicklooks else None
        enc = ({"dtype": "int16", "scale": INDEX_SCALE, "offset": 0.0, "nodata": INT16_NODATA}
               if encoding == "int16" and product.dtype.kind == "f" else {"dtype": str(product.dtype)})
        item = product_item(
            stored.assign_attrs(product.attrs), item_id=f"{out.name}-{name}",
            data_href=f"./{zarr_path.name}", quicklook_href=f"./{png_path.name}" if png else None,
            device=device, input_ids=input_ids, encoding=enc,
        )
        write_item(item, item_path)
        results.append(ProductResult(name, "written", zarr_path, item_path, png,
                                     time.perf_counter() - t0, stats))
    return results
