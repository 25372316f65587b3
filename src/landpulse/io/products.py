"""Writing and reading products: Zarr v3, checksummed chunks, CRS and attributes preserved.

Encodings (chosen per product kind):

``int16`` (default for indices)
    value / 1e-4 rounded to int16, nodata -32768, CF ``scale_factor``: half the bytes of
    float32 and far better compression; the convention of MODIS/Landsat index products.
``float32``
    the kernel's values exactly, NaN where invalid.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np
import xarray as xr
import zarr

from landpulse.backend.storage import Packing, write_blocks
from landpulse.errors import InputError, NotAZarrStoreError
from landpulse.io.manifest_store import ManifestStore
from landpulse.io.store import DEFAULT_CLEVEL, PathLike, is_zarr_store, quiet_consolidation, write_zarr, zarr_encoding

if TYPE_CHECKING:
    from landpulse.backend.storage import BlocksWritten

Encoding = Literal["int16", "float32"]

INDEX_SCALE = 1e-4
INT16_NODATA = -32768


def _fits_int16(var: xr.DataArray) -> bool:
    """True unless the variable's declared valid range overflows int16 x 1e-4 (|value| > 3.2767)."""
    vr = var.attrs.get("valid_range")
    if vr is None:
        return True
    limit = (np.iinfo(np.int16).max) * INDEX_SCALE
    return all(abs(float(v)) <= limit for v in vr)


def _encoding_for(var: xr.DataArray, kind: Encoding) -> dict[str, object]:
    if kind == "float32" or var.dtype.kind not in "f":
        return {}
    if kind == "int16" and not _fits_int16(var):
        return {}  # e.g. AWEI in [-7, 4]: int16 x 1e-4 would wrap around; stored as float32
    if kind == "int16":
        return {"dtype": "int16", "scale_factor": INDEX_SCALE, "add_offset": 0.0, "_FillValue": INT16_NODATA}
    raise InputError(f"unknown product encoding {kind!r}; use 'int16' or 'float32'")


def _packed_range(attrs: dict[str, object], scale: float) -> None:
    """CF: with scale_factor, valid_range is in packed units. Convert [-1, 1] -> [-10000, 10000]."""
    vr = attrs.get("valid_range")
    if vr is not None:
        attrs["valid_range"] = [int(round(float(v) / scale)) for v in cast(Sequence[Any], vr)]  # a (lo, hi) pair


def write_product(
    product: xr.DataArray | xr.Dataset,
    path: PathLike,
    *,
    encoding: Encoding = "int16",
    overwrite: bool = False,
    chunks: Mapping[str, int] | None = None,
    progress: bool = False,
    zarr_format: Literal[2, 3] = 3,
) -> Path:
    """Compute and write a product to a Zarr v3 store (or Zarr v2), atomically, metadata consolidated.

    Parameters
    ----------
    product : xarray.DataArray or xarray.Dataset
        Float products (indices) are stored per ``encoding``; other dtypes as they are.
    path : str or path
        The product store (``.../ndvi.zarr``).
    encoding : {'int16', 'float32'}
        Storage of float products (see the module docstring).
    overwrite : bool
        Replace an existing store.
    chunks : mapping, optional
        Zarr chunk shape by dimension (default: the Dask chunks).
    progress : bool
        Show a progress bar.
    zarr_format : {3, 2}
        Zarr v3 (default) has a crc32c checksum per chunk; Zarr v2 has none, for GIS software whose
        GDAL reads Zarr v2 but not these Zarr v3 stores (GDAL < 3.13: README "Opening products").

    Returns
    -------
    pathlib.Path
    """
    if zarr_format not in (2, 3):
        raise InputError(f"zarr_format must be 2 or 3; got {zarr_format!r}")
    ds, extra = _storage_dataset(product, encoding)
    return write_zarr(ds, path, overwrite=overwrite, chunks=chunks, encoding=extra, progress=progress,
                      consolidated=True, zarr_format=zarr_format)


