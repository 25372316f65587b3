"""The sensor band registry: band ids, common names and radiometric rules, as data.

Each sensor is one JSON file in ``landpulse/spec/sensor_specs/`` (adding a sensor is a data change,
not new code). A spec names its bands (``B04`` -> ``red``), their ground sampling distance, and
the radiometric contract: scale, offset, nodata and valid range of the raw digital numbers, and
rules that change the offset (Sentinel-2: -0.1 reflectance, i.e. -1000 DN, from processing
baseline 04.00 on, whatever the acquisition date).
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from landpulse.errors import InputError


@dataclass(frozen=True)
class BandSpec:
    """One band of a sensor.

    Attributes
    ----------
    id : str
        The band's identifier in the sensor's own products (``B04``).
    common_name : str or None
        STAC ``eo:bands`` common name (``red``); None for non-spectral bands (``SCL``).
    kind : str
        ``reflectance`` or ``classification``.
    gsd : float or None
        Ground sampling distance in metres.
    nodata, valid_range
        Raw-value validity; ``None`` means "use the sensor default".
    saturation_bit : int or None
        The bit of the sensor's saturation band (:attr:`SensorSpec.saturation_band`) that flags
        this band as saturated; None when the sensor flags none.
    solar_irradiance : float or None
        Mean exo-atmospheric solar irradiance ESUN (W m-2 um-1) for TOA calibration of digital
        numbers (:mod:`landpulse.spec.calibration`); None where the sensor needs none.
    """

    id: str
    common_name: str | None
    kind: str = "reflectance"
    center_wavelength: float | None = None
    gsd: float | None = None
    nodata: float | None = None
    valid_range: tuple[float, float] | None = None
    saturation_bit: int | None = None
    solar_irradiance: float | None = None

    @property
    def name(self) -> str:
        """The name landpulse stores the band under: its common name, else its id (lower-case)."""
        return self.common_name or self.id.lower()


@dataclass(frozen=True)
class SensorSpec:
    """A sensor and product level (``sentinel2-l2a``) with its radiometric contract."""

    id: str
    title: str
    quantity: str
    scale: float
    offset: float
    nodata: float | None
    valid_range: tuple[float, float] | None
    bands: dict[str, BandSpec]
    platforms: tuple[str, ...] = ()
    stac_collections: tuple[str, ...] = ()
    baseline_offset: tuple[str, float] | None = None
    saturation_band: str | None = None
    reference: str = ""
    solar_irradiance_reference: str = ""
    #: bands that may serve for a common name they are not (``{"nir": ("nir08",)}``: Landsat's only
    #: NIR band is the narrow one); nowhere else is a band substituted for another
    equivalent_bands: dict[str, tuple[str, ...]] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def band(self, key: str) -> BandSpec:
        """Look a band up by id (``B04``) or common name (``red``)."""
        for b in self.bands.values():
            if key in (b.id, b.common_name, b.name) or key.upper() == b.id:
                return b
        raise InputError(f"{self.id} has no band {key!r}; bands: {', '.join(self.band_names())}")

    def band_names(self) -> list[str]:
        return [b.name for b in self.bands.values()]

    def offset_for(self, processing_baseline: str | None) -> float:
        """Reflectance offset for a scene of the given processing baseline.

        Raises
        ------
        InputError
            When the sensor's offset depends on the baseline and none is given.
        """
        if self.baseline_offset is None:
            return self.offset
        if processing_baseline is None:
            raise InputError(
                f"{self.id}: the reflectance offset depends on the processing baseline "
                f"(offset {self.baseline_offset[1]} from {self.baseline_offset[0]} on); give the "
                "baseline (STAC 's2:processing_baseline', or --processing-baseline) or an "
                "explicit scale/offset"
            )
        if parse_baseline(processing_baseline) >= parse_baseline(self.baseline_offset[0]):
            return self.baseline_offset[1]
        return self.offset


def parse_baseline(text: str) -> tuple[int, int]:
    """Parse a Sentinel-2 processing baseline: ``'05.09'``, ``'5.9'``, ``'N0509'``, ``'0509'``."""
    s = str(text).strip().upper()
    m = re.fullmatch(r"N?(\d{2})(\d{2})", s) or re.fullmatch(r"(\d{1,2})\.(\d{1,2})", s)
    if not m:
        raise InputError(f"cannot read processing baseline {text!r}; expected e.g. '05.09' or 'N0509'")
    return int(m.group(1)), int(m.group(2))


def _spec_from_json(d: dict[str, Any]) -> SensorSpec:
    rad = d["radiometry"]
    bands = {}
    for bid, b in d["bands"].items():
        vr = b.get("valid_range")
        bands[bid] = BandSpec(
            id=bid,
            common_name=b.get("common_name"),
            kind=b.get("kind", "reflectance"),
            center_wavelength=b.get("center_wavelength"),
            gsd=b.get("gsd"),
            nodata=b.get("nodata"),
            valid_range=tuple(vr) if vr else None,
            saturation_bit=b.get("saturation_bit"),
            solar_irradiance=b.get("solar_irradiance"),
        )
    rule = rad.get("offset_from_processing_baseline")
    vr = rad.get("valid_range")
    return SensorSpec(
        id=d["id"],
        title=d["title"],
        quantity=d["quantity"],
        scale=float(rad["scale"]),
        offset=float(rad["offset"]),
        nodata=rad.get("nodata"),
        valid_range=tuple(vr) if vr else None,
        bands=bands,
        platforms=tuple(d.get("platforms", ())),
        stac_collections=tuple(d.get("stac_collections", ())),
        baseline_offset=(rule["baseline"], float(rule["offset"])) if rule else None,
        saturation_band=rad.get("saturation_band"),
        reference=rad.get("reference", ""),
        solar_irradiance_reference=rad.get("solar_irradiance_reference", ""),
        equivalent_bands={k: tuple(v) for k, v in d.get("equivalent_bands", {}).items() if k != "reference"},
        raw=d,
    )


@functools.cache
def sensors() -> dict[str, SensorSpec]:
    """All sensor specs shipped with landpulse, by id."""
    out: dict[str, SensorSpec] = {}
    folder = importlib.resources.files("landpulse.spec") / "sensor_specs"
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".json"):
            spec = _spec_from_json(json.loads(entry.read_text()))
            out[spec.id] = spec
    return out


def get_sensor(sensor_id: str) -> SensorSpec:
    """The spec of ``sensor_id`` (for example ``'sentinel2-l2a'``)."""
    try:
        return sensors()[sensor_id]
    except KeyError:
        raise InputError(f"unknown sensor {sensor_id!r}; known: {', '.join(sensors())}") from None


def band_aliases(common_name: str, sensor_ids: Iterable[str] | None = None) -> set[str]:
    """Every band id known sensors use for ``common_name`` (``red`` -> {``B04``, ...}).

    ``sensor_ids`` restricts the lookup to those sensors (Landsat 4-7 call red ``SR_B3``,
    Landsat 8-9 call it ``SR_B4``); unknown ids are ignored, and all sensors are used when none
    of the ids is known.
    """
    specs = [s for s in sensors().values() if sensor_ids is None or s.id in set(sensor_ids)]
    if not specs:
        specs = list(sensors().values())
    return {b.id for s in specs for b in s.bands.values() if b.common_name == common_name}
