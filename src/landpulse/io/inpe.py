"""INPE CBERS-4/4A scenes: digital numbers plus the XML metadata that calibrates them.

INPE's Level-2/Level-4 products (MUX, WFI/AWFI) ship one GeoTIFF of digital numbers per band
(``CBERS_4_MUX_20201031_003_073_L2_BAND7.tif``) and an XML metadata file per band (``..._BAND7.xml``,
root ``prdf``) that records, for every band of the scene, the absolute calibration coefficient
(``image/absoluteCalibrationCoefficient/band[@name]``: radiance per DN, W m-2 sr-1 um-1), the
sun elevation at the scene centre (``image/sunPosition/elevation``) and the acquisition time
(``viewing/center``). :func:`scene_from_inpe` turns them into a :class:`~landpulse.io.scenes.Scene`
whose bands carry top-of-atmosphere reflectance scales (:mod:`landpulse.spec.calibration`, with
the band's exo-atmospheric irradiance from the sensor registry) and the full calibration record,
so ``landpulse ingest`` stores it per date and every product records it in its provenance.
"""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from landpulse.errors import InputError, MissingBandError, RadiometryError, UnreadableInputError
from landpulse.io.scenes import BandSource, Scene, to_datetime64
from landpulse.spec.calibration import toa_calibration
from landpulse.spec.sensors import SensorSpec, get_sensor

# (satellite number, instrument) as INPE writes them -> sensor spec id
_SENSORS = {
    ("4", "MUX"): "cbers4-mux", ("4", "AWFI"): "cbers4-wfi", ("4", "WFI"): "cbers4-wfi",
    ("4A", "MUX"): "cbers4a-mux", ("4A", "WFI"): "cbers4a-wfi",
}


@dataclass(frozen=True)
class InpeMetadata:
    """What landpulse reads from one INPE ``prdf`` metadata file.

    Attributes
    ----------
    path : str
    scene_id : str
        The file name without ``_BANDn`` and suffix (``CBERS_4_MUX_20201031_003_073_L2``).
    sensor : str
        Sensor spec id (``cbers4-mux``).
    platform : str
        ``cbers-4`` or ``cbers-4a``.
    datetime : numpy.datetime64
        ``viewing/center`` (UTC).
    sun_elevation : float
        Degrees, ``image/sunPosition/elevation``.
    gains : dict of str to float
        ``absoluteCalibrationCoefficient`` per band number (``"7"``), W m-2 sr-1 um-1 per DN.
    level : str or None
        ``image/level`` (2 or 4).
    """

    path: str
    scene_id: str
    sensor: str
    platform: str
    datetime: np.datetime64
    sun_elevation: float
    gains: dict[str, float]
    level: str | None = None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _first(root: ET.Element, *names: str) -> ET.Element | None:
    """The first element along the path ``names`` (namespace-free), searched at any depth."""
    for el in root.iter():
        if _local(el.tag) != names[0]:
            continue
        node: ET.Element | None = el
        for name in names[1:]:
            node = next((c for c in node if _local(c.tag) == name), None) if node is not None else None
        if node is not None:
            return node
    return None


def _text(root: ET.Element, path: Path, *names: str) -> str:
    el = _first(root, *names)
    if el is None or not (el.text or "").strip():
        raise RadiometryError(f"{path.name}: INPE metadata has no {'/'.join(names)} element")
    return str(el.text).strip()


def read_inpe_metadata(path: str | Path) -> InpeMetadata:
    """Read the calibration-relevant fields of an INPE CBERS-4/4A metadata XML.

    Raises
    ------
    UnreadableInputError
        When the file cannot be read or is not an INPE ``prdf`` document.
    RadiometryError
        When it lacks the calibration coefficients, the sun elevation or the acquisition time.
    InputError
        For a satellite/instrument landpulse has no sensor spec for.
    """
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as err:
        raise UnreadableInputError(f"cannot read INPE metadata {path}: {err}") from err
    if _local(root.tag) != "prdf":
        raise UnreadableInputError(f"{path.name} is not INPE scene metadata (root <{_local(root.tag)}>, expected <prdf>)")
    number = _text(root, path, "satellite", "number").upper()
    instrument = _text(root, path, "satellite", "instrument").upper()
    sensor = _SENSORS.get((number, instrument))
    if sensor is None:
        raise InputError(f"{path.name}: CBERS-{number} {instrument} has no sensor spec (known: "
                         f"{', '.join(sorted(set(_SENSORS.values())))})")
    coeffs = [el for el in root.iter() if _local(el.tag) == "absoluteCalibrationCoefficient"]
    if not coeffs:
        raise RadiometryError(f"{path.name}: INPE metadata has no absoluteCalibrationCoefficient element, so its "
                              "digital numbers cannot be calibrated")
    gains: dict[str, float] = {}
    for band in coeffs[0]:
        name, text = band.get("name"), (band.text or "").strip()
        try:
            gains[str(name)] = float(text)
        except ValueError:
            raise RadiometryError(f"{path.name}: calibration coefficient of band {name!r} is {text!r}, not a number") from None
    try:
        elevation = float(_text(root, path, "sunPosition", "elevation"))
    except ValueError as err:
        raise RadiometryError(f"{path.name}: unreadable sun elevation: {err}") from err
    when = to_datetime64(_text(root, path, "viewing", "center") + "Z")
    level_el = _first(root, "image", "level")
    scene_id = re.sub(r"_BAND\d+$", "", path.stem)
    return InpeMetadata(str(path), scene_id, sensor, f"cbers-{number.lower()}", when, elevation, gains,
                        (level_el.text or "").strip() if level_el is not None else None)


