"""Quick-look colours and PNG thumbnails, without matplotlib.

A production unit writes its STAC thumbnail and, for class products, a GeoTIFF colour table in the
product-standard colours (:data:`STYLES`, :func:`class_colours`). Those colours come from
matplotlib's colour maps, but importing matplotlib costs about half a second of CPU in every worker
process that writes a unit, for a 256-entry table. The tables of the colour maps landpulse uses
are therefore stored beside this module (``colour_maps.json``, written by
``scripts/update_colour_maps.py`` from matplotlib itself; ``tests/test_thumbnails.py`` fails while
they and matplotlib disagree), and the lookups below follow matplotlib's ``Colormap.__call__``
rule for floats, so a thumbnail has the same bytes as one drawn through matplotlib.
:mod:`landpulse.viz` (figures for notebooks) uses matplotlib and re-exports these names.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any, cast

import numpy as np

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

#: Colours of the water products' classes (not water, water, cloud or shadow...).
WATER_COLOURS = ["#e6d8ad", "#1f5fbf", "#b39ddb"]
WATER_SUMMARY_COLOURS = ["#e6d8ad", "#8fc1e3", "#08306b"]
WATER_CHANGE_COLOURS = ["#e6d8ad", "#1f5fbf", "#d7301f", "#fdae61"]

#: Colour map of products whose style is not in :data:`STYLES` (over the data's 2-98 % range).
DATA_CMAP = "viridis"
#: Colour map of class products without colours of their own.
CLASS_CMAP = "RdYlGn_r"
#: Every colour map whose table is stored (what :data:`STYLES` and the defaults above name).
COLOUR_MAPS = tuple(sorted({st["cmap"] for st in STYLES.values()} | {DATA_CMAP, CLASS_CMAP}))

_TABLE_FILE = Path(__file__).with_name("colour_maps.json")


@cache
def colour_table(name: str) -> np.ndarray:
    """The ``(N, 4)`` float64 RGBA table of colour map ``name`` (matplotlib's, N = 256).

    Raises
    ------
    KeyError
        For a colour map whose table is not stored (see :data:`COLOUR_MAPS`).
    """
    tables = _tables()
    if name not in tables:
        raise KeyError(f"no stored colour table named {name!r}; stored: {sorted(tables)}")
    table = np.asarray(tables[name], dtype=np.float64)
    table.flags.writeable = False
    return table


@cache
def _tables() -> dict[str, list[list[float]]]:
    return cast(dict[str, list[list[float]]], json.loads(_TABLE_FILE.read_text())["tables"])


def _indices(x: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Table indices of floats in [0, 1] as matplotlib computes them (x * N truncated, 1.0 the last
    entry, below 0 the first, above 1 the last), and the mask of non-finite values."""
    xa = np.array(x, copy=True)
    if xa.dtype.kind != "f":
        xa = xa.astype(np.float64)
    bad = ~np.isfinite(xa)
    xa *= n
    xa[xa == n] = n - 1
    under, over = xa < 0, xa >= n
    with np.errstate(invalid="ignore"):
        idx = xa.astype(np.intp)
    idx[under] = 0
    idx[over] = n - 1
    idx[bad] = 0
    return idx, bad


def map_colours(values: np.ndarray, name: str) -> np.ndarray:
    """8-bit RGBA of values in [0, 1] through colour map ``name``; non-finite values transparent.

    Equal to matplotlib's ``colormaps[name].with_extremes(bad=(0, 0, 0, 0))(masked_invalid(values),
    bytes=True)``: out-of-range values take the end colours.

    Parameters
    ----------
    values : numpy.ndarray
        Floats (float32 is computed in float32, as matplotlib does), any shape.
    name : str

    Returns
    -------
    numpy.ndarray
        uint8, ``values.shape + (4,)``.
    """
    table = colour_table(name)
    lut = (table * 255).astype(np.uint8)
    idx, bad = _indices(np.asarray(values), len(table))
    rgba = lut[idx]
    rgba[bad] = 0
    return rgba


def to_rgba(colour: str | tuple[float, ...] | list[float] | np.ndarray) -> tuple[float, float, float, float]:
    """A colour as float RGBA in [0, 1]: ``'#rrggbb'``, ``'#rrggbbaa'`` or an RGB(A) sequence."""
    if isinstance(colour, str):
        text = colour.strip()
        if text.startswith("#") and len(text) in (7, 9):
            try:
                parts = [int(text[i:i + 2], 16) / 255 for i in range(1, len(text), 2)]
            except ValueError:
                parts = []
            if parts:
                return (parts[0], parts[1], parts[2], parts[3] if len(parts) == 4 else 1.0)
        raise ValueError(f"not a colour landpulse reads: {colour!r} (use '#rrggbb' or '#rrggbbaa')")
    seq = [float(c) for c in colour]
    if len(seq) not in (3, 4) or not all(0.0 <= c <= 1.0 for c in seq):
        raise ValueError(f"not an RGB(A) colour in [0, 1]: {colour!r}")
    return (seq[0], seq[1], seq[2], seq[3] if len(seq) == 4 else 1.0)


def colour_list(cmap: str | list[str], n: int) -> list[Any]:
    """``n`` colours: sampled evenly from a colour map name (float RGBA), or the first ``n`` of a list."""
    if isinstance(cmap, str):
        table = colour_table(cmap)
        idx, _ = _indices(np.array([i / max(1, n - 1) for i in range(n)], dtype=np.float64), len(table))
        return [tuple(float(c) for c in table[i]) for i in idx]
    return list(cmap)[:n]


def is_class_product(attrs: Mapping[str, Any]) -> bool:
    """True for a class product (CF ``flag_values`` and ``flag_meanings``)."""
    return "flag_values" in attrs and "flag_meanings" in attrs


def class_colours(da: Any) -> str | list[str]:
    """Product-standard colours for a class product (a DataArray or its attributes), by its
    ``flag_meanings``: a list of colours, or a colour map name to sample."""
    attrs = da if isinstance(da, Mapping) else da.attrs
    meanings = str(attrs.get("flag_meanings", "")).split()
    if meanings[:2] == ["not_water", "water"]:
        return WATER_COLOURS
    if meanings == ["never", "seasonal", "permanent"]:
        return WATER_SUMMARY_COLOURS
    if meanings[:1] == ["stable_not_water"]:
        return WATER_CHANGE_COLOURS
    return CLASS_CMAP


def _rgba_bytes(colour: Any) -> np.ndarray:
    return np.round(np.asarray(to_rgba(colour)) * 255).astype(np.uint8)


def class_colour_table(attrs: Mapping[str, Any]) -> dict[int, tuple[int, int, int, int]]:
    """The product-standard colour of each class value of a class product, as 8-bit RGBA (the
    colours of its quick-looks), for a GeoTIFF colour table."""
    flags = [int(v) for v in np.atleast_1d(attrs["flag_values"])]
    colours = colour_list(class_colours(attrs), len(flags))
    return {flag: cast(tuple[int, int, int, int], tuple(int(c) for c in _rgba_bytes(colour)))
            for flag, colour in zip(flags, colours, strict=False)}


def data_style(values: np.ndarray) -> dict[str, Any]:
    """A style for products without one of their own: viridis over the 2-98 % range of the data."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    lo, hi = (np.percentile(finite, [2, 98]) if finite.size else (0.0, 1.0))
    return {"cmap": DATA_CMAP, "vmin": float(lo), "vmax": float(hi if hi > lo else lo + 1.0)}


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
        ``(y, x)`` float values, NaN (or +-inf) for nodata.
    path : str or path
    style : str
        Key of :data:`STYLES` (other names: viridis over the data's 2-98 % range); not used for
        class products.
    attrs : mapping, optional
        The product's attributes: class products get one colour per class (:func:`class_colours`),
        values that are no class (nodata) transparent.
    """
    from PIL import Image  # Pillow: only where a PNG is written

    if attrs is not None and is_class_product(attrs):
        flags = [int(v) for v in np.atleast_1d(attrs["flag_values"])]
        rgba = np.zeros((*np.shape(values), 4), np.uint8)  # transparent where no class
        for flag, colour in zip(flags, colour_list(class_colours(attrs), len(flags)), strict=False):
            rgba[np.asarray(values) == flag] = _rgba_bytes(colour)
    else:
        st = STYLES.get(style) or data_style(values)
        span = float(st["vmax"]) - float(st["vmin"])
        norm = (np.asarray(values, dtype=np.float32) - np.float32(st["vmin"])) / np.float32(span)
        rgba = map_colours(norm, st["cmap"])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgba).save(path, format="PNG", compress_level=1)
    return path
