"""Water extent: per-scene water maps, water-observation summaries, and change between periods.

xarray in, xarray out; the per-pixel work runs in kernels through the backend seam (Numba on the
CPU, CUDA through CuPy on the GPU, ``kernels/water.cu``), lazily over Dask chunks, with class
products bit-identical on both devices.

Per-scene classification (one water map per date)
    :func:`index_water` (a water index against a fixed threshold: MNDWI where a SWIR band exists,
    NDWI otherwise), :func:`otsu_water` (the same index against Otsu's threshold, found per scene
    from the whole scene's histogram), :func:`wofs` (the WOfS decision tree of Mueller et al.
    2016, with its bit-flag layer). Every classifier returns a ``water`` variable with the same
    codes (uint8, CF ``flag_values``/``flag_meanings``):

    ====  ===============  =================================================================
    0     not_water        a clear observation, not water
    1     water            a clear observation of water
    2     cloud_or_shadow  masked by the classification band (cloud, shadow, cirrus, buffer)
    255   nodata           no valid observation (fill, a band invalid or saturated, no index)
    ====  ===============  =================================================================

Summaries over a period
    :func:`summary`: wet and clear observation counts, frequency = wet / clear, and the classes
    never / seasonal / permanent. Masked and nodata observations never count.

Change between two periods
    :func:`change`, :func:`period_change`: stable not water, stable water, new water (flooding),
    lost water (drying); :func:`class_areas` and :func:`area_report` give areas in hectares from
    the pixel size and CRS, for run reports.

Index values come from the index catalogue through :func:`landpulse.indices` (one generated,
fused kernel for the index and the cloud mask); the Otsu threshold uses the chunk-independent
global histogram of :mod:`landpulse.backend.reductions`; the masks are :mod:`landpulse.masking`'s.

The WOfS classifier: sources and band mapping
---------------------------------------------
The tree is the one published in Mueller, N. et al. (2016), "Water observations from space:
Mapping surface water from 25 years of Landsat imagery across Australia", Remote Sensing of
Environment 174, 341-352 (https://doi.org/10.1016/j.rse.2015.11.003): a classification tree over
NDI_52, NDI_43, NDI_72 (normalised differences of Landsat TM bands 5 and 2, 4 and 3, 7 and 2) and
bands 1, 3, 5 and 7 of surface reflectance scaled by 10 000, with leaf nodes N3...N45. Its
thresholds were read from the paper's tree as transcribed in Geoscience Australia's open-source
WOfS implementation (github.com/GeoscienceAustralia/wofs, ``wofs/classifier.py``, which documents
the same node numbers) and checked against a second independent transcription; the code here is
written afresh as nested comparisons (``kernels/water.cuh``, ``backend/cpu/water_pixel.py``) and
tested on hand-built reflectances reaching every one of the 23 leaves. The flag bits follow the
WOfS "water observation feature layer" convention of the same implementation (``constants.py``).

Band mapping: TM band 1 = ``blue``, 2 = ``green``, 3 = ``red``, 4 = ``nir``, 5 = ``swir16``,
7 = ``swir22``, found by common name. On Sentinel-2 that is B02, B03, B04, B08 (the broad NIR
band, 785-900 nm, the closest match to TM band 4's 760-900 nm), B11 and B12 (20 m, replicated to
10 m by ingest); on Landsat 8/9 OLI SR_B2, SR_B3, SR_B4, SR_B5 (``nir08``, OLI has no broad NIR
band), SR_B6, SR_B7; on Landsat 4-7 SR_B1...SR_B5 and SR_B7. The tree was fitted on Landsat 5/7
surface reflectance; applying it to Sentinel-2 or OLI assumes their reflectances are comparable
(no band adjustment is applied), and applying it to top-of-atmosphere reflectance (Sentinel-2
L1C) is outside its calibration: the product says so in ``input_quantity`` and a warning is
issued.

Tree evaluation: reflectance x 10 000 is computed per pixel in float32 as ``(DN + offset/scale) *
(scale * 10000)`` (for Sentinel-2's scale 1e-4 this is the integer DN itself, so thresholds such
as 379 are met exactly); the normalised differences are float32; a zero denominator gives NaN,
which takes the "greater than" side of every test, as in the vectorised reference
implementation.

WOfS flag bits (uint8, CF ``flag_masks``): bit 0 (1) nodata: every band missing, or the
classification band says no data; bit 1 (2) non-contiguous: some band missing, saturated or
outside its valid range; bit 5 (32) cloud shadow and bit 6 (64) cloud: from the classification
band (SCL classes / QA_PIXEL flags whose names contain "shadow" set bit 5, other masked classes
bit 6, "saturated" bit 1); bit 7 (128) water, set only when no other bit is (so 0 is clear and
dry, 128 clear and wet). Never set, because they need data landpulse does not read: bit 2 (4) sea
(a coastline mask), bit 3 (8) terrain shadow or low solar angle and bit 4 (16) high slope (a DEM
and the sun's position). With a cloud buffer (``Mask(buffer=...)``) masked and buffered pixels get
the cloud bit (the buffer is computed on mask codes, which no longer tell cloud from shadow).
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from . import catalogue as cat
from .areas import class_areas, row_cell_areas
from .backend import apply_kernel, spatial_dims, to_host
from .backend.chunking import DEFAULT_BLOCK_BYTES, time_contiguous
from .backend.reductions import histograms, otsu_from_counts
from .bands import declared_sensors, find_band
from .change._common import class_attrs, drop_scalar_coords, finish
from .errors import InputError, MissingBandError, RadiometryError
from .indices import _band_for, _is_unscaled, indices
from .masking import MASK_NODATA, Mask, MaskLike, as_mask, resolve, resolve_rules
from .provenance import PROVENANCE_ATTR
from .radiometry import band_radiometry
from .sensors import sensors

WATER_DRY, WATER_WET, WATER_MASKED, WATER_NODATA = 0, 1, 2, 255
#: Codes and names of the per-scene water product.
WATER_FLAG_VALUES = (WATER_DRY, WATER_WET, WATER_MASKED)
WATER_FLAG_MEANINGS = ("not_water", "water", "cloud_or_shadow")

#: WOfS feature-layer bits, in bit order.
WOFS_BITS: tuple[tuple[str, int], ...] = (
    ("nodata", 1), ("noncontiguous", 2), ("sea", 4), ("terrain_shadow_or_low_solar_angle", 8),
    ("high_slope", 16), ("cloud_shadow", 32), ("cloud", 64), ("water", 128),
)
#: Bits this implementation never sets (they need a coastline, a DEM and sun angles).
WOFS_BITS_NEVER_SET = ("sea", "terrain_shadow_or_low_solar_angle", "high_slope")
WOFS_REFERENCE = ("Mueller, N. et al. (2016), Water observations from space: Mapping surface water from 25 years of "
                  "Landsat imagery across Australia, Remote Sensing of Environment 174, 341-352, "
                  "https://doi.org/10.1016/j.rse.2015.11.003")

#: Summary classes.
SUMMARY_FLAG_VALUES = (0, 1, 2)
SUMMARY_FLAG_MEANINGS = ("never", "seasonal", "permanent")
#: Default frequency thresholds of the summary classes (see :func:`summary`).
PERMANENT_FREQUENCY = 0.9
SEASONAL_FREQUENCY = 0.1

#: Change classes.
CHANGE_FLAG_VALUES = (0, 1, 2, 3)
CHANGE_FLAG_MEANINGS = ("stable_not_water", "stable_water", "new_water", "lost_water")

#: The WOfS bands as catalogue band symbols, in tree order (TM bands 1, 2, 3, 4, 5, 7).
WOFS_SYMBOLS = ("B", "G", "R", "N", "S1", "S2")

__all__ = [
    "CHANGE_FLAG_MEANINGS",
    "SUMMARY_FLAG_MEANINGS",
    "WATER_FLAG_MEANINGS",
    "WOFS_BITS",
    "agreement",
    "area_report",
    "change",
    "class_areas",
    "default_index",
    "index_water",
    "otsu_water",
    "period_change",
    "summary",
    "wofs",
]


# ---- helpers ------------------------------------------------------------------------------------

def water_attrs(method: str, **extra: Any) -> dict[str, Any]:
    """CF attributes of a per-scene water class product (nodata 255)."""
    return class_attrs(f"water extent ({method})", WATER_FLAG_MEANINGS, WATER_FLAG_VALUES, method=method, **extra)


def _has_classification_band(ds: xr.Dataset) -> bool:
    try:
        resolve_rules(ds, Mask())
    except MissingBandError:
        return False
    return True


def _the_mask(ds: xr.Dataset, mask: MaskLike) -> Mask | None:
    """``'auto'``: the sensor's default mask where the dataset has a classification band, else none."""
    if isinstance(mask, str) and mask == "auto":
        return Mask() if _has_classification_band(ds) else None
    return as_mask(mask)


