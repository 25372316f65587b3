"""Spectral indices from the catalogue, and masks, computed from raw bands in one fused pass.

Product contract (every index):

* inputs are raw bands with radiometric metadata (see :mod:`landpulse.spec.radiometry`); integer
  digital numbers are cast to float32 before any arithmetic, and scale/offset are applied from
  metadata, per date, exactly once, inside the kernel;
* a pixel is NaN where any band the index uses is nodata, NaN or outside its valid raw range,
  where a denominator is 0 (or a square root's argument negative), where the mask says the
  observation is not clear, or where the value falls outside the index's valid range (or it is
  clipped to it, with ``out_of_range="clip"``);
* no index is computed from uncalibrated digital numbers (integer data with scale 1 on some date,
  as CBERS Level-2/4 products): a typed error names the fixes (a surface-reflectance product, TOA
  calibration); scale-invariant indices compute DN ratios only with ``allow_digital_numbers=True``,
  recorded in the provenance; indices with coefficients (EVI, SAVI, AWEI...) refuse DNs always;
* output is float32 on the input grid, CRS and coordinates preserved, lazy when the input is.

A request for several indices plus the mask reads every band once: one generated kernel
evaluates all formulas per pixel (see :mod:`landpulse.backend.codegen`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import xarray as xr

from landpulse.backend import Validity, apply_kernel, block_device, get_kernel
from landpulse.backend.codegen import FusedOutput, FusedProgram, bind
from landpulse.errors import InputError, RadiometryError
from landpulse.products.common import band_for, is_unscaled
from landpulse.products.masking import MaskLike, ResolvedMask, as_mask, mask_attrs, resolve
from landpulse.products.provenance import PROVENANCE_ATTR, finish_product, radiometry_coords
from landpulse.products.registry import Product, ProductFunction, register_product
from landpulse.spec import index_catalogue as cat
from landpulse.spec.bands import as_dataset
from landpulse.spec.radiometry import band_radiometry

OutOfRange = Literal["nan", "clip"]


@dataclass(frozen=True)
class IndexProgram:
    """A fused program and how it maps onto the catalogue.

    Attributes
    ----------
    program : FusedProgram
    names : tuple of str
        Output names (as requested, lower case).
    symbols : tuple of str
        ASI band symbols, in kernel slot order.
    constants : dict
        Constant values per output name.
    constant_values : tuple of float
        The kernel's constant slots, in order.
    """

    program: FusedProgram
    names: tuple[str, ...]
    symbols: tuple[str, ...]
    constants: dict[str, dict[str, float]]
    constant_values: tuple[float, ...]


def index_program(
    names: Sequence[str],
    *,
    constants: Mapping[str, Mapping[str, float]] | None = None,
    with_mask: bool = False,
) -> IndexProgram:
    """The fused kernel program for catalogue indices ``names`` (band slots in order of first use).

    Raises
    ------
    InputError
        For unknown names, duplicates, or constants of indices not requested.
    """
    requested = cat.resolve(list(names))
    overrides = {str(k).lower(): v for k, v in (constants or {}).items()}
    keys = [k for k, _ in requested]
    aliases = {spec.key: k for k, spec in requested}
    unknown = [k for k in overrides if k not in keys and k not in aliases]
    if unknown:
        raise InputError(f"constants given for {unknown}, which are not requested")
    symbols: list[str] = []
    for _, spec in requested:
        symbols += [b for b in spec.bands if b not in symbols]
    slots = {s: i for i, s in enumerate(symbols)}
    values: list[float] = []
    outputs: list[FusedOutput] = []
    chosen: dict[str, dict[str, float]] = {}
    for key, spec in requested:
        consts = spec.constants_with(overrides.get(key) or overrides.get(spec.key))
        chosen[key] = consts
        cslots = {}
        for cname, v in consts.items():
            cslots[cname] = len(values)
            values.append(v)
        outputs.append(FusedOutput(key, bind(spec.expr, slots, cslots), tuple(slots[b] for b in spec.bands),
                                   float(spec.valid_range[0]), float(spec.valid_range[1])))
    program = FusedProgram(len(symbols), tuple(outputs), len(values), with_mask, with_mask)
    return IndexProgram(program, tuple(keys), tuple(symbols), chosen, tuple(values))


def _check_policy(out_of_range: str) -> None:
    if out_of_range not in ("nan", "clip"):
        raise InputError(f"out_of_range must be 'nan' or 'clip'; got {out_of_range!r}")


@dataclass(frozen=True)
class PreparedIndices:
    """A request of :func:`indices` checked and resolved: what its kernels read.

    Attributes
    ----------
    ds : xarray.Dataset
    requested : list of (str, IndexSpec)
    info : IndexProgram
    used : dict
        ``(common name, band DataArray)`` per ASI symbol of ``info.symbols``.
    rad : dict
        Radiometry per symbol (scale, offset, validity).
    dn : dict
        Whether each symbol's band holds uncalibrated digital numbers.
    resolved : ResolvedMask or None
    """

    ds: xr.Dataset
    requested: list[tuple[str, cat.IndexSpec]]
    info: IndexProgram
    used: dict[str, tuple[str, xr.DataArray]]
    rad: dict[str, Any]
    dn: dict[str, bool]
    resolved: ResolvedMask | None


def prepare_indices(
    ds: xr.Dataset | xr.DataArray,
    names: Sequence[str] | str,
    *,
    mask: MaskLike = None,
    bands: Mapping[str, str] | None = None,
    constants: Mapping[str, Mapping[str, float]] | None = None,
    out_of_range: OutOfRange = "nan",
    allow_digital_numbers: bool = False,
) -> PreparedIndices:
    """The checks and resolution of :func:`indices` (bands, radiometry, digital numbers, mask),
    shared with the fused window kernels (:mod:`landpulse.products.temporal`); same errors."""
    _check_policy(out_of_range)
    ds = as_dataset(ds)
    requested = cat.resolve([names] if isinstance(names, str) else list(names))
    the_mask = as_mask(mask, ds)
    if not requested and the_mask is None:
        raise InputError("nothing to compute: give at least one index name, or a mask")
    catalogue = cat.catalogue()

    info = index_program([k for k, _ in requested], constants=constants, with_mask=the_mask is not None)
    symbols = list(info.symbols)
    mapping = dict(bands or {})
    used: dict[str, tuple[str, xr.DataArray]] = {s: band_for(ds, catalogue.bands[s], mapping) for s in symbols}
    rad = {s: band_radiometry(da, common) for s, (common, da) in used.items()}
    dn = {s: is_unscaled(used[s][1], rad[s]) for s in symbols}
    for _, spec in requested:
        raw = [used[s][0] for s in spec.bands if dn[s]]
        if raw and not (spec.scale_invariant and allow_digital_numbers):
            raise RadiometryError(_digital_number_message(spec, raw, catalogue, set(used)))
    resolved: ResolvedMask | None = resolve(ds, the_mask) if the_mask is not None else None
    return PreparedIndices(ds, requested, info, used, rad, dn, resolved)


def indices(
    ds: xr.Dataset | xr.DataArray,
    names: Sequence[str] | str,
    *,
    mask: MaskLike = None,
    bands: Mapping[str, str] | None = None,
    constants: Mapping[str, Mapping[str, float]] | None = None,
    out_of_range: OutOfRange = "nan",
    allow_digital_numbers: bool = False,
) -> xr.Dataset:
    """Compute several catalogue indices (and the mask) in one pass over the bands.

    Parameters
    ----------
    ds : xarray.Dataset or xarray.DataArray
        Raw bands with radiometric metadata (``landpulse.open_store``, or any Dataset after
        :func:`landpulse.declare_radiometry`), found by common name (``red``, ``nir``,
        ``swir16``...), ``common_name`` attribute or sensor band id; a ``nir08`` band serves as
        ``nir`` where there is no broad NIR band (Landsat).
        A DataArray needs a ``band`` dimension (stackstac, odc-stac's ``.to_array``), see
        :func:`landpulse.spec.bands.as_dataset`.
    names : sequence of str
        Catalogue names or aliases, case-insensitive (``["ndvi", "mndwi", "awei_nsh"...]``, see
        :func:`landpulse.spec.index_catalogue.index_names`). May be empty when ``mask`` is given.
    mask : None, 'auto' or landpulse.Mask
        Mask cloudy and invalid observations with the dataset's classification band (Sentinel-2
        SCL, Landsat QA_PIXEL): ``'auto'`` uses the sensor's defaults; a :class:`landpulse.Mask`
        chooses classes, confidences and a buffer in metres. Masked pixels are NaN in every index
        and the ``mask`` variable holds the codes.
    bands : mapping, optional
        Explicit variables by common name or ASI symbol (``{"nir": "B08"}``).
    constants : mapping, optional
        Per-index constants replacing the catalogue defaults: ``{"savi": {"L": 0.25}}``.
    out_of_range : {'nan', 'clip'}
        Values outside an index's valid range become NaN, or are clipped to it.
    allow_digital_numbers : bool
        Compute scale-invariant indices (NDVI, NDWI...) from bands that hold uncalibrated digital
        numbers anyway, as DN ratios: marked ``input_quantity = "digital_number"`` and recorded
        in the provenance (``allow_digital_numbers: true``). Indices with coefficients refuse DNs
        whatever this says.

    Returns
    -------
    xarray.Dataset
        One float32 variable per requested index (named as requested, lower case; NaN where
        invalid or masked; attributes from the catalogue: ``long_name``, ``valid_range``,
        ``formula``, ``references``...), plus ``mask`` (uint8 codes 0 clear, 1 masked, 2 buffer,
        3 nodata) when a mask was given. CRS, coordinates and per-date metadata are kept;
        provenance is recorded per variable and for the request.

    Raises
    ------
    InputError
        For unknown index names or constants, or an empty request.
    MissingBandError
        When a needed band (or the classification band) is missing.
    RadiometryError
        When a band has no radiometric metadata, or an index would be computed from
        uncalibrated digital numbers (integer data with scale 1 on some date; see
        ``allow_digital_numbers``).
    GridMismatchError
        When the bands are not on one grid.
    """
    prep = prepare_indices(ds, names, mask=mask, bands=bands, constants=constants, out_of_range=out_of_range,
                           allow_digital_numbers=allow_digital_numbers)
    ds, requested, info, resolved = prep.ds, prep.requested, prep.info, prep.resolved
    symbols, used, rad, dn = list(info.symbols), prep.used, prep.rad, prep.dn
    chosen_constants = info.constants
    const_values = list(info.constant_values)
    program = info.program
    band_arrays = [used[s][1] for s in symbols]
    images = band_arrays + ([resolved.band] if resolved is not None else [])
    result = apply_kernel(
        "indices",
        *images,
        *(rad[s].scale for s in symbols),
        *(rad[s].offset for s in symbols),
        kwargs={"program": program, "valid": tuple(tuple(rad[s].validity) for s in symbols),
                "constants": tuple(const_values), "lut": resolved.lut if resolved is not None else None,
                "out_of_range": out_of_range},
        output_dtypes=[np.float32] * len(program.outputs) + ([np.uint8] if resolved is not None else []),
    )
    arrays = list(result) if isinstance(result, tuple) else [result]

    template = images[0]
    inputs_all = {used[s][0]: used[s][1] for s in symbols}
    if resolved is not None:
        inputs_all["mask_band"] = resolved.band
    radiometry = {used[s][0]: rad[s].describe() for s in symbols}
    mask_desc = resolved.describe() if resolved is not None else None
    variables: dict[str, xr.DataArray] = {}
    for (key, spec), da in zip(requested, arrays[: len(program.outputs)], strict=True):
        attrs = spec.attrs(chosen_constants[key])
        attrs["formula_bands"] = " ".join(f"{s}={used[s][0]}" for s in spec.bands)
        parameters: dict[str, Any] = {"out_of_range": out_of_range, "constants": chosen_constants[key], "mask": mask_desc}
        if any(dn[s] for s in spec.bands):  # only reachable with allow_digital_numbers=True
            attrs["input_quantity"] = "digital_number"
            attrs["comment"] = DN_RATIO_COMMENT
            parameters["allow_digital_numbers"] = True
        elif any(rad[s].calibration_records() for s in spec.bands):
            attrs["input_quantity"] = "toa_reflectance"
        inputs = {used[s][0]: used[s][1] for s in spec.bands}
        if resolved is not None:
            inputs["mask_band"] = resolved.band
        variables[key] = finish_product(
            da, template, name=key, attrs=attrs, inputs=inputs, parameters=parameters,
            radiometry={used[s][0]: rad[s].describe() for s in spec.bands},
        )
        _drop_radiometry_coords(variables, key, inputs_all)
    if resolved is not None:
        variables["mask"] = finish_product(
            arrays[-1], template, name="mask", attrs=mask_attrs(resolved), inputs={"mask_band": resolved.band},
            parameters={"mask": mask_desc}, radiometry={},
        )
        _drop_radiometry_coords(variables, "mask", inputs_all)
    out = xr.Dataset(variables)
    out.attrs[PROVENANCE_ATTR] = json.dumps({
        "request": [k for k, _ in requested], "bands": {used[s][0]: str(used[s][1].name) for s in symbols},
        "mask": mask_desc, "out_of_range": out_of_range, "radiometry": radiometry,
    } | ({"allow_digital_numbers": True} if any(dn.values()) else {}), sort_keys=True)
    return out


DN_RATIO_COMMENT = ("computed from uncalibrated digital numbers at the user's explicit request "
                    "(allow_digital_numbers=True): a ratio of DNs, biased by each band's radiometric gain and "
                    "solar irradiance; not comparable with reflectance-based values, nor across recalibrations")


def _digital_number_message(spec: cat.IndexSpec, raw: list[str], catalogue: cat.Catalogue, present: set[str]) -> str:
    """The error for an index over uncalibrated digital numbers, naming the fixes."""
    bands = ", ".join(map(repr, raw))
    fixes = ("use a surface-reflectance product (STAC raster:bands scale/offset, read by "
             "landpulse.io.scene_from_stac_item), calibrate to top-of-atmosphere reflectance (CBERS: "
             "landpulse.io.scene_from_inpe with the scene's INPE XML metadata; otherwise "
             "landpulse.declare_radiometry(ds, scale=..., offset=...); CLI --scale/--offset)")
    if not spec.scale_invariant:
        consts = ", ".join(spec.constants) or "numeric coefficients"
        ratios = ", ".join(s.key for s in catalogue.indices.values() if s.scale_invariant and set(s.bands) <= present)
        return (f"{spec.name} needs reflectance, but band(s) {bands} hold unscaled digital numbers (integer data "
                f"with scale 1): its formula {spec.formula!r} adds {consts} to reflectances, so it is meaningless on "
                f"DNs, even with allow_digital_numbers=True. Declare the radiometry, or {fixes}"
                + (f"; DN ratios of scale-invariant indices ({ratios}) need allow_digital_numbers=True" if ratios else ""))
    return (f"{spec.name} over band(s) {bands} that hold uncalibrated digital numbers (integer data with scale 1): "
            "each band has its own radiometric gain and solar irradiance (and the gains change between "
            "calibrations), so a ratio of DNs is a biased index and a time series of it mixes scenes with different "
            f"biases. To fix it, {fixes}; or ask "
            "for DN ratios explicitly with allow_digital_numbers=True (recorded in the product's provenance)")


def _drop_radiometry_coords(variables: dict[str, xr.DataArray], key: str, inputs: Mapping[str, xr.DataArray]) -> None:
    """Drop every input's per-date radiometry coordinates (they describe inputs, not products)."""

    drop = [c for c in radiometry_coords(*inputs.values()) if c in variables[key].coords]
    if drop:
        variables[key] = variables[key].drop_vars(drop)


