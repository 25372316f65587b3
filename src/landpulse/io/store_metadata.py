"""What a plan needs of a scene store, read from its Zarr metadata alone (no xarray, no pixels).

A plan only needs a store's acquisition times and scene ids to name its units and find them in
the ledger. :func:`read_scene_times` reads them with zarr (the time coordinate's CF encoding
decoded here, ``scene_id`` when the store lists it as a coordinate) and says whether the store
names a CRS. It answers only where it is sure to agree with :func:`landpulse.io.store.open_store`
and :func:`~landpulse.io.store.datetime_dim`: for anything else (no or several time coordinates,
a calendar or encoding it does not decode, an append in progress, unreadable metadata, no CRS) it
returns None and the caller opens the store with xarray, which also reports what is wrong.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: seconds per CF time unit (CF conventions 4.4; UDUNITS spellings, singular and plural)
_UNITS = {"days": 86400, "day": 86400, "d": 86400, "hours": 3600, "hour": 3600, "h": 3600, "minutes": 60,
          "minute": 60, "min": 60, "seconds": 1, "second": 1, "s": 1}
_SUBSECOND = {"milliseconds": 10**3, "millisecond": 10**3, "ms": 10**3, "microseconds": 10**6,
              "microsecond": 10**6, "us": 10**6, "nanoseconds": 10**9, "nanosecond": 10**9, "ns": 10**9}
_CALENDARS = (None, "standard", "gregorian", "proleptic_gregorian")
_SINCE = re.compile(r"^\s*(\w+)\s+since\s+(.+?)\s*$")
#: Store attribute present while an append runs: ``{"dim": "time", "length": n}``, the length
#: along ``dim`` before it. An append grows the arrays and writes the new coordinates (scene ids)
#: before any pixel; a store left with this mark has dates whose pixels may be missing.
APPEND_MARK = "landpulse_append_in_progress"


@dataclass(frozen=True)
class SceneTimes:
    """A store's scenes as its metadata lists them.

    Attributes
    ----------
    time_dim : str
        The time dimension's name.
    times : tuple of datetime
        Acquisition times, naive UTC, whole seconds (as ``landpulse.production.plan`` rounds them).
    scene_ids : tuple of str, optional
        The ``scene_id`` coordinate, or None when the store has none.
    """

    time_dim: str
    times: tuple[dt.datetime, ...]
    scene_ids: tuple[str, ...] | None


def _dims(array: Any) -> tuple[str, ...] | None:
    names = getattr(array.metadata, "dimension_names", None)  # Zarr v3
    if names is None:
        names = array.attrs.get("_ARRAY_DIMENSIONS")  # Zarr v2 (xarray's convention)
    return tuple(str(n) for n in names) if names is not None else None


def _reference_time(reference: str) -> dt.datetime | None:
    """The reference date of a CF ``<unit> since <date>`` as a naive UTC datetime, or None."""
    text = reference.strip().replace("Z", "+00:00")
    if " " in text and "T" not in text:
        date, _, rest = text.partition(" ")
        text = f"{date}T{rest}" if rest[:1].isdigit() else date
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC).replace(tzinfo=None)
    return when


def _epoch_seconds(reference: str) -> int | None:
    when = _reference_time(reference)
    if when is None:
        return None
    delta = when - dt.datetime(1970, 1, 1)
    if delta.microseconds:
        return None
    return delta.days * 86400 + delta.seconds


#: The time axis of every scene store landpulse creates: integer microseconds since the Unix
#: epoch (nanoseconds for times finer than that). A fixed unit holds every later acquisition
#: exactly; the unit xarray infers from the first ingest (``days since <first scene's time>`` for
#: one scene) cannot hold a scene acquired at another time of day, and an append with it writes
#: a time axis that no reader decodes.
SCENE_TIME_UNITS = "microseconds since 1970-01-01"
_NS_PER = {**{k: v * 10**9 for k, v in _UNITS.items()}, **{k: 10**9 // v for k, v in _SUBSECOND.items()}}


def scene_time_encoding(times: Any) -> dict[str, str]:
    """The CF encoding of a new scene store's time coordinate (``datetime64`` values).

    Returns
    -------
    dict
        ``units`` (:data:`SCENE_TIME_UNITS`, or nanoseconds when a time is finer than a
        microsecond), ``calendar`` (``proleptic_gregorian``) and ``dtype`` (``int64``).
    """
    import numpy as np

    ns = np.asarray(times, dtype="datetime64[ns]").astype(np.int64)
    units = SCENE_TIME_UNITS if not np.any(ns % 1000) else "nanoseconds since 1970-01-01"
    return {"units": units, "calendar": "proleptic_gregorian", "dtype": "int64"}


def cf_units_hold(attrs: Mapping[str, Any], times: Any) -> bool:
    """Whether an integer CF time encoding (``attrs``: ``units``, ``calendar``) represents every
    one of ``times`` (``datetime64``) exactly. False for an encoding this does not read."""
    import numpy as np

    units, calendar = attrs.get("units"), attrs.get("calendar")
    m = _SINCE.match(units) if isinstance(units, str) else None
    if m is None or calendar not in _CALENDARS or m[1].lower() not in _NS_PER:
        return False
    when = _reference_time(m[2])
    if when is None:
        return False
    reference = np.datetime64(when, "ns").astype(np.int64)
    ns = np.asarray(times, dtype="datetime64[ns]").astype(np.int64)
    return not np.any((ns - reference) % _NS_PER[m[1].lower()])


def encode_cf_times(times: Any, attrs: Mapping[str, Any]) -> Any:
    """``times`` (``datetime64``) as the int64 values of the CF encoding ``attrs`` (``units``,
    ``calendar``), exactly.

    Raises
    ------
    ValueError
        When the encoding cannot hold every time exactly (:func:`cf_units_hold`).
    """
    import numpy as np

    if not cf_units_hold(attrs, times):
        raise ValueError(f"the time encoding {dict(attrs)} cannot hold {times} exactly")
    m = _SINCE.match(str(attrs["units"]))
    assert m is not None
    when = _reference_time(m[2])
    assert when is not None
    reference = np.datetime64(when, "ns").astype(np.int64)
    ns = np.asarray(times, dtype="datetime64[ns]").astype(np.int64)
    return (ns - reference) // _NS_PER[m[1].lower()]


def roll_back_append(path: str | Path) -> bool:
    """Cut a store marked by an unfinished append (:data:`APPEND_MARK`) back to its length before it.

    Returns True when there was something to roll back. Chunk files beyond the old length stay on
    disk until the next append overwrites them (the arrays' shapes no longer reach them).
    """
    import zarr

    group = zarr.open_group(Path(path), mode="r+")
    mark = group.attrs.get(APPEND_MARK)
    if not isinstance(mark, Mapping) or not mark:
        return False
    dim, length = str(mark["dim"]), int(mark["length"])  # type: ignore[arg-type]
    for _, array in group.arrays():
        names = list(getattr(array.metadata, "dimension_names", None) or [])
        if dim in names and array.shape[names.index(dim)] != length:
            shape = list(array.shape)
            shape[names.index(dim)] = length
            array.resize(tuple(shape))
    del group.attrs[APPEND_MARK]
    return True


def decode_cf_times(values: Any, attrs: Mapping[str, Any]) -> tuple[dt.datetime, ...] | None:
    """Integer CF time values (``<unit> since <date>``, a standard calendar) as naive UTC datetimes
    truncated to whole seconds; None for an encoding this does not decode exactly."""
    units, calendar = attrs.get("units"), attrs.get("calendar")
    if not isinstance(units, str) or calendar not in _CALENDARS:
        return None
    if any(k in attrs for k in ("scale_factor", "add_offset", "_FillValue", "missing_value")):
        return None
    m = _SINCE.match(units)
    if m is None:
        return None
    unit, epoch = m[1].lower(), _epoch_seconds(m[2])
    if epoch is None or (unit not in _UNITS and unit not in _SUBSECOND):
        return None
    out = []
    for v in values:
        if not float(v).is_integer() or getattr(v, "dtype", None) is not None and v.dtype.kind not in "iu":
            return None
        n = int(v)
        seconds = n * _UNITS[unit] if unit in _UNITS else n // _SUBSECOND[unit]  # floor, as datetime64[s]
        out.append(dt.datetime(1970, 1, 1) + dt.timedelta(seconds=epoch + seconds))
    return tuple(out)


def read_scene_times(path: str | Path) -> SceneTimes | None:
    """A scene store's time dimension, acquisition times and scene ids from its metadata.

    Parameters
    ----------
    path : str or path
        A local Zarr v2 or v3 store (consolidated metadata used where present).

    Returns
    -------
    SceneTimes or None
        None where the store must be opened with xarray to be sure (see the module's docstring).
    """
    import zarr  # (zarr and NumPy only: the metadata and one small coordinate chunk)

    try:
        group = zarr.open_group(str(path), mode="r")
        if APPEND_MARK in group.attrs:
            return None
        arrays = dict(group.arrays())
        coords = set(str(group.attrs.get("coordinates", "")).split())
        has_crs = "crs" in group.attrs
        for array in arrays.values():
            coords.update(str(array.attrs.get("coordinates", "")).split())
            has_crs = has_crs or any(k in array.attrs for k in ("crs_wkt", "spatial_ref", "crs"))
        if not has_crs:
            return None
        candidates = []
        for name, array in arrays.items():
            if _dims(array) == (name,) and _SINCE.match(str(array.attrs.get("units", ""))):
                candidates.append(name)
        if len(candidates) != 1:
            return None
        tdim = candidates[0]
        times = decode_cf_times(arrays[tdim][:], arrays[tdim].attrs)
        if times is None:
            return None
        ids = None
        if "scene_id" in arrays:
            if "scene_id" not in coords or _dims(arrays["scene_id"]) != (tdim,):
                return None
            values: Any = arrays["scene_id"][:]
            ids = tuple(str(v) for v in values)
            if len(ids) != len(times):
                return None
        return SceneTimes(tdim, times, ids)
    except Exception:  # any unreadable metadata: the xarray path opens the store and names the problem
        return None


__all__ = ["APPEND_MARK", "SCENE_TIME_UNITS", "SceneTimes", "cf_units_hold", "decode_cf_times", "encode_cf_times",
           "read_scene_times", "roll_back_append", "scene_time_encoding"]
