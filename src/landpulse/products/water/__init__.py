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
    :func:`compare`, :func:`period_change`: stable not water, stable water, new water (flooding),
    lost water (drying); :func:`class_areas` and :func:`area_report` give areas in hectares from
    the pixel size and CRS, for run reports.

Index values come from the index catalogue through :func:`landpulse.indices` (one generated,
fused kernel for the index and the cloud mask); the Otsu threshold uses the chunk-independent
global histogram of :mod:`landpulse.backend.reductions`; the masks are :mod:`landpulse.products.masking`'s.

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

from collections.abc import Mapping

import xarray as xr

from landpulse.products.registry import Product, register_product
from landpulse.products.water.accuracy import agreement, area_report, class_areas
from landpulse.products.water.classify import default_index, index_water, otsu_water, wofs
from landpulse.products.water.codes import (
    CHANGE_FLAG_MEANINGS,
    CHANGE_FLAG_VALUES,
    SUMMARY_FLAG_MEANINGS,
    SUMMARY_FLAG_VALUES,
    WATER_FLAG_MEANINGS,
    WATER_FLAG_VALUES,
    WOFS_BITS,
    water_attrs,
)
from landpulse.products.water.periods import change, compare, period_change, summary

__all__ = [
    "CHANGE_FLAG_MEANINGS",
    "CHANGE_FLAG_VALUES",
    "SUMMARY_FLAG_MEANINGS",
    "SUMMARY_FLAG_VALUES",
    "WATER_FLAG_MEANINGS",
    "WATER_FLAG_VALUES",
    "WOFS_BITS",
    "agreement",
    "area_report",
    "change",
    "class_areas",
    "compare",
    "default_index",
    "index_water",
    "otsu_water",
    "period_change",
    "summary",
    "water_attrs",
    "wofs",
]


# ---- the water products of production runs (per scene; the window products, water_frequency and the
# other summaries over a time window, are in landpulse.products.temporal) ----------------------------

def _water(ds: xr.Dataset, *, bands: Mapping[str, str] | None = None) -> xr.DataArray:
    """Water classes of :func:`index_water` (defaults), per scene."""
    return index_water(ds, bands=bands)["water"].rename("water")


def _water_otsu(ds: xr.Dataset, *, bands: Mapping[str, str] | None = None) -> xr.DataArray:
    """Water classes of :func:`otsu_water`, per scene."""
    return otsu_water(ds, bands=bands)["water"].rename("water_otsu")


def _water_wofs(ds: xr.Dataset, *, bands: Mapping[str, str] | None = None) -> xr.DataArray:
    """The ``water`` classes of :func:`wofs`, per scene."""
    return wofs(ds, bands=bands)["water"].rename("water_wofs")


_CLASSES = (WATER_FLAG_VALUES, WATER_FLAG_MEANINGS)
for _product in (
    Product("water", _water, dtype="uint8", flags=_CLASSES,
            description="water / not water / cloud (MNDWI, else NDWI, >= 0), uint8, nodata 255"),
    Product("water_otsu", _water_otsu, dtype="uint8", flags=_CLASSES,
            description="water classes against Otsu's threshold per scene, uint8, nodata 255"),
    Product("water_wofs", _water_wofs, dtype="uint8", flags=_CLASSES,
            inputs=("blue", "green", "red", "nir", "swir16", "swir22"),
            description="water classes of the WOfS decision tree (Mueller et al. 2016), uint8, nodata 255"),
):
    register_product(_product)
