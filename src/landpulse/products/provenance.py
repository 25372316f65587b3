"""Product metadata that survives every operation: CRS, grid mapping and provenance.

Product modules call :func:`finish_product` on a kernel's output. It keeps the grid (``spatial_ref``
coordinate, CRS, transform), keeps scene-level coordinates (``scene_id``...), drops the per-band
radiometry coordinates (they describe inputs, not the product) and records how the product was
made, as JSON in the ``landpulse_provenance`` attribute (copied into the STAC item on write).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any, cast

import xarray as xr

from landpulse._version import __version__
from landpulse.spec.radiometry import RADIOMETRY_ATTR, REFLECTANCE

PROVENANCE_ATTR = "landpulse_provenance"


def radiometry_coords(*bands: xr.DataArray) -> set[str]:
    """Coordinates that hold per-date radiometry of the given bands (and of their siblings)."""
    names: set[str] = set()
    for b in bands:
        tag = b.attrs.get(RADIOMETRY_ATTR)
        if tag and tag != REFLECTANCE:
            names.update(str(tag).split())
    names.update(cast(str, c) for b in bands for c in b.coords if str(c).endswith(("_dn_scale", "_dn_offset", "_calibration")))
    return names


def finish_product(
    out: xr.DataArray,
    template: xr.DataArray,
    *,
    name: str,
    attrs: Mapping[str, Any],
    inputs: Mapping[str, xr.DataArray],
    parameters: Mapping[str, Any],
    radiometry: Mapping[str, Any] | None = None,
) -> xr.DataArray:
    """Name a kernel output, restore its grid metadata and record its provenance.

    Parameters
    ----------
    out : xarray.DataArray
        Kernel output on ``template``'s grid.
    template : xarray.DataArray
        An input band: source of the CRS, transform and grid mapping.
    name : str
        Product variable name (``ndvi``).
    attrs : mapping
        Product attributes (``long_name``, ``units``, ``valid_range``, ...).
    inputs : mapping of str to DataArray
        The bands used, by common name (their variable names are recorded).
    parameters : mapping
        Parameters that change the result (recorded).
    radiometry : mapping, optional
        Per-band radiometry summaries (recorded).
    """
    drop = radiometry_coords(*inputs.values())
    # Keep dimension coordinates, the grid mapping and per-date metadata; drop scalar leftovers
    # of foreign stores (openEO's empty ``crs`` byte string, for example).
    drop |= {str(c) for c, v in out.coords.items() if v.ndim == 0 and c != "spatial_ref"}
    out = out.drop_vars([c for c in drop if c in out.coords])
    out.name = name
    crs = _crs(template)
    if crs is not None:
        out = out.rio.write_crs(crs)
        if "spatial_ref" in template.coords:
            out = out.assign_coords(spatial_ref=template.coords["spatial_ref"].variable)
        # CF's grid_mapping goes into the encoding, as rioxarray puts it: xarray's writers (and
        # rioxarray's to_raster) refuse a variable that has it in its attributes too
        out.attrs.pop("grid_mapping", None)
        out.encoding["grid_mapping"] = "spatial_ref"
    prov = {
        "software": f"landpulse {__version__}",
        "product": name,
        "inputs": {k: str(v.name) for k, v in inputs.items()},
        "parameters": dict(parameters),
        "radiometry": dict(radiometry or {}),
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    out.attrs.update(attrs)
    out.attrs[PROVENANCE_ATTR] = json.dumps(prov, sort_keys=True)
    return out


def provenance(da: xr.DataArray) -> dict[str, Any]:
    """The provenance record of a product (empty when it has none)."""
    text = da.attrs.get(PROVENANCE_ATTR)
    return json.loads(text) if text else {}


def _crs(da: xr.DataArray) -> Any:
    try:
        return da.rio.crs
    except Exception:
        return None
