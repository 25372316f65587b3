"""Neighbourhood operations through the dispatch seam: halos, so chunking never changes results.

:func:`apply_overlap_kernel` runs a registered kernel on each block *with a halo* of ``depth``
pixels borrowed from its neighbours (``dask.array.map_overlap``; no padding at the array edges,
so the edge of the image is treated as "nothing beyond"), then trims the halo: a kernel that
looks at most ``depth`` pixels away gives the same result whatever the chunking. In-memory
arrays are processed whole. Device placement follows :func:`landpulse.backend.apply_kernel`.

:func:`disc_spans` turns a radius in metres into the pixel disc the mask kernels use, for any
(also non-square) pixel size.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import Any

import dask.array as dsa
import numpy as np
import xarray as xr

from landpulse.backend.device import Device, cupy_module, resolve_device
from landpulse.backend.dispatch import _run_block, is_device_array, spatial_dims, to_device, to_host


def disc_spans(radius_m: float, res_y: float, res_x: float) -> np.ndarray:
    """Half-widths (in columns) of the rows of a disc of ``radius_m`` metres, centre row first.

    Pixel ``(dy, dx)`` lies in the disc when ``(dy * res_y)**2 + (dx * res_x)**2 <= radius_m**2``
    (distance between pixel centres). Returns ``int32[ry + 1]`` with ``ry = floor(radius_m / res_y)``.

    Raises
    ------
    ValueError
        For a negative radius or a non-positive pixel size.
    """
    if not radius_m >= 0 or not math.isfinite(radius_m):
        raise ValueError(f"buffer radius must be a finite number of metres >= 0; got {radius_m}")
    if not (res_y > 0 and res_x > 0):
        raise ValueError(f"pixel size must be positive; got {res_y} x {res_x}")
    eps = 1e-9 * max(1.0, radius_m)
    ry = int(math.floor(radius_m / res_y + 1e-9))
    spans = []
    for k in range(ry + 1):
        rest = radius_m * radius_m - (k * res_y) ** 2
        spans.append(int(math.floor(math.sqrt(max(rest, 0.0)) / res_x + eps / res_x)))
    return np.asarray(spans, np.int32)


def apply_overlap_kernel(
    op: str,
    image: xr.DataArray,
    *,
    depth: tuple[int, int],
    kwargs: Mapping[str, Any] | None = None,
    output_dtype: Any = np.uint8,
    device: Device | None = None,
) -> xr.DataArray:
    """Run kernel ``op`` on ``image`` block by block with a ``(y, x)`` halo of ``depth`` pixels.

    Parameters
    ----------
    op : str
        Registered kernel taking one block ``(..., y, x)`` and returning one array of that shape.
    image : xarray.DataArray
        Input with two spatial dimensions.
    depth : (int, int)
        Halo in pixels along y and x: the farthest the kernel looks.
    kwargs : mapping, optional
        Keyword arguments of the kernel.
    output_dtype : dtype
    device : {'cpu', 'gpu'}, optional
        Force the device (default: the data's, or the backend option for host data).

    Returns
    -------
    xarray.DataArray
        Same dimensions and coordinates as ``image``; lazy when ``image`` is; no attributes.
    """
    kwargs = dict(kwargs or {})
    ydim, xdim = spatial_dims(image)
    da = image.transpose(..., ydim, xdim)
    on_gpu = is_device_array(da.data)
    target: Device = device or ("gpu" if on_gpu else resolve_device())
    moved = target == "gpu" and not on_gpu
    if moved:
        da = to_device(da)
    elif target == "cpu" and on_gpu:
        da = to_host(da)
    func = functools.partial(_run_block, op=op, kwargs=kwargs)
    data = da.data
    if isinstance(data, dsa.Array):
        xp = cupy_module() if target == "gpu" else np
        dy, dx = (int(d) for d in depth)
        depths = {ax: 0 for ax in range(data.ndim)}
        depths[data.ndim - 2], depths[data.ndim - 1] = dy, dx
        out = data.map_overlap(func, depth=depths, boundary="none", trim=True, dtype=np.dtype(output_dtype),
                               meta=xp.empty((0,) * data.ndim, dtype=output_dtype))
    else:
        out = func(data)
    result = xr.DataArray(out, dims=da.dims, coords=da.coords, name=None)
    if moved:
        result = to_host(result)
    return result.transpose(*image.dims)
