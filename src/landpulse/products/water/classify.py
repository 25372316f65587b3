"""Per-scene water classification: an index against a fixed threshold, against Otsu's threshold,
and the WOfS decision tree (see :mod:`landpulse.products.water` for the sources and codes)."""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping
from typing import Any, cast

import numpy as np
import xarray as xr

from landpulse.backend import apply_kernel
from landpulse.backend.reductions import histograms, otsu_from_counts
from landpulse.errors import InputError, MissingBandError, ProductMeaningWarning, RadiometryError
from landpulse.products.common import band_for, finish, is_unscaled, observation_dim
from landpulse.products.indices import indices
from landpulse.products.masking import MASK_NODATA, Mask, MaskLike, as_mask, resolve, resolve_rules
from landpulse.products.water.codes import (
    WOFS_BITS,
    WOFS_BITS_NEVER_SET,
    WOFS_REFERENCE,
    WOFS_SYMBOLS,
    water_attrs,
)
from landpulse.spec import index_catalogue as cat
from landpulse.spec.bands import as_dataset, declared_sensors, find_band
from landpulse.spec.radiometry import band_radiometry
from landpulse.spec.sensors import sensors


def _the_mask(ds: xr.Dataset, mask: MaskLike) -> Mask | None:
    """``'auto'``: the sensor's default mask where the dataset has a classification band, else none
    (with a ProductMeaningWarning, see :func:`landpulse.products.masking.as_mask`)."""
    return as_mask(mask, ds)


def default_index(ds: xr.Dataset, bands: Mapping[str, str] | None = None) -> str:
    """``'mndwi'`` when the dataset has a SWIR 1.6 um band (``swir16``), else ``'ndwi'``."""
    return "mndwi" if find_band(ds, "swir16", bands) is not None else "ndwi"


def _index_and_mask(ds: xr.Dataset, index: str | None, mask: MaskLike, bands: Mapping[str, str] | None
                    ) -> tuple[str, xr.DataArray, xr.DataArray | None, Mask | None, xr.Dataset]:
    name = (index or default_index(ds, bands)).lower()
    cat.get_index(name)  # a clear error for unknown names
    the_mask = _the_mask(ds, mask)
    out = indices(ds, [name], mask=the_mask, bands=bands)
    return name, out[name], (out["mask"] if the_mask is not None else None), the_mask, out


def _classify(values: xr.DataArray, codes: xr.DataArray | None, threshold: xr.DataArray | float) -> xr.DataArray:
    images = [values] + ([codes] if codes is not None else [])
    return cast(xr.DataArray,  # one output dtype: one DataArray
                apply_kernel("water_threshold", *images, threshold, kwargs={"has_mask": codes is not None},
                             output_dtypes=(np.uint8,)))


def _mask_note(the_mask: Mask | None) -> str:
    return "none (no classification band, or mask=None)" if the_mask is None else json.dumps(the_mask.describe(), sort_keys=True)



def index_water(
    ds: xr.Dataset | xr.DataArray,
    *,
    index: str | None = None,
    threshold: float = 0.0,
    mask: MaskLike = "auto",
    bands: Mapping[str, str] | None = None,
) -> xr.Dataset:
    """Water where a water index is at least a fixed threshold, per observation.

    Parameters
    ----------
    ds : xarray.Dataset or xarray.DataArray
        Raw bands with radiometric metadata (``landpulse.open_store``), one scene ``(y, x)`` or a
        series ``(time, y, x)``.
        A DataArray needs a ``band`` dimension (stackstac, odc-stac's ``.to_array``), see
        :func:`landpulse.spec.bands.as_dataset`.
    index : str, optional
        A catalogue index (``mndwi``, ``ndwi``, ``awei_nsh``...). Default: ``mndwi`` (Xu 2006) when
        the dataset has a ``swir16`` band, else ``ndwi`` (McFeeters 1996).
    threshold : float
        Water where ``index >= threshold``. Default 0: both papers' water/non-water boundary.
    mask : 'auto', None or landpulse.Mask
        Cloud and shadow masking with the classification band (SCL, QA_PIXEL). ``'auto'`` uses the
        sensor's defaults where the dataset has such a band and no mask otherwise (recorded in the
        ``masking`` attribute).
    bands : mapping, optional
        Explicit variables by common name (``{"swir16": "B11"}``).

    Returns
    -------
    xarray.Dataset
        ``water`` uint8 (0 not water, 1 water, 2 cloud or shadow, 255 nodata; CF flags), and the
        index values (float32, NaN where invalid or masked). CRS and coordinates kept; lazy when
        the input is.

    Raises
    ------
    InputError
        Unknown index, non-finite threshold.
    MissingBandError, RadiometryError, GridMismatchError
        As :func:`landpulse.indices`.
    """
    ds = as_dataset(ds)
    if not np.isfinite(threshold):
        raise InputError(f"threshold must be a finite number; got {threshold!r}")
    name, values, codes, the_mask, _ = _index_and_mask(ds, index, mask, bands)
    water = _classify(values, codes, float(threshold))
    params = {"method": "index_threshold", "index": name, "threshold": float(threshold), "mask": _mask_note(the_mask)}
    attrs = water_attrs("index threshold", index=name, threshold=float(threshold), rule=f"water where {name} >= threshold",
                        masking=_mask_note(the_mask))
    return xr.Dataset({"water": finish(water, values, "water", attrs, {name: values}, params), name: values})


