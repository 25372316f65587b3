"""RELIABILITY.md, numerics: reductions accumulate in float32 or float64, never float16.

Two checks. (1) Float16 inputs through every reducing product give the float64 reference computed
from the same (float16-representable) values, to float32 precision: a float16 accumulator over a few
hundred dates would be off by ~1e-2 (float16 has 11 significant bits; a sum near 200 is rounded to
0.125). (2) At the dispatch seam, no kernel hands back a float16 array, and no CUDA or Numba source
names a half-precision type.

Generated data: random values (seeded), not imagery.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import landpulse
from landpulse import change
from landpulse.backend import dispatch
from tests.support import REPO

N_DATES = 400


@pytest.fixture
def kernel_dtypes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, str]]]:
    """Every (kernel, output dtype) that passes through the dispatch seam while the test runs."""
    seen: list[tuple[str, str]] = []
    real = dispatch.get_kernel

    def recording(op: str, device: Any) -> Any:
        kernel = real(op, device)

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            out = kernel(*args, **kwargs)
            for o in out if isinstance(out, tuple) else (out,):
                seen.append((op, str(getattr(o, "dtype", type(o).__name__))))
            return out
        return wrapped

    monkeypatch.setattr(dispatch, "get_kernel", recording)
    yield seen


def _stack(values: np.ndarray) -> xr.DataArray:
    t = pd.date_range("2000-01-01", periods=values.shape[0], freq="7D")
    return xr.DataArray(values, dims=("time", "y", "x"), coords={"time": t, "y": np.arange(values.shape[1]) * -10.0,
                                                                  "x": np.arange(values.shape[2]) * 10.0}, name="ndvi")


def _half(shape: tuple[int, ...], lo: float, hi: float, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).uniform(lo, hi, shape).astype(np.float16)
    v[3, 0, 0] = np.nan  # a missing observation
    return v


def test_zscore_baseline_statistics_accumulate_beyond_float16(kernel_dtypes: list[tuple[str, str]]) -> None:
    y16 = _half((N_DATES + 1, 3, 4), 0.60, 0.80)
    out = change.zscore_anomaly(_stack(y16), baseline_end=_stack(y16).time.values[-1]).compute()
    base = y16[:-1].astype(np.float64)
    mean, std = np.nanmean(base, axis=0), np.nanstd(base, axis=0, ddof=1)
    np.testing.assert_allclose(out["baseline_mean"].values, mean, rtol=2e-7)
    np.testing.assert_allclose(out["baseline_std"].values, std, rtol=1e-5)
    np.testing.assert_allclose(out["zscore"].values[0], (y16[-1] - mean) / std, rtol=1e-5)
    # the naive float16 running sum the test must tell apart from (proof that it could fail)
    acc = np.float16(0)
    for v in y16[:-1, 1, 1]:
        acc = np.float16(acc + v)
    assert abs(float(acc) / N_DATES - mean[1, 1]) > 1e-3
    assert kernel_dtypes and all(dt != "float16" for _, dt in kernel_dtypes), kernel_dtypes


def test_median_composite_and_theil_sen_of_float16_stacks(kernel_dtypes: list[tuple[str, str]]) -> None:
    y16 = _half((60, 3, 4), 0.1, 0.9, seed=1)
    med = change.composite(_stack(y16), "median").compute()
    np.testing.assert_allclose(med["ndvi"].values, np.nanmedian(y16.astype(np.float64), axis=0), rtol=1e-7)
    np.testing.assert_array_equal(med["n_obs"].values, np.isfinite(y16).sum(axis=0))
    trend = change.theil_sen(_stack(y16)).compute()
    t = (_stack(y16).time.values - _stack(y16).time.values[0]) / np.timedelta64(1, "D") / 365.25
    p = (0, 1)  # a pixel with every date valid
    v = y16[:, p[0], p[1]].astype(np.float64)
    i, j = np.triu_indices(len(v), 1)
    np.testing.assert_allclose(trend["slope"].values[p], np.median((v[j] - v[i]) / (t[j] - t[i])), rtol=1e-4)
    assert kernel_dtypes and all(dt != "float16" for _, dt in kernel_dtypes), kernel_dtypes


def test_index_of_float16_reflectance_is_float32_maths() -> None:
    rng = np.random.default_rng(2)
    red = rng.uniform(0.01, 0.3, (1, 5, 6)).astype(np.float16)
    nir = rng.uniform(0.05, 0.6, (1, 5, 6)).astype(np.float16)
    ds = xr.Dataset({"red": _stack(red), "nir": _stack(nir)})
    for v in ds.data_vars:
        ds[v].attrs["landpulse_radiometry"] = "reflectance"
    out = landpulse.ndvi(ds).compute()
    assert out.dtype == np.float32
    r, n = red.astype(np.float64), nir.astype(np.float64)
    np.testing.assert_allclose(out.values, (n - r) / (n + r), rtol=1e-6, atol=1e-7)


def test_no_kernel_source_names_a_half_precision_type() -> None:
    cuda = sorted((REPO / "kernels").glob("*.cu*"))
    python = sorted((REPO / "src/landpulse/backend").rglob("*.py"))
    assert len(cuda) >= 6 and len(python) > 10
    patterns = {".cu": re.compile(r"\b(__half2?|half2?|__nv_bfloat16|cuda_fp16)\b"),
                ".cuh": re.compile(r"\b(__half2?|half2?|__nv_bfloat16|cuda_fp16)\b"),
                ".py": re.compile(r"\bfloat16\b|\bnp\.half\b|[\"']f2[\"']")}
    found = []
    for path in cuda + python:
        # comments and docstrings say "half-width"; the one float16 allowed is the widening in dispatch
        code = re.sub(r"//.*|#.*|\"\"\"[\s\S]*?\"\"\"", "", path.read_text())
        code = code.replace("a.dtype == np.float16", "") if path.name == "dispatch.py" else code
        found += [f"{path.name}: {m.group(0)}" for m in patterns[path.suffix].finditer(code)]
    assert found == []
