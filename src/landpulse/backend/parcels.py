"""Parcel coverage weights (built once per grid and parcel set) and their per-date reduction.

The coverage matrix is a CSR matrix ``(n_parcels, ny * nx)`` of float64 weights: the exact
fraction of each pixel's area inside the parcel (exactextract's definition), or 1 for the pixels
whose centre lies inside (``centre``) or that the parcel touches (``all_touched``). It is built on
the host by the Numba kernel ``parcel_coverage`` and reused for every date, band and product on
the same grid (a host kernel for every device). Statistics go through the dispatch seam by where the values live: NumPy values run
the Numba kernel, CuPy values the CuPy twin (the matrix is copied to the device once).

Pixel values are reduced per date over the whole grid, so a parcel that crosses chunk edges is
reduced from all its pixels at once: nothing is combined from partial results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import dask
import dask.array as dsa
import numpy as np
import shapely

from landpulse.backend.device import cupy_module
from landpulse.backend.registry import get_kernel
from landpulse.backend.transfers import is_cupy_array
from landpulse.errors import InputError

CoverageMode = Literal["exact", "centre", "all_touched"]
MODES: dict[str, int] = {"exact": 0, "centre": 1, "all_touched": 2}

#: The columns of a statistics array, before the quantiles.
STAT_FIELDS = ("count", "masked", "weight_valid", "weight_total", "mean", "std", "min", "max")


@dataclass(frozen=True)
class CoverageWeights:
    """A parcels x pixels coverage matrix in CSR form.

    Attributes
    ----------
    indptr : numpy.ndarray
        int64 ``(n_parcels + 1,)``.
    indices : numpy.ndarray
        int64 ``(nnz,)`` pixel indices ``row * nx + col`` of the grid.
    weights : numpy.ndarray
        float64 ``(nnz,)`` in ``(0, 1]``: covered fraction of the pixel (``exact``) or 1.
    shape : (int, int)
        The grid ``(ny, nx)``.
    mode : str
        ``exact``, ``centre`` or ``all_touched``.
    """

    indptr: np.ndarray
    indices: np.ndarray
    weights: np.ndarray
    shape: tuple[int, int]
    mode: str
    _device: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def n_parcels(self) -> int:
        """Number of parcels (rows)."""
        return int(self.indptr.shape[0]) - 1

    @property
    def nnz(self) -> int:
        """Number of stored (parcel, pixel) weights."""
        return int(self.indices.shape[0])

    @property
    def nbytes(self) -> int:
        """Host memory of the matrix in bytes."""
        return int(self.indptr.nbytes + self.indices.nbytes + self.weights.nbytes)

    def to_scipy(self) -> Any:
        """The matrix as a ``scipy.sparse.csr_array`` (SciPy imported here, on request)."""
        import scipy.sparse  # optional: only this conversion needs SciPy

        return scipy.sparse.csr_array((self.weights, self.indices, self.indptr),
                                      shape=(self.n_parcels, self.shape[0] * self.shape[1]))

    def on_device(self) -> tuple[Any, Any, Any]:
        """The three CSR arrays as CuPy arrays, copied once and kept."""
        if "csr" not in self._device:
            cp = cupy_module()
            self._device["csr"] = (cp.asarray(self.indptr), cp.asarray(self.indices), cp.asarray(self.weights))
        return self._device["csr"]


def rings_in_pixel_space(geoms: Sequence[Any] | np.ndarray, transform: Sequence[float]
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Flatten (multi)polygons into rings in pixel coordinates.

    Parameters
    ----------
    geoms : sequence of shapely geometries
        Polygons or multipolygons in the grid's CRS; ``None`` and empty geometries give a parcel
        with no rings.
    transform : sequence of six floats
        The grid's affine transform ``(a, b, c, d, e, f)``: ``x = a col + b row + c``,
        ``y = d col + e row + f`` (rasterio's ``Affine`` order).

    Returns
    -------
    (coords, ring_offsets, ring_is_hole, parcel_rings)
        float64 ``(n, 2)`` (column, row), int64 ``(n_rings + 1,)``, bool ``(n_rings,)``,
        int64 ``(n_parcels + 1,)``.

    Raises
    ------
    InputError
        For a geometry that is neither a polygon nor a multipolygon, or a singular transform.
    """
    arr = np.asarray(geoms, dtype=object)
    arr = np.array([shapely.Polygon() if g is None else g for g in arr], dtype=object)
    kinds = shapely.get_type_id(arr)
    bad = ~np.isin(kinds, (3, 6))  # Polygon, MultiPolygon
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"parcel {i} is a {shapely.get_type_id(arr[i])!r}-type geometry "
                         f"({arr[i].geom_type}); parcels must be polygons or multipolygons")
    a, b, c, d, e, f = (float(v) for v in list(transform)[:6])
    det = a * e - b * d
    if det == 0 or not np.isfinite(det):
        raise InputError(f"the grid's transform {tuple(transform)[:6]} is singular")
    n = arr.shape[0]
    if n == 0:
        return np.zeros((0, 2)), np.zeros(1, np.int64), np.zeros(0, bool), np.zeros(1, np.int64)
    # a mix of polygons and multipolygons comes back as multipolygons (empties as empty rows)
    _, coords, offsets = shapely.to_ragged_array(
        np.where(shapely.is_empty(arr), shapely.MultiPolygon(), arr), include_z=False)
    if len(offsets) == 2:  # polygons only
        ring_off, poly_off = offsets
        mp_off = np.arange(n + 1, dtype=np.int64)
    else:
        ring_off, poly_off, mp_off = offsets
    xy = np.asarray(coords, dtype=np.float64)
    x = xy[:, 0] - c
    y = xy[:, 1] - f
    px = np.empty_like(xy)
    px[:, 0] = (e * x - b * y) / det
    px[:, 1] = (-d * x + a * y) / det
    n_rings = ring_off.shape[0] - 1
    hole = np.ones(n_rings, bool)
    hole[poly_off[:-1][np.diff(poly_off) > 0]] = False
    parcel_rings = np.asarray(poly_off, np.int64)[np.asarray(mp_off, np.int64)]
    return px, np.asarray(ring_off, np.int64), hole, parcel_rings