def otsu_water(
    ds: xr.Dataset | xr.DataArray,
    *,
    index: str | None = None,
    mask: MaskLike = "auto",
    bins: int = 256,
    value_range: tuple[float, float] | None = None,
    bounds: tuple[float, float] | None = None,
    bands: Mapping[str, str] | None = None,
) -> xr.Dataset:
    """Water where a water index is at least Otsu's threshold, found per scene (per date).

    Each date's threshold maximises the between-class variance (Otsu 1979) of the histogram of
    that whole scene's clear, valid index values: a global reduction (integer counts summed over
    blocks), so the threshold, and the map, do not depend on the chunking. The histograms are
    computed when this function is called (one pass over the bands); the map stays lazy.

    Otsu assumes a bimodal histogram: water must be a substantial part of the scene. Where it is
    a few rivers in a large land scene, the split falls between land covers instead (for example
    vegetation against built-up land) and the map overestimates water; use :func:`index_water`
    there, or ``bounds``.

    Parameters
    ----------
    ds, index, mask, bands
        As :func:`index_water`.
    bins : int
        Histogram bins over ``value_range``.
    value_range : (float, float), optional
        Histogram range; default the index's valid range from the catalogue ([-1, 1] for MNDWI
        and NDWI).
    bounds : (float, float), optional
        Clip each scene's threshold into this interval (a plausibility constraint the user
        chooses; none by default).

    Returns
    -------
    xarray.Dataset
        ``water`` uint8 (codes as :func:`index_water`; 255 on a date where no threshold exists:
        fewer than two populated bins), the index values, and ``threshold`` (float32, one per
        date, or a scalar for one scene; NaN where none exists).
    """
    ds = as_dataset(ds)
    if bins < 2:
        raise InputError(f"bins must be at least 2; got {bins}")
    name, values, codes, the_mask, _ = _index_and_mask(ds, index, mask, bands)
    spec = cat.get_index(name)
    vr = cast("tuple[float, float]",  # a (lo, hi) pair: value_range's type, or an index's valid_range
              tuple(float(v) for v in (value_range if value_range is not None else spec.valid_range)))
    if not (math.isfinite(vr[0]) and math.isfinite(vr[1]) and vr[1] > vr[0]):
        raise InputError(f"value_range must be finite with lo < hi; got {value_range}")
    if bounds is not None and not (math.isfinite(bounds[0]) and math.isfinite(bounds[1]) and bounds[0] <= bounds[1]):
        raise InputError(f"bounds must be finite with lo <= hi; got {bounds}")
    tdim = observation_dim(values)
    counts = histograms(values, tdim, bins, vr)
    thr = np.array([otsu_from_counts(c, vr) for c in counts], dtype=np.float64)
    if bounds is not None:
        thr = np.where(np.isnan(thr), np.nan, np.clip(thr, bounds[0], bounds[1]))
    thr32 = thr.astype(np.float32)
    if tdim is None:
        threshold: xr.DataArray | float = float(thr32[0])
        thr_da = xr.DataArray(thr32[0], name="threshold")
    else:
        thr_da = xr.DataArray(thr32, dims=(tdim,), coords={tdim: values[tdim].values}, name="threshold")
        threshold = thr_da
    water = _classify(values, codes, threshold)
    params = {"method": "otsu", "index": name, "bins": int(bins), "value_range": list(vr),
              "bounds": list(bounds) if bounds is not None else None, "thresholds": [float(v) for v in thr32],
              "mask": _mask_note(the_mask)}
    attrs = water_attrs("Otsu threshold per scene", index=name, bins=int(bins), value_range=list(vr),
                        rule=f"water where {name} >= the scene's Otsu threshold (variable 'threshold')",
                        masking=_mask_note(the_mask),
                        references="Otsu, N. (1979), A threshold selection method from gray-level histograms, "
                                   "IEEE Transactions on Systems, Man, and Cybernetics 9, 62-66")
    thr_da.attrs = {"long_name": f"Otsu threshold of {name} per scene", "units": "1", "bins": int(bins),
                    "value_range": list(vr)}
    return xr.Dataset({"water": finish(water, values, "water", attrs, {name: values}, params), name: values,
                       "threshold": thr_da})


