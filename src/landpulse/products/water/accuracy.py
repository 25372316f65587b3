"""Areas of class products and agreement of a water map with a reference map."""

from __future__ import annotations

import json
from typing import Any

import xarray as xr

from landpulse.backend import to_host
from landpulse.errors import InputError
from landpulse.products.areas import class_areas, row_cell_areas
from landpulse.products.provenance import PROVENANCE_ATTR
from landpulse.products.water.codes import (
    WATER_DRY,
    WATER_WET,
)


def area_report(product: xr.Dataset | xr.DataArray) -> dict[str, Any]:
    """Areas (hectares) of every class variable of a product, for a run report (JSON-serialisable).

    Returns
    -------
    dict
        ``{"units": "ha", "pixel_area_m2": ..., "crs": ..., "<variable>": {class: ha}}`` for each
        uint8 variable with CF flags (``water``, ``water_class``, ``water_change``...).
    """
    ds = product.to_dataset() if isinstance(product, xr.DataArray) else product
    variables = [v for v in ds.data_vars if "flag_values" in ds[v].attrs and "flag_meanings" in ds[v].attrs
                 and ds[v].ndim >= 2]
    if not variables:
        raise InputError("area_report: the product has no class variable (flag_values/flag_meanings)")
    first = ds[variables[0]]
    cell = row_cell_areas(first)
    report: dict[str, Any] = {"units": "ha", "crs": str(first.rio.crs),
                              "pixel_area_m2": round(float(cell.mean()), 6)}
    for v in variables:
        report[str(v)] = class_areas(ds[v])
    if PROVENANCE_ATTR in first.attrs:
        report["provenance"] = json.loads(first.attrs[PROVENANCE_ATTR]).get("parameters", {})
    return report


def agreement(water_map: xr.DataArray, reference: xr.DataArray, valid: xr.DataArray | None = None) -> dict[str, Any]:
    """Confusion matrix of a water map against a reference water mask, on clear pixels.

    Parameters
    ----------
    water_map : xarray.DataArray
        Water classes (1 water, 0 not water; other codes are left out).
    reference : xarray.DataArray of bool
        True where the reference says water.
    valid : xarray.DataArray of bool, optional
        Where the reference is usable (for Sentinel-2 SCL: classes 4, 5 and 6).

    Returns
    -------
    dict
        ``{"matrix": [[tn, fp], [fn, tp]]`` (rows: reference not water / water; columns: map not
        water / water), ``"n"``, ``"overall_accuracy"``, ``"water_recall"`` (producer's accuracy),
        ``"water_precision"`` (user's accuracy), ``"kappa"`` (Cohen's).
    """
    w = to_host(water_map)
    ref = to_host(reference).astype(bool)
    use = w.isin([WATER_DRY, WATER_WET])
    if valid is not None:
        use = use & to_host(valid).astype(bool)
    pred = w == WATER_WET
    cells = xr.Dataset({"tp": (use & ref & pred).sum(), "fn": (use & ref & ~pred).sum(),
                        "fp": (use & ~ref & pred).sum(), "tn": (use & ~ref & ~pred).sum()}).compute()
    tp, fn, fp, tn = (int(cells[k]) for k in ("tp", "fn", "fp", "tn"))
    n = tp + fn + fp + tn
    if n == 0:
        return {"matrix": [[0, 0], [0, 0]], "n": 0}
    oa = (tp + tn) / n
    pe = ((tp + fn) * (tp + fp) + (tn + fp) * (tn + fn)) / (n * n)
    return {
        "matrix": [[tn, fp], [fn, tp]], "n": n, "overall_accuracy": oa,
        "water_recall": tp / (tp + fn) if tp + fn else float("nan"),
        "water_precision": tp / (tp + fp) if tp + fp else float("nan"),
        "kappa": (oa - pe) / (1 - pe) if pe < 1 else float("nan"),
    }
