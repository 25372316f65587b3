"""The radiometric contract: how raw digital numbers become reflectance, exactly once.

Every band landpulse computes with carries its radiometry in metadata, and kernels apply it to
raw values in the same pass as the index maths (reflectance = DN * scale + offset, cast to
float32 first). Where it comes from, in order:

``landpulse_radiometry = "reflectance"`` (attribute)
    the values are already physical reflectance (scale 1, offset 0);
``landpulse_radiometry = "<scale coord> <offset coord> [<calibration coord>]"`` (attribute)
    per-date scale and offset in coordinates along time (what ``landpulse ingest`` writes, so a
    series that mixes Sentinel-2 processing baselines is still exact); the optional third
    coordinate holds, per date, the JSON record of a top-of-atmosphere calibration the scale and
    offset were derived from (:mod:`landpulse.spec.calibration`; ``""`` for dates without one);
``scale_factor`` / ``add_offset`` (CF attributes on undecoded integer data)
    constant scale and offset.

Data that xarray has already decoded (``scale_factor`` moved to ``.encoding``) counts as
reflectance. Anything else is an error that names :func:`declare_radiometry`. Declaring
radiometry on data that already has it is an error too: applying an offset twice is impossible
by construction, not by care.

Raw-value validity (nodata, valid range) comes from the ``nodata``/``_FillValue`` and
``valid_range`` attributes and is checked on the raw values, before scaling.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

import numpy as np
import xarray as xr

from landpulse.backend.validity import Validity
from landpulse.errors import RadiometryError
from landpulse.spec.bands import as_dataset

RADIOMETRY_ATTR = "landpulse_radiometry"
# attribute of a classification band read from a STAC item: JSON {"asset": key, "classes": [...]}
# (or "bitfields"), the item's classification-extension table as published; {"asset": key} alone
# when the item states none (landpulse.io.scenes, landpulse.products.masking)
CLASSIFICATION_ATTR = "stac_classification"
REFLECTANCE = "reflectance"
_CF_SCALE, _CF_OFFSET = "scale_factor", "add_offset"


@dataclass(frozen=True)
class BandRadiometry:
    """How to turn one band's raw values into reflectance.

    Attributes
    ----------
    scale, offset : xarray.DataArray or float
        Per-date (a DataArray over the time dimension) or constant.
    validity : Validity
        ``(nodata, lo, hi)`` of the raw values.
    source : str
        Where the numbers came from (recorded in product provenance).
    saturation : str or None
        The saturation flags applied to the raw values (``"qa_radsat bit 3"``), if any
        (:mod:`landpulse.spec.saturation`).
    calibration : xarray.DataArray or None
        Per date, the JSON record of the TOA calibration the scale and offset come from (``""``
        where a date has none), or None when the band carries no calibration records.
    """

    scale: xr.DataArray | float
    offset: xr.DataArray | float
    validity: Validity
    source: str
    saturation: str | None = None
    calibration: xr.DataArray | None = None

    def calibration_records(self) -> list[dict[str, object]]:
        """The distinct calibration records of this band (one per calibrated scene), in date order."""
        if self.calibration is None:
            return []
        seen: list[dict[str, object]] = []
        for text in np.atleast_1d(np.asarray(self.calibration.values, dtype=object)).tolist():
            if text:
                rec = json.loads(str(text))
                if rec not in seen:
                    seen.append(rec)
        return seen

    def describe(self) -> dict[str, object]:
        """Plain-JSON summary for provenance records."""

        def val(v: xr.DataArray | float) -> object:
            if isinstance(v, xr.DataArray):
                vals = np.unique(np.asarray(v.values, dtype=float))
                return vals.tolist() if vals.size > 1 else float(vals[0])
            return float(v)

        nd, lo, hi = self.validity
        calibration = self.calibration_records()
        return {
            "scale": val(self.scale),
            "offset": val(self.offset),
            "nodata": None if math.isnan(nd) else nd,
            "valid_range": [lo if math.isfinite(lo) else None, hi if math.isfinite(hi) else None],
            "source": self.source,
        } | ({"saturation": self.saturation} if self.saturation else {}) | (
            {"calibration": calibration} if calibration else {})


def _validity(da: xr.DataArray) -> Validity:
    nodata = da.attrs.get("nodata", da.attrs.get("_FillValue", da.encoding.get("_FillValue")))
    vr = da.attrs.get("valid_range")
    if nodata is not None and isinstance(nodata, float) and math.isnan(nodata):
        nodata = None
    return Validity.of(nodata, tuple(vr) if vr is not None else None)


def has_radiometry(da: xr.DataArray) -> bool:
    """True when ``da`` carries radiometric metadata landpulse can apply."""
    return (
        RADIOMETRY_ATTR in da.attrs
        or _CF_SCALE in da.attrs
        or _CF_OFFSET in da.attrs
        or _CF_SCALE in da.encoding
    )


def band_radiometry(da: xr.DataArray, name: str | None = None) -> BandRadiometry:
    """Resolve the radiometry of one band (see the module docstring for the rules).

    Raises
    ------
    RadiometryError
        When the band has none, or contradictory metadata (which would apply an offset twice).
    """
    found = _band_radiometry(da, name)
    flags = da.attrs.get("saturation_flags")  # landpulse.spec.saturation.SATURATION_ATTR
    return dataclasses.replace(found, saturation=str(flags)) if flags else found


def _band_radiometry(da: xr.DataArray, name: str | None) -> BandRadiometry:
    label = name or str(da.name)
    tag = da.attrs.get(RADIOMETRY_ATTR)
    has_cf = _CF_SCALE in da.attrs or _CF_OFFSET in da.attrs
    validity = _validity(da)
    if tag == REFLECTANCE:
        if has_cf:
            raise RadiometryError(
                f"band {label!r} is marked as reflectance but also carries scale_factor/"
                "add_offset: applying them would scale it twice; remove one of the two"
            )
        return BandRadiometry(1.0, 0.0, validity, "values are reflectance")
    if tag is not None:
        parts = str(tag).split()
        if len(parts) not in (2, 3):
            raise RadiometryError(
                f"band {label!r}: attribute {RADIOMETRY_ATTR}={tag!r} must be 'reflectance' or "
                "'<scale coordinate> <offset coordinate> [<calibration coordinate>]'"
            )
        if has_cf:
            raise RadiometryError(
                f"band {label!r} has per-date radiometry ({tag}) and CF scale_factor/add_offset "
                "too; applying both would scale it twice"
            )
        missing = [p for p in parts if p not in da.coords]
        if missing:
            raise RadiometryError(
                f"band {label!r} names radiometry coordinates {missing} that are not present "
                "(were they dropped by a selection?)"
            )
        return BandRadiometry(da.coords[parts[0]], da.coords[parts[1]], validity, f"coordinates {tag}",
                              calibration=da.coords[parts[2]] if len(parts) == 3 else None)
    if has_cf:
        return BandRadiometry(
            float(da.attrs.get(_CF_SCALE, 1.0)), float(da.attrs.get(_CF_OFFSET, 0.0)), validity,
            "CF scale_factor/add_offset",
        )
    if _CF_SCALE in da.encoding or _CF_OFFSET in da.encoding:
        return BandRadiometry(1.0, 0.0, validity, "decoded by xarray (CF scale_factor/add_offset)")
    raise RadiometryError(
        f"band {label!r} ({da.dtype}) carries no radiometric metadata, so its values cannot be "
        "turned into reflectance; declare it with landpulse.declare_radiometry(ds, scale=..., "
        "offset=...) (CLI: --scale/--offset), or ingest it with `landpulse ingest`, which records it"
    )


def declare_radiometry(
    ds: xr.Dataset | xr.DataArray,
    *,
    scale: float,
    offset: float = 0.0,
    bands: Iterable[str] | None = None,
    nodata: float | None = None,
    valid_range: tuple[float, float] | None = None,
) -> xr.Dataset:
    """Declare the radiometry of bands that carry none (foreign stores, plain arrays).

    Parameters
    ----------
    ds : xarray.Dataset or xarray.DataArray
        A DataArray with a ``band`` dimension (stackstac, odc-stac) becomes a Dataset of bands
        first (:func:`landpulse.spec.bands.as_dataset`).
    scale, offset : float
        Reflectance = value * scale + offset. ``scale=1, offset=0`` declares the values to be
        reflectance already.
    bands : iterable of str, optional
        Variables to declare (default: every variable with two spatial dimensions and no
        radiometry, except classification bands named ``SCL``/``scl``/``QA_PIXEL``/``QA_RADSAT``).
    nodata, valid_range : optional
        Raw-value validity to record (``nodata`` attribute, ``valid_range`` attribute).

    Returns
    -------
    xarray.Dataset
        A shallow copy with the attributes set.

    Raises
    ------
    RadiometryError
        When a band already has radiometry (declaring it again would apply it twice).
    """
    ds = as_dataset(ds)
    out = ds.copy()
    if bands is None:
        skip = {"scl", "qa_pixel", "qa_radsat", "qa", "spatial_ref", "crs"}
        bands = [cast(str, v) for v in ds.data_vars
                 if ds[v].ndim >= 2 and str(v).lower() not in skip and not has_radiometry(ds[v])]
    for v in bands:
        if v not in ds.data_vars:
            raise RadiometryError(f"cannot declare radiometry of {v!r}: no such variable")
        if has_radiometry(ds[v]):
            raise RadiometryError(
                f"band {v!r} already carries radiometry ({band_radiometry(ds[v]).source}); "
                "declaring it again would apply it twice"
            )
        attrs = dict(ds[v].attrs)
        if scale == 1.0 and offset == 0.0:
            attrs[RADIOMETRY_ATTR] = REFLECTANCE
        else:
            attrs[_CF_SCALE] = float(scale)
            attrs[_CF_OFFSET] = float(offset)
        if nodata is not None:
            attrs["nodata"] = nodata
        if valid_range is not None:
            attrs["valid_range"] = list(valid_range)
        out[v] = ds[v].copy()
        out[v].attrs = attrs
    return out


def to_reflectance(da: xr.DataArray, name: str | None = None) -> xr.DataArray:
    """Apply a band's radiometry once: float32 reflectance, NaN where the raw value is invalid.

    Works on NumPy, Dask and CuPy data alike (it is an xarray expression). The result is marked
    ``landpulse_radiometry = "reflectance"`` and carries no scale/offset, so it cannot be scaled
    again. Products apply radiometry inside their kernels instead, in the same pass.
    """
    rad = band_radiometry(da, name)
    nd, lo, hi = rad.validity
    raw = da
    valid = raw.notnull() & (raw >= lo) & (raw <= hi)
    if not math.isnan(nd):
        valid = valid & (raw != nd)
    # Same arithmetic as the kernels: (DN + offset / scale) * scale in float32, so integer DN
    # offsets (Sentinel-2's -1000) are exact and both encodings of a surface give one value.
    offset_dn = _as_f32(rad.offset / rad.scale)  # in float64, then float32
    refl = (raw.astype(np.float32) + offset_dn) * _as_f32(rad.scale)
    out = refl.where(valid).astype(np.float32)
    drop = [c for c in out.coords if c in str(da.attrs.get(RADIOMETRY_ATTR, "")).split()]
    out = out.drop_vars(drop)
    attrs = {k: v for k, v in da.attrs.items() if k not in (RADIOMETRY_ATTR, _CF_SCALE, _CF_OFFSET, "nodata", "valid_range", "_FillValue")}
    attrs[RADIOMETRY_ATTR] = REFLECTANCE
    out.attrs = attrs
    out.name = da.name
    return out


def _as_f32(v: xr.DataArray | float) -> xr.DataArray | np.float32:
    return v.astype(np.float32) if isinstance(v, xr.DataArray) else np.float32(v)