def coverage_weights(geoms: Sequence[Any] | np.ndarray, transform: Sequence[float], shape: tuple[int, int],
                     mode: CoverageMode = "exact") -> CoverageWeights:
    """Build the coverage matrix of ``geoms`` on the grid ``(transform, shape)``.

    Parameters
    ----------
    geoms : sequence of shapely (multi)polygons
        In the grid's CRS (reproject the parcels, never the raster). Each parcel is covered on its
        own: overlapping parcels share pixels, holes are excluded, slivers smaller than a pixel get
        their fraction.
    transform : sequence of six floats
        The grid's affine transform.
    shape : (int, int)
        ``(ny, nx)``.
    mode : {'exact', 'centre', 'all_touched'}

    Returns
    -------
    CoverageWeights
    """
    if mode not in MODES:
        raise InputError(f"coverage mode {mode!r} is not one of {sorted(MODES)}")
    # the coverage kernel runs on the host for every device (imported here: the CPU leaf loads Numba)
    from landpulse.backend.cpu.parcels import parcel_coverage

    coords, ring_off, hole, parcel_rings = rings_in_pixel_space(geoms, transform)
    indptr, indices, weights = parcel_coverage(coords, ring_off, hole, parcel_rings, shape=(int(shape[0]), int(shape[1])),
                                      mode=MODES[mode])
    return CoverageWeights(indptr, indices, weights, (int(shape[0]), int(shape[1])), mode)


def _stats_block(block: Any, cw: CoverageWeights, quantiles: np.ndarray) -> Any:
    flat = block.reshape(block.shape[0], -1)
    if is_cupy_array(block):
        indptr, indices, weights = cw.on_device()
        return get_kernel("parcel_stats", "gpu")(flat, indptr, indices, weights, quantiles=quantiles)
    return get_kernel("parcel_stats", "cpu")(flat, cw.indptr, cw.indices, cw.weights, quantiles=quantiles)


def parcel_statistics(values: Any, cw: CoverageWeights, quantiles: Sequence[float] = ()) -> np.ndarray:
    """Weighted statistics of every parcel on every date of ``values``.

    Parameters
    ----------
    values : numpy, cupy or dask array
        ``(n_dates, ny, nx)`` or ``(ny, nx)`` floating values on the matrix's grid; NaN marks a
        masked or missing pixel. A Dask array is reduced date block by date block (each block
        whole in y and x), in parallel.
    cw : CoverageWeights
    quantiles : sequence of float
        In ``[0, 1]`` (0.5 is the weighted median).

    Returns
    -------
    numpy.ndarray
        float64 ``(n_parcels, n_dates, len(STAT_FIELDS) + n_q)`` on the host (see
        :data:`STAT_FIELDS`; NaN statistics where a parcel has no valid pixel on a date).
    """
    qs = np.asarray(quantiles, dtype=np.float64).reshape(-1)
    if qs.size and (np.any(qs < 0) or np.any(qs > 1) or np.any(~np.isfinite(qs))):
        raise InputError(f"quantiles must lie in [0, 1], got {qs.tolist()}")
    squeeze = values.ndim == 2
    data = values[None] if squeeze else values
    if data.ndim != 3 or tuple(data.shape[1:]) != cw.shape:
        raise InputError(f"values of shape {tuple(values.shape)} are not on the weights' grid {cw.shape}")
    if not np.issubdtype(np.dtype(data.dtype), np.floating):
        raise InputError(f"parcel statistics need floating values (NaN as nodata), got {data.dtype}")
    if isinstance(data, dsa.Array):
        data = data.rechunk({1: -1, 2: -1})
        tasks = [dask.delayed(_stats_block)(blk, cw, qs) for blk in data.to_delayed().ravel()]
        parts = dask.compute(*tasks)
        parts = [p.get() if is_cupy_array(p) else p for p in parts]
        out = np.concatenate(parts, axis=1) if parts else np.zeros((cw.n_parcels, 0, len(STAT_FIELDS) + qs.size))
    else:
        res = _stats_block(data, cw, qs)
        out = res.get() if is_cupy_array(res) else res
    return np.asarray(out)
