"""What will certainly fail at run time, found from metadata alone (``landpulse validate --plan``).

A plan lists the units to compute; a unit fails at run time when its product's bands are not in
its input, when a band it reads carries no radiometric metadata (and the job declares none), or
when an input file cannot be read. :func:`preflight` checks exactly these, per input and product,
against each product's ``Product.inputs`` (the band common names it reads, from the registry), the
store's variables and attributes, and the STAC items' asset files, without reading a pixel.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from landpulse.errors import LandpulseError, MissingBandError, RadiometryError
from landpulse.production.plan import ItemSource, Unit, ZarrSource
from landpulse.products.registry import get_product, is_registered


@dataclass(frozen=True)
class Problem:
    """Every unit of ``product`` from ``source`` will fail, for ``reason``."""

    product: str
    source: str
    reason: str
    error_type: str
    units: int


def _zarr_reason(src: ZarrSource, needs: Sequence[str], mapping: dict[str, str] | None,
                 opened: dict[str, object]) -> tuple[str, str] | None:
    import xarray as xr

    from landpulse.io.store import open_store
    from landpulse.spec.bands import select_band
    from landpulse.spec.radiometry import band_radiometry, has_radiometry

    ds = opened.get(src.store)
    if ds is None:
        try:
            ds = opened[src.store] = open_store(src.store)
        except (LandpulseError, OSError) as err:
            return f"{src.store} cannot be opened: {err}", type(err).__name__
    assert isinstance(ds, xr.Dataset)
    declared = src.radiometry
    for name in needs:
        try:
            var = select_band(ds, name, mapping)
        except MissingBandError as err:
            return str(err), "MissingBandError"
        if declared is not None and (declared[2] is None or str(var.name) in declared[2] or name in declared[2]):
            continue  # inputs.radiometry covers it
        if not has_radiometry(var):
            return (f"band {var.name!r} ({name}) carries no radiometric metadata (scale/offset): every unit would "
                    "raise RadiometryError; declare it in the job (inputs.radiometry: {scale: ..., offset: ...}) or "
                    "ingest the scenes with landpulse ingest", "RadiometryError")
        try:
            band_radiometry(var, str(var.name))
        except RadiometryError as err:
            return f"band {var.name!r} ({name}): {err}", "RadiometryError"
    return None


def _item_reason(src: ItemSource, needs: Sequence[str]) -> tuple[str, str] | None:
    from landpulse.io.scenes import scene_from_stac_item

    try:
        scene = scene_from_stac_item(src.item)
    except (LandpulseError, OSError) as err:
        return f"{src.item}: {err}", type(err).__name__
    for name in needs:
        band = scene.bands.get(name)
        if band is None:
            return (f"{src.item} has no {name!r} band (bands: {', '.join(scene.bands) or 'none'})", "MissingBandError")
        href = Path(str(band.href))
        if not href.is_file() or not os.access(href, os.R_OK):
            return f"{src.item}: the {name} asset {href} is missing or not readable", "UnreadableInputError"
    return None


def preflight(units: Sequence[Unit]) -> list[Problem]:
    """The problems that will fail units at run time (metadata only), one per input and product.

    Parameters
    ----------
    units : sequence of Unit
        The units a run would compute (``Plan.todo``).

    Returns
    -------
    list of Problem
        Empty when nothing is certain to fail (a unit may still fail on its pixels). Products
        that are not registered (a plugin's, when ``validate`` imports no plugin) are not checked.
    """
    found: dict[tuple[str, str], Problem] = {}
    checked: dict[tuple[str, str, tuple[tuple[str, str], ...] | None], tuple[str, str] | None] = {}
    opened: dict[str, object] = {}
    for unit in units:
        if not is_registered(unit.product):  # a plugin's product that validate did not import: not checked
            continue
        needs = get_product(unit.product).inputs
        for scene in unit.scenes:
            src = scene.source
            where = src.store if isinstance(src, ZarrSource) else src.item
            key = (where, unit.product, unit.bands)
            if key not in checked:
                if isinstance(src, ZarrSource):
                    checked[key] = _zarr_reason(src, needs, dict(unit.bands) if unit.bands else None, opened)
                else:
                    checked[key] = _item_reason(src, needs)
            reason = checked[key]
            if reason is None:
                continue
            old = found.get((where, unit.product))
            found[(where, unit.product)] = Problem(unit.product, where, reason[0], reason[1], (old.units if old else 0) + 1)
    return list(found.values())
