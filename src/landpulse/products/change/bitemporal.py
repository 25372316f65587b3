"""Bi-temporal change: index differencing with classes, dNBR burn severity, change vectors.

Inputs are DataArrays of index values (NDVI, NBR... from :func:`landpulse.ndvi` or the index
catalogue) or Datasets of bands, for two dates or two period composites on one grid (checked,
never joined). Outputs carry the CRS and CF metadata: differences and magnitudes float32 (NaN
nodata), classes uint8 with ``flag_values``/``flag_meanings`` and nodata 255.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, cast

import numpy as np
import xarray as xr

from landpulse.backend import apply_kernel
from landpulse.backend.chunking import time_contiguous
from landpulse.backend.reductions import finite_range, histogram, otsu_from_counts
from landpulse.errors import InputError
from landpulse.products.common import as_values, class_attrs, drop_scalar_coords, finish
from landpulse.products.indices import ndvi as _ndvi

#: dNBR class boundaries (Key & Benson 2006, FIREMON Landscape Assessment; the USGS table of
#: dNBR x 1000: enhanced regrowth high < -250 <= regrowth low < -100 <= unburned < +100 <= low
#: < +270 <= moderate-low < +440 <= moderate-high < +660 <= high severity).
DNBR_EDGES: tuple[float, ...] = (-0.25, -0.1, 0.1, 0.27, 0.44, 0.66)
DNBR_CLASSES: tuple[str, ...] = (
    "enhanced_regrowth_high", "enhanced_regrowth_low", "unburned", "low_severity",
    "moderate_low_severity", "moderate_high_severity", "high_severity",
)


def _classify(before: xr.DataArray, after: xr.DataArray, edges: Sequence[float], first: int,
              offset: float = 0.0) -> tuple[xr.DataArray, xr.DataArray]:
    """(after - before) - offset and its classes, through the kernel seam."""
    e = np.asarray(edges, dtype=np.float64)
    if e.ndim != 1 or not np.all(np.isfinite(e)) or np.any(np.diff(e) <= 0):
        raise InputError(f"class thresholds must be finite and strictly increasing; got {list(edges)}")
    if first + e.size > 254:
        raise InputError("at most 254 classes (255 is nodata)")
    b, a = drop_scalar_coords(as_values(before)), drop_scalar_coords(as_values(after))
    b.name, a.name = before.name or "before", after.name or "after"
    d, c = apply_kernel("classify_difference", b, a,
                        kwargs={"edges": e.astype(np.float32), "first": int(first), "offset": float(offset)},
                        output_dtypes=(np.float32, np.uint8))
    return d, c


def difference(
    before: xr.DataArray,
    after: xr.DataArray,
    *,
    thresholds: Sequence[float] | None = None,
    labels: Sequence[str] | None = None,
    name: str = "difference",
) -> xr.Dataset:
    """Index differencing: ``after - before``, optionally classed by thresholds.

    Parameters
    ----------
    before, after : xarray.DataArray
        Index values (float; NaN nodata) or bands with radiometry, on one grid.
    thresholds : sequence of float, optional
        Strictly increasing class edges; class ``i`` (1-based) holds
        ``thresholds[i-2] <= d < thresholds[i-1]``. For example ``(-0.1, 0.1)`` gives
        1 decrease, 2 stable, 3 increase.
    labels : sequence of str, optional
        ``len(thresholds) + 1`` class names (default ``class_1``...).
    name : str
        Name of the difference variable (``dndvi`` for NDVI).

    Returns
    -------
    xarray.Dataset
        ``<name>`` float32 (NaN where either date is NaN) and, with thresholds, ``change_class``
        uint8 (``flag_values`` 1..n, nodata 255).
    """
    edges = list(thresholds or [])
    if labels is not None and len(labels) != len(edges) + 1:
        raise InputError(f"labels needs {len(edges) + 1} names for {len(edges)} thresholds; got {len(labels)}")
    d, c = _classify(before, after, edges, 1)
    inputs = {"before": before, "after": after}
    params = {"thresholds": edges}
    out = {name: finish(d, before, name, {"long_name": f"{name}: after - before", "units": before.attrs.get("units", "1")},
                        inputs, params)}
    if edges:
        names = list(labels) if labels is not None else [f"class_{i}" for i in range(1, len(edges) + 2)]
        out["change_class"] = finish(c, before, "change_class",
                                     class_attrs(f"{name} classes", names, thresholds=edges), inputs, params)
    return xr.Dataset(out)


def dndvi(before: xr.Dataset, after: xr.Dataset, *, thresholds: Sequence[float] | None = None,
          labels: Sequence[str] | None = None) -> xr.Dataset:
    """NDVI difference of two scenes (Datasets with red/nir bands): :func:`difference` of
    :func:`landpulse.ndvi` of each, variable ``dndvi``."""
    return difference(_ndvi(before), _ndvi(after), thresholds=thresholds, labels=labels, name="dndvi")


def dnbr(nbr_pre: xr.DataArray, nbr_post: xr.DataArray, *, offset: float = 0.0) -> xr.Dataset:
    """Differenced Normalized Burn Ratio and the USGS burn-severity classes.

    ``dNBR = NBR_pre - NBR_post - offset`` (Key & Benson 2006; ``offset`` is the optional dNBR of
    unburned areas, subtracted to correct phenology between the dates). Classes follow the
    FIREMON/USGS table (:data:`DNBR_EDGES`): 1 enhanced regrowth high, 2 enhanced regrowth low,
    3 unburned, 4 low, 5 moderate-low, 6 moderate-high, 7 high severity; 255 nodata.

    Parameters
    ----------
    nbr_pre, nbr_post : xarray.DataArray
        NBR ``(nir - swir22) / (nir + swir22)`` before and after the fire (float, NaN nodata).
    offset : float
        dNBR offset (unitless, not x 1000).

    Returns
    -------
    xarray.Dataset
        ``dnbr`` float32 (unscaled; multiply by 1000 for the FIREMON scale) and
        ``burn_severity`` uint8.
    """
    d, c = _classify(nbr_post, nbr_pre, DNBR_EDGES, 1, offset)
    inputs = {"nbr_pre": nbr_pre, "nbr_post": nbr_post}
    params = {"offset": float(offset), "edges": list(DNBR_EDGES)}
    return xr.Dataset({
        "dnbr": finish(d, nbr_pre, "dnbr", {"long_name": "differenced normalized burn ratio (pre - post)", "units": "1",
                                             "references": "Key, C. H. and Benson, N. C. (2006), Landscape Assessment, FIREMON, USDA Forest Service RMRS-GTR-164-CD"},
                       inputs, params),
        "burn_severity": finish(c, nbr_pre, "burn_severity",
                                class_attrs("burn severity (USGS dNBR classes)", DNBR_CLASSES,
                                            thresholds=list(DNBR_EDGES)), inputs, params),
    })


def otsu_threshold(values: xr.DataArray, *, bins: int = 256, value_range: tuple[float, float] | None = None) -> float:
    """Otsu's threshold (1979) of the finite values, from one global histogram.

    The histogram is a sum of per-block integer counts, so the threshold does not depend on the
    chunking. Returns the upper edge of the last background bin (values >= it are foreground);
    NaN when there are fewer than two distinct bins populated.

    Parameters
    ----------
    values : xarray.DataArray
    bins : int
        Histogram bins over ``value_range``.
    value_range : (float, float), optional
        Default ``(0, max)`` for non-negative data such as magnitudes, else ``(min, max)``.
    """
    if value_range is None:
        lo, hi = finite_range(values)
        if not np.isfinite(hi):
            return float("nan")
        value_range = (0.0 if lo >= 0 else lo, hi if hi > lo else lo + 1.0)
    return otsu_from_counts(histogram(values, bins, value_range), value_range)


def cva(
    pre: xr.Dataset,
    post: xr.Dataset,
    *,
    variables: Sequence[str] | None = None,
    threshold: float | Literal["otsu"] | None = "otsu",
    bins: int = 256,
) -> xr.Dataset:
    """Change-vector analysis (Malila 1980) over several bands or indices.

    Parameters
    ----------
    pre, post : xarray.Dataset
        The two dates (or period composites) on one grid. Bands with radiometric metadata are
        turned into reflectance (once, invalid raw values -> NaN); other variables are used as
        float32 values.
    variables : sequence of str, optional
        Variables to use (default: every variable with the spatial dimensions present in both;
        at most 7).
    threshold : float, 'otsu' or None
        Change where ``magnitude >= threshold``; ``'otsu'`` computes it from a global histogram
        of the magnitude (chunk-independent); None skips the change mask.
    bins : int
        Histogram bins for Otsu.

    Returns
    -------
    xarray.Dataset
        ``magnitude`` float32 (Euclidean norm of post - pre), ``direction`` float32 degrees in
        [0, 360) of (d[var0], d[var1]) (two variables only), ``sector`` uint8 (bit i set where
        variable i increased; 255 nodata), ``change`` uint8 (0 no change, 1 change, 255 nodata)
        with the threshold in its attributes.
    """
    if variables is None:
        variables = [cast(str, v) for v in pre.data_vars if v in post.data_vars and pre[v].ndim >= 2]
    variables = list(variables)
    missing = [v for v in variables if v not in pre.data_vars or v not in post.data_vars]
    if missing or not variables:
        raise InputError(f"cva needs variables present in both datasets; missing {missing or 'all'}")
    if len(variables) > 7:
        raise InputError("cva: at most 7 variables (sector codes are uint8 with 255 as nodata)")

    def stack(ds: xr.Dataset, label: str) -> xr.DataArray:
        arr = xr.concat([drop_scalar_coords(as_values(ds[v], v)) for v in variables], dim="variable",
                        coords="minimal", compat="override", join="exact")
        arr = arr.assign_coords(variable=variables)
        arr.name = label
        return time_contiguous(arr, ["variable"])

    a, b = stack(pre, "pre"), stack(post, "post")
    mag, ang, sec = apply_kernel("cva", a, b, core_dims=[["variable"], ["variable"]],
                                 output_dtypes=(np.float32, np.float32, np.uint8))
    template = pre[variables[0]]
    inputs = {v: pre[v] for v in variables}
    params: dict[str, Any] = {"variables": variables, "threshold": threshold, "bins": bins}
    out = {
        "magnitude": finish(mag, template, "magnitude", {"long_name": "change vector magnitude", "units": "1"}, inputs, params),
        "sector": finish(sec, template, "sector", {
            "long_name": "change vector sector code (bit i set where variable i increased)",
            "variables": " ".join(variables), "_FillValue": np.uint8(255)}, inputs, params),
    }
    if len(variables) == 2:
        out["direction"] = finish(ang, template, "direction", {
            "long_name": f"change vector direction, angle of (d {variables[0]}, d {variables[1]})",
            "units": "degree"}, inputs, params)
    if threshold is not None:
        thr = otsu_threshold(out["magnitude"], bins=bins) if threshold == "otsu" else float(threshold)
        if threshold != "otsu" and not np.isfinite(thr):
            raise InputError(f"threshold must be finite, 'otsu' or None; got {threshold!r}")
        edges = [thr] if np.isfinite(thr) else [cast(float, np.float32(np.finfo(np.float32).max))]
        zero = xr.zeros_like(mag)
        _, chg = _classify(zero, mag, edges, 0)
        out["change"] = finish(chg, template, "change", class_attrs(
            "change (magnitude >= threshold)", ["no_change", "change"], [0, 1],
            threshold=float(thr), threshold_method="otsu" if threshold == "otsu" else "fixed"), inputs, params)
    return xr.Dataset(out)
