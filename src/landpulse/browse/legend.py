"""The legend of a product's quick-look, as the page draws it: the colours the thumbnails use.

Class products (CF ``flag_values`` / ``flag_meanings``) get one swatch per class in the colours of
:func:`landpulse.viz.class_colours`; other products a colour ramp over their style's range
(:data:`landpulse.viz.STYLES`). The product's definition comes from the product registry when it
is registered here, else from the attributes of its stored Zarr array.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from matplotlib.colors import to_hex

from landpulse.errors import InputError
from landpulse.products.registry import get_product
from landpulse.thumbnails import STYLES, class_colours

#: Colour stops of a ramp legend (a CSS linear-gradient).
RAMP_STOPS = 9


def _hex_list(colours: str | list[str], n: int) -> list[str]:
    if isinstance(colours, str):
        cmap = matplotlib.colormaps[colours]
        return [to_hex(cmap(i / max(1, n - 1))) for i in range(n)]
    return [to_hex(c) for c in list(colours)[:n]]


def _zarr_attrs(zarr_path: Path | None, name: str) -> dict[str, Any]:
    """Attributes of the product's array in a Zarr v3 store (``<store>/<name>/zarr.json``)."""
    if zarr_path is None:
        return {}
    candidates = [zarr_path / name / "zarr.json", *sorted(zarr_path.glob("*/zarr.json"))]
    for path in candidates:
        try:
            attrs = json.loads(path.read_text()).get("attributes", {})
        except (OSError, ValueError):
            continue
        if "flag_values" in attrs or path.parent.name == name:
            return dict(attrs)
    return {}


def product_legend(name: str, zarr_path: Path | None = None) -> dict[str, Any]:
    """The legend of product ``name``.

    Parameters
    ----------
    name : str
        The product (a collection id of a product store).
    zarr_path : path, optional
        One of its Zarr stores, read when the product is not registered here.

    Returns
    -------
    dict
        ``{"kind": "classes", "classes": [{"value", "name", "colour"}], "nodata": ...}`` or
        ``{"kind": "ramp", "colours": [hex], "min", "max", "unit"}``.
    """
    style = "index"
    attrs: Mapping[str, Any] = {}
    try:
        product = get_product(name)
    except InputError:
        attrs = _zarr_attrs(zarr_path, name)
    else:
        style = product.quicklook
        if product.flags is not None:
            flag_values, flag_meanings = product.flags
            attrs = {"flag_values": list(flag_values), "flag_meanings": " ".join(flag_meanings)}
    if "flag_values" in attrs and "flag_meanings" in attrs:
        values = [int(v) for v in np.atleast_1d(attrs["flag_values"])]
        meanings = str(attrs["flag_meanings"]).split()
        colours = _hex_list(class_colours(dict(attrs)), len(values))
        classes = [{"value": v, "name": m.replace("_", " "), "colour": c}
                   for v, m, c in zip(values, meanings, colours, strict=False)]
        return {"kind": "classes", "classes": classes, "nodata": "transparent"}
    st = STYLES.get(style, STYLES["index"])
    return {"kind": "ramp", "colours": _hex_list(str(st["cmap"]), RAMP_STOPS), "min": float(st["vmin"]),
            "max": float(st["vmax"]), "unit": attrs.get("units"), "nodata": "transparent"}