def _wofs_bits_lut(ds: xr.Dataset, the_mask: Mask) -> tuple[xr.DataArray, np.ndarray, dict[str, Any]]:
    """Classification band (or buffered codes) and its WOfS flag-bit lookup table."""
    if the_mask.buffer > 0:
        resolved = resolve(ds, the_mask)
        lut = np.full(256, 1, np.uint8)
        lut[:4] = [0, 64, 64, 1]  # clear, masked, buffer, nodata codes
        return resolved.band, lut, resolved.describe()
    band, rules = resolve_rules(ds, the_mask)
    chosen = list(the_mask.classes if the_mask.classes is not None else rules.rules["default"])
    lut_all, _ = rules.tables(the_mask)
    groups = {
        32: [c for c in chosen if "shadow" in c],
        2: [c for c in chosen if "saturated" in c],
    }
    groups[64] = [c for c in chosen if c not in groups[32] and c not in groups[2]]
    confidences = dict(the_mask.confidences)
    conf_groups = {32: {k: v for k, v in confidences.items() if "shadow" in k}}
    conf_groups[64] = {k: v for k, v in confidences.items() if k not in conf_groups[32]}
    conf_groups[2] = {}
    bits = np.where(lut_all == MASK_NODATA, 1, 0).astype(np.uint8)
    for bit, names in groups.items():
        if not names and not conf_groups[bit]:
            continue
        lut_b, _ = rules.tables(Mask(classes=names, confidences=conf_groups[bit], band=the_mask.band,
                                     sensor=the_mask.sensor, buffer_classes=[]))
        bits |= np.where(lut_b == 1, bit, 0).astype(np.uint8)
    bits = np.where(lut_all == MASK_NODATA, 1, bits).astype(np.uint8)
    describe = the_mask.describe() | {"sensor": rules.sensor, "band": rules.band_id,
                                      "bits": {"cloud_shadow": groups[32], "cloud": groups[64], "noncontiguous": groups[2]}}
    return band, bits, describe


def _input_quantity(ds: xr.Dataset) -> str | None:
    ids = declared_sensors(ds)
    specs = sensors()
    quantities = {specs[i].quantity for i in ids if i in specs}
    return quantities.pop() if len(quantities) == 1 else None


