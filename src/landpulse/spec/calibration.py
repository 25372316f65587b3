"""Top-of-atmosphere calibration of digital numbers: radiance gains, solar irradiance, sun angle.

Sensors whose products ship digital numbers with calibration metadata (CBERS-4/4A MUX and WFI:
INPE's per-scene XML with ``absoluteCalibrationCoefficient`` per band, the sun elevation and the
acquisition time) are turned into top-of-atmosphere (TOA) reflectance with

    L   = gain * DN + bias                        (W m-2 sr-1 um-1)
    rho = pi * L * d**2 / (ESUN * cos(theta_z))   theta_z = 90 deg - sun elevation

``d`` is the Earth-Sun distance in astronomical units on the acquisition day and ``ESUN`` the
band's mean exo-atmospheric solar irradiance (W m-2 um-1). Both steps are linear in DN, so TOA
reflectance is one scale and one offset per band and date,

    scale  = pi * d**2 * gain / (ESUN * cos(theta_z))
    offset = pi * d**2 * bias / (ESUN * cos(theta_z))

which is exactly what the fused kernels already apply per date (:mod:`landpulse.spec.radiometry`):
calibration costs no extra pass and no kernel of its own. :class:`BandCalibration` keeps every
coefficient and its source, so products record how their reflectance was made.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from landpulse.errors import RadiometryError

TOA_REFLECTANCE = "toa_reflectance"

EARTH_SUN_DISTANCE_FORMULA = (
    "d = 1 - 0.01672 * cos(0.9856 deg * (day_of_year - 4)) (first-order eccentricity of the Earth's "
    "orbit, perihelion on 4 January; within 1e-4 AU of the ephemeris distance USGS prints in Landsat MTL files)"
)


def earth_sun_distance(when: dt.date | dt.datetime | np.datetime64 | str) -> float:
    """Earth-Sun distance in astronomical units on a day (float, within about 1e-4 AU).

    Parameters
    ----------
    when : date, datetime, numpy.datetime64 or ISO string
        The acquisition day (UTC).

    Returns
    -------
    float
        ``1 - 0.01672 cos(0.9856 (doy - 4) deg)``.
    """
    day = _as_date(when)
    doy = day.timetuple().tm_yday
    return 1.0 - 0.01672 * math.cos(math.radians(0.9856 * (doy - 4)))


def _as_date(when: dt.date | dt.datetime | np.datetime64 | str) -> dt.date:
    if isinstance(when, dt.datetime):
        return when.date()
    if isinstance(when, dt.date):
        return when
    if isinstance(when, np.datetime64):
        return dt.date.fromisoformat(str(np.datetime_as_string(when.astype("datetime64[D]"), unit="D")))
    try:
        return dt.date.fromisoformat(str(when)[:10])
    except ValueError as err:
        raise RadiometryError(f"cannot read the acquisition date {when!r} (ISO 8601 expected)") from err


@dataclass(frozen=True)
class BandCalibration:
    """Everything one band's TOA reflectance of one scene was computed from.

    Attributes
    ----------
    gain, bias : float
        Radiance = gain * DN + bias (W m-2 sr-1 um-1 per DN; W m-2 sr-1 um-1).
    solar_irradiance : float
        ESUN, the band's mean exo-atmospheric solar irradiance (W m-2 um-1).
    sun_elevation : float
        Degrees above the horizon at the scene centre.
    date : str
        Acquisition day (ISO), which sets the Earth-Sun distance.
    earth_sun_distance : float
        Astronomical units.
    gain_source, irradiance_source : str
        Where the gain/bias and ESUN came from (a metadata file and element, a table).
    """

    gain: float
    bias: float
    solar_irradiance: float
    sun_elevation: float
    date: str
    earth_sun_distance: float
    gain_source: str
    irradiance_source: str

    @property
    def scale(self) -> float:
        """TOA reflectance per DN (float64)."""
        return self.gain * self._factor()

    @property
    def offset(self) -> float:
        """TOA reflectance at DN 0 (float64)."""
        return self.bias * self._factor()

    def _factor(self) -> float:
        cos_zenith = math.sin(math.radians(self.sun_elevation))  # cos(90 - e) = sin(e)
        return math.pi * self.earth_sun_distance ** 2 / (self.solar_irradiance * cos_zenith)

    def describe(self) -> dict[str, Any]:
        """Plain-JSON record (every coefficient, the derived scale/offset, the formula)."""
        return asdict(self) | {
            "quantity": TOA_REFLECTANCE,
            "scale": self.scale,
            "offset": self.offset,
            "formula": "rho = pi * (gain * DN + bias) * d^2 / (ESUN * sin(sun_elevation))",
            "earth_sun_distance_formula": EARTH_SUN_DISTANCE_FORMULA,
        }


def toa_calibration(
    *,
    gain: float,
    bias: float = 0.0,
    solar_irradiance: float,
    sun_elevation: float,
    date: dt.date | dt.datetime | np.datetime64 | str,
    gain_source: str,
    irradiance_source: str,
) -> BandCalibration:
    """Check the coefficients of one band and scene and return its :class:`BandCalibration`.

    Raises
    ------
    RadiometryError
        For a non-positive gain or irradiance, a non-finite bias, or a sun at or below the
        horizon (elevation outside (0, 90] degrees: TOA reflectance is undefined there).
    """
    for label, v in (("gain", gain), ("solar irradiance", solar_irradiance)):
        if not (math.isfinite(v) and v > 0):
            raise RadiometryError(f"calibration {label} must be a positive number; got {v!r}")
    if not math.isfinite(bias):
        raise RadiometryError(f"calibration bias must be finite; got {bias!r}")
    if not (math.isfinite(sun_elevation) and 0.0 < sun_elevation <= 90.0):
        raise RadiometryError(
            f"sun elevation {sun_elevation!r} deg is outside (0, 90]: TOA reflectance needs the sun above the horizon")
    day = _as_date(date)
    return BandCalibration(float(gain), float(bias), float(solar_irradiance), float(sun_elevation), day.isoformat(),
                           earth_sun_distance(day), gain_source, irradiance_source)


__all__ = ["BandCalibration", "EARTH_SUN_DISTANCE_FORMULA", "TOA_REFLECTANCE", "earth_sun_distance",
           "toa_calibration"]