def _time_dim(da: xr.DataArray, time_dim: str | None = None) -> str | None:
    """The dimension along which observations repeat (None for one 2-D scene)."""
    if time_dim is not None:
        if time_dim not in da.dims:
            raise InputError(f"{da.name or 'the array'} has no dimension {time_dim!r} (dims: {da.dims})")
        return time_dim
    ydim, xdim = spatial_dims(da)
    others = [str(d) for d in da.dims if d not in (ydim, xdim)]
    if not others:
        return None
    if len(others) > 1:
        raise InputError(f"{da.name or 'the array'} has several non-spatial dimensions {others}; pass time_dim=...")
    return others[0]


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
    return apply_kernel("water_threshold", *images, threshold, kwargs={"has_mask": codes is not None},
                        output_dtypes=(np.uint8,))


def _mask_note(the_mask: Mask | None) -> str:
    return "none (no classification band, or mask=None)" if the_mask is None else json.dumps(the_mask.describe(), sort_keys=True)


# ---- per-scene classification ---------------------------------------------------------------------

def index_water(
    ds: xr.Dataset,
    *,
    index: str | None = None,
    threshold: float = 0.0,
    mask: MaskLike = "auto",
    bands: Mapping[str, str] | None = None,
) -> xr.Dataset:
    """Water where a water index is at least a fixed threshold, per observation.

    Parameters
    ----------
    ds : xarray.Dataset
        Raw bands with radiometric metadata (``landpulse.open_store``), one scene ``(y, x)`` or a
        series ``(time, y, x)``.
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
    if not np.isfinite(threshold):
        raise InputError(f"threshold must be a finite number; got {threshold!r}")
    name, values, codes, the_mask, _ = _index_and_mask(ds, index, mask, bands)
    water = _classify(values, codes, float(threshold))
    params = {"method": "index_threshold", "index": name, "threshold": float(threshold), "mask": _mask_note(the_mask)}
    attrs = water_attrs("index threshold", index=name, threshold=float(threshold), rule=f"water where {name} >= threshold",
                        masking=_mask_note(the_mask))
    return xr.Dataset({"water": finish(water, values, "water", attrs, {name: values}, params), name: values})


def otsu_water(
    ds: xr.Dataset,
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
    if bins < 2:
        raise InputError(f"bins must be at least 2; got {bins}")
    name, values, codes, the_mask, _ = _index_and_mask(ds, index, mask, bands)
    spec = cat.get_index(name)
    vr = tuple(float(v) for v in (value_range if value_range is not None else spec.valid_range))
    if not (math.isfinite(vr[0]) and math.isfinite(vr[1]) and vr[1] > vr[0]):
        raise InputError(f"value_range must be finite with lo < hi; got {value_range}")
    if bounds is not None and not (math.isfinite(bounds[0]) and math.isfinite(bounds[1]) and bounds[0] <= bounds[1]):
        raise InputError(f"bounds must be finite with lo <= hi; got {bounds}")
    tdim = _time_dim(values)
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


def wofs(ds: xr.Dataset, *, mask: MaskLike = "auto", bands: Mapping[str, str] | None = None) -> xr.Dataset:
    """The WOfS water classifier (Mueller et al. 2016) and its flag layer, per observation.

    See the module documentation for the sources followed, the band mapping (Landsat TM bands
    1, 2, 3, 4, 5, 7 = blue, green, red, nir, swir16, swir22; Sentinel-2 B02, B03, B04, B08, B11,
    B12) and the flag bits.

    Parameters
    ----------
    ds : xarray.Dataset
        Raw surface-reflectance bands with radiometric metadata (Landsat Collection 2 Level-2,
        Sentinel-2 L2A), ``(y, x)`` or ``(time, y, x)``. All six bands are needed.
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
    catalogue = cat.catalogue()
    mapping = dict(bands or {})
    used = []
    for sym in WOFS_SYMBOLS:
        try:
            used.append(_band_for(ds, catalogue.bands[sym], mapping))
        except MissingBandError as err:
            raise MissingBandError(
                f"WOfS needs blue, green, red, nir, swir16 and swir22 surface reflectance; {err}") from None
    rad = [band_radiometry(da, common) for common, da in used]
    raw = [common for (common, da), r in zip(used, rad, strict=True) if _is_unscaled(da, r)]
    if raw:
        raise RadiometryError(
            f"WOfS compares reflectances with fixed thresholds, but band(s) {', '.join(map(repr, raw))} hold unscaled "
            "digital numbers (integer data with scale 1); declare the radiometry with "
            "landpulse.declare_radiometry(ds, scale=..., offset=...)")
    quantity = _input_quantity(ds)
    if quantity is not None and quantity != "surface_reflectance":
        warnings.warn(f"WOfS was fitted on surface reflectance; this dataset holds {quantity} (sensor "
                      f"{', '.join(declared_sensors(ds))}): the map is outside the classifier's calibration",
                      UserWarning, stacklevel=2)
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


