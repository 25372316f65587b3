"""Hand-built reflectance cases for the water classifiers, and an independent WOfS reference.

The WOfS cases reach each of the 23 leaves of the published tree (Mueller et al. 2016) with
reflectances x 10000 chosen well inside every interval on the path (the node numbers are the
paper's). :func:`wofs_leaves` is a second, vectorised implementation written as one boolean conjunction
of path conditions per leaf, in float64: it checks that every case reaches its leaf, and the
kernels are checked against it on random data.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

import landpulse

WOFS_BANDS = ("blue", "green", "red", "nir", "swir16", "swir22")

#: (node, expected water, (b1, b2, b3, b4, b5, b7)) as reflectance x 10000 (TM band numbers).
WOFS_LEAVES: list[tuple[str, bool, tuple[int, int, int, int, int, int]]] = [
    # left branch: NDI_52 <= -0.01 (b5 = 538, b2 = 1000: NDI_52 = -0.300)
    ("N3", False, (2500, 1000, 500, 929, 538, 200)),    # b1 > 2083.5
    ("N6", True, (1000, 1000, 500, 929, 538, 200)),     # b7 <= 323.5, NDI_43 = 0.300 <= 0.61
    ("N7", False, (1000, 1000, 500, 4500, 538, 200)),   # b7 <= 323.5, NDI_43 = 0.800 > 0.61
    ("N10", True, (1800, 1000, 1000, 667, 538, 600)),   # b7 > 323.5, b1 > 1400.5, NDI_43 = -0.200 <= -0.01
    ("N11", False, (1800, 1000, 500, 929, 538, 600)),   # ... NDI_43 = 0.300 > -0.01
    ("N14", True, (300, 1000, 500, 929, 538, 900)),     # b1 <= 1400.5, NDI_72 = -0.053 > -0.23, b1 <= 379
    ("N15", False, (500, 1000, 500, 929, 538, 900)),    # ... b1 > 379
    ("N17", True, (1000, 1000, 1000, 1222, 538, 500)),  # NDI_72 = -0.333 <= -0.23, NDI_43 = 0.100 <= 0.22
    ("N19", True, (400, 1000, 500, 1500, 538, 500)),    # NDI_43 = 0.500 > 0.22, b1 <= 473
    ("N20", False, (600, 1000, 500, 1500, 538, 500)),   # ... b1 > 473
    # right branch, NDI_52 in (-0.01, 0.23]
    ("N23", False, (500, 1000, 500, 929, 1222, 600)),   # NDI_52 = 0.100, b1 > 334.5
    ("N25", False, (200, 1000, 300, 1700, 1222, 600)),  # b1 <= 334.5, NDI_43 = 0.700 > 0.54
    ("N27", True, (200, 1000, 400, 600, 1105, 600)),    # NDI_43 = 0.200, NDI_52 = 0.050 <= 0.12
    ("N31", True, (100, 1000, 300, 450, 1439, 600)),    # NDI_52 = 0.180 > 0.12, b3 <= 364.5, b1 <= 129.5
    ("N32", False, (200, 1000, 300, 450, 1439, 600)),   # ... b1 > 129.5
    ("N33", True, (250, 1000, 500, 750, 1439, 600)),    # b3 > 364.5, b1 <= 300.5
    ("N34", False, (320, 1000, 500, 750, 1439, 600)),   # ... b1 > 300.5
    # right branch, NDI_52 > 0.23
    ("N36", False, (100, 1000, 300, 450, 3000, 600)),   # NDI_52 = 0.500 > 0.34
    ("N38", False, (300, 1000, 300, 450, 1857, 600)),   # NDI_52 = 0.300, b1 > 249.5
    ("N40", False, (100, 1000, 200, 800, 1857, 600)),   # b1 <= 249.5, NDI_43 = 0.600 > 0.45
    ("N42", False, (100, 1000, 400, 600, 1857, 600)),   # NDI_43 = 0.200, b3 > 364.5
    ("N44", True, (100, 1000, 300, 450, 1857, 600)),    # b3 <= 364.5, b1 <= 129.5
    ("N45", False, (200, 1000, 300, 450, 1857, 600)),   # ... b1 > 129.5
]


WATER_LEAVES = ("N6", "N10", "N14", "N17", "N19", "N27", "N31", "N33", "N44")


def wofs_leaves(b1: np.ndarray, b2: np.ndarray, b3: np.ndarray, b4: np.ndarray, b5: np.ndarray,
                b7: np.ndarray) -> np.ndarray:
    """The leaf (``'N3'``...) each pixel reaches in the WOfS tree: one boolean conjunction of path
    conditions per leaf, in float64 (a comparison with NaN takes the "greater" side)."""
    b1, b2, b3, b4, b5, b7 = (np.asarray(v, np.float64) for v in (b1, b2, b3, b4, b5, b7))
    with np.errstate(divide="ignore", invalid="ignore"):
        n52 = np.where(b5 + b2 == 0, np.nan, (b5 - b2) / (b5 + b2))
        n43 = np.where(b4 + b3 == 0, np.nan, (b4 - b3) / (b4 + b3))
        n72 = np.where(b7 + b2 == 0, np.nan, (b7 - b2) / (b7 + b2))

    def le(a: np.ndarray, t: float) -> np.ndarray:
        return a <= t  # False for NaN

    def gt(a: np.ndarray, t: float) -> np.ndarray:
        return ~(a <= t)  # True for NaN

    n2 = le(n52, -0.01)
    n4 = n2 & le(b1, 2083.5)
    n5 = n4 & le(b7, 323.5)
    n8 = n4 & gt(b7, 323.5)
    n9 = n8 & gt(b1, 1400.5)
    n12 = n8 & le(b1, 1400.5)
    n13 = n12 & gt(n72, -0.23)
    n16 = n12 & le(n72, -0.23)
    n18 = n16 & gt(n43, 0.22)
    n21 = gt(n52, -0.01)
    n22 = n21 & le(n52, 0.23)
    n24 = n22 & le(b1, 334.5)
    n26 = n24 & le(n43, 0.54)
    n28 = n26 & gt(n52, 0.12)
    n29 = n28 & le(b3, 364.5)
    n30 = n28 & gt(b3, 364.5)
    n35 = n21 & gt(n52, 0.23)
    n37 = n35 & le(n52, 0.34)
    n39 = n37 & le(b1, 249.5)
    n41 = n39 & le(n43, 0.45)
    n43_ = n41 & le(b3, 364.5)
    leaves = {
        "N3": n2 & gt(b1, 2083.5), "N6": n5 & le(n43, 0.61), "N7": n5 & gt(n43, 0.61),
        "N10": n9 & le(n43, -0.01), "N11": n9 & gt(n43, -0.01), "N14": n13 & le(b1, 379), "N15": n13 & gt(b1, 379),
        "N17": n16 & le(n43, 0.22), "N19": n18 & le(b1, 473), "N20": n18 & gt(b1, 473),
        "N23": n22 & gt(b1, 334.5), "N25": n24 & gt(n43, 0.54), "N27": n26 & le(n52, 0.12),
        "N31": n29 & le(b1, 129.5), "N32": n29 & gt(b1, 129.5), "N33": n30 & le(b1, 300.5), "N34": n30 & gt(b1, 300.5),
        "N36": n35 & gt(n52, 0.34), "N38": n37 & gt(b1, 249.5), "N40": n39 & gt(n43, 0.45), "N42": n41 & gt(b3, 364.5),
        "N44": n43_ & le(b1, 129.5), "N45": n43_ & gt(b1, 129.5),
    }
    hits = sum(m.astype(np.int64) for m in leaves.values())
    assert np.all(hits == 1), "the leaves must partition the input space"
    out = np.empty(np.shape(hits), dtype=object)
    for name, m in leaves.items():
        out[m] = name
    return out


def wofs_reference(b1: np.ndarray, b2: np.ndarray, b3: np.ndarray, b4: np.ndarray, b5: np.ndarray,
                   b7: np.ndarray) -> np.ndarray:
    """Water (bool) by the WOfS tree: the pixel's leaf is a water leaf."""
    return np.isin(wofs_leaves(b1, b2, b3, b4, b5, b7), WATER_LEAVES)


