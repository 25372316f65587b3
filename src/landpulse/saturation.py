"""Per-band radiometric saturation flags (Landsat Collection 2 ``QA_RADSAT``), applied to bands.

Some sensors flag saturation in a separate bit-flag band rather than in the band's own values:
Landsat Collection 2 sets bit *n - 1* of ``QA_RADSAT`` where band *n* of the Level-1 input was
saturated (USGS Landsat 4-7 and 8-9 Collection 2 Level-2 Science Product Guides). A sensor spec
declares that band (``radiometry.saturation_band``) and each band's bit (``saturation_bit``).

Where a dataset declares such a sensor and holds its saturation band, :func:`without_saturated`
returns a band whose saturated pixels hold the band's nodata value, so every product computed from
it treats them like fill: NaN indices, the nodata class of water maps, no observation in counts.
It is lazy (one ``where`` per band, chunk by chunk) and records what it did in the band's
``saturation_flags`` attribute, which reaches the products' provenance.
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

from .bands import declared_sensors
from .errors import GridMismatchError, InputError, RadiometryError
from .sensors import get_sensor

#: Attribute naming the flags applied to a band (``"qa_radsat bit 3"``).
SATURATION_ATTR = "saturation_flags"


def saturation_flag(ds: xr.Dataset, band: xr.DataArray) -> tuple[xr.DataArray, int] | None:
    """``(flag band, bit)`` that marks ``band`` saturated in ``ds``, or None.

    None when ``ds`` declares no sensor with a saturation band, lacks that band, or ``band`` is
    not one of the sensor's flagged bands (it is identified by its variable name: the common name
    ``landpulse ingest`` stores it under, or the sensor's band id).
    """
    for sensor_id in declared_sensors(ds):
        try:
            spec = get_sensor(sensor_id)
        except InputError:
            continue
        if spec.saturation_band is None:
            continue
        flag_spec = spec.bands[spec.saturation_band]
        names = [n for n in (flag_spec.name, flag_spec.id) if n in ds.data_vars]
        if not names:
            continue
        try:
            band_spec = spec.band(str(band.name))
        except InputError:
            continue
        if band_spec.saturation_bit is not None:
            return ds[names[0]], band_spec.saturation_bit
    return None


def without_saturated(ds: xr.Dataset, band: xr.DataArray) -> xr.DataArray:
    """``band`` with the pixels its sensor flags as saturated set to the band's nodata value.

    Parameters
    ----------
    ds : xarray.Dataset
        The dataset ``band`` comes from (its ``sensor`` attribute and saturation band are used).
    band : xarray.DataArray
        Raw digital numbers (any dtype) with a ``nodata`` attribute, or floats (NaN is used).

    Returns
    -------
    xarray.DataArray
        ``band`` itself when nothing applies; otherwise a lazy copy of the same dtype, attributes
        (plus ``saturation_flags``), coordinates and encoding.

    Raises
    ------
    GridMismatchError
        When the saturation band is not on the band's grid.
    RadiometryError
        When an integer band declares no nodata value to mark saturated pixels with.
    """
    found = saturation_flag(ds, band)
    if found is None:
        return band
    flags, bit = found
    if flags.dims != band.dims or flags.shape != band.shape:
        raise GridMismatchError(
            f"saturation band {flags.name!r} {dict(zip(flags.dims, flags.shape, strict=True))} is not on the grid of "
            f"band {band.name!r} {dict(zip(band.dims, band.shape, strict=True))}; ingest them together")
    if not np.issubdtype(flags.dtype, np.integer):
        raise RadiometryError(f"saturation band {flags.name!r} must hold integer bit flags; it holds {flags.dtype}")
    nodata = band.attrs.get("nodata", band.attrs.get("_FillValue", band.encoding.get("_FillValue")))
    if np.issubdtype(band.dtype, np.floating):
        fill = band.dtype.type(np.nan)
    elif nodata is None or (isinstance(nodata, float) and math.isnan(nodata)):
        raise RadiometryError(
            f"band {band.name!r} has no nodata value, so the pixels {flags.name!r} flags as saturated cannot be "
            "marked; declare one (landpulse.declare_radiometry(..., nodata=...))")
    else:
        fill = band.dtype.type(nodata)
    clear = (flags & flags.dtype.type(1 << bit)) == 0
    out = band.where(clear, fill)
    out = out.astype(band.dtype, copy=False)
    out.attrs = {**band.attrs, SATURATION_ATTR: f"{flags.name} bit {bit}"}
    out.encoding = dict(band.encoding)
    out.name = band.name
    return out