# ---- summaries over a period ----------------------------------------------------------------------

def _codes_of(water: xr.Dataset | xr.DataArray) -> tuple[xr.DataArray, int, int]:
    """The class series and its (wet, dry) codes: 1/0 for the water product, 128/0 for WOfS flags."""
    if isinstance(water, xr.Dataset):
        if "water" not in water.data_vars:
            raise InputError(f"no 'water' variable in the dataset (variables: {', '.join(map(str, water.data_vars))})")
        water = water["water"]
    if "flag_masks" in water.attrs and "water" in str(water.attrs.get("flag_meanings", "")).split():
        return water, 128, 0
    meanings = str(water.attrs.get("flag_meanings", "")).split()
    if meanings and meanings[:2] != list(WATER_FLAG_MEANINGS[:2]):
        raise InputError(f"{water.name or 'the array'} is not a water product (flag_meanings {' '.join(meanings)!r}); "
                         "give the 'water' variable of index_water, otsu_water or wofs")
    return water, WATER_WET, WATER_DRY


def summary(
    water: xr.Dataset | xr.DataArray,
    *,
    start: Any = None,
    end: Any = None,
    time_dim: str | None = None,
    min_clear: int = 1,
    seasonal: float = SEASONAL_FREQUENCY,
    permanent: float = PERMANENT_FREQUENCY,
    chunk_budget: int = DEFAULT_BLOCK_BYTES,
) -> xr.Dataset:
    """Water-observation summaries of a series of water maps over a period.

    Parameters
    ----------
    water : xarray.Dataset or xarray.DataArray
        ``(time, y, x)`` water classes (the ``water`` variable of :func:`index_water`,
        :func:`otsu_water` or :func:`wofs`, or a Dataset holding it), or WOfS flags.
    start, end : date-like, optional
        Inclusive period (a ``time`` label slice).
    time_dim : str, optional
        The time dimension (default: the one non-spatial dimension).
    min_clear : int
        Fewest clear observations for a summary class (fewer: class 255).
    seasonal, permanent : float
        Frequency thresholds of the classes. Defaults: permanent at frequency >= 0.9 (wet in at
        least nine clear observations in ten, after the "permanent water" of Pekel et al. 2016,
        Nature 540, 418-422, with room for one misclassified or unmasked-cloud observation in
        ten); seasonal at >= 0.1 (wet in at least one clear observation in ten); never below 0.1
        (isolated wet observations are treated as noise).

    Returns
    -------
    xarray.Dataset
        ``wet_count`` and ``clear_count`` uint16 (masked and nodata observations never count; 0
        where every date is masked), ``frequency`` float32 = wet / clear (NaN where no clear
        observation), ``water_class`` uint8 (0 never, 1 seasonal, 2 permanent, 255 nodata). CRS
        kept; lazy when the input is. An all-cloudy stack gives counts of 0, frequency NaN and
        class 255, never an exception.
    """
    da, wet, dry = _codes_of(water)
    tdim = _time_dim(da, time_dim)
    if tdim is None:
        raise InputError("a summary needs a time dimension; this is a single water map")
    if start is not None or end is not None:
        da = da.sel({tdim: slice(start, end)})
    if not (0.0 <= seasonal <= permanent <= 1.0):
        raise InputError(f"need 0 <= seasonal <= permanent <= 1; got seasonal={seasonal}, permanent={permanent}")
    if min_clear < 1:
        raise InputError(f"min_clear must be at least 1; got {min_clear}")
    if da.sizes[tdim] == 0:
        raise InputError(f"no date in the period {start}..{end}")
    if da.sizes[tdim] > 65535:
        raise InputError(f"at most 65535 dates per summary (uint16 counts); got {da.sizes[tdim]}")
    blocks = time_contiguous(da, [tdim], chunk_budget)
    nw, nc, freq, cls = apply_kernel(
        "water_summary", blocks, core_dims=[[tdim]],
        kwargs={"wet": int(wet), "dry": int(dry), "min_clear": int(min_clear), "seasonal": float(seasonal),
                "permanent": float(permanent)},
        output_dtypes=(np.uint16, np.uint16, np.float32, np.uint8))
    template = da.isel({tdim: 0}, drop=True)
    dates = [str(v)[:19] for v in np.asarray(da[tdim].values)] if tdim in da.coords else []
    params = {"start": str(start) if start is not None else None, "end": str(end) if end is not None else None,
              "dates": dates, "min_clear": int(min_clear), "seasonal": float(seasonal), "permanent": float(permanent)}
    period = {"period_start": dates[0] if dates else "", "period_end": dates[-1] if dates else "",
              "n_dates": int(da.sizes[tdim])}
    inputs = {"water": da}
    out = {
        "wet_count": finish(nw, template, "wet_count", {
            "long_name": "number of clear observations classified as water", "units": "1", **period}, inputs, params),
        "clear_count": finish(nc, template, "clear_count", {
            "long_name": "number of clear observations (masked and nodata observations not counted)", "units": "1",
            **period}, inputs, params),
        "frequency": finish(freq, template, "frequency", {
            "long_name": "frequency of water in clear observations (wet_count / clear_count)", "units": "1",
            "valid_range": [0.0, 1.0], **period}, inputs, params),
        "water_class": finish(cls, template, "water_class", class_attrs(
            "water permanence over the period", SUMMARY_FLAG_MEANINGS, SUMMARY_FLAG_VALUES,
            seasonal_frequency=float(seasonal), permanent_frequency=float(permanent), min_clear=int(min_clear),
            rule=f"permanent: frequency >= {permanent}; seasonal: {seasonal} <= frequency < {permanent}; never: "
                 f"frequency < {seasonal}; nodata: fewer than {min_clear} clear observation(s)", **period),
            inputs, params),
    }
    return xr.Dataset(out)


