"""The fused window kernel (``window_reduce``): raw bands in, one index masked and reduced over time.

References: the per-scene fused index kernel (``indices``, tested against its own references)
gives the ``(time, y, x)`` index stack of the same raw blocks; NumPy reduces it
(``np.nanmedian``, ``np.nanmax``, ``np.nanpercentile`` linear, ``np.isfinite(...).sum``). The
stacks are GENERATED (random DNs, classes and gaps), drawn by hypothesis.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from landpulse.backend.ops.window import percentile_of_sorted, window_inputs
from landpulse.backend.registry import get_kernel
from landpulse.products.indices import index_program

# Sentinel-2 SCL: 0 no data, 3 shadow, 8/9 cloud -> masked (code 1); the rest clear (code 0)
LUT = np.zeros(16, np.uint8)
LUT[[0, 1, 3, 8, 9, 10]] = 1
VALID = ((0.0, 1.0, 10000.0), (0.0, 1.0, 10000.0))  # nodata 0, raw range [1, 10000]: 65535 saturated


def _stack(seed: int, nt: int, ny: int, nx: int, gap: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    red = rng.integers(0, 6000, (nt, ny, nx)).astype(np.uint16)
    nir = rng.integers(0, 9000, (nt, ny, nx)).astype(np.uint16)
    nir[rng.random(nir.shape) < 0.05] = 65535  # saturated: invalid
    red[:, 0, 0] = 1000  # ties: the same value on every date of one pixel
    nir[:, 0, 0] = 3000
    scl = rng.choice(np.array([4, 5, 6, 8, 9, 3, 0], np.uint8), (nt, ny, nx),
                     p=[1 - gap, 0, 0, gap / 2, gap / 4, gap / 8, gap / 8])
    if ny > 1:
        scl[:, 1, 0] = 9  # a pixel cloudy on every date
    return red, nir, scl


def _reference_stack(red: np.ndarray, nir: np.ndarray, scl: np.ndarray, scale: np.ndarray,
                     lut: np.ndarray = LUT) -> np.ndarray:
    info = index_program(["ndvi"], with_mask=True)
    slots = {"R": red, "N": nir}
    out = get_kernel("indices", "cpu")(*(slots[s] for s in info.symbols), scl, *(scale for _ in info.symbols),
                                       *(0.0 for _ in info.symbols), program=info.program, valid=VALID,
                                       constants=info.constant_values, lut=lut)
    return out[0]


def _window(red: np.ndarray, nir: np.ndarray, scl: np.ndarray, scale: np.ndarray, method: str,
            q: float = 50.0, lut: np.ndarray = LUT) -> tuple[np.ndarray, np.ndarray]:
    info = index_program(["ndvi"], with_mask=True)
    program = dataclasses.replace(info.program, write_mask=False)
    slots = {"R": red, "N": nir}
    last = [np.moveaxis(a, 0, -1) for a in (*(slots[s] for s in info.symbols), scl)]  # (y, x, time), as apply_kernel
    return get_kernel("window_reduce", "cpu")(*last, *(scale for _ in info.symbols), *(0.0 for _ in info.symbols),
                                              program=program, method=method, q=q, valid=VALID,
                                              constants=info.constant_values, lut=lut)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), nt=st.integers(1, 40), ny=st.integers(2, 9), nx=st.integers(1, 23),
       gap=st.sampled_from([0.0, 0.3, 0.8, 1.0]), q=st.floats(0.0, 100.0))
def test_window_kernel_equals_numpy_reductions_of_the_index_stack(seed: int, nt: int, ny: int, nx: int, gap: float,
                                                                  q: float) -> None:
    red, nir, scl = _stack(seed, nt, ny, nx, gap)
    scale = np.linspace(1e-4, 2e-4, nt)  # a scale per date (radiometry applied per date)
    series = _reference_stack(red, nir, scl, scale)
    count = np.isfinite(series).sum(axis=0)
    with warnings.catch_warnings():  # all-NaN pixels: NaN, with a RuntimeWarning
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = {"median": np.nanmedian(series, axis=0), "max": np.nanmax(series, axis=0),
                    "percentile": np.nanpercentile(series, q, axis=0),
                    "count": np.full(series.shape[1:], np.nan, np.float32)}
    for method, want in expected.items():
        got, n = _window(red, nir, scl, scale, method, q)
        assert got.dtype == np.float32 and n.dtype == np.uint16 and got.shape == (ny, nx)
        np.testing.assert_array_equal(n, count, err_msg=method)
        np.testing.assert_array_equal(got, want.astype(np.float32), err_msg=f"{method} q={q}")


def _numpy_reductions(series: np.ndarray, q: float) -> dict[str, np.ndarray]:
    with warnings.catch_warnings():  # all-NaN pixels: NaN, with a RuntimeWarning
        warnings.simplefilter("ignore", RuntimeWarning)
        return {"median": np.nanmedian(series, axis=0), "max": np.nanmax(series, axis=0),
                "percentile": np.nanpercentile(series, q, axis=0)}


# Class bands of every kind: the clear-class bit test (integers of <= 16 bits, clear classes < 32)
# and the table lookup it replaces (a clear class at 40, a float band with non-integer values, a
# 32-bit band), negative values (never a class) included.
LUT_CLEAR_40 = np.ones(64, np.uint8)
LUT_CLEAR_40[[4, 5, 40]] = 0


@pytest.mark.parametrize(("dtype", "lut"), [(np.uint8, LUT), (np.int16, LUT), (np.uint16, LUT_CLEAR_40),
                                            (np.float32, LUT), (np.int32, LUT)])
@pytest.mark.parametrize("nt", [24, 73])
def test_window_kernel_on_wide_blocks_sorted_by_network_or_quickselect(
        monkeypatch: pytest.MonkeyPatch, dtype: type, lut: np.ndarray, nt: int) -> None:
    """Rows wider than a strip (700 px: strips of 512 or 336 and a partial one), windows of 24
    and 73 dates: the sorting network and the per-pixel quickselect give the same bits, equal to
    NumPy's reductions of the index stack."""
    import landpulse.backend.cpu.window as cpu_window

    red, nir, scl = _stack(nt, nt, 3, 700, 0.3)
    rng = np.random.default_rng(nt)
    drawn = [4, 5, 40, 8, 70] + ([-3] if np.dtype(dtype).kind in "if" else [])
    classes = rng.choice(np.array(drawn), scl.shape).astype(dtype)
    if dtype == np.float32:
        classes[rng.random(classes.shape) < 0.1] = np.float32(4.5)  # not a whole number: not a class
    scale = np.full(nt, 1e-4)
    series = _reference_stack(red, nir, classes, scale, lut)
    want = _numpy_reductions(series, 30.0)
    counts = np.isfinite(series).sum(axis=0)
    assert 0 < counts.mean() < nt  # masked and clear dates both present
    for method in ("median", "percentile", "max"):
        net, n = _window(red, nir, classes, scale, method, 30.0, lut)
        with monkeypatch.context() as m:
            m.setattr(cpu_window, "NETWORK_MAX_DATES", 0)  # every pixel by quickselect
            quick, n2 = _window(red, nir, classes, scale, method, 30.0, lut)
        np.testing.assert_array_equal(net.view(np.uint32), quick.view(np.uint32), err_msg=method)
        np.testing.assert_array_equal(n, counts)
        np.testing.assert_array_equal(n2, counts)
        np.testing.assert_array_equal(net, want[method].astype(np.float32), err_msg=method)


