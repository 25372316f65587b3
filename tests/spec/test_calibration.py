"""TOA calibration maths (landpulse.spec.calibration) and its application by the CPU and GPU kernels.

References: the Earth-Sun distances USGS prints in the Landsat MTL files shipped with landpulse
(ephemeris values); the CBERS-4 MUX scene CBERS_4_MUX_20201031_003_073_L2 with INPE's published
coefficients (hand-worked numbers in tests/io/test_cbers.py, repeated here for the kernels).
"""

from __future__ import annotations

import ctypes
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

import landpulse
from landpulse.backend import Validity, get_kernel
from landpulse.backend.blocks import radiometry_vectors
from landpulse.backend.codegen import cuda_source, host_arrays, kernel_name
from landpulse.products.indices import index_program
from landpulse.spec.calibration import earth_sun_distance, toa_calibration
from landpulse.spec.sensors import get_sensor
from tests.support import skip_or_fail
from tests.support.cuda import build_shared, find_libnvrtc, nvcc_path, nvrtc_compile

SAMPLE = Path(landpulse.__file__).parent / "sample_data" / "landsat-marburg-2001-2013"


@pytest.mark.parametrize("mtl", sorted(SAMPLE.glob("*/*_MTL.txt")), ids=lambda p: p.parent.name)
def test_earth_sun_distance_against_usgs_mtl(mtl: Path) -> None:
    text = mtl.read_text()
    date = re.search(r"DATE_ACQUIRED = (\S+)", text)
    dist = re.search(r"EARTH_SUN_DISTANCE = (\S+)", text)
    assert date and dist
    # 2013-07-07: USGS 1.0166988; 2001-07-30: USGS 1.0151738 (the first-order formula: within 1e-4 AU)
    assert earth_sun_distance(date.group(1)) == pytest.approx(float(dist.group(1)), abs=1.2e-4)


def test_earth_sun_distance_extremes() -> None:
    assert earth_sun_distance("2021-01-04") == pytest.approx(1 - 0.01672, abs=1e-9)  # perihelion
    assert earth_sun_distance("2021-07-04") == pytest.approx(1 + 0.01672, abs=2e-5)  # aphelion
    assert earth_sun_distance(np.datetime64("2020-10-31T03:16:10.865")) == earth_sun_distance("2020-10-31")


def test_toa_coefficients_hand_worked() -> None:
    # CBERS_4_MUX_20201031_003_073_L2, band 7 (red): gain 1.55192 per DN (INPE metadata), ESUN 1536.38,
    # sun elevation 48.4687 deg, day 305: scale = pi * 1.55192 * 0.9850490 / (1536.38 * 0.7485936)
    cal = toa_calibration(gain=1.55192, solar_irradiance=1536.38, sun_elevation=48.4687, date="2020-10-31",
                          gain_source="INPE", irradiance_source="Charter")
    assert cal.earth_sun_distance == pytest.approx(0.9924964, abs=1e-7)
    assert cal.scale == pytest.approx(0.00417572869, rel=1e-8)
    assert cal.scale * 60 == pytest.approx(0.2505437, abs=1e-7)
    assert cal.offset == 0.0
    # a bias adds pi d^2 bias / (ESUN cos theta_z): the same factor as the gain
    biased = toa_calibration(gain=1.55192, bias=-2.0, solar_irradiance=1536.38, sun_elevation=48.4687,
                             date="2020-10-31", gain_source="x", irradiance_source="y")
    assert biased.offset == pytest.approx(-2.0 * cal.scale / 1.55192, rel=1e-12)
    rec = cal.describe()
    assert rec["quantity"] == "toa_reflectance" and rec["scale"] == cal.scale and "ESUN" in rec["formula"]


@pytest.mark.parametrize("kwargs,match", [
    ({"sun_elevation": 0.0}, "horizon"), ({"sun_elevation": -5.0}, "horizon"), ({"sun_elevation": 91.0}, "outside"),
    ({"gain": 0.0}, "gain"), ({"gain": float("nan")}, "gain"), ({"solar_irradiance": -1.0}, "irradiance"),
    ({"bias": float("inf")}, "bias"), ({"date": "31/10/2020"}, "date"),
])
def test_toa_calibration_refuses_bad_coefficients(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"gain": 1.5, "solar_irradiance": 1536.38, "sun_elevation": 48.0, "date": "2020-10-31",
                               "gain_source": "x", "irradiance_source": "y"} | kwargs
    with pytest.raises(landpulse.RadiometryError, match=match):
        toa_calibration(**args)  # type: ignore[arg-type]


def test_cbers_registry_carries_solar_irradiance() -> None:
    for sid in ("cbers4-mux", "cbers4-wfi", "cbers4a-mux", "cbers4a-wfi"):
        spec = get_sensor(sid)
        assert {b.common_name: b.solar_irradiance for b in spec.bands.values()} == \
            {"blue": 1984.65, "green": 1823.40, "red": 1536.38, "nir": 981.91}
        assert "Thuillier 2003" in spec.solar_irradiance_reference
        assert spec.quantity == "digital_number" and spec.scale == 1.0


# --- the kernels apply TOA calibration in the fused pass: CPU (Numba) and GPU (CUDA, host build) ---

