"""Quick-looks with product-standard colour maps (PNG files and notebook figures).

NDVI and other indices: ``RdYlGn`` over [-1, 1]; NaN (nodata, clouds) in light grey. A product
with several dates becomes a grid of small multiples, one panel per date.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import matplotlib
import numpy as np
import xarray as xr
from matplotlib.colors import BoundaryNorm, ListedColormap, to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from PIL import Image

from landpulse.io.store import datetime_dim

#: Colour map and value range per product kind.
STYLES: dict[str, dict[str, Any]] = {
    "index": {"cmap": "RdYlGn", "vmin": -1.0, "vmax": 1.0},
    # differences of indices (dNDVI, dNBR): diverging, zero in the middle
    "difference": {"cmap": "RdBu", "vmin": -0.6, "vmax": 0.6},
    # non-negative magnitudes (change vectors)
    "magnitude": {"cmap": "magma", "vmin": 0.0, "vmax": 0.3},
    # frequencies in [0, 1] (water observed in a fraction of clear observations)
    "frequency": {"cmap": "Blues", "vmin": 0.0, "vmax": 1.0},
}
MAX_PIXELS = 1024
MAX_PANELS = 16


class ProductFigure(Figure):
    """A matplotlib Figure that Jupyter renders as a PNG image on its own.

    The figures are made without pyplot (no global state, safe in workers), and IPython only knows
    how to show a bare Figure once a matplotlib backend registered its formatters
    (``%matplotlib inline``): without ``_repr_png_`` a notebook would show ``<Figure size ...>``.
    """

    def _repr_png_(self) -> bytes:
        buf = io.BytesIO()
        self.savefig(buf, format="png", dpi=90)
        return buf.getvalue()


def _thin(da: xr.DataArray, max_pixels: int) -> xr.DataArray:
    ydim, xdim = da.dims[-2], da.dims[-1]
    step = max(1, math.ceil(max(da.sizes[ydim], da.sizes[xdim]) / max_pixels))
    return da.isel({ydim: slice(None, None, step), xdim: slice(None, None, step)})


def plot_product(da: xr.DataArray, *, style: str = "index", title: str | None = None, max_pixels: int = MAX_PIXELS) -> Any:
    """Draw a product (one panel per date) and return a matplotlib Figure (no pyplot state).

    Parameters
    ----------
    da : xarray.DataArray
        ``(time, y, x)`` or ``(y, x)``; values in the style's range, NaN for nodata.
    style : str
        Key of :data:`STYLES`.
    title : str, optional
    max_pixels : int
        Longest side drawn per panel (larger inputs are subsampled for speed).
    """

    st = STYLES[style]
    tdim = datetime_dim(da)
    frames = [da.isel({tdim: i}) for i in range(min(da.sizes[tdim], MAX_PANELS))] if tdim else [da]
    n = len(frames)
    cols = min(n, 4)
    rows = math.ceil(n / cols)
    fig = ProductFigure(figsize=(4.2 * cols + 0.8, 4.0 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    cmap = matplotlib.colormaps[st["cmap"]].with_extremes(bad="#d9d9d9")
    im = None
    for ax, frame in zip(axes.flat, frames, strict=False):
        small = _thin(frame, max_pixels)
        values = np.asarray(small.values, dtype=np.float32)
        ys, xs = small[small.dims[0]].values, small[small.dims[1]].values
        extent = (float(xs.min()), float(xs.max()), float(ys.min()), float(ys.max()))
        im = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=st["vmin"], vmax=st["vmax"],
                       extent=extent, interpolation="nearest")
        if tdim:
            ax.set_title(np.datetime_as_string(frame[tdim].values, unit="D"), fontsize=9)
        ax.ticklabel_format(useOffset=False, style="plain")
        ax.tick_params(labelsize=6)
    for ax in list(axes.flat)[n:]:
        ax.set_axis_off()
    if im is not None:
        fig.colorbar(im, ax=axes, shrink=0.8, label=da.attrs.get("long_name", da.name))
    fig.suptitle(title or str(da.name))
    return fig


def plot_classes(da: xr.DataArray, *, title: str | None = None, cmap: str | list[str] = "RdYlGn_r",
                 max_pixels: int = MAX_PIXELS) -> Any:
    """Draw a class product (uint8 with CF ``flag_values``/``flag_meanings``, nodata grey) with a
    legend of its classes, one panel per date for a ``(time, y, x)`` product; returns a matplotlib
    Figure. ``cmap`` is a colour map name, or one colour per class."""

    values = [int(v) for v in np.atleast_1d(da.attrs["flag_values"])]
    names = str(da.attrs["flag_meanings"]).split()
    colours = _colour_list(cmap, len(values))
    tdim = datetime_dim(da)
    frames = [da.isel({tdim: i}) for i in range(min(da.sizes[tdim], MAX_PANELS))] if tdim else [da]
    n = len(frames)
    cols = min(n, 4)
    rows = math.ceil(n / cols)
    fig = ProductFigure(figsize=(5.2 * cols + 2.3, 5.0 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, frame in zip(axes.flat, frames, strict=False):
        small = _thin(frame, max_pixels)
        data = np.asarray(small.values).astype(np.float32)
        data[~np.isin(data, values)] = np.nan
        index = np.full(data.shape, np.nan, np.float32)
        for i, v in enumerate(values):
            index[data == v] = i
        ys, xs = small[small.dims[0]].values, small[small.dims[1]].values
        ax.imshow(np.ma.masked_invalid(index), cmap=ListedColormap(colours).with_extremes(bad="#d9d9d9"),
                  norm=BoundaryNorm(np.arange(len(values) + 1) - 0.5, len(values)), interpolation="nearest",
                  extent=(float(xs.min()), float(xs.max()), float(ys.min()), float(ys.max())))
        ax.ticklabel_format(useOffset=False, style="plain")
        ax.tick_params(labelsize=6)
        if tdim:
            ax.set_title(np.datetime_as_string(frame[tdim].values, unit="D"), fontsize=9)
    for ax in list(axes.flat)[n:]:
        ax.set_axis_off()
    axes.flat[min(n, cols) - 1].legend(
        handles=[Patch(color=c, label=nm.replace("_", " ")) for c, nm in zip(colours, names, strict=False)],
        loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7)
    label = title or str(da.attrs.get("long_name", da.name))
    if tdim:
        fig.suptitle(label)
    else:
        axes.flat[0].set_title(label, fontsize=9)
    return fig


#: Colours of the water products' classes (not water, water, cloud or shadow...).
WATER_COLOURS = ["#e6d8ad", "#1f5fbf", "#b39ddb"]
WATER_SUMMARY_COLOURS = ["#e6d8ad", "#8fc1e3", "#08306b"]
WATER_CHANGE_COLOURS = ["#e6d8ad", "#1f5fbf", "#d7301f", "#fdae61"]


def _colour_list(cmap: str | list[str], n: int) -> list[Any]:
    """``n`` colours: sampled evenly from a colour map name, or the first ``n`` of a list."""

    if isinstance(cmap, str):
        base = matplotlib.colormaps[cmap]
        return [base(i / max(1, n - 1)) for i in range(n)]
    return list(cmap)[:n]


def is_class_product(attrs: Mapping[str, Any]) -> bool:
    """True for a class product (CF ``flag_values`` and ``flag_meanings``)."""
    return "flag_values" in attrs and "flag_meanings" in attrs


def class_colours(da: xr.DataArray | Mapping[str, Any]) -> str | list[str]:
    """Product-standard colours for a class product (a DataArray or its attributes), by its
    ``flag_meanings``."""
    attrs = da.attrs if isinstance(da, xr.DataArray) else da
    meanings = str(attrs.get("flag_meanings", "")).split()
    if meanings[:2] == ["not_water", "water"]:
        return WATER_COLOURS
    if meanings == ["never", "seasonal", "permanent"]:
        return WATER_SUMMARY_COLOURS
    if meanings[:1] == ["stable_not_water"]:
        return WATER_CHANGE_COLOURS
    return "RdYlGn_r"


def class_colour_table(attrs: Mapping[str, Any]) -> dict[int, tuple[int, int, int, int]]:
    """The product-standard colour of each class value of a class product, as 8-bit RGBA (the
    colours of its quick-looks), for a GeoTIFF colour table."""
    flags = [int(v) for v in np.atleast_1d(attrs["flag_values"])]
    colours = _colour_list(class_colours(attrs), len(flags))
    return {flag: cast(tuple[int, int, int, int], tuple(int(round(c * 255)) for c in to_rgba(colour)))
            for flag, colour in zip(flags, colours, strict=False)}


def quicklook(da: xr.DataArray, path: str | Path, *, style: str = "index", title: str | None = None, dpi: int = 90) -> Path:
    """Write a PNG quick-look of ``da`` and return its path: :func:`plot_classes` for class
    products (CF ``flag_values``/``flag_meanings``), else :func:`plot_product` in ``style``."""
    if is_class_product(da.attrs):
        fig = plot_classes(da, title=title, cmap=class_colours(da))
    else:
        fig = plot_product(da, style=style, title=title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path


def _data_style(values: np.ndarray) -> dict[str, Any]:
    """A style for products without one of their own: viridis over the 2-98 % range of the data."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    lo, hi = (np.percentile(finite, [2, 98]) if finite.size else (0.0, 1.0))
    return {"cmap": "viridis", "vmin": float(lo), "vmax": float(hi if hi > lo else lo + 1.0)}