# ---- change between two periods -------------------------------------------------------------------

def _frequency_and_clear(s: xr.Dataset | xr.DataArray, what: str) -> tuple[xr.DataArray, xr.DataArray]:
    if isinstance(s, xr.Dataset) and {"frequency", "clear_count"} <= set(s.data_vars):
        return drop_scalar_coords(s["frequency"]), drop_scalar_coords(s["clear_count"])
    raise InputError(f"{what} must be a summary (landpulse.water.summary(...)) with 'frequency' and 'clear_count'")


def change(before: xr.Dataset, after: xr.Dataset, *, threshold: float = 0.5, min_clear: int = 1) -> xr.Dataset:
    """Change in water between two periods, from their summaries.

    A pixel is water in a period when its frequency is at least ``threshold`` (default 0.5: wet in
    at least half of its clear observations).

    Parameters
    ----------
    before, after : xarray.Dataset
        :func:`summary` of each period, on one grid (checked, never joined).
    threshold : float
        Frequency from which a pixel counts as water in a period.
    min_clear : int
        Fewest clear observations in each period (fewer: nodata).

    Returns
    -------
    xarray.Dataset
        ``water_change`` uint8: 0 stable not water, 1 stable water, 2 new water (flooding),
        3 lost water (drying), 255 nodata (CF flags). Areas: :func:`class_areas`.
    """
    if not (0.0 <= threshold <= 1.0):
        raise InputError(f"threshold must be a frequency in [0, 1]; got {threshold}")
    fa, ca = _frequency_and_clear(before, "before")
    fb, cb = _frequency_and_clear(after, "after")
    for da, label in ((fa, "frequency_before"), (ca, "clear_before"), (fb, "frequency_after"), (cb, "clear_after")):
        da.name = label
    out = apply_kernel("water_change", fa, ca, fb, cb, kwargs={"min_clear": int(min_clear), "threshold": float(threshold)},
                       output_dtypes=(np.uint8,))
    periods = {f"{label}_{k}": str(s["frequency"].attrs.get(k, "")) for label, s in (("before", before), ("after", after))
               for k in ("period_start", "period_end")}
    params = {"threshold": float(threshold), "min_clear": int(min_clear), **periods}
    attrs = class_attrs("change in water between two periods", CHANGE_FLAG_MEANINGS, CHANGE_FLAG_VALUES,
                        threshold=float(threshold), min_clear=int(min_clear),
                        rule=f"water in a period where frequency >= {threshold}; new_water: not water before, water "
                             "after (flooding); lost_water: water before, not after (drying)", **periods)
    return xr.Dataset({"water_change": finish(out, fa, "water_change", attrs, {"before": fa, "after": fb}, params)})