def _toa_inputs() -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Two dates of 8-bit MUX digital numbers (red, nir as the NDVI program reads them) and the TOA
    scales of each date: the real scene's, and the same gains under a lower sun (30 deg, day 172)."""
    red = np.full((2, 3, 4), 60, np.uint8)
    nir = np.full((2, 3, 4), 90, np.uint8)
    red[:, 0, 0] = 0  # nodata
    nir[:, 2, 3] = 255
    days, elevations = ("2020-10-31", "2020-06-20"), (48.4687, 30.0)
    scales = {b: np.array([toa_calibration(gain=g, solar_irradiance=e, sun_elevation=el, date=d, gain_source="",
                                           irradiance_source="").scale for d, el in zip(days, elevations, strict=True)])
              for b, g, e in (("R", 1.55192, 1536.38), ("N", 1.1761, 981.91))}
    return [red, nir], scales["R"], scales["N"]


def _cpu(bands: list[np.ndarray], sr: np.ndarray, sn: np.ndarray) -> np.ndarray:
    info = index_program(["ndvi"])
    assert info.symbols == ("N", "R")
    red, nir = bands
    out = get_kernel("indices", "cpu")(nir, red, sn[:, None, None], sr[:, None, None], 0.0, 0.0, program=info.program,
                                       valid=(Validity.of(0, None), Validity.of(0, None)),
                                       constants=info.constant_values, out_of_range="nan")
    return np.asarray(out[0] if isinstance(out, tuple) else out)


def test_toa_ndvi_on_the_cpu_kernel_is_the_hand_worked_value() -> None:
    bands, sr, sn = _toa_inputs()
    ndvi = _cpu(bands, sr, sn)
    assert ndvi[0, 1, 1] == pytest.approx(0.2802288, abs=2e-7)  # hand-worked (tests/io/test_cbers.py)
    # date 2: the sun elevation cancels in a ratio of one scene's bands, the Earth-Sun distance too
    assert ndvi[1, 1, 1] == pytest.approx(0.2802288, abs=2e-7)
    assert np.isnan(ndvi[:, 0, 0]).all()
    r, n = 60 * sr[0], 255 * sn[0]
    assert ndvi[0, 2, 3] == pytest.approx((n - r) / (n + r), abs=2e-7)


@pytest.mark.parametrize("compiler", ["g++", "nvcc"])
def test_toa_ndvi_cuda_kernel_matches_cpu_bit_for_bit(tmp_path: Path, compiler: str) -> None:
    """The generated CUDA kernel (compiled for the host with g++ and with nvcc, -fmad=false like NVRTC)
    gives the Numba kernel's float32 bits for TOA-calibrated 8-bit digital numbers."""
    path = nvcc_path() if compiler == "nvcc" else shutil.which("g++")
    if path is None:
        skip_or_fail(compiler, f"{compiler} not found")
    info = index_program(["ndvi"])
    types = ("uint8", "uint8")
    src = tmp_path / "toa.cu"
    src.write_text(cuda_source(info.program, types, None))
    lib = build_shared(path, src, tmp_path, defines=("LP_HOST_ENTRY",))
    bands, sr, sn = _toa_inputs()
    red, nir = bands
    ns = red.shape[0]
    vec_n, vec_r = radiometry_vectors(sn[:, None, None], 0.0, (ns,)), radiometry_vectors(sr[:, None, None], 0.0, (ns,))
    valid = (tuple(Validity.of(0, None)), tuple(Validity.of(0, None)))
    sc, of, va, cs = host_arrays(info.program, [vec_n[0], vec_r[0]], [vec_n[1], vec_r[1]], valid,
                                 info.constant_values, ns, [nir.dtype, red.dtype])
    out = np.empty(red.shape, np.float32)
    ptr = lambda a: a.ctypes.data_as(ctypes.c_void_p)  # noqa: E731
    ll = ctypes.c_longlong
    fn = getattr(lib, f"{kernel_name(info.program, types, None)}_host")
    fn.restype = None
    fn(ptr(nir), ptr(red), ptr(sc), ptr(of), ptr(va), ptr(cs), ll(ns), ptr(out), ctypes.c_int(0),
       ll(red.shape[1] * red.shape[2]), ll(red.size))
    cpu = _cpu(bands, sr, sn)
    np.testing.assert_array_equal(np.isnan(cpu), np.isnan(out))
    assert np.array_equal(cpu[~np.isnan(cpu)].view(np.uint32), out[~np.isnan(out)].view(np.uint32))
    assert out[0, 1, 1] == pytest.approx(0.2802288, abs=2e-7)
    assert math.isnan(float(out[0, 0, 0]))


def test_toa_kernel_for_8bit_bands_compiles_with_nvrtc() -> None:
    """The uint8 specialisation CBERS MUX needs compiles with NVRTC (what CuPy uses on the GPU)."""
    lib = find_libnvrtc()
    if lib is None:
        skip_or_fail("nvrtc", "libnvrtc not found (pip install nvidia-cuda-nvrtc)")
    info = index_program(["ndvi", "evi"])
    types = ("uint8",) * info.program.n_bands
    source = cuda_source(info.program, types, None)
    nvrtc_compile(source, "toa.cu", [], "compute_80", lib)  # raises with the compiler log on failure
    assert f'extern "C" __global__ void {kernel_name(info.program, types, None)}(' in source
