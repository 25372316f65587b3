"""The water GPU kernels (kernels/water.cu, their own bodies: LP_HOST_ENTRY) built for the host with g++ and nvcc, run on edge cases
and random data, against the Numba CPU kernels: every class product and the frequencies are
bit-identical (IEEE float32 operations only, no fused multiply-add)."""

from __future__ import annotations

import ctypes
import shutil

import numpy as np
import pytest

from landpulse.backend import get_kernel
from landpulse.backend.ops.water import wofs_host_arrays
from tests.support import skip_or_fail
from tests.support.cuda import build_host_library, nvcc_path
from tests.support.water_cases import WOFS_LEAVES, wofs_reference


@pytest.fixture(scope="module", params=["g++", "nvcc"])
def lib(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> ctypes.CDLL:
    compiler = nvcc_path() if request.param == "nvcc" else shutil.which("g++")
    if compiler is None:
        skip_or_fail(request.param, f"{request.param} not found")
    return build_host_library(compiler, tmp_path_factory.mktemp(request.param), "water_host_shim.cpp")


def ptr(a: np.ndarray) -> ctypes.c_void_p:
    assert a.flags.c_contiguous
    return a.ctypes.data_as(ctypes.c_void_p)


LL = ctypes.c_longlong


def test_threshold(lib: ctypes.CDLL) -> None:
    rng = np.random.default_rng(0)
    ns, ny, nx = 3, 50, 70
    idx = rng.uniform(-1, 1, (ns, ny, nx)).astype(np.float32)
    idx[0, 0, :5] = [np.nan, 0.0, -0.0, np.float32(0.25), np.nextafter(np.float32(0.25), np.float32(0))]
    idx[1, ::9] = np.nan
    codes = rng.choice(np.array([0, 0, 0, 1, 2, 3, 7], np.uint8), (ns, ny, nx))
    thr = np.array([0.25, -0.1, np.nan], np.float32)
    for has_mask in (True, False):
        args = (idx, codes, thr.reshape(ns, 1, 1)) if has_mask else (idx, thr.reshape(ns, 1, 1))
        cpu = get_kernel("water_threshold", "cpu")(*args, has_mask=has_mask)
        out = np.empty(idx.shape, np.uint8)
        lib.host_water_threshold(ptr(idx), ptr(codes), int(has_mask), ptr(thr), LL(ny * nx), LL(idx.size), ptr(out))
        np.testing.assert_array_equal(cpu, out)
    assert set(np.unique(cpu)) == {0, 1, 255}


def wofs_inputs(rng: np.random.Generator, ns: int, npix: int, dtype: type) -> list[np.ndarray]:
    bands = [rng.integers(0, 4000, (ns, 1, npix)) for _ in range(6)]
    bands[0][..., : npix // 2] = rng.integers(0, 600, (ns, 1, npix // 2))  # dark: water leaves
    bands[5][:, :, ::3] = rng.integers(0, 400, bands[5][:, :, ::3].shape)
    leaves = np.array([c[2] for c in WOFS_LEAVES]).T
    for b in range(6):
        bands[b][0, 0, : leaves.shape[1]] = leaves[b]  # every leaf, exactly
        bands[b][0, 0, 30] = 0  # all missing
    bands[1][0, 0, 31] = 0  # one missing
    bands[4][0, 0, 32] = 65535  # saturated
    bands[2][0, 0, 33], bands[3][0, 0, 33] = 1000, 1000  # NDI_43 == 0
    bands[1][0, 0, 34], bands[4][0, 0, 34] = 1000, 1000
    return [np.ascontiguousarray(b.astype(dtype)) for b in bands]


@pytest.mark.parametrize("dtype", [np.uint16, np.float32])
@pytest.mark.parametrize("offset", [0.0, -0.1])
def test_wofs(lib: ctypes.CDLL, dtype: type, offset: float) -> None:
    rng = np.random.default_rng(1)
    ns, npix = 2, 20_000
    bands = wofs_inputs(rng, ns, npix, dtype)
    if offset:
        bands = [np.ascontiguousarray(np.where(b > 0, b + 1000, 0).astype(dtype)) for b in bands]
    if dtype == np.float32:
        bands[0][1, 0, 7] = np.nan
    q = rng.choice(np.array([4, 6, 3, 9, 0, 1, 200], dtype), (ns, 1, npix))
    if dtype == np.float32:
        q[0, 0, 40], q[0, 0, 41] = np.nan, 4.5
    lut = np.zeros(256, np.uint8)
    lut[[0, 12, 200]], lut[3], lut[9], lut[1] = 1, 32, 64, 2
    valid = [(0.0, 1.0, 65534.0)] * 6
    scales = [np.array([1e-4, 1e-4])] * 6
    offsets = [np.array([offset, offset])] * 6
    sc, of, va = wofs_host_arrays(scales, offsets, valid, (ns,), [b.dtype for b in bands])
    host_fn = lib.host_wofs_u16_u8 if dtype == np.uint16 else lib.host_wofs_f32_f32
    qq = np.ascontiguousarray(q.astype(np.uint8 if dtype == np.uint16 else np.float32))
    for has_class in (False, True):
        extra = [qq] if has_class else []
        cpu_f, cpu_w = get_kernel("wofs", "cpu")(*bands, *extra, *scales, *offsets, valid=valid,
                                                 lut=lut if has_class else None, has_class=has_class)
        hf, hw = np.empty(bands[0].shape, np.uint8), np.empty(bands[0].shape, np.uint8)
        host_fn(*map(ptr, bands), ptr(qq), int(has_class), ptr(lut), LL(256), ptr(sc), ptr(of), ptr(va), LL(ns),
                LL(npix), LL(bands[0].size), ptr(hf), ptr(hw))
        np.testing.assert_array_equal(cpu_f, hf)
        np.testing.assert_array_equal(cpu_w, hw)
        if not has_class:
            refl = [b.astype(np.float64) - (1000 if offset else 0) for b in bands]
            ok = np.all([(b > 0) & (b < 65535) & np.isfinite(b) for b in bands], axis=0)
            np.testing.assert_array_equal(cpu_f[ok] == 128, wofs_reference(*refl)[ok])
    assert {0, 1, 2, 32, 64, 128} <= set(np.unique(cpu_f).tolist())


def test_summary_and_change(lib: ctypes.CDLL) -> None:
    rng = np.random.default_rng(2)
    T, npix = 23, 30_000
    cls = rng.choice(np.array([0, 1, 2, 255], np.uint8), (T, npix), p=[0.45, 0.3, 0.2, 0.05])
    cls[:, :10] = 2  # never clear
    cls[:, 10:20] = 1
    cls[:10, 20:30], cls[10:, 20:30] = 1, 0  # 10 / 23 wet
    kw = dict(wet=1, dry=0, min_clear=3, seasonal=0.1, permanent=0.9)
    cpu = get_kernel("water_summary", "cpu")(np.ascontiguousarray(cls.T), **kw)
    host = (np.empty(npix, np.uint16), np.empty(npix, np.uint16), np.empty(npix, np.float32), np.empty(npix, np.uint8))
    lib.host_water_summary(ptr(cls), T, LL(npix), ctypes.c_uint8(1), ctypes.c_uint8(0), 3, ctypes.c_float(0.1),
                           ctypes.c_float(0.9), *map(ptr, host))
    for c, h in zip(cpu, host, strict=True):
        np.testing.assert_array_equal(c, h)
    assert set(np.unique(cpu[3]).tolist()) == {0, 1, 2, 255}
    fa, ca, fb, cb = cpu[2], cpu[1], np.ascontiguousarray(cpu[2][::-1]), np.ascontiguousarray(cpu[1][::-1])
    ch = get_kernel("water_change", "cpu")(fa, ca, fb, cb, min_clear=2, threshold=0.5)
    out = np.empty(npix, np.uint8)
    lib.host_water_change(ptr(fa), ptr(ca), ptr(fb), ptr(cb), LL(npix), 2, ctypes.c_float(0.5), ptr(out))
    np.testing.assert_array_equal(ch, out)
    assert set(np.unique(ch).tolist()) == {0, 1, 2, 3, 255}