def period_change(
    water: xr.Dataset | xr.DataArray,
    *,
    before: tuple[Any, Any],
    after: tuple[Any, Any],
    threshold: float = 0.5,
    min_clear: int = 1,
    **summary_kwargs: Any,
) -> xr.Dataset:
    """Summaries of two periods of one series of water maps, and the change between them.

    Parameters
    ----------
    water : xarray.Dataset or xarray.DataArray
        ``(time, y, x)`` water classes (see :func:`summary`).
    before, after : (start, end)
        Inclusive date ranges.
    threshold, min_clear
        As :func:`change`.
    **summary_kwargs
        Passed to :func:`summary` (``seasonal``, ``permanent``, ``time_dim``...).

    Returns
    -------
    xarray.Dataset
        ``frequency_before``, ``frequency_after`` (float32), ``clear_count_before``,
        ``clear_count_after`` (uint16) and ``water_change`` (uint8, see :func:`change`).
    """
    a = summary(water, start=before[0], end=before[1], min_clear=min_clear, **summary_kwargs)
    b = summary(water, start=after[0], end=after[1], min_clear=min_clear, **summary_kwargs)
    c = change(a, b, threshold=threshold, min_clear=min_clear)
    return xr.Dataset({
        "frequency_before": a["frequency"], "frequency_after": b["frequency"],
        "clear_count_before": a["clear_count"], "clear_count_after": b["clear_count"],
        "water_change": c["water_change"],
    })