def test_clear_class_bits_only_where_every_clear_class_is_below_32() -> None:
    from landpulse.backend.cpu.window import clear_class_bits

    bits, usable = clear_class_bits(LUT, np.dtype(np.uint8))
    assert usable and int(bits) == sum(1 << c for c in range(16) if LUT[c] == 0)
    assert not clear_class_bits(LUT_CLEAR_40, np.dtype(np.uint16))[1]
    assert not clear_class_bits(LUT, np.dtype(np.float32))[1]
    assert not clear_class_bits(LUT, np.dtype(np.int32))[1]  # would wrap when cast to 32 bits


def test_window_kernel_edge_pixels() -> None:
    """Hand-worked: NDVI of (red, nir) = (1000, 3000) is 0.5 on every clear date; cloudy -> NaN."""
    red, nir, scl = _stack(7, 6, 3, 4, 0.0)
    scale = np.full(6, 1e-4)
    med, n = _window(red, nir, scl, scale, "median")
    assert n[0, 0] == 6 and med[0, 0] == np.float32(0.5)
    assert n[1, 0] == 0 and np.isnan(med[1, 0])
    hi, _ = _window(red, nir, scl, scale, "percentile", 100.0)
    lo, _ = _window(red, nir, scl, scale, "percentile", 0.0)
    mx, _ = _window(red, nir, scl, scale, "max")
    series = _reference_stack(red, nir, scl, scale)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        np.testing.assert_array_equal(hi, mx)
        np.testing.assert_array_equal(lo, np.nanmin(series, axis=0))


def test_window_kernel_refuses_bad_requests() -> None:
    red, nir, scl = _stack(1, 3, 2, 2, 0.0)
    with pytest.raises(ValueError, match="method must be one of"):
        _window(red, nir, scl, np.full(3, 1e-4), "mean")
    with pytest.raises(ValueError, match=r"percentile must be in \[0, 100\]"):
        _window(red, nir, scl, np.full(3, 1e-4), "percentile", 101.0)
    with pytest.raises(ValueError, match="2 values for 3 dates"):
        _window(red, nir, scl, np.full(2, 1e-4), "median")
    info = index_program(["ndvi", "ndwi"])
    with pytest.raises(ValueError, match="exactly one index"):
        window_inputs(info.program, (), method="median", q=50.0, valid=(), constants=(), lut=None, out_of_range="nan")


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), nt=st.integers(1, 30), q=st.floats(0.0, 100.0))
def test_the_gpu_entrys_percentile_arithmetic_equals_numpy(seed: int, nt: int, q: float) -> None:
    """The GPU entry's percentile (sort along time, then :func:`percentile_of_sorted`), run with
    NumPy: equal to ``np.nanpercentile`` of the same float32 stack (no GPU on this machine)."""
    rng = np.random.default_rng(seed)
    stack = rng.normal(0.3, 0.2, (nt, 5, 7)).astype(np.float32)
    stack[rng.random(stack.shape) < 0.4] = np.nan
    n = np.isfinite(stack).sum(axis=0)
    got = percentile_of_sorted(np, np.sort(stack, axis=0), n, q / 100.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        np.testing.assert_array_equal(got, np.nanpercentile(stack, q, axis=0).astype(np.float32))