def mask(ds: xr.Dataset | xr.DataArray, mask: MaskLike = "auto") -> xr.DataArray:
    """Observation mask codes from the dataset's classification band (Sentinel-2 SCL, Landsat QA_PIXEL).

    Parameters
    ----------
    ds : xarray.Dataset or xarray.DataArray
        A DataArray needs a ``band`` dimension (stackstac, odc-stac's ``.to_array``), see
        :func:`landpulse.spec.bands.as_dataset`.
    mask : 'auto' or landpulse.Mask
        Classes, confidences and buffer (metres); ``'auto'`` uses the sensor's defaults.

    Returns
    -------
    xarray.DataArray
        uint8 codes (0 clear, 1 masked, 2 buffer, 3 nodata; CF ``flag_values`` and
        ``flag_meanings``) on the classification band's grid, CRS kept; lazy when the input is.
    """
    the_mask = as_mask(mask)
    if the_mask is None:
        raise InputError("mask=None: nothing to compute")
    return indices(ds, [], mask=the_mask)["mask"]


def ndvi(
    ds: xr.Dataset | xr.DataArray,
    *,
    bands: Mapping[str, str] | None = None,
    out_of_range: OutOfRange = "nan",
    mask: MaskLike = None,
    allow_digital_numbers: bool = False,
) -> xr.DataArray:
    """Normalized Difference Vegetation Index, ``(nir - red) / (nir + red)``.

    The catalogue's NDVI through :func:`indices` (one generated kernel); kept as a function of
    its own because it is the product most people start with.

    Parameters
    ----------
    ds : xarray.Dataset or xarray.DataArray
        Holds a ``red`` and a ``nir`` band (found by common name, attribute or sensor band id,
        see :func:`landpulse.spec.bands.select_band`), raw or reflectance, with radiometric metadata.
        A DataArray needs a ``band`` dimension (stackstac, odc-stac's ``.to_array``), see
        :func:`landpulse.spec.bands.as_dataset`.
    bands : mapping, optional
        Explicit variable names, for example ``{"red": "B04", "nir": "B08"}``.
    out_of_range : {'nan', 'clip'}
        Values outside [-1, 1] (only possible with negative reflectances) become NaN, or are
        clipped to the range.
    mask : None, 'auto' or landpulse.Mask
        Mask clouds (and the rest) with the classification band.
    allow_digital_numbers : bool
        Compute a DN ratio from uncalibrated digital numbers anyway (see :func:`indices`).

    Returns
    -------
    xarray.DataArray
        ``ndvi``: float32 in [-1, 1], NaN where invalid (nodata or out-of-range input, zero
        denominator, masked); same dimensions, coordinates and CRS as the input bands.

    Raises
    ------
    MissingBandError
        When ``red`` or ``nir`` cannot be found.
    RadiometryError
        When a band has no radiometric metadata, or holds uncalibrated digital numbers (unless
        ``allow_digital_numbers``).
    GridMismatchError
        When the two bands are not on one grid.

    Notes
    -----
    On Dask-backed input the result is lazy, one chunk per input chunk. ``.compute()`` then joins
    every chunk into one NumPy array in this process: a copy of the whole product (482 MB float32
    for a 10980 x 10980 tile) that the kernel itself never needs, and which the bandwidth-floor
    benchmark counts against it (``benchmarks/RESULTS.md``). To keep the product, write it
    (:func:`landpulse.write_product`, or ``landpulse run`` / ``landpulse compute``): each chunk is
    computed and written where it is, nothing is joined. ``.persist()`` keeps the chunks in memory
    without joining them; ``.compute()`` is for products small enough to want as one array.
    """
    return indices(ds, ["ndvi"], bands=bands, out_of_range=out_of_range, mask=mask,
                   allow_digital_numbers=allow_digital_numbers)["ndvi"]


