"""Quick-looks with product-standard colour maps (PNG files and notebook figures).

NDVI and other indices: ``RdYlGn`` over [-1, 1]; NaN (nodata, clouds) in light grey. A product
with several dates becomes a grid of small multiples, one panel per date.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import xarray as xr
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from landpulse.io.store import datetime_dim

# the quick-look colours and PNG thumbnails (no matplotlib) are public here too
from landpulse.thumbnails import (  # noqa: F401
    STYLES,
    WATER_CHANGE_COLOURS,
    WATER_COLOURS,
    WATER_SUMMARY_COLOURS,
    class_colour_table,
    class_colours,
    is_class_product,
    thumbnail_png,
)

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


def _colour_list(cmap: str | list[str], n: int) -> list[Any]:
    """``n`` colours: sampled evenly from any matplotlib colour map name, or the first ``n`` of a
    list (:func:`landpulse.thumbnails.colour_list` knows only the stored tables)."""
    if isinstance(cmap, str):
        base = matplotlib.colormaps[cmap]
        return [base(i / max(1, n - 1)) for i in range(n)]
    return list(cmap)[:n]


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
