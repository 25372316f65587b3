"""Spectral indices, computed from raw bands in one fused pass per block.

Product contract (every index function):

* inputs are raw bands with radiometric metadata (see :mod:`landpulse.radiometry`); integer
  digital numbers are cast to float32 before any arithmetic, and scale/offset are applied from
  metadata, per date, exactly once;
* a pixel is NaN where any input is nodata, NaN or outside its valid raw range, where the
  denominator is 0, or where the value falls outside the index's valid range (or clipped to
  it, with ``out_of_range="clip"``);
* output is float32 on the input grid, CRS and coordinates preserved, lazy when the input is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np
import xarray as xr

from .backend import apply_kernel
from .bands import select_bands
from .errors import InputError
from .provenance import finish_product
from .radiometry import band_radiometry

OutOfRange = Literal["nan", "clip"]

NDVI_ATTRS = {
    "long_name": "Normalized Difference Vegetation Index",
    "units": "1",
    "valid_range": [-1.0, 1.0],
    "formula": "(nir - red) / (nir + red)",
    "references": "Rouse, J. W. et al. (1974), Monitoring vegetation systems in the Great Plains with ERTS, NASA SP-351",
}


def _check_policy(out_of_range: str) -> None:
    if out_of_range not in ("nan", "clip"):
        raise InputError(f"out_of_range must be 'nan' or 'clip'; got {out_of_range!r}")


def ndvi(
    ds: xr.Dataset,
    *,
    bands: Mapping[str, str] | None = None,
    out_of_range: OutOfRange = "nan",
) -> xr.DataArray:
    """Normalized Difference Vegetation Index, ``(nir - red) / (nir + red)``.

    Parameters
    ----------
    ds : xarray.Dataset
        Holds a ``red`` and a ``nir`` band (found by common name, attribute or sensor band id,
        see :func:`landpulse.bands.select_band`), raw or reflectance, with radiometric metadata.
    bands : mapping, optional
        Explicit variable names, for example ``{"red": "B04", "nir": "B08"}``.
    out_of_range : {'nan', 'clip'}
        Values outside [-1, 1] (only possible with negative reflectances) become NaN, or are
        clipped to the range.

    Returns
    -------
    xarray.DataArray
        ``ndvi``: float32 in [-1, 1], NaN where invalid (nodata or out-of-range input, zero
        denominator); same dimensions, coordinates and CRS as the input bands.

    Raises
    ------
    MissingBandError
        When ``red`` or ``nir`` cannot be found.
    RadiometryError
        When a band has no radiometric metadata.
    GridMismatchError
        When the two bands are not on one grid.
    """
    _check_policy(out_of_range)
    b = select_bands(ds, ["red", "nir"], bands)
    rad = {k: band_radiometry(v, k) for k, v in b.items()}
    out = apply_kernel(
        "ndvi",
        b["red"], b["nir"],
        rad["red"].scale, rad["red"].offset, rad["nir"].scale, rad["nir"].offset,
        kwargs={"red_valid": rad["red"].validity, "nir_valid": rad["nir"].validity,
                "out_of_range": out_of_range},
        output_dtypes=(np.float32,),
    )
    assert isinstance(out, xr.DataArray)
    return finish_product(
        out, b["red"], name="ndvi", attrs=NDVI_ATTRS, inputs=b,
        parameters={"out_of_range": out_of_range},
        radiometry={k: r.describe() for k, r in rad.items()},
    )
