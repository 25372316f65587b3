"""The change-detection GPU kernels (kernels/change.cu, their own bodies: LP_HOST_ENTRY) built for the host with g++ and nvcc, run
on edge cases and random data with gaps, against the Numba CPU kernels.

Bit-identical for everything computed with IEEE basic operations (differences, classes, CVA
magnitude and sectors, medians and max composites, z-scores, Theil-Sen slopes, Mann-Kendall
classes, every BFAST-Monitor output); the CVA direction (atan2) and the Mann-Kendall p-value
(erfc) use the platform's libm and must agree within 1e-6 relative.
"""

from __future__ import annotations

import ctypes
import shutil

import numpy as np
import pytest

from landpulse.backend import get_kernel
from landpulse.products.change import bfast_design
from landpulse.products.change.critvals import mosum_critical_value, rec_cusum_critical_value
from tests.support import skip_or_fail
from tests.support.cuda import build_host_library, nvcc_path


@pytest.fixture(scope="module", params=["g++", "nvcc"])
def lib(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> ctypes.CDLL:
    compiler = nvcc_path() if request.param == "nvcc" else shutil.which("g++")
    if compiler is None:
        skip_or_fail(request.param, f"{request.param} not found")
    return build_host_library(compiler, tmp_path_factory.mktemp(request.param), "change_host_shim.cpp")


def ptr(a: np.ndarray) -> ctypes.c_void_p:
    assert a.flags.c_contiguous
    return a.ctypes.data_as(ctypes.c_void_p)


def series(T: int, npix: int, seed: int, gap: float = 0.3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(T)[:, None]
    y = 0.4 + 0.2 * np.sin(2 * np.pi * t / 23) + 0.05 * rng.standard_normal((T, npix))
    y[:, ::7] = np.round(y[:, ::7], 1)  # ties
    y[rng.random(y.shape) < gap] = np.nan
    y[:, 3] = np.nan  # an all-NaN pixel
    return np.ascontiguousarray(y, dtype=np.float32)


def test_classify_difference(lib: ctypes.CDLL) -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(0, 0.5, 50_000).astype(np.float32)
    b = rng.normal(0, 0.5, 50_000).astype(np.float32)
    a[::13] = np.nan
    edges = np.array([-0.25, -0.1, 0.1, 0.27, 0.44, 0.66], np.float32)
    b[:6] = edges + a[:6]  # exactly on the edges
    d, c = get_kernel("classify_difference", "cpu")(a, b, edges=edges, first=1, offset=0.01)
    hd, hc = np.empty_like(d), np.empty_like(c)
    lib.host_classify(ptr(a), ptr(b), ptr(hd), ptr(hc), ctypes.c_longlong(a.size), ptr(edges), 6, 1, ctypes.c_float(0.01))
    np.testing.assert_array_equal(d, hd)
    np.testing.assert_array_equal(c, hc)


@pytest.mark.parametrize("nvar", [2, 3])
def test_cva(lib: ctypes.CDLL, nvar: int) -> None:
    rng = np.random.default_rng(nvar)
    pre = rng.normal(size=(nvar, 20_000)).astype(np.float32)
    post = rng.normal(size=(nvar, 20_000)).astype(np.float32)
    pre[0, ::17] = np.nan
    post[:, :5] = pre[:, :5]  # zero change
    mag, ang, sec = get_kernel("cva", "cpu")(np.ascontiguousarray(pre.T), np.ascontiguousarray(post.T))
    hm, ha, hs = np.empty_like(mag), np.empty_like(ang), np.empty_like(sec)
    lib.host_cva(ptr(pre), ptr(post), ctypes.c_longlong(pre.shape[1]), nvar, ptr(hm), ptr(ha), ptr(hs))
    np.testing.assert_array_equal(mag, hm)
    np.testing.assert_array_equal(sec, hs)
    np.testing.assert_allclose(ang, ha, rtol=1e-6, atol=1e-4)
    np.testing.assert_array_equal(np.isnan(ang), np.isnan(ha))


def test_median_and_max_composites(lib: ctypes.CDLL) -> None:
    T, npix, nb = 13, 5000, 3
    bands = np.stack([series(T, npix, s) for s in range(nb)])  # (band, time, pix)
    bands[:, :, 10] = 0.0
    bands[1, :, 11] = -0.0
    med, cnt = get_kernel("median_composite", "cpu")(np.ascontiguousarray(bands.transpose(2, 0, 1)))
    hmed = np.empty((nb, npix), np.float32)
    hcnt = np.empty(npix, np.uint16)
    lib.host_median(ptr(bands), nb, T, ctypes.c_longlong(npix), ptr(hmed), ptr(hcnt))
    np.testing.assert_array_equal(med, hmed.T)
    np.testing.assert_array_equal(cnt, hcnt)
    score = series(T, npix, 9)
    out, c2, idx = get_kernel("max_composite", "cpu")(np.ascontiguousarray(score.T), np.ascontiguousarray(bands.transpose(2, 0, 1)))
    ho = np.empty((nb, npix), np.float32)
    hc2, hidx = np.empty(npix, np.uint16), np.empty(npix, np.uint16)
    lib.host_max(ptr(score), ptr(bands), nb, T, ctypes.c_longlong(npix), ptr(ho), ptr(hc2), ptr(hidx))
    np.testing.assert_array_equal(out, ho.T)
    np.testing.assert_array_equal(c2, hc2)
    np.testing.assert_array_equal(idx, hidx)


def test_zscore(lib: ctypes.CDLL) -> None:
    T, npix = 24, 5000
    y = series(T, npix, 1)
    base = (np.arange(T) < 15).astype(np.uint8)
    z, c, m, s = get_kernel("zscore", "cpu")(np.ascontiguousarray(y.T), baseline=base, min_obs=3)
    hz = np.empty_like(y)
    hc, hm, hs = np.empty(npix, np.uint16), np.empty(npix, np.float32), np.empty(npix, np.float32)
    lib.host_zscore(ptr(y), T, ctypes.c_longlong(npix), ptr(base), 3, ptr(hz), ptr(hc), ptr(hm), ptr(hs))
    np.testing.assert_array_equal(z, hz.T)
    np.testing.assert_array_equal(c, hc)
    np.testing.assert_array_equal(m, hm)
    np.testing.assert_array_equal(s, hs)


def test_trend(lib: ctypes.CDLL) -> None:
    T, npix = 24, 5000
    y = series(T, npix, 2)
    y[:, 20:40] = np.float32(0.5)  # all ties: zero slope, S == 0
    tdays = (np.arange(T) * 16.0).astype(np.float32)
    tdays[5] = tdays[4]  # two observations on one day: pairs with dt == 0 are skipped
    sl, p, cl, n = get_kernel("trend", "cpu")(np.ascontiguousarray(y.T), tdays=tdays, min_obs=3, z_crit=1.96,
                                              per_year=365.25)
    hsl, hp = np.empty(npix, np.float32), np.empty(npix, np.float32)
    hcl, hn = np.empty(npix, np.uint8), np.empty(npix, np.uint16)
    lib.host_trend(ptr(y), T, ctypes.c_longlong(npix), ptr(tdays), 3, ctypes.c_double(1.96), ctypes.c_float(365.25),
                   ptr(hsl), ptr(hp), ptr(hcl), ptr(hn))
    np.testing.assert_array_equal(sl, hsl)
    np.testing.assert_array_equal(cl, hcl)
    np.testing.assert_array_equal(n, hn)
    np.testing.assert_allclose(p, hp, rtol=1e-6)


@pytest.mark.parametrize("roc", [0, 1])
def test_bfast(lib: ctypes.CDLL, roc: int) -> None:
    T, npix = 92, 3000
    y = series(T, npix, 3, gap=0.25)
    y[70:, ::2] -= 0.2
    ty = 2016.0 + np.arange(T) / 23.0
    X = bfast_design(ty, 3, True)
    logtab = np.log(np.maximum(np.arange(T + 1, dtype=np.float64), 1.0))
    lam, lam_roc = mosum_critical_value(0.25, 10, 0.05), rec_cusum_critical_value(0.05)
    kw = dict(design=X, tyear=ty, logtab=logtab, hist0=0, mon0=69, roc=bool(roc), hfrac=0.25, lam=lam, lam_roc=lam_roc)
    cpu = get_kernel("bfast_monitor", "cpu")(np.ascontiguousarray(y.T), **kw)
    host = (np.empty(npix, np.uint8), *(np.empty(npix, np.float32) for _ in range(3)),
            np.empty(npix, np.uint16), np.empty(npix, np.uint16))
    lib.host_bfast(ptr(y), T, ctypes.c_longlong(npix), ptr(X), X.shape[1], ptr(ty), ptr(logtab), 0, 69, roc,
                   ctypes.c_double(0.25), ctypes.c_double(lam), ctypes.c_double(lam_roc), *map(ptr, host))
    for c, h in zip(cpu, host, strict=True):
        np.testing.assert_array_equal(c, h)
    assert (cpu[0] == 1).sum() > 100 and (cpu[0] == 255).sum() >= 1


def test_bfast_model_size_limit_is_the_same_on_both_devices() -> None:
    """The CUDA kernel's fixed-size workspace and the Numba kernel's agree on the largest model."""
    import re

    from landpulse.backend.gpu.cuda import kernel_dir
    from landpulse.backend.ops.change import BFAST_MAX_K

    (cuda_value,) = re.findall(r"constexpr int BFAST_MAX_K = (\d+);", (kernel_dir() / "change.cuh").read_text())
    assert int(cuda_value) == BFAST_MAX_K
