"""The one dispatch seam: xarray objects in, the right kernel per block, xarray objects out.

Device placement follows the data. Blocks that live on the GPU (CuPy) run the GPU kernel, blocks
on the host (NumPy) run the CPU kernel. Data is *moved* only here, explicitly: when the backend
option resolves to ``gpu`` and the inputs are on the host, they are moved to the device, the
kernel runs there, and the results are moved back so the caller gets what it gave. Pipelines
that keep data on the device move it once with :func:`to_device` and never come back until the
products are written.

Dask graphs over CuPy chunks keep a CuPy ``meta``; a missing meta is the classic cause of silent
host copies in other projects.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import dask.array as dsa
import numpy as np
import xarray as xr

from landpulse.backend.device import Device, cupy_module, resolve_device
from landpulse.backend.grid import GRID_TOLERANCE, grid_offset, pixel_step
from landpulse.backend.oom_recovery import run_gpu_block
from landpulse.backend.registry import get_kernel, is_splittable
from landpulse.backend.transfers import is_cupy_array, to_device_array, to_host_array
from landpulse.errors import GridMismatchError, InputError

XarrayT = TypeVar("XarrayT", xr.DataArray, xr.Dataset)


def is_device_array(x: Any) -> bool:
    """True for a CuPy array, or a Dask array whose chunks are CuPy arrays."""
    return is_cupy_array(x._meta if isinstance(x, dsa.Array) else x)


def array_module(x: Any) -> Any:
    """``numpy`` or ``cupy``, whichever the array (or its Dask chunks) belongs to."""
    return cupy_module() if is_device_array(x) else np


def block_device(x: Any) -> Device:
    """Where the blocks of ``x`` live: ``'gpu'`` or ``'cpu'``."""
    return "gpu" if is_device_array(x) else "cpu"


def _move(data: Any, to: Device) -> Any:
    if to == "gpu":
        cp = cupy_module()
        if isinstance(data, dsa.Array):
            # dask's Array.map_blocks is @wraps(map_blocks): its stub is an unbound _Wrapped (self not bound)
            return data.map_blocks(  # type: ignore[call-arg]
                to_device_array, meta=cp.empty((0,) * data.ndim, dtype=data.dtype))  # type: ignore[arg-type]
        return to_device_array(data)
    if isinstance(data, dsa.Array):
        return data.map_blocks(  # type: ignore[call-arg]  # (as above)
            to_host_array, meta=np.empty((0,) * data.ndim, dtype=data.dtype))  # type: ignore[arg-type]
    return to_host_array(data)


def _map_variables(obj: XarrayT, to: Device) -> XarrayT:
    def move_da(da: xr.DataArray) -> xr.DataArray:
        if block_device(da.data) == to or da.ndim < 2:
            return da
        return da.copy(data=_move(da.data, to))

    if isinstance(obj, xr.DataArray):
        return move_da(obj)
    return obj.map(move_da, keep_attrs=True)


def to_device(obj: XarrayT) -> XarrayT:
    """Move the image variables of ``obj`` (2-D and up) to the GPU; lazy for Dask-backed data.

    Coordinates and 0-/1-D variables (per-date scale and offset, for example) stay on the host.

    Raises
    ------
    BackendUnavailableError
        When CuPy is not installed.
    """
    cupy_module()
    return _map_variables(obj, "gpu")


def to_host(obj: XarrayT) -> XarrayT:
    """Move the image variables of ``obj`` back to host memory (NumPy); lazy for Dask data."""
    return _map_variables(obj, "cpu")


def _run_block(*blocks: Any, op: str, kwargs: Mapping[str, Any]) -> Any:
    """Called once per block (or once for in-memory data): pick the kernel by the block's device.

    GPU blocks survive out-of-memory (free, split, CPU fallback: see :mod:`.faults`).
    """
    device = block_device(blocks[0])
    if device == "cpu":
        return get_kernel(op, "cpu")(*blocks, **kwargs)
    cp = cupy_module()
    return run_gpu_block(
        get_kernel(op, "gpu"), blocks, dict(kwargs), splittable=is_splittable(op),
        free_memory=cp.get_default_memory_pool().free_all_blocks, concatenate=cp.concatenate,
        cpu_kernel=get_kernel(op, "cpu"), to_host=to_host_array, to_device=to_device_array, op=op,
    )


def spatial_dims(da: xr.DataArray) -> tuple[str, str]:
    """Names of the (y, x) dimensions: rioxarray's view of them, else 'y'/'x' or 'lat'/'lon'."""
    for y, x in (("y", "x"), ("lat", "lon"), ("latitude", "longitude")):
        if y in da.dims and x in da.dims:
            return y, x
    try:
        return da.rio.y_dim, da.rio.x_dim
    except Exception as err:  # rioxarray raises its own MissingSpatialDimensionError
        raise GridMismatchError(
            f"{da.name or 'array'} has dimensions {da.dims}; landpulse needs two spatial "
            "dimensions named y/x (or lat/lon)"
        ) from err