# ---- areas (the maths lives in landpulse.areas; re-exported here) --------------------------------

def area_report(product: xr.Dataset | xr.DataArray) -> dict[str, Any]:
    """Areas (hectares) of every class variable of a product, for a run report (JSON-serialisable).

    Returns
    -------
    dict
        ``{"units": "ha", "pixel_area_m2": ..., "crs": ..., "<variable>": {class: ha}}`` for each
        uint8 variable with CF flags (``water``, ``water_class``, ``water_change``...).
    """
    ds = product.to_dataset() if isinstance(product, xr.DataArray) else product
    variables = [v for v in ds.data_vars if "flag_values" in ds[v].attrs and "flag_meanings" in ds[v].attrs
                 and ds[v].ndim >= 2]
    if not variables:
        raise InputError("area_report: the product has no class variable (flag_values/flag_meanings)")
    first = ds[variables[0]]
    cell = row_cell_areas(first)
    report: dict[str, Any] = {"units": "ha", "crs": str(first.rio.crs),
                              "pixel_area_m2": round(float(cell.mean()), 6)}
    for v in variables:
        report[str(v)] = class_areas(ds[v])
    if PROVENANCE_ATTR in first.attrs:
        report["provenance"] = json.loads(first.attrs[PROVENANCE_ATTR]).get("parameters", {})
    return report