def _storage_dataset(product: xr.DataArray | xr.Dataset, encoding: Encoding) -> tuple[xr.Dataset, dict[str, dict[str, object]]]:
    """The dataset to store and its per-variable CF encoding (shared by both write paths)."""
    ds = product.to_dataset() if isinstance(product, xr.DataArray) else product.copy()
    if "spatial_ref" in ds.coords:
        # xarray's global coordinates: plain xr.open_zarr (decode_coords=True, the default) then
        # reads spatial_ref as the coordinate it is, so rioxarray finds the CRS without
        # decode_coords="all" (CF lists the grid mapping variable in no variable's coordinates)
        ds.attrs["coordinates"] = "spatial_ref"
    extra: dict[str, dict[str, object]] = {}
    for name in list(ds.data_vars):
        var = ds[name]
        if var.ndim < 2:
            continue
        enc = _encoding_for(var, encoding)
        if enc:
            extra[str(name)] = enc
            attrs = dict(var.attrs)
            _packed_range(attrs, INDEX_SCALE)
            ds[name].attrs = attrs
        ds[name].attrs["landpulse_encoding"] = (encoding if enc else
                                                ("float32" if var.dtype == np.float32 else str(var.dtype)))
    return ds, extra


def write_product_blocks(
    product: xr.DataArray,
    path: PathLike,
    *,
    encoding: Encoding = "int16",
    chunks: Mapping[str, int] | None = None,
    clevel: int = DEFAULT_CLEVEL,
    thumbnail_pixels: int = 512,
    scheduler: str | None = None,
    num_workers: int | None = None,
    checksums: Sequence[str] = (),
    fsync: bool = False,
    keep_first_slice: int = 0,
) -> BlocksWritten:
    """Write one product variable to a new Zarr v3 store in one pass, returning its statistics.

    The production write path (see :func:`landpulse.backend.storage.write_blocks`): the store's
    metadata and coordinates are written first, then one task per chunk computes, packs, encodes
    and writes that chunk (every chunk, also all-nodata ones, so a complete product has every chunk
    file and a missing file means an incomplete one). The layout and metadata are those of
    :func:`write_product`, so :func:`open_product` reads both alike. Not atomic by itself: callers
    write into a temporary folder and rename it (see :mod:`landpulse.production.units`).

    Parameters
    ----------
    product : xarray.DataArray
        Float product (NaN = invalid), lazy or in memory.
    path : str or path
        The new store; it must not exist.
    encoding : {'int16', 'float32'}
        Storage of the values (module docstring).
    chunks : mapping of dim to size, optional
        Chunk shape (default: the product's Dask chunks, else the whole array).
    clevel : int
        Blosc-lz4 compression level.
    thumbnail_pixels : int
        Longest side of the thinned image returned for quick-looks.
    scheduler : str, optional
        Dask scheduler for the computation.
    num_workers : int, optional
        Threads of the ``threads`` scheduler.
    checksums : sequence of {'crc32c', 'sha256'}
        Record these checksums of every chunk file as it is written (``BlocksWritten.files``, keys
        relative to the store: ``<name>/c/...``); nothing is read back.
    fsync : bool
        Flush every chunk file to disk (in the background, while the next chunks are computed).
    keep_first_slice : int
        Keep the stored values of the first slice in memory when they take at most this many
        bytes (``BlocksWritten.first_slice``; :func:`stored_first_slice` makes them a DataArray).

    Returns
    -------
    landpulse.backend.storage.BlocksWritten
        Statistics of the stored values, a thinned image of the first slice, the chunk files written.
    """


    if product.name is None:
        raise InputError("a product array needs a name to be stored")
    name = str(product.name)
    if chunks is None:
        chunks = {cast(str, d): (int(c[0]) if c else n) for d, c, n in zip(
            product.dims, product.chunks or [None] * product.ndim, product.shape, strict=True)}
    target = tuple(min(int(chunks.get(cast(str, d), n)), n)
                   for d, n in zip(product.dims, product.shape, strict=True))
    # rechunk the data only: small coordinates (scene ids, dates) stay in memory
    data = product.data.rechunk(target) if hasattr(product.data, "rechunk") else product.chunk(dict(zip(product.dims, target, strict=True))).data
    product = product.copy(data=data)
    ds, extra = _storage_dataset(product, encoding)
    enc = zarr_encoding(ds, chunks, clevel=clevel, extra=extra)
    # every chunk of every array is written, also those equal to the fill value, so a complete
    # store has every chunk file (see landpulse.production.units.check_complete)
    ds.to_zarr(path, mode="w-", zarr_format=3, consolidated=False, encoding=enc, compute=False, write_empty_chunks=True)
    store = ManifestStore(Path(path), algorithms=checksums, fsync=fsync)  # zarr's LocalStore takes str or Path only
    zarray = zarr.open_array(store, path=name, mode="r+", config={"write_empty_chunks": True})
    # zarr 3.1 drops the config of an existing array it opens: set it again (an all-nodata chunk,
    # a fully cloudy block or a map without a single break, is written like any other)
    zarray = zarray.with_config({"write_empty_chunks": True}) if hasattr(zarray, "with_config") else zarray
    packing = Packing("int16", INDEX_SCALE, INT16_NODATA) if name in extra else None
    flags = product.attrs.get("flag_values") if "flag_meanings" in product.attrs and packing is None else None
    try:
        written = write_blocks(ds[name], zarray, packing=packing, thumbnail_pixels=thumbnail_pixels,
                               scheduler=scheduler, num_workers=num_workers, keep_first_slice=keep_first_slice,
                               class_values=[int(v) for v in np.atleast_1d(flags)] if flags is not None else None)
    finally:
        store.flush()
    # consolidated metadata in the root zarr.json: plain readers open the store without a warning
    # and without listing it (no array metadata changes after this point)
    with quiet_consolidation():
        zarr.consolidate_metadata(str(path))
    written.files = dict(store.records)
    return written


