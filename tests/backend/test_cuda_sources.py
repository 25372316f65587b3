"""The GPU maths, checked on a machine without a GPU.

* every ``kernels/*.cu`` compiles with nvcc for the GPUs we target (skips without nvcc);
* every CUDA module compiles with NVRTC, the compiler CuPy uses, with landpulse's exact options
  and template instantiations (skips without libnvrtc, which the dev extra installs);
* the generated kernels (every catalogue index plus the mask), built for the host with g++ and
  with nvcc, give bit-identical float32 results to the generated Numba kernels on edge cases and
  random data; so does the mask-buffer device function.
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
from tests.support import skip_or_fail
from tests.support.cuda import cuda_sources, find_libnvrtc, nvcc_path, nvrtc_compile

ARCHS = ["sm_80", "sm_90"]  # A100, H100/H200


def test_every_cuda_source_is_registered() -> None:
    assert {p.stem for p in cuda_sources()} == set(CUDA_MODULES)


@pytest.mark.parametrize("source", [p.name for p in cuda_sources()])
@pytest.mark.parametrize("arch", ARCHS)
def test_nvcc_compiles(tmp_path: Path, source: str, arch: str) -> None:
    nvcc = nvcc_path()
    if nvcc is None:
        skip_or_fail("nvcc", "nvcc not found")
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
        skip_or_fail("nvrtc", "libnvrtc not found (pip install nvidia-cuda-nvrtc)")
    lowered = nvrtc_compile(kernel_source(module), f"{module}.cu", list(CUDA_MODULES[module]), arch, lib)
    assert set(lowered) == set(CUDA_MODULES[module])
    assert all(name.startswith("_Z") for name in lowered.values())


# --- host builds of the device functions vs the Numba kernels ---------------------------------

COMPILERS = ["g++", "nvcc"]


# --- generated kernels: the whole catalogue, compiled and run on the host -----------------------

from landpulse.backend.codegen import cuda_source, kernel_name  # noqa: E402
from landpulse.products.indices import index_program  # noqa: E402
from landpulse.spec.index_catalogue import index_names  # noqa: E402
from tests.support.cuda import build_shared  # noqa: E402

CATALOGUE_PROGRAM = index_program(index_names(), with_mask=True)
GENERATED_TYPES = [("uint16", "uint8"), ("float32", "float32"), ("int16", "uint16")]


def _generated(band_type: str, class_type: str) -> tuple[str, str]:
    program = CATALOGUE_PROGRAM.program
    types = (band_type,) * program.n_bands
    return cuda_source(program, types, class_type), kernel_name(program, types, class_type)


@pytest.mark.parametrize("types", GENERATED_TYPES, ids=["-".join(t) for t in GENERATED_TYPES])
@pytest.mark.parametrize("arch", ARCHS)
def test_generated_catalogue_kernel_compiles_with_nvcc(tmp_path: Path, types: tuple[str, str], arch: str) -> None:
    nvcc = nvcc_path()
    if nvcc is None:
        skip_or_fail("nvcc", "nvcc not found")
    source, _ = _generated(*types)
    src = tmp_path / "generated.cu"
    src.write_text(source)
    result = subprocess.run(
        [nvcc, "-c", f"-arch={arch}", "-fmad=false", "-std=c++17", "-Werror", "all-warnings",
         f"-I{kernel_dir()}", str(src), "-o", str(tmp_path / "k.o")],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("types", GENERATED_TYPES, ids=["-".join(t) for t in GENERATED_TYPES])
@pytest.mark.parametrize("arch", ["compute_80", "compute_90"])
def test_generated_catalogue_kernel_compiles_with_nvrtc(types: tuple[str, str], arch: str) -> None:
    lib = find_libnvrtc()
    if lib is None:
        skip_or_fail("nvrtc", "libnvrtc not found (pip install nvidia-cuda-nvrtc)")
    source, name = _generated(*types)
    nvrtc_compile(source, "generated.cu", [], arch, lib)  # raises with the compiler log on failure
    assert f'extern "C" __global__ void {name}(' in source


@pytest.fixture(scope="module", params=COMPILERS)
def generated_host_lib(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[ctypes.CDLL, dict[str, str]]:
    compiler = nvcc_path() if request.param == "nvcc" else shutil.which("g++")
    if compiler is None:
        skip_or_fail(request.param, f"{request.param} not found")
    folder = tmp_path_factory.mktemp(f"gen-{request.param}")
    names = {}
    sources = []
    for band_type, class_type in GENERATED_TYPES[:2]:
        source, name = _generated(band_type, class_type)
        names[band_type] = name
        sources.append(source)
    # one translation unit with both specialisations (the header is include-guarded)
    src = folder / "generated_host.cu"
    src.write_text("\n".join(sources))
    return build_shared(compiler, src, folder, defines=("LP_HOST_ENTRY",)), names


def _catalogue_inputs(band_type: str, rng: np.random.Generator) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    program = CATALOGUE_PROGRAM.program
    shape = (2, 61, 97)
    if band_type == "uint16":
        bands = []
        for _ in range(program.n_bands):
            b = rng.integers(0, 14000, shape, dtype=np.uint16)
            b.flat[rng.integers(0, b.size, 300)] = rng.choice([0, 1, 999, 1000, 1001, 32766, 32767, 65534, 65535], 300).astype(np.uint16)
            bands.append(b)
        q = rng.integers(0, 14, shape, dtype=np.uint8)
    else:
        bands = []
        for _ in range(program.n_bands):
            b = rng.normal(0.2, 0.25, shape).astype(np.float32)
            b.flat[rng.integers(0, b.size, 200)] = np.nan
            b.flat[rng.integers(0, b.size, 200)] = 0.0
            bands.append(b)
        q = rng.integers(0, 12, shape).astype(np.float32)
        q.flat[rng.integers(0, q.size, 100)] = np.nan
        q.flat[rng.integers(0, q.size, 100)] = 4.5
    lut = np.zeros(256, np.uint8)
    lut[[1, 3, 8, 9, 10]] = 1
    lut[0] = 3
    lut[12:] = 3
    return bands, q, lut


def _run_host(lib: ctypes.CDLL, name: str, bands: list[np.ndarray], q: np.ndarray, lut: np.ndarray,
              sc: np.ndarray, of: np.ndarray, va: np.ndarray, cs: np.ndarray, policy: int) -> list[np.ndarray]:
    program = CATALOGUE_PROGRAM.program
    ns = bands[0].shape[0]
    pps = bands[0].shape[1] * bands[0].shape[2]
    outs = [np.empty(bands[0].shape, np.float32) for _ in program.outputs] + [np.empty(bands[0].shape, np.uint8)]
    ptr = lambda a: a.ctypes.data_as(ctypes.c_void_p)  # noqa: E731
    ll = ctypes.c_longlong
    args = [ptr(b) for b in bands] + [ptr(q), ptr(lut), ll(lut.size), ptr(sc), ptr(of), ptr(va), ptr(cs), ll(ns)]
    args += [ptr(o) for o in outs] + [ctypes.c_int(policy), ll(pps), ll(bands[0].size)]
    fn = getattr(lib, f"{name}_host")
    fn.restype = None
    fn(*args)
    return outs


@pytest.mark.parametrize("band_type", ["uint16", "float32"])
@pytest.mark.parametrize("policy,out_of_range", [(0, "nan"), (1, "clip")])
def test_generated_device_code_matches_numba_bit_for_bit(generated_host_lib: tuple[ctypes.CDLL, dict[str, str]],
                                                         band_type: str, policy: int, out_of_range: str) -> None:
    """Every catalogue formula (+ - * / and sqrt only): the host build of the generated CUDA and the
    generated Numba kernel give bit-identical float32, and identical mask codes."""
    from landpulse.backend.codegen import host_arrays

    lib, names = generated_host_lib
    program = CATALOGUE_PROGRAM.program
    rng = np.random.default_rng(42)
    bands, q, lut = _catalogue_inputs(band_type, rng)
    ns = bands[0].shape[0]
    if band_type == "uint16":
        scales, offsets = np.array([1e-4, 1e-4]), np.array([0.0, -0.1])  # two baselines, one per date
        # S2 10 m and 20/60 m limits, and a band with no limits at all (integer path, prepared)
        kinds = [Validity.of(0, (1, 65534)), Validity.of(0, (1, 32766)), Validity()]
        valid = tuple(kinds[i % 3] for i in range(program.n_bands))
    else:
        scales, offsets = np.array([1.0, 1.0]), np.array([0.0, 0.0])
        valid = tuple(Validity() for _ in range(program.n_bands))
    params = [scales[:, None, None]] * program.n_bands + [offsets[:, None, None]] * program.n_bands
    cpu = get_kernel("indices", "cpu")(*bands, q, *params, program=program, valid=valid,
                                       constants=CATALOGUE_PROGRAM.constant_values, lut=lut, out_of_range=out_of_range)
    vecs = [radiometry_vectors(scales[:, None, None], offsets[:, None, None], (ns,))] * program.n_bands
    sc, of, va, cs = host_arrays(program, [v[0] for v in vecs], [v[1] for v in vecs], valid,
                                 CATALOGUE_PROGRAM.constant_values, ns, [b.dtype for b in bands])
    host = _run_host(lib, names[band_type], bands, q, lut, sc, of, va, cs, policy)
    for k, out in enumerate(program.outputs):
        c, h = cpu[k], host[k]
        np.testing.assert_array_equal(np.isnan(c), np.isnan(h), err_msg=out.name)
        assert np.array_equal(c[~np.isnan(c)].view(np.uint32), h[~np.isnan(h)].view(np.uint32)), out.name
        assert np.isfinite(c).mean() > 0.2, out.name  # the comparison covers real values
    np.testing.assert_array_equal(cpu[-1], host[-1])


# --- the mask kernel with a buffer: CUDA per-pixel function (gather) vs Numba (prefix sums) ---

@pytest.fixture(scope="module", params=COMPILERS)
def masks_host_lib(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> ctypes.CDLL:
    compiler = nvcc_path() if request.param == "nvcc" else shutil.which("g++")
    if compiler is None:
        skip_or_fail(request.param, f"{request.param} not found")
    shim = Path(__file__).resolve().parents[1] / "support" / "native" / "masks_host_shim.cpp"
    return build_shared(compiler, shim, tmp_path_factory.mktemp(f"masks-{request.param}"))


@pytest.mark.parametrize("dtype", ["uint8", "float32"])
@pytest.mark.parametrize("radius,res", [(0.0, 10.0), (25.0, 10.0), (60.0, 10.0), (60.0, 20.0), (45.0, 30.0)])
def test_mask_device_function_matches_numba(masks_host_lib: ctypes.CDLL, dtype: str, radius: float, res: float) -> None:
    from landpulse.backend import disc_spans

    rng = np.random.default_rng(int(radius) + int(res))
    q = rng.choice(np.arange(12), size=(3, 45, 67), p=[0.01, 0.01, 0.02, 0.02, 0.6, 0.2, 0.05, 0.02, 0.03, 0.02, 0.01, 0.01])
    q = q.astype(dtype)
    if dtype == "float32":
        q.flat[rng.integers(0, q.size, 50)] = np.nan
    lut = np.zeros(256, np.uint8)
    lut[[1, 3, 8, 9, 10]] = 1
    lut[0] = 3
    blut = np.zeros(256, np.uint8)
    blut[[3, 8, 9, 10]] = 1
    spans = disc_spans(radius, res, res)
    cpu = get_kernel("mask_buffer", "cpu")(q, lut=lut, buffer_lut=blut, spans=spans)
    out = np.empty(q.shape, np.uint8)
    ptr = lambda a: a.ctypes.data_as(ctypes.c_void_p)  # noqa: E731
    fn = masks_host_lib.host_mask_buffer_u8 if dtype == "uint8" else masks_host_lib.host_mask_buffer_f32
    fn.restype = None
    fn(ptr(q), ptr(lut), ptr(blut), ctypes.c_longlong(256), ptr(spans), ctypes.c_int(len(spans) - 1),
       ctypes.c_longlong(q.shape[0]), ctypes.c_longlong(q.shape[1]), ctypes.c_longlong(q.shape[2]), ptr(out))
    np.testing.assert_array_equal(cpu, out)
    if radius > 0:
        assert (cpu == 2).any()