def agreement(water_map: xr.DataArray, reference: xr.DataArray, valid: xr.DataArray | None = None) -> dict[str, Any]:
    """Confusion matrix of a water map against a reference water mask, on clear pixels.

    Parameters
    ----------
    water_map : xarray.DataArray
        Water classes (1 water, 0 not water; other codes are left out).
    reference : xarray.DataArray of bool
        True where the reference says water.
    valid : xarray.DataArray of bool, optional
        Where the reference is usable (for Sentinel-2 SCL: classes 4, 5 and 6).

    Returns
    -------
    dict
        ``{"matrix": [[tn, fp], [fn, tp]]`` (rows: reference not water / water; columns: map not
        water / water), ``"n"``, ``"overall_accuracy"``, ``"water_recall"`` (producer's accuracy),
        ``"water_precision"`` (user's accuracy), ``"kappa"`` (Cohen's).
    """
    w = to_host(water_map)
    ref = to_host(reference).astype(bool)
    use = w.isin([WATER_DRY, WATER_WET])
    if valid is not None:
        use = use & to_host(valid).astype(bool)
    pred = w == WATER_WET
    cells = xr.Dataset({"tp": (use & ref & pred).sum(), "fn": (use & ref & ~pred).sum(),
                        "fp": (use & ~ref & pred).sum(), "tn": (use & ~ref & ~pred).sum()}).compute()
    tp, fn, fp, tn = (int(cells[k]) for k in ("tp", "fn", "fp", "tn"))
    n = tp + fn + fp + tn
    if n == 0:
        return {"matrix": [[0, 0], [0, 0]], "n": 0}
    oa = (tp + tn) / n
    pe = ((tp + fn) * (tp + fp) + (tn + fp) * (tn + fn)) / (n * n)
    return {
        "matrix": [[tn, fp], [fn, tp]], "n": n, "overall_accuracy": oa,
        "water_recall": tp / (tp + fn) if tp + fn else float("nan"),
        "water_precision": tp / (tp + fp) if tp + fp else float("nan"),
        "kappa": (oa - pe) / (1 - pe) if pe < 1 else float("nan"),
    }


def water_product(name: str) -> Any:
    """``(ds, bands=None) -> DataArray`` functions for the pipeline's product registry.

    ``water`` (:func:`index_water`, defaults), ``water_otsu`` (:func:`otsu_water`), ``water_wofs``
    (the ``water`` classes of :func:`wofs`) and ``water_frequency`` (the frequency of
    :func:`summary` of :func:`index_water` over every date of the store).
    """

    def index_product(ds: xr.Dataset, *, bands: Mapping[str, str] | None = None) -> xr.DataArray:
        return index_water(ds, bands=bands)["water"]

    def otsu_product(ds: xr.Dataset, *, bands: Mapping[str, str] | None = None) -> xr.DataArray:
        return otsu_water(ds, bands=bands)["water"]

    def wofs_product(ds: xr.Dataset, *, bands: Mapping[str, str] | None = None) -> xr.DataArray:
        return wofs(ds, bands=bands)["water"]

    def frequency_product(ds: xr.Dataset, *, bands: Mapping[str, str] | None = None) -> xr.DataArray:
        return summary(index_water(ds, bands=bands))["frequency"]

    table = {"water": index_product, "water_otsu": otsu_product, "water_wofs": wofs_product,
             "water_frequency": frequency_product}
    if name not in table:
        raise InputError(f"unknown water product {name!r}; known: {', '.join(table)}")
    inner = table[name]

    def product(ds: xr.Dataset, *, bands: Mapping[str, str] | None = None) -> xr.DataArray:
        return inner(ds, bands=bands).rename(name)  # the pipeline stores a product under its name

    product.__name__ = name
    product.__doc__ = inner.__doc__
    return product