def check_same_grid(arrays: Sequence[xr.DataArray], names: Sequence[str]) -> None:
    """Raise :class:`GridMismatchError` unless all arrays share CRS, shape and coordinates.

    Coordinates match when they agree within :data:`landpulse.backend.grid.GRID_TOLERANCE` of the
    pixel size (never a tolerance relative to the coordinate's magnitude). xarray would otherwise
    align them with an inner join and silently shrink the result, or fail with its own error.
    """
    ref, ref_name = arrays[0], names[0]
    ydim, xdim = spatial_dims(ref)
    for da, name in zip(arrays[1:], names[1:], strict=True):
        if spatial_dims(da) != (ydim, xdim):
            raise GridMismatchError(f"{name} and {ref_name} use different spatial dimension names")
        for dim in (ydim, xdim):
            a, b = ref[dim].values, da[dim].values
            if a.shape != b.shape:
                raise GridMismatchError(
                    f"{name} and {ref_name} are on different grids along {dim!r} "
                    f"({b.size} vs {a.size} pixels); resample them to one grid first"
                )
            offset = grid_offset(a, b)
            if offset > GRID_TOLERANCE:
                raise GridMismatchError(
                    f"{name} and {ref_name} are on different grids along {dim!r}: {name} starts at {float(b[0])!r}, "
                    f"{ref_name} at {float(a[0])!r} (pixel {pixel_step(a):g}), {offset:.3g} pixel apart "
                    f"(one grid allows {GRID_TOLERANCE} pixel); resample them to one grid first"
                )
        crs_a, crs_b = _crs_or_none(ref), _crs_or_none(da)
        if crs_a is not None and crs_b is not None and crs_a != crs_b:
            raise GridMismatchError(f"{name} is in {crs_b} but {ref_name} is in {crs_a}")


def check_image(da: xr.DataArray, name: str, ydim: str, xdim: str) -> None:
    """Refuse an image input the kernels cannot take, naming it: a dtype that is not boolean,
    integer or float, a dimension of size 0, spatial coordinates that are not finite or not strictly
    monotonic (a grid needs both), or one spatial dimension without the other.

    Raises
    ------
    InputError
        For the dtype, an empty dimension or a lone spatial dimension.
    GridMismatchError
        For spatial coordinates with NaN/inf, or out of order.
    """
    if (ydim in da.dims) != (xdim in da.dims):
        raise InputError(f"{name} has dimensions {da.dims}: an image needs both {ydim!r} and {xdim!r}")
    if ydim not in da.dims:
        return  # a per-date parameter (scale, offset), not an image
    if da.dtype.kind not in "biuf":
        raise InputError(f"{name} holds {da.dtype} values: imagery is boolean, integer or float")
    for dim, n in da.sizes.items():
        if n == 0:
            raise InputError(f"{name} has no pixels: dimension {dim!r} has size 0")
    for dim in (ydim, xdim):
        if dim not in da.coords:
            continue
        v = np.asarray(da[dim].values)
        if v.dtype.kind not in "iuf":
            continue
        if not np.isfinite(v).all():
            raise GridMismatchError(f"coordinate {dim!r} of {name} has NaN or infinite values: not a grid")
        step = np.diff(v.astype(np.float64))
        if v.size > 1 and not ((step > 0).all() or (step < 0).all()):
            raise GridMismatchError(f"coordinate {dim!r} of {name} is not strictly monotonic: not a grid")