def thumbnail_png(values: np.ndarray, path: str | Path, *, style: str = "index",
                  attrs: Mapping[str, Any] | None = None) -> Path:
    """Write a plain PNG of a 2-D array in the style's colour map (nodata transparent); a class
    product (``attrs`` with CF ``flag_values``/``flag_meanings``) in its class colours.

    The STAC ``thumbnail`` of a production unit: no axes, no text, one pixel per value (give it a
    thinned array, see :func:`landpulse.backend.storage.write_blocks`). Deterministic bytes for
    the same values, and ~100 times faster than a matplotlib figure.

    Parameters
    ----------
    values : numpy.ndarray
        ``(y, x)`` float values, NaN for nodata.
    path : str or path
    style : str
        Key of :data:`STYLES` (other names: viridis over the data's 2-98 % range); not used for
        class products.
    attrs : mapping, optional
        The product's attributes: class products get one colour per class (:func:`class_colours`),
        values that are no class (nodata) transparent.
    """

    if attrs is not None and is_class_product(attrs):
        flags = [int(v) for v in np.atleast_1d(attrs["flag_values"])]
        rgba = np.zeros((*np.shape(values), 4), np.uint8)  # transparent where no class
        for flag, colour in zip(flags, _colour_list(class_colours(attrs), len(flags)), strict=False):
            rgba[np.asarray(values) == flag] = np.round(np.asarray(to_rgba(colour)) * 255).astype(np.uint8)
    else:
        st = STYLES.get(style) or _data_style(values)
        cmap = matplotlib.colormaps[st["cmap"]].with_extremes(bad=(0, 0, 0, 0))
        span = float(st["vmax"]) - float(st["vmin"])
        norm = (np.asarray(values, dtype=np.float32) - np.float32(st["vmin"])) / np.float32(span)
        rgba = cmap(np.ma.masked_invalid(norm), bytes=True)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgba).save(path, format="PNG", compress_level=1)
    return path
