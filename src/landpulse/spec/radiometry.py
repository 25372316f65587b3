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

A declaration is checked against the pixels (:func:`check_against_pixels`, on a bounded sample of
blocks: :func:`declare_radiometry` and ``landpulse ingest``): a negative offset of ``k`` DN on
values mostly below ``k`` (Sentinel-2's -1000 DN offset on values it was already removed from) is a
:class:`~landpulse.errors.RadiometryError`; a scale that puts most reflectances above 1.5 or below
-0.5 is a :class:`~landpulse.errors.ProductMeaningWarning`, recorded in the band's
``landpulse_radiometry_warning`` attribute (and so in every product's provenance) and in the
dataset's ``landpulse_radiometry_warnings`` attribute.
"""

from __future__ import annotations

import dataclasses
import json
import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import xarray as xr

from landpulse.backend.reductions import sample_blocks
from landpulse.backend.validity import Validity
from landpulse.errors import ProductMeaningWarning, RadiometryError
from landpulse.spec.bands import as_dataset
from landpulse.spec.radiometry_check import (  # noqa: F401  (defined there, NumPy only; public here)
    CLASSIFICATION_ATTR,
    MIN_SAMPLE,
    MOST,
    PLAUSIBLE_REFLECTANCE,
    RADIOMETRY_ATTR,
    RADIOMETRY_WARNING_ATTR,
    RADIOMETRY_WARNINGS_ATTR,
    REFLECTANCE,
    check_against_pixels,
    valid_values,
)

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
    warning: str | None = None

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
            {"calibration": calibration} if calibration else {}) | ({"warning": self.warning} if self.warning else {})


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
    warning = da.attrs.get(RADIOMETRY_WARNING_ATTR)
    return dataclasses.replace(found, saturation=str(flags) if flags else None, warning=str(warning) if warning else None)


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
    max_sample_blocks: int = 2,
    warn: Iterable[str] | None = None,
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
    max_sample_blocks : int
        Blocks per band read to check the declaration against the pixels (default 2).
    warn : iterable of str, optional
        The declared bands whose doubtful scales are warned about and recorded (default: every
        declared band). A caller that reads only some of them (a production unit reads its
        product's bands) passes those: a warning about a band nothing reads is noise. The offset
        is still checked against every declared band's pixels: one declaration holds for all of
        them, so any band can rule it out (the dark blue band usually does).

    Returns
    -------
    xarray.Dataset
        A shallow copy with the attributes set.

    Raises
    ------
    RadiometryError
        When a band already has radiometry (declaring it again would apply it twice), or when the
        pixels rule the offset out (:func:`check_against_pixels`, on at most two blocks per band).

    Warns
    -----
    ProductMeaningWarning
        When the scale puts most sampled reflectances outside [-0.5, 1.5]; the warning is
        recorded in the band's and the dataset's attributes (and so in product provenance).
    """
    scale = _declared_number(scale, "scale", positive=True)
    offset = _declared_number(offset, "offset")
    if nodata is not None:
        nodata = _declared_number(nodata, "nodata", finite=False)
    if valid_range is not None:
        if isinstance(valid_range, (str, bytes)) or len(valid_range) != 2:
            raise RadiometryError(f"valid_range must be (low, high); got {valid_range!r}")
        low, high = (_declared_number(v, "valid_range") for v in valid_range)
        if low > high:
            raise RadiometryError(f"valid_range must be (low, high) with low <= high; got {valid_range!r}")
        valid_range = (low, high)
    ds = as_dataset(ds)
    out = ds.copy()
    if bands is None:
        skip = {"scl", "qa_pixel", "qa_radsat", "qa", "spatial_ref", "crs"}
        bands = [cast(str, v) for v in ds.data_vars
                 if ds[v].ndim >= 2 and str(v).lower() not in skip and not has_radiometry(ds[v])]
    bands = list(bands)
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
    samples = [(str(v), valid_sample(out[v], _validity(out[v]), max_sample_blocks), float(scale), float(offset))
               for v in bands]
    found = check_against_pixels(samples, what="declared radiometry",
                                 fix="declare offset=0 (landpulse.declare_radiometry(ds, scale=..., offset=0); CLI: no --offset)")
    if warn is not None:
        wanted = set(warn)
        found = {band: message for band, message in found.items() if band in wanted}
    return record_radiometry_warnings(out, found)


def valid_sample(da: xr.DataArray, validity: Validity, max_blocks: int = 2) -> np.ndarray:
    """Valid raw values (float64, 1-D) of a bounded sample of ``da``'s blocks.

    At most ``max_blocks`` Dask blocks are read (:func:`landpulse.backend.reductions.sample_blocks`);
    NaN, infinite, nodata and out-of-range values are left out (:func:`valid_values`).
    """
    return valid_values(sample_blocks(da, max_blocks), validity)


def _declared_number(value: Any, what: str, *, positive: bool = False, finite: bool = True) -> float:
    """A declared scale, offset, nodata or range limit as a float: RadiometryError naming it otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise RadiometryError(f"{what} must be a number; got {value!r} ({type(value).__name__})")
    number = float(value)
    if finite and not math.isfinite(number):
        raise RadiometryError(f"{what} must be finite; got {value!r}")
    if positive and not number > 0:
        raise RadiometryError(f"{what} must be positive (reflectance = value * scale + offset); got {value!r}")
    return number


def record_radiometry_warnings(ds: xr.Dataset, found: dict[str, str]) -> xr.Dataset:
    """Record warnings of :func:`check_against_pixels` and emit them as :class:`ProductMeaningWarning`.

    Each band gets its message in ``landpulse_radiometry_warning`` (products record it in their
    provenance); the dataset lists them all, as a JSON list, in ``landpulse_radiometry_warnings``.
    Returns ``ds`` itself when there is nothing to record, else a shallow copy.
    """
    if not found:
        return ds
    ds = ds.copy()
    for band, message in found.items():
        ds[band].attrs[RADIOMETRY_WARNING_ATTR] = message
        warnings.warn(message, ProductMeaningWarning, stacklevel=3)
    before = json.loads(ds.attrs.get(RADIOMETRY_WARNINGS_ATTR, "[]"))
    ds.attrs[RADIOMETRY_WARNINGS_ATTR] = json.dumps(before + [m for m in found.values() if m not in before])
    return ds


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