def on_one_grid(arrays: Sequence[xr.DataArray], names: Sequence[str]) -> list[xr.DataArray]:
    """:func:`check_same_grid`, then the arrays with the first one's spatial coordinates.

    Grids within the tolerance are one grid: giving them one set of coordinates lets xarray's exact
    alignment see them as such.
    """
    check_same_grid(arrays, names)
    ref = arrays[0]
    ydim, xdim = spatial_dims(ref)
    return [arrays[0]] + [a.assign_coords({ydim: ref[ydim].variable, xdim: ref[xdim].variable}) for a in arrays[1:]]


def _crs_or_none(da: xr.DataArray) -> Any:
    try:
        return da.rio.crs
    except Exception:
        return None


def apply_kernel(
    op: str,
    *inputs: xr.DataArray | float,
    kwargs: Mapping[str, Any] | None = None,
    output_dtypes: Sequence[Any] = (np.float32,),
    device: Device | None = None,
    core_dims: Sequence[Sequence[str]] | None = None,
    output_core_dims: Sequence[Sequence[str]] | None = None,
) -> xr.DataArray | tuple[xr.DataArray, ...]:
    """Run registered kernel ``op`` over xarray inputs, block by block, on the data's device.

    Pixel-wise kernels see every input as ``(..., y, x)``. Kernels that reduce or produce along
    other dimensions (time series: ``time``; stacks of bands: ``band``) name them in
    ``core_dims``: each block then holds those dimensions whole, *last*, as in
    :func:`xarray.apply_ufunc` (``(..., y, x, time)``), and every pixel of the block is a
    complete series. Core dimensions must be one chunk each (see
    :func:`landpulse.backend.chunking.time_contiguous`); the spatial dimensions may be chunked.

    Parameters
    ----------
    op : str
        Kernel name in the registry.
    *inputs : xarray.DataArray or float
        Image arrays (with the two spatial dimensions) and per-slice parameters (for example a
        scale per date, a DataArray over ``time``); they broadcast against each other. Image
        arrays must share one grid (checked; never joined).
    kwargs : mapping, optional
        Keyword scalars passed unchanged to the kernel.
    output_dtypes : sequence of dtype
        One dtype per kernel output; a tuple of DataArrays is returned when there are several.
    device : {'cpu', 'gpu'}, optional
        Force the device; by default the data's device, or the backend option for host data.
    core_dims : sequence of sequence of str, optional
        One list per input (``[]`` for scalars): the dimensions the kernel consumes whole.
    output_core_dims : sequence of sequence of str, optional
        One list per output: dimensions the kernel returns besides the pixel dimensions (an
        input core dimension of the same size, for example a z-score per date).

    Returns
    -------
    xarray.DataArray or tuple of xarray.DataArray
        Lazy (Dask) when any input is Dask-backed; on the same device as the inputs; core output
        dimensions first, then ``(y, x)``.

    Raises
    ------
    InputError
        When a core dimension is split over several Dask chunks.

    Notes
    -----
    float16 inputs are widened to float32 before any kernel sees them: kernels read and
    accumulate in float32 or float64, never in half precision.
    """
    kwargs = dict(kwargs or {})
    in_core = [list(c) for c in core_dims] if core_dims is not None else [[] for _ in inputs]
    out_core = [list(c) for c in output_core_dims] if output_core_dims is not None else [[] for _ in output_dtypes]
    if len(in_core) != len(inputs) or len(out_core) != len(output_dtypes):
        raise ValueError("apply_kernel: core_dims needs one entry per input, output_core_dims one per output")
    images = [a for a in inputs if isinstance(a, xr.DataArray) and a.ndim >= 2]
    if not images:
        raise ValueError("apply_kernel needs at least one image (2-D or more) input")
    ydim0, xdim0 = spatial_dims(images[0])
    for a in inputs:
        if isinstance(a, xr.DataArray):
            check_image(a, str(a.name or "an input"), ydim0, xdim0)
    aligned = dict(zip(map(id, images), on_one_grid(images, [str(a.name) for a in images]), strict=True))
    inputs = tuple(aligned.get(id(a), a) for a in inputs)
    ydim, xdim = spatial_dims(images[0])

    on_gpu = any(is_device_array(a.data) for a in images)
    target: Device = device or ("gpu" if on_gpu else resolve_device())
    moved = target == "gpu" and not on_gpu
    prepared: list[Any] = []
    for a, cdims in zip(inputs, in_core, strict=True):
        if isinstance(a, xr.DataArray):
            for d in cdims:
                if d not in a.dims:
                    raise ValueError(f"apply_kernel({op!r}): {a.name or 'input'} has no dimension {d!r}")
                # a.chunks is None only for in-memory data, and it is read only for Dask-backed data
                if isinstance(a.data, dsa.Array) and len(a.chunks[a.get_axis_num(d)]) > 1:  # type: ignore[index]
                    raise InputError(
                        f"{op}: dimension {d!r} of {a.name or 'the input'} is split over "
                        f"{len(a.chunks[a.get_axis_num(d)])} chunks, "  # type: ignore[index]
                        "but the kernel needs it whole; "
                        "rechunk it with landpulse.backend.chunking.time_contiguous(...)"
                    )
        if isinstance(a, xr.DataArray) and a.dtype == np.float16:
            # half precision never reaches a kernel: widened here, so every kernel reads and
            # accumulates in float32/float64 (Numba has no float16, and an 11-bit accumulator
            # loses the third digit of a sum of a few hundred reflectances)
            a = a.astype(np.float32)
        if isinstance(a, xr.DataArray) and a.ndim >= 2:
            a = a.transpose(..., ydim, xdim)
            if moved:
                a = to_device(a)
            elif target == "cpu" and is_device_array(a.data):
                a = to_host(a)
        prepared.append(a)

    is_dask = any(isinstance(a.data, dsa.Array) for a in prepared if isinstance(a, xr.DataArray))
    xp = cupy_module() if target == "gpu" else np
    all_core = set().union(*map(set, in_core)) if in_core else set()
    loop_ndim = len(set().union(*(a.dims for a in prepared if isinstance(a, xr.DataArray))) - all_core)
    metas = [xp.empty((0,) * (loop_ndim + len(oc)), dtype=dt) for dt, oc in zip(output_dtypes, out_core, strict=True)]
    n_out = len(output_dtypes)
    gufunc_kwargs: dict[str, Any] = {}
    if is_dask:
        gufunc_kwargs["meta"] = metas[0] if n_out == 1 else tuple(metas)
    result = xr.apply_ufunc(
        functools.partial(_run_block, op=op, kwargs=kwargs),
        *prepared,
        dask="parallelized",
        output_dtypes=None if is_dask else list(output_dtypes),
        input_core_dims=in_core,
        output_core_dims=out_core,
        dask_gufunc_kwargs=gufunc_kwargs,
        join="exact",
        keep_attrs=False,
    )
    outputs = result if isinstance(result, tuple) else (result,)
    outputs = tuple(o.transpose(..., ydim, xdim) for o in outputs)
    if moved:
        outputs = tuple(to_host(o) for o in outputs)
    return outputs if n_out > 1 else outputs[0]
