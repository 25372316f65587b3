"""Finding bands in a Dataset by common name (``red``, ``nir``...), whatever they are called.

Resolution order for each requested name:

1. an explicit mapping (``bands={"red": "B04"}``);
2. a variable with that name;
3. a variable whose ``common_name`` attribute is that name;
4. a variable named by any known sensor's band id for that common name (``B04`` for ``red``).

Ambiguity or absence is an error that lists the variables present and how to map them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence

import xarray as xr

from landpulse.errors import InputError, MissingBandError
from landpulse.spec.sensors import band_aliases

#: Names of the band dimension of a stacked DataArray (stackstac, odc-stac ``.to_array()``)
BAND_DIMS = ("band", "bands")


def as_dataset(data: xr.Dataset | xr.DataArray) -> xr.Dataset:
    """A Dataset of one variable per band, from a Dataset (returned as it is) or a DataArray with a
    band dimension (``band``: what stackstac returns and odc-stac's ``.to_array("band")`` holds).

    Each band becomes a variable named by its ``band`` coordinate (``B04``, ``red``), with the
    array's attributes (radiometry declared on the array holds for every band); a ``common_name`` coordinate along the band dimension (stackstac) becomes
    each variable's ``common_name`` attribute, so bands are found by common name either way.

    Raises
    ------
    InputError
        For a DataArray without a band dimension, or with repeated band names.
    """
    if isinstance(data, xr.Dataset):
        return data
    if not isinstance(data, xr.DataArray):
        raise InputError(f"expected an xarray Dataset or DataArray; got {type(data).__name__}")
    dim = next((d for d in BAND_DIMS if d in data.dims), None)
    if dim is None:
        raise InputError(f"a DataArray input needs a band dimension ({' or '.join(BAND_DIMS)}) with one entry per "
                         f"band; this one has dims {data.dims}: pass a Dataset of bands instead")
    names = [str(v) for v in data[dim].values] if dim in data.coords else [str(i) for i in range(data.sizes[dim])]
    if len(set(names)) != len(names):
        raise InputError(f"the {dim!r} coordinate repeats band names: {names}")
    along = [str(c) for c, v in data.coords.items() if v.dims == (dim,) and c != dim]
    common = [str(v) for v in data["common_name"].values] if "common_name" in along else None
    variables = {}
    # the array's attributes hold for every band (radiometry, units), but not those naming one band
    shared = {k: v for k, v in data.attrs.items() if k not in ("common_name", "long_name", "name", "description")}
    for i, name in enumerate(names):
        var = data.isel({dim: i}, drop=True).drop_vars(along, errors="ignore")
        var.attrs = dict(shared)
        if common is not None and common[i] not in ("", "None", "nan"):
            var.attrs["common_name"] = common[i]
        variables[name] = var.rename(name)
    return xr.Dataset(variables, attrs=dict(data.attrs))


def declared_sensors(ds: xr.Dataset) -> list[str]:
    """Sensor ids a dataset declares in its ``sensor`` attribute (a JSON list, as ``landpulse
    ingest`` writes it, or one id); empty when it declares none."""
    raw = ds.attrs.get("sensor")
    if raw is None:
        return []
    value: object = raw
    if isinstance(raw, str) and raw.startswith("["):
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
    return [str(v) for v in (value if isinstance(value, list) else [value])]


def find_band(ds: xr.Dataset, name: str, mapping: Mapping[str, str] | None = None) -> xr.DataArray | None:
    """Like :func:`select_band`, but None when no variable matches (still an error when several do).

    Raises
    ------
    MissingBandError
        When an explicit mapping names a missing variable, or several variables match.
    """
    mapping = dict(mapping or {})
    if name in mapping:
        var = mapping[name]
        if var not in ds.data_vars:
            raise MissingBandError(
                f"band mapping {name}={var!r}, but the dataset has no variable {var!r} "
                f"(variables: {', '.join(map(str, ds.data_vars))})"
            )
        return ds[var]
    if name in ds.data_vars:
        return ds[name]
    by_attr = [v for v in ds.data_vars if ds[v].attrs.get("common_name") == name]
    by_id = [v for v in ds.data_vars if str(v) in band_aliases(name, declared_sensors(ds) or None)]
    candidates = list(dict.fromkeys(by_attr or by_id))
    if len(candidates) == 1:
        return ds[candidates[0]]
    if not candidates:
        return None
    raise MissingBandError(
        f"several variables could be the {name!r} band ({', '.join(map(str, candidates))}); "
        f"choose one with bands={{'{name}': '<variable>'}}"
    )


def bands_read(ds: xr.Dataset, roles: Iterable[str], mapping: Mapping[str, str] | None = None) -> list[str] | None:
    """The variables of ``ds`` that hold the bands ``roles`` (common names, :func:`find_band`), in
    order, each once; None when ``roles`` is empty or one of them is not found (or is ambiguous):
    the caller cannot tell which variables will be read, and whatever reads them reports it."""
    names = list(roles)
    if not names:
        return None
    found = []
    for role in names:
        try:
            band = find_band(ds, role, mapping)
        except MissingBandError:
            return None
        if band is None:
            return None
        found.append(str(band.name))
    return list(dict.fromkeys(found))


def select_band(ds: xr.Dataset, name: str, mapping: Mapping[str, str] | None = None) -> xr.DataArray:
    """Return the variable of ``ds`` that holds the band ``name`` (a common name).

    Raises
    ------
    MissingBandError
        When no variable (or more than one) matches.
    """
    found = find_band(ds, name, mapping)
    if found is None:
        present = ", ".join(map(str, ds.data_vars)) or "none"
        raise MissingBandError(
            f"no {name!r} band in the dataset (variables: {present}); name the variable with "
            f"bands={{'{name}': '<variable>'}} (CLI: --band {name}=<variable>)"
        )
    return found


def select_bands(
    ds: xr.Dataset, names: Sequence[str], mapping: Mapping[str, str] | None = None
) -> dict[str, xr.DataArray]:
    """:func:`select_band` for several names; returns ``{common_name: DataArray}``."""
    return {n: select_band(ds, n, mapping) for n in names}