def ndvi_block(
    red: Any,
    nir: Any,
    red_scale: Any = 1.0,
    red_offset: Any = 0.0,
    nir_scale: Any = 1.0,
    nir_offset: Any = 0.0,
    *,
    red_valid: Validity = Validity(),
    nir_valid: Validity = Validity(),
    out_of_range: OutOfRange = "nan",
    out: Any | None = None,
) -> Any:
    """NDVI of raw arrays (NumPy or CuPy, ``(..., y, x)``) with the kernel :func:`ndvi` uses.

    For code that holds plain arrays rather than xarray objects (tile loops, benchmarks): the
    catalogue's NDVI through the generated fused kernel of the arrays' device, no Dask, no
    metadata. Scales and offsets are scalars or per-slice arrays (reflectance = DN * scale +
    offset); ``red_valid``/``nir_valid`` are the raw ``(nodata, lo, hi)`` limits. ``out``, a
    preallocated float32 array shaped like ``red``, is filled in place (no allocation).

    Returns
    -------
    numpy.ndarray or cupy.ndarray
        float32, shaped like ``red``, NaN where invalid.
    """
    _check_policy(out_of_range)
    info = index_program(["ndvi"])
    by_symbol = {"R": (red, red_scale, red_offset, red_valid), "N": (nir, nir_scale, nir_offset, nir_valid)}
    slots = [by_symbol[s] for s in info.symbols]
    kernel = get_kernel("indices", block_device(red))
    return kernel(*(b[0] for b in slots), *(b[1] for b in slots), *(b[2] for b in slots), program=info.program,
                  valid=tuple(b[3] for b in slots), constants=info.constant_values, out_of_range=out_of_range,
                  out=None if out is None else (out,))


def index_product(name: str) -> ProductFunction:
    """A ``(ds, bands=None) -> DataArray`` function computing catalogue index ``name`` (for pipelines)."""
    spec = cat.get_index(name)
    key = str(name).lower()

    def product(ds: xr.Dataset, *, bands: Mapping[str, str] | None = None) -> xr.DataArray:
        return indices(ds, [key], bands=bands)[key]

    product.__name__ = key
    product.__doc__ = f"{spec.long_name} ({spec.name}): {spec.formula}. See :func:`landpulse.indices`."
    return product


def _register_products() -> None:
    """NDVI and every catalogue index (and alias) as a per-scene product."""
    catalogue = cat.catalogue()
    for name in ["ndvi", *(n for n in catalogue.all_names() if n != "ndvi")]:
        spec = cat.get_index(name)
        register_product(Product(
            name, ndvi if name == "ndvi" else index_product(name),
            inputs=tuple(catalogue.bands[s].common_name for s in spec.bands),
            description=f"{spec.long_name} ({spec.name}), float32 index, NaN where invalid"))


_register_products()

__all__ = ["IndexProgram", "PreparedIndices", "prepare_indices", "index_product", "indices", "mask", "ndvi", "index_program"]
