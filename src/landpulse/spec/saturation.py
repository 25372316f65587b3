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

from landpulse.errors import GridMismatchError, InputError, RadiometryError
from landpulse.spec.bands import declared_sensors
from landpulse.spec.sensors import get_sensor

#: Attribute naming the flags applied to a band (``"qa_radsat bit 3"``).
SATURATION_ATTR = "saturation_flags"


def saturation_flag(ds: xr.Dataset, band: xr.DataArray) -> tuple[xr.DataArray, int | xr.DataArray, str] | None:
    """``(flag band, bit mask, description)`` that marks ``band`` saturated in ``ds``, or None.

    The bit mask is an integer, or, in a store that mixes sensors whose bits differ (Landsat 7 and
    8: red is band 3 on one, band 4 on the other), a per-date DataArray chosen by each date's
    ``platform`` coordinate (0 for dates of sensors without flags). None when ``ds`` declares no
    sensor with a saturation band, lacks that band, or ``band`` is not one of the flagged bands (it
    is identified by its variable name: the common name ``landpulse ingest`` stores it under, or
    the sensor's band id).

    Raises
    ------
    InputError
        When the sensors' bits differ and a date's platform does not tell which sensor it is.
    """
    specs = []
    for sensor_id in declared_sensors(ds):
        try:
            specs.append(get_sensor(sensor_id))
        except InputError:
            continue
    flag_var: str | None = None
    bits: dict[str, int | None] = {}
    for spec in specs:
        bits[spec.id] = None
        if spec.saturation_band is None:
            continue
        flag_spec = spec.bands[spec.saturation_band]
        names = [n for n in (flag_spec.name, flag_spec.id) if n in ds.data_vars]
        if not names:
            continue
        try:
            bits[spec.id] = spec.band(str(band.name)).saturation_bit
        except InputError:
            continue
        flag_var = flag_var or names[0]
    if flag_var is None or not any(b is not None for b in bits.values()):
        return None
    flags = ds[flag_var]
    distinct = set(bits.values())
    if len(distinct) == 1:
        bit = next(iter(distinct))
        assert bit is not None
        return flags, 1 << bit, f"{flag_var} bit {bit}"
    # several sensors, different bits: decide per date by platform
    platforms = ds.coords.get("platform")
    if platforms is None or platforms.ndim != 1 or platforms.dims[0] not in band.dims:
        raise InputError(
            f"the dataset mixes sensors ({', '.join(bits)}) whose saturation bits for band {band.name!r} differ, "
            "and it has no per-date 'platform' coordinate to tell them apart; select one sensor's dates")
    by_platform = {p: spec.id for spec in specs for p in spec.platforms}
    masks, used = [], {}
    for p in map(str, platforms.values):
        if p not in by_platform:
            raise InputError(
                f"date with platform {p!r}: none of the dataset's sensors ({', '.join(bits)}) lists it, so its "
                f"saturation bit for band {band.name!r} is unknown; set the scenes' platform when ingesting")
        bit = bits[by_platform[p]]
        masks.append(0 if bit is None else 1 << bit)
        used[p] = bit
    tdim = platforms.dims[0]
    mask = xr.DataArray(np.array(masks, dtype=flags.dtype), dims=(tdim,), coords={tdim: ds[tdim].values})
    desc = f"{flag_var} bit by platform " + ", ".join(f"{p}: {b}" for p, b in sorted(used.items(), key=str))
    return flags, mask, desc


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
    flags, bitmask, desc = found
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
    clear = (flags & (flags.dtype.type(bitmask) if isinstance(bitmask, int) else bitmask)) == 0
    out = band.where(clear, fill)
    out = out.astype(band.dtype, copy=False)
    out.attrs = {**band.attrs, SATURATION_ATTR: desc}
    out.encoding = dict(band.encoding)
    out.name = band.name
    return out
