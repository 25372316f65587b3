"""Independent references for every catalogue index: each formula transcribed by hand from its
source paper (float64 NumPy, common band names), with no landpulse code involved.

Where Awesome Spectral Indices / spyndex disagree with the paper, the paper's form is written
here and the disagreement is listed in :data:`SPYNDEX_DISAGREES` (and in the catalogue notes).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

Bands = Mapping[str, np.ndarray]


def _nd(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a - b) / (a + b)


def _arvi(b: Bands, gamma: float = 1.0) -> np.ndarray:
    # Kaufman & Tanre (1992), eq. 9-10: rho_rb = rho_r - gamma (rho_b - rho_r); ARVI = (nir - rb) / (nir + rb)
    rb = b["red"] - gamma * (b["blue"] - b["red"])
    return (b["nir"] - rb) / (b["nir"] + rb)


def _gari(b: Bands, gamma: float = 1.7) -> np.ndarray:
    # Gitelson, Kaufman & Merzlyak (1996): GARI = (nir - [green - gamma (blue - red)]) / (nir + [...])
    g = b["green"] - gamma * (b["blue"] - b["red"])
    return (b["nir"] - g) / (b["nir"] + g)


#: index -> function of the band reflectances (by common name), as printed in the source paper.
PAPER: dict[str, Callable[[Bands], np.ndarray]] = {
    # Rouse et al. (1974)
    "NDVI": lambda b: _nd(b["nir"], b["red"]),
    # Huete et al. (2002): EVI = G (NIR - Red) / (NIR + C1 Red - C2 Blue + L), G 2.5, C1 6, C2 7.5, L 1
    "EVI": lambda b: 2.5 * (b["nir"] - b["red"]) / (b["nir"] + 6.0 * b["red"] - 7.5 * b["blue"] + 1.0),
    # Jiang et al. (2008), eq. 13: EVI2 = 2.5 (NIR - Red) / (NIR + 2.4 Red + 1)
    "EVI2": lambda b: 2.5 * (b["nir"] - b["red"]) / (b["nir"] + 2.4 * b["red"] + 1.0),
    # Huete (1988): SAVI = (NIR - Red) (1 + L) / (NIR + Red + L), L = 0.5
    "SAVI": lambda b: (b["nir"] - b["red"]) * 1.5 / (b["nir"] + b["red"] + 0.5),
    # Qi et al. (1994), MSAVI2 = (2 NIR + 1 - sqrt((2 NIR + 1)^2 - 8 (NIR - Red))) / 2
    "MSAVI": lambda b: (2 * b["nir"] + 1 - np.sqrt((2 * b["nir"] + 1) ** 2 - 8 * (b["nir"] - b["red"]))) / 2,
    # Gitelson et al. (1996)
    "GNDVI": lambda b: _nd(b["nir"], b["green"]),
    # Gitelson & Merzlyak (1994): (R750 - R705) / (R750 + R705)
    "NDREI": lambda b: _nd(b["nir"], b["rededge1"]),
    # Wilson & Sader (2002) / Gao (1996): (NIR - SWIR1) / (NIR + SWIR1)
    "NDMI": lambda b: _nd(b["nir"], b["swir16"]),
    # Key & Benson: (NIR - SWIR2) / (NIR + SWIR2)
    "NBR": lambda b: _nd(b["nir"], b["swir22"]),
    # USGS NBR2: (SWIR1 - SWIR2) / (SWIR1 + SWIR2)
    "NBR2": lambda b: _nd(b["swir16"], b["swir22"]),
    # McFeeters (1996): (Green - NIR) / (Green + NIR)
    "NDWI": lambda b: _nd(b["green"], b["nir"]),
    # Xu (2006): (Green - MIR) / (Green + MIR), MIR = TM band 5 (SWIR1)
    "MNDWI": lambda b: _nd(b["green"], b["swir16"]),
    # Feyisa et al. (2014), eq. 1: 4 (b2 - b5) - (0.25 b4 + 2.75 b7) (TM: 2 green, 4 NIR, 5 SWIR1, 7 SWIR2)
    "AWEInsh": lambda b: 4 * (b["green"] - b["swir16"]) - (0.25 * b["nir"] + 2.75 * b["swir22"]),
    # Feyisa et al. (2014), eq. 2: b1 + 2.5 b2 - 1.5 (b4 + b5) - 0.25 b7 (1 blue)
    "AWEIsh": lambda b: b["blue"] + 2.5 * b["green"] - 1.5 * (b["nir"] + b["swir16"]) - 0.25 * b["swir22"],
    # Zha et al. (2003): (MIR - NIR) / (MIR + NIR), MIR = TM band 5
    "NDBI": lambda b: _nd(b["swir16"], b["nir"]),
    # Riggs et al. (1994): (TM2 - TM5) / (TM2 + TM5)
    "NDSI": lambda b: _nd(b["green"], b["swir16"]),
    # Rikimaru et al. (2002): ((SWIR + Red) - (NIR + Blue)) / ((SWIR + Red) + (NIR + Blue))
    "BI": lambda b: _nd(b["swir16"] + b["red"], b["nir"] + b["blue"]),
    "ARVI": _arvi,
    "GARI": _gari,
}

#: Hand-computed worked values: (index, reflectances, value, the arithmetic).
WORKED: list[tuple[str, dict[str, float], float, str]] = [
    ("NDVI", {"nir": 0.5, "red": 0.1}, 0.4 / 0.6, "0.4 / 0.6"),
    ("EVI", {"nir": 0.5, "red": 0.1, "blue": 0.05}, 1.0 / 1.725, "2.5 * 0.4 / (0.5 + 0.6 - 0.375 + 1)"),
    ("EVI2", {"nir": 0.5, "red": 0.1}, 1.0 / 1.74, "2.5 * 0.4 / (0.5 + 0.24 + 1)"),
    ("SAVI", {"nir": 0.5, "red": 0.1}, 0.6 / 1.1, "1.5 * 0.4 / (0.5 + 0.1 + 0.5)"),
    ("MSAVI", {"nir": 0.5, "red": 0.1}, (2 - 0.8 ** 0.5) / 2, "(2 - sqrt(4 - 3.2)) / 2"),
    ("MSAVI", {"nir": 1.0, "red": 0.0}, 1.0, "(3 - sqrt(9 - 8)) / 2"),
    ("GNDVI", {"nir": 0.45, "green": 0.05}, 0.8, "0.4 / 0.5"),
    ("NDREI", {"nir": 0.4, "rededge1": 0.2}, 1 / 3, "0.2 / 0.6"),
    ("NDMI", {"nir": 0.3, "swir16": 0.1}, 0.5, "0.2 / 0.4"),
    ("NBR", {"nir": 0.3, "swir22": 0.3}, 0.0, "0 / 0.6"),
    ("NBR2", {"swir16": 0.25, "swir22": 0.15}, 0.25, "0.1 / 0.4"),
    ("NDWI", {"green": 0.06, "nir": 0.02}, 0.5, "0.04 / 0.08"),
    ("MNDWI", {"green": 0.06, "swir16": 0.01}, 5 / 7, "0.05 / 0.07"),
    ("AWEInsh", {"green": 0.05, "swir16": 0.02, "nir": 0.03, "swir22": 0.01}, 0.085, "4 * 0.03 - (0.0075 + 0.0275)"),
    ("AWEIsh", {"blue": 0.08, "green": 0.06, "nir": 0.02, "swir16": 0.01, "swir22": 0.01}, 0.1825,
     "0.08 + 0.15 - 0.045 - 0.0025"),
    ("NDBI", {"swir16": 0.3, "nir": 0.2}, 0.2, "0.1 / 0.5"),
    ("NDSI", {"green": 0.7, "swir16": 0.1}, 0.75, "0.6 / 0.8"),
    ("BI", {"swir16": 0.3, "red": 0.2, "nir": 0.25, "blue": 0.05}, 0.2 / 0.8, "(0.5 - 0.3) / 0.8"),
    ("ARVI", {"nir": 0.5, "red": 0.1, "blue": 0.05}, 0.35 / 0.65, "rb = 0.1 - (0.05 - 0.1) = 0.15; 0.35 / 0.65"),
    ("GARI", {"nir": 0.5, "green": 0.08, "blue": 0.05, "red": 0.1}, 0.335 / 0.665,
     "g = 0.08 - 1.7 (0.05 - 0.1) = 0.165; 0.335 / 0.665"),
]

#: Indices where spyndex 0.12's bundled formula differs from the paper (and why).
SPYNDEX_DISAGREES = {
    "AWEInsh": "spyndex drops the paper's parentheses: ... - 0.25 N + 2.75 S2 instead of - (0.25 N + 2.75 S2)",
    "ARVI": "spyndex uses R - gamma (R - B); Kaufman & Tanre write R - gamma (B - R)",
    "GARI": "spyndex has no gamma (gamma = 1); the paper weights blue - red by gamma = 1.7",
}

#: ASI symbol -> common name, to feed spyndex.
ASI_SYMBOLS = {"B": "blue", "G": "green", "R": "red", "RE1": "rededge1", "N": "nir", "S1": "swir16", "S2": "swir22"}
BANDS = list(ASI_SYMBOLS.values())