def wofs(ds: xr.Dataset | xr.DataArray, *, mask: MaskLike = "auto", bands: Mapping[str, str] | None = None) -> xr.Dataset:
    """The WOfS water classifier (Mueller et al. 2016) and its flag layer, per observation.

    See the module documentation for the sources followed, the band mapping (Landsat TM bands
    1, 2, 3, 4, 5, 7 = blue, green, red, nir, swir16, swir22; Sentinel-2 B02, B03, B04, B08, B11,
    B12) and the flag bits.

    Parameters
    ----------
    ds : xarray.Dataset or xarray.DataArray
        Raw surface-reflectance bands with radiometric metadata (Landsat Collection 2 Level-2,
        Sentinel-2 L2A), ``(y, x)`` or ``(time, y, x)``. All six bands are needed.
        A DataArray needs a ``band`` dimension (stackstac, odc-stac's ``.to_array``), see
        :func:`landpulse.spec.bands.as_dataset`.
    mask : 'auto', None or landpulse.Mask
        Classification band for the cloud, cloud-shadow and nodata bits (as :func:`index_water`).
    bands : mapping, optional
        Explicit variables by common name.

    Returns
    -------
    xarray.Dataset
        ``wofs`` uint8 bit flags (CF ``flag_masks``/``flag_meanings``; 0 clear dry, 128 clear
        wet) and ``water`` uint8 (codes as :func:`index_water`). CRS kept; lazy when the input is.

    Raises
    ------
    MissingBandError
        When a band is missing (WOfS needs both SWIR bands: Sentinel-2 B11/B12, Landsat SWIR).
    RadiometryError
        For bands that hold unscaled digital numbers (the tree's thresholds are reflectances).
    """
    ds = as_dataset(ds)
    catalogue = cat.catalogue()
    mapping = dict(bands or {})
    used = []
    for sym in WOFS_SYMBOLS:
        try:
            used.append(band_for(ds, catalogue.bands[sym], mapping))
        except MissingBandError as err:
            raise MissingBandError(
                f"WOfS needs blue, green, red, nir, swir16 and swir22 surface reflectance; {err}") from None
    rad = [band_radiometry(da, common) for common, da in used]
    raw = [common for (common, da), r in zip(used, rad, strict=True) if is_unscaled(da, r)]
    if raw:
        raise RadiometryError(
            f"WOfS compares reflectances with fixed thresholds, but band(s) {', '.join(map(repr, raw))} hold unscaled "
            "digital numbers (integer data with scale 1); declare the radiometry with "
            "landpulse.declare_radiometry(ds, scale=..., offset=...)")
    quantity = _input_quantity(ds)
    if quantity is not None and quantity != "surface_reflectance":
        warnings.warn(f"WOfS was fitted on surface reflectance; this dataset holds {quantity} (sensor "
                      f"{', '.join(declared_sensors(ds))}): the map is outside the classifier's calibration",
                      ProductMeaningWarning, stacklevel=2)
    the_mask = _the_mask(ds, mask)
    images = [da for _, da in used]
    kwargs: dict[str, Any] = {"valid": tuple(tuple(r.validity) for r in rad), "has_class": the_mask is not None}
    mask_desc: dict[str, Any] | None = None
    if the_mask is not None:
        qband, lut, mask_desc = _wofs_bits_lut(ds, the_mask)
        images.append(qband)
        kwargs["lut"] = lut
    flags, water = apply_kernel("wofs", *images, *(r.scale for r in rad), *(r.offset for r in rad), kwargs=kwargs,
                                output_dtypes=(np.uint8, np.uint8))
    template = images[0]
    inputs = {common: da for common, da in used}
    params = {"method": "wofs", "mask": mask_desc, "bands": {c: str(da.name) for c, da in used}}
    common_attrs = {"references": WOFS_REFERENCE, "input_quantity": quantity or "unknown",
                    "band_mapping": "TM1=blue TM2=green TM3=red TM4=nir TM5=swir16 TM7=swir22: "
                                    + " ".join(f"{c}={da.name}" for c, da in used),
                    "masking": json.dumps(mask_desc, sort_keys=True) if mask_desc else _mask_note(None)}
    flag_attrs = {
        "long_name": "WOfS water observation feature layer (bit flags)",
        "flag_masks": np.asarray([b for _, b in WOFS_BITS], dtype=np.uint8),
        "flag_meanings": " ".join(n for n, _ in WOFS_BITS),
        "flags_never_set": " ".join(WOFS_BITS_NEVER_SET),
        "comment": "0 = clear and dry, 128 = clear and wet; the water bit is set only when no other bit is. "
                   "sea, terrain shadow / low solar angle and high slope need a coastline, a DEM and sun angles "
                   "and are never set here.",
        **common_attrs,
    }
    out = {
        "wofs": finish(flags, template, "wofs", flag_attrs, inputs, params),
        "water": finish(water, template, "water", water_attrs("WOfS decision tree", **common_attrs), inputs, params),
    }
    return xr.Dataset(out)
