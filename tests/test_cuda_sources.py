"""The GPU maths, checked on a machine without a GPU.

* every ``kernels/*.cu`` compiles with nvcc for the GPUs we target (skips without nvcc);
* every CUDA module compiles with NVRTC, the compiler CuPy uses, with landpulse's exact options
  and template instantiations (skips without libnvrtc, which the dev extra installs);
* the per-pixel ``__host__ __device__`` functions, built for the host with g++ and with nvcc,
  give bit-identical float32 results to the Numba CPU kernels on edge cases and random data.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from landpulse.backend import Validity, get_kernel
from landpulse.backend.blocks import radiometry_vectors
from landpulse.backend.gpu.cuda import CUDA_MODULES, kernel_dir, kernel_source

from .cuda_tools import build_host_library, cuda_sources, find_libnvrtc, nvcc_path, nvrtc_compile

ARCHS = ["sm_80", "sm_90"]  # A100, H100/H200


def test_every_cuda_source_is_registered() -> None:
    assert {p.stem for p in cuda_sources()} == set(CUDA_MODULES)


@pytest.mark.parametrize("source", [p.name for p in cuda_sources()])
@pytest.mark.parametrize("arch", ARCHS)
def test_nvcc_compiles(tmp_path: Path, source: str, arch: str) -> None:
    nvcc = nvcc_path()
    if nvcc is None:
        pytest.skip("nvcc not found")
    result = subprocess.run(
        [nvcc, "-c", f"-arch={arch}", "-fmad=false", "-std=c++17", "-Werror", "all-warnings",
         f"-I{kernel_dir()}", str(kernel_dir() / source), "-o", str(tmp_path / "k.o")],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("module", sorted(CUDA_MODULES))
@pytest.mark.parametrize("arch", ["compute_80", "compute_90"])
def test_nvrtc_compiles_like_cupy(module: str, arch: str) -> None:
    lib = find_libnvrtc()
    if lib is None:
        pytest.skip("libnvrtc not found (pip install nvidia-cuda-nvrtc)")
    lowered = nvrtc_compile(kernel_source(module), f"{module}.cu", list(CUDA_MODULES[module]), arch, lib)
    assert set(lowered) == set(CUDA_MODULES[module])
    assert all(name.startswith("_Z") for name in lowered.values())


# --- host builds of the device functions vs the Numba kernels ---------------------------------

COMPILERS = ["g++", "nvcc"]


@pytest.fixture(scope="module", params=COMPILERS)
def host_lib(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> ctypes.CDLL:
    compiler = nvcc_path() if request.param == "nvcc" else shutil.which("g++")
    if compiler is None:
        pytest.skip(f"{request.param} not found")
    lib = build_host_library(compiler, tmp_path_factory.mktemp(request.param))
    for fn in (lib.host_ndvi_u16, lib.host_ndvi_f32):
        fn.restype = None
    return lib


def _host_ndvi(lib: ctypes.CDLL, red: np.ndarray, nir: np.ndarray, scale: float, offset: float,
               valid: Validity, policy: int) -> np.ndarray:
    s, o = radiometry_vectors(scale, offset, ())
    out = np.empty(red.size, np.float32)
    v = np.asarray(valid, np.float64)
    fn = lib.host_ndvi_u16 if red.dtype == np.uint16 else lib.host_ndvi_f32
    ptr = lambda a: a.ctypes.data_as(ctypes.c_void_p)  # noqa: E731
    fn(ptr(np.ascontiguousarray(red)), ptr(np.ascontiguousarray(nir)), ctypes.c_size_t(red.size),
       ctypes.c_float(s[0]), ctypes.c_float(o[0]), ctypes.c_float(s[0]), ctypes.c_float(o[0]),
       ptr(v), ptr(v), ctypes.c_int(policy), ptr(out))
    return out.reshape(red.shape)


def _edge_cases_u16() -> tuple[np.ndarray, np.ndarray]:
    special = np.array([0, 1, 2, 999, 1000, 1001, 9999, 10000, 32766, 32767, 65534, 65535], np.uint16)
    red, nir = np.meshgrid(special, special)
    rng = np.random.default_rng(11)
    r2 = rng.integers(0, 65536, 200_000, dtype=np.uint16)
    n2 = rng.integers(0, 65536, 200_000, dtype=np.uint16)
    return np.concatenate([red.ravel(), r2]), np.concatenate([nir.ravel(), n2])


@pytest.mark.parametrize("offset", [0.0, -0.1])
@pytest.mark.parametrize("policy,out_of_range", [(0, "nan"), (1, "clip")])
def test_device_functions_match_cpu_kernel_bit_for_bit_uint16(host_lib: ctypes.CDLL, offset: float, policy: int, out_of_range: str) -> None:
    red, nir = _edge_cases_u16()
    valid = Validity.of(0, (1, 65534))
    cpu = get_kernel("ndvi", "cpu")(red[None, :], nir[None, :], 1e-4, offset, 1e-4, offset,
                                    red_valid=valid, nir_valid=valid, out_of_range=out_of_range)[0]
    host = _host_ndvi(host_lib, red, nir, 1e-4, offset, valid, policy)
    assert np.array_equal(cpu.view(np.uint32), host.view(np.uint32)) or np.array_equal(cpu, host, equal_nan=True)
    np.testing.assert_array_equal(np.isnan(cpu), np.isnan(host))
    np.testing.assert_array_equal(cpu[~np.isnan(cpu)], host[~np.isnan(host)])


def test_device_functions_match_cpu_kernel_float32_with_nans(host_lib: ctypes.CDLL) -> None:
    rng = np.random.default_rng(5)
    red = rng.normal(0.1, 0.2, 100_000).astype(np.float32)
    nir = rng.normal(0.3, 0.2, 100_000).astype(np.float32)
    red[::97] = np.nan
    nir[::89] = np.nan
    red[::101] = -nir[::101]  # zero denominators
    valid = Validity()
    cpu = get_kernel("ndvi", "cpu")(red[None, :], nir[None, :], 1.0, 0.0, 1.0, 0.0,
                                    red_valid=valid, nir_valid=valid)[0]
    host = _host_ndvi(host_lib, red, nir, 1.0, 0.0, valid, 0)
    np.testing.assert_array_equal(cpu, host)  # NaN == NaN here; values bit-identical
