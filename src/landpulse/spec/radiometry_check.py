"""Declared scales and offsets checked against raw values sampled from the pixels (NumPy only).

The part of the radiometric contract (:mod:`landpulse.spec.radiometry`) that ``landpulse ingest``
needs before it writes a store: it loads neither xarray nor Dask, so an ingest that writes with
zarr alone (:mod:`landpulse.io.scene_writer`) checks exactly what the xarray path checks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from landpulse.backend.validity import Validity
from landpulse.errors import RadiometryError

RADIOMETRY_ATTR = "landpulse_radiometry"
# attribute of a classification band read from a STAC item: JSON {"asset": key, "classes": [...]}
# (or "bitfields"), the item's classification-extension table as published; {"asset": key} alone
# when the item states none (landpulse.io.scenes, landpulse.products.masking)
CLASSIFICATION_ATTR = "stac_classification"
REFLECTANCE = "reflectance"
#: Band attribute (and, plural, dataset attribute) recording a declaration the pixels make doubtful.
RADIOMETRY_WARNING_ATTR = "landpulse_radiometry_warning"
RADIOMETRY_WARNINGS_ATTR = "landpulse_radiometry_warnings"
#: Reflectances outside this range for most sampled pixels mean the declared scale is wrong.
PLAUSIBLE_REFLECTANCE = (-0.5, 1.5)
#: "Most": more than this fraction of the valid sampled values.
MOST = 0.5
#: Fewer valid sampled values than this decide nothing.
MIN_SAMPLE = 100


def valid_values(values: np.ndarray, validity: Validity) -> np.ndarray:
    """The valid ones of raw ``values`` (float64, 1-D): NaN, infinite, nodata and values outside
    the valid range left out."""
    nd, lo, hi = validity
    ok = np.isfinite(values) & (values >= lo) & (values <= hi)
    if not math.isnan(nd):
        ok &= values != nd
    return values[ok]


def check_against_pixels(samples: Sequence[tuple[str, np.ndarray, float, float]], *, what: str,
                         fix: str) -> dict[str, str]:
    """Check declared scales and offsets against raw values sampled from the pixels.

    Parameters
    ----------
    samples : sequence of (band, values, scale, offset)
        Per band, valid raw values (float64, from :func:`valid_sample`) and the declared scale and
        offset (reflectance = value * scale + offset).
    what : str
        What is checked (the scene, "declared radiometry"), named in the messages.
    fix : str
        How to correct a refused offset, named in the error.

    Returns
    -------
    dict of str to str
        Per band, a warning for a scale that puts more than half of the sampled reflectances
        outside :data:`PLAUSIBLE_REFLECTANCE` (empty when none does).

    Raises
    ------
    RadiometryError
        When the bands declare a negative offset of ``k`` DN and more than half of their valid
        sampled values (pooled) are below ``k``: most reflectances would be negative, so the offset
        was already removed from the values, or never added (Sentinel-2 processing baseline
        04.00 and later adds 1000 to every DN).
    """
    below = total = 0
    offset_bands, offsets = [], set()
    for band, values, scale, offset in samples:
        k = -offset / scale if scale else 0.0
        if k > 0:
            below += int((values < k).sum())
            total += values.size
            offset_bands.append(band)
            offsets.add(round(k, 6))
    if total >= MIN_SAMPLE and below > MOST * total:
        shown = ", ".join(f"{k:g}" for k in sorted(offsets))
        raise RadiometryError(
            f"{what}: an offset of -{shown} DN ({', '.join(offset_bands)}) is ruled out by the pixels: {below / total:.0%} "
            f"of the valid values sampled are below {shown}, so most reflectances would be negative; the offset "
            f"was already removed from these values, or never added. {fix}")
    lo, hi = PLAUSIBLE_REFLECTANCE
    found = {}
    for band, values, scale, offset in samples:
        if values.size < MIN_SAMPLE:
            continue
        refl = values * scale + offset
        for frac, side in (((refl > hi).mean(), f"above {hi:g}"), ((refl < lo).mean(), f"below {lo:g}")):
            if frac > MOST:
                found[band] = (f"{what}, band {band!r}: scale {scale:g} and offset {offset:g} put {frac:.0%} of the sampled "
                               f"reflectances {side} (median {float(np.median(refl)):.4g}); the declared scale is "
                               "probably wrong")
    return found