def grid_coords(ny: int, nx: int, res: float = 10.0) -> dict[str, np.ndarray]:
    return {"y": 5200000.0 - res / 2 - res * np.arange(ny), "x": 600000.0 + res / 2 + res * np.arange(nx)}


def reflectance_dataset(
    bands: dict[str, np.ndarray],
    *,
    scl: np.ndarray | None = None,
    offset_dn: int = 0,
    crs: str = "EPSG:32632",
    res: float = 10.0,
    times: int | None = None,
) -> xr.Dataset:
    """A Sentinel-2 L2A-like dataset from reflectance x 10000 arrays (uint16 DNs, nodata 0).

    ``offset_dn`` adds the processing-baseline 04.00 offset (1000): DN = value + 1000, offset -0.1.
    """
    first = next(iter(bands.values()))
    ny, nx = first.shape[-2:]
    coords = grid_coords(ny, nx, res)
    dims: tuple[str, ...] = ("y", "x")
    if first.ndim == 3:
        dims = ("time", "y", "x")
        days = np.arange(first.shape[0]) * np.timedelta64(5, "D")
        coords["time"] = (np.datetime64("2022-06-01") + days).astype("datetime64[ns]")
    data = {k: (dims, (np.asarray(v, np.int64) + offset_dn).astype(np.uint16)) for k, v in bands.items()}
    if scl is not None:
        data["SCL"] = (dims, np.asarray(scl, np.uint8))
    ds = xr.Dataset(data, coords=coords).rio.write_crs(crs)
    ds.attrs["sensor"] = '["sentinel2-l2a"]'
    return landpulse.declare_radiometry(ds, scale=1e-4, offset=-offset_dn * 1e-4, bands=list(bands), nodata=0,
                                        valid_range=(1, 65534))


def wofs_case_dataset(offset_dn: int = 0) -> tuple[xr.Dataset, np.ndarray]:
    """One pixel per WOfS leaf, in a (1, 23) scene; returns it and the expected water flags."""
    values = np.array([case[2] for case in WOFS_LEAVES], dtype=np.int64).T  # (6, 23)
    bands = {name: values[i][None, :] for i, name in enumerate(WOFS_BANDS)}
    expected = np.array([case[1] for case in WOFS_LEAVES])[None, :]
    return reflectance_dataset(bands, offset_dn=offset_dn), expected