def _band_number(spec: SensorSpec, key: str) -> str:
    """``"red"``, ``"B7"``, ``"BAND7"`` or ``"7"`` -> ``"7"`` (checked against the sensor)."""
    k = str(key).strip()
    m = re.fullmatch(r"(?i)(?:band|b)?(\d+)", k)
    bid = f"B{m.group(1)}" if m else spec.band(k).id
    return spec.band(bid).id[1:]


def scene_from_inpe(
    metadata: str | Path,
    files: Mapping[str, str | Path] | None = None,
) -> Scene:
    """A CBERS-4/4A scene whose bands are calibrated to top-of-atmosphere reflectance.

    Parameters
    ----------
    metadata : path
        One of the scene's INPE XML files (any band's: each lists every band's coefficient).
    files : mapping, optional
        Band files by common name, band id or number (``{"red": "..._BAND7.tif", "B8": ...}``).
        Default: every band of the metadata whose ``<scene id>_BAND<n>.tif`` sits beside it.

    Returns
    -------
    Scene
        Bands with ``scale``/``offset`` giving TOA reflectance (offset 0: INPE's coefficients
        have no bias), nodata 0, and the calibration record (gain, ESUN, sun elevation, date,
        Earth-Sun distance and their sources) in :attr:`BandSource.calibration`.

    Raises
    ------
    RadiometryError
        When a band has no coefficient or no solar irradiance, or the sun is below the horizon.
    MissingBandError
        When no band file is given or found.
    """
    meta = read_inpe_metadata(metadata)
    spec = get_sensor(meta.sensor)
    folder = Path(meta.path).parent
    if files is None:
        found = {n: folder / f"{meta.scene_id}_BAND{n}.tif" for n in meta.gains}
        chosen = {n: p for n, p in found.items() if p.exists() and f"B{n}" in spec.bands}
    else:
        chosen = {_band_number(spec, k): Path(v) for k, v in files.items()}
    if not chosen:
        raise MissingBandError(f"no band files for scene {meta.scene_id}: give files={{'red': ..., 'nir': ...}} "
                               f"or put {meta.scene_id}_BAND<n>.tif beside {Path(meta.path).name}")
    sources: dict[str, BandSource] = {}
    for number, href in chosen.items():
        band = spec.band(f"B{number}")
        if number not in meta.gains:
            raise RadiometryError(f"{Path(meta.path).name} has no calibration coefficient for band {number} "
                                  f"({band.name}); it lists bands {', '.join(meta.gains)}")
        if band.solar_irradiance is None:
            raise RadiometryError(f"{spec.id} band {band.id} has no solar irradiance in the sensor registry")
        cal = toa_calibration(
            gain=meta.gains[number], bias=0.0, solar_irradiance=band.solar_irradiance,
            sun_elevation=meta.sun_elevation, date=meta.datetime,
            gain_source=f"{Path(meta.path).name}: absoluteCalibrationCoefficient band {number} (INPE scene "
                        "metadata; radiance = coefficient x DN, no bias)",
            irradiance_source=spec.solar_irradiance_reference,
        )
        if not (math.isfinite(cal.scale) and cal.scale > 0):
            raise RadiometryError(f"band {number}: calibration gives scale {cal.scale!r}")
        sources[band.name] = BandSource(
            band.name, str(Path(href).resolve()), cal.scale, cal.offset,
            float(spec.nodata) if spec.nodata is not None else None, None, "reflectance",
            calibration=json.dumps(cal.describe(), sort_keys=True))
    return Scene(meta.scene_id, meta.datetime, sources, spec.id, meta.platform, None,
                 {"inpe:metadata": Path(meta.path).name, "processing:level": meta.level})


__all__ = ["InpeMetadata", "read_inpe_metadata", "scene_from_inpe"]