def stored_first_slice(product: xr.DataArray, written: BlocksWritten, encoding: Encoding = "int16") -> xr.DataArray | None:
    """The first slice of a product as :func:`write_product_blocks` stored it, from memory.

    The values kept while writing (``keep_first_slice``), raw (packed int16, float32 or the
    class dtype), with the grid's coordinates, ``spatial_ref`` and the stored variable's attributes
    and CF packing attributes (``scale_factor``, ``add_offset``, ``_FillValue``): what
    ``xr.open_zarr(store, mask_and_scale=False, decode_coords="all")`` reads back for that slice,
    without reading the store. None when the slice was not kept.
    """
    if written.first_slice is None:
        return None
    first = product.isel({d: 0 for d in product.dims[:-2]}, drop=True) if product.ndim > 2 else product
    ds, extra = _storage_dataset(first, encoding)
    name = str(product.name)
    ydim, xdim = (str(d) for d in first.dims[-2:])
    coords: dict[str, Any] = {d: first[d].values for d in (ydim, xdim) if d in first.coords}
    if "spatial_ref" in first.coords:
        coords["spatial_ref"] = first["spatial_ref"].variable
    attrs = dict(ds[name].attrs)
    attrs.update({k: v for k, v in extra.get(name, {}).items() if k != "dtype"})  # int16 packing
    return xr.DataArray(written.first_slice, dims=(ydim, xdim), coords=coords, attrs=attrs, name=name)


def item_encoding(written: BlocksWritten, attrs: Mapping[str, Any] | None = None) -> dict[str, object]:
    """The encoding a product's STAC item records: what :func:`write_product_blocks` stored
    (``int16`` with scale and nodata, float32 with nodata ``"nan"``, or the stored dtype with the
    product's ``_FillValue`` as nodata: 255 for uint8 classes), not what was asked for."""
    p = written.packing
    if p is not None:
        return {"dtype": "int16", "scale": p.scale, "offset": 0.0, "nodata": p.nodata}
    if written.dtype == "float32":
        return {"dtype": "float32", "nodata": "nan"}
    fill = (attrs or {}).get("_FillValue")
    if fill is not None:
        return {"dtype": written.dtype, "nodata": int(fill) if np.dtype(written.dtype).kind in "iu" else float(fill)}
    return {"dtype": written.dtype}


def open_product(path: PathLike) -> xr.Dataset:
    """Open a product store with CF decoding (int16 -> float32 values, nodata -> NaN).

    ``valid_range`` is converted back to value units for int16-encoded variables.

    Raises
    ------
    NotAZarrStoreError
        When ``path`` is not a Zarr store.
    """
    p = Path(path)
    if not is_zarr_store(p):
        raise NotAZarrStoreError(f"{p} is not a Zarr store")
    ds = xr.open_zarr(p, consolidated=False, decode_coords="all", chunks={})
    for name in ds.data_vars:
        var = ds[name]
        scale = var.encoding.get("scale_factor")
        if scale and "valid_range" in var.attrs:
            var.attrs["valid_range"] = [float(v) * float(scale) for v in var.attrs["valid_range"]]
        if var.dtype == np.float64 and var.encoding.get("dtype") == np.dtype("int16"):
            ds[name] = var.astype(np.float32)
            ds[name].attrs = var.attrs
            ds[name].encoding = var.encoding
    return ds
