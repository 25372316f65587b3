"""Zarr stores: open any (v2 or v3), write Zarr v3 with checksummed chunks, atomically.

* :func:`open_store` opens inputs *without* decoding scale/offset (raw digital numbers stay raw;
  the radiometric contract applies them later, once) and with the CRS decoded.
* :func:`write_zarr` writes Zarr v3, every chunk with a ``crc32c`` checksum (a corrupted chunk
  raises on read instead of decoding to garbage), into a temporary sibling folder that is renamed
  into place only when complete: a failed or killed write leaves no partial store behind.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import threading
import warnings
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

import dask
import dask.base
import dask.threaded
import numpy as np
import xarray as xr
import zarr
from numcodecs import Blosc
from zarr.codecs import BloscCodec, Crc32cCodec

from landpulse.errors import GridMismatchError, InputError, NotAZarrStoreError
from landpulse.io.files import atomic_directory, is_zarr_store, validate_name  # noqa: F401  (here since before io.files had them)
from landpulse.io.store_metadata import APPEND_MARK, roll_back_append
from landpulse.progress import progress_bar

PathLike = str | os.PathLike[str]

#: Hot data (raw bands): blosc-lz4 with byte shuffle, fast to decode. Plain LZ4 without a
#: shuffle does not compress 16-bit imagery at all (DESIGN.md section 7).
DEFAULT_CLEVEL = 5
def datetime_dim(obj: xr.Dataset | xr.DataArray) -> str | None:
    """The first dimension whose coordinate holds dates (``time`` in landpulse stores), or None."""
    for d in obj.dims:
        if d in obj.coords and np.issubdtype(obj[d].dtype, np.datetime64):
            return str(d)
    return None


def _broken_member(store: Path) -> str:
    """``"variable 'red' (red/zarr.json): "`` for the first member whose metadata zarr cannot read,
    so that an error names the field; ``"group metadata (zarr.json): "`` for the store's own; or ``""``."""
    import zarr

    for meta in ("zarr.json", ".zgroup", ".zattrs"):
        f = store / meta
        if f.is_file():
            try:
                json.loads(f.read_text())
            except (OSError, ValueError, UnicodeDecodeError):
                return f"group metadata ({meta}): "
    for member in sorted(q for q in store.iterdir() if q.is_dir() and not q.name.startswith(".")):
        try:
            arr = zarr.open_array(member, mode="r")
            if any(int(c) <= 0 for c in arr.chunks):
                raise ValueError("a chunk size is 0")
        except Exception:
            meta = next((m for m in ("zarr.json", ".zarray") if (member / m).is_file()), "metadata")
            return f"variable {member.name!r} ({member.name}/{meta}): "
    return ""


def open_store(path: PathLike, *, chunks: Mapping[str, int] | None = None) -> xr.Dataset:
    """Open a Zarr store (v2 or v3, landpulse's own or foreign) as a lazy Dataset.

    Parameters
    ----------
    path : str or path
        The store folder.
    chunks : mapping, optional
        Dask chunks; default: the store's own chunks.

    Returns
    -------
    xarray.Dataset
        Dask-backed, raw values (no CF scale/offset decoding: see :mod:`landpulse.spec.radiometry`),
        ``spatial_ref`` decoded as a coordinate so ``ds.rio.crs`` works.

    Raises
    ------
    NotAZarrStoreError
        When ``path`` does not exist or is not a readable Zarr store.
    """
    p = Path(path)
    if not p.exists():
        raise NotAZarrStoreError(f"{p}: no such store (the path does not exist)")
    if not is_zarr_store(p):
        raise NotAZarrStoreError(
            f"{p} is not a Zarr store (no zarr.json, .zgroup or .zarray inside); "
            "ingest imagery first with `landpulse ingest`"
        )
    try:
        ds = xr.open_zarr(
            p, consolidated=_is_consolidated(p), mask_and_scale=False, decode_coords="all",
            chunks=dict(chunks) if chunks else {},
        )
    except Exception as err:  # zarr/xarray raise many types for unreadable metadata
        raise NotAZarrStoreError(f"{p} could not be opened as Zarr: {_broken_member(p)}{err}") from err
    if APPEND_MARK in ds.attrs:
        mark = ds.attrs[APPEND_MARK]
        raise InputError(
            f"{p}: an append stopped before it finished (entries from {mark.get('length')} along "
            f"{mark.get('dim')!r} may lack pixels); run the same `landpulse ingest --append` again: it "
            "removes the unfinished entries first")
    check_store_limits(ds, p)
    check_store_crs(ds, p)
    return load_small_coords(ds)


def check_store_crs(ds: xr.Dataset, path: PathLike) -> None:
    """Refuse a grid-mapping variable whose CRS no library can read (rioxarray would drop it
    silently, and products would be written without a CRS or on a wrong one).

    Raises
    ------
    GridMismatchError
        Naming the variable and attribute that holds the unreadable CRS.
    """
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    for name, var in ds.variables.items():
        for attr in ("crs_wkt", "spatial_ref"):
            text = var.attrs.get(attr)
            if not isinstance(text, str) or not text:
                continue
            try:
                CRS.from_user_input(text)
            except CRSError as err:
                raise GridMismatchError(
                    f"{path}: variable {name!r} declares a CRS ({attr}) that cannot be read: {text[:80]!r} ({err}); "
                    "fix the store's grid mapping (for example with rioxarray's write_crs)") from None


#: Limits on what a store's metadata may declare, checked before anything is read or allocated
#: (store metadata is untrusted input). Environment variables raise them for real giants.
MAX_CHUNK_BYTES = int(os.environ.get("LANDPULSE_MAX_CHUNK_BYTES", str(1 << 30)))
MAX_SLICE_PIXELS = int(os.environ.get("LANDPULSE_MAX_SLICE_PIXELS", str(10**10)))
MAX_NDIM = 4


def check_store_limits(ds: xr.Dataset, path: PathLike) -> None:
    """Refuse a store whose metadata declares what no real imagery needs: more than
    :data:`MAX_NDIM` dimensions, chunks over :data:`MAX_CHUNK_BYTES` (one chunk is decoded whole into
    memory), 2-D slices over :data:`MAX_SLICE_PIXELS` pixels, or arrays of non-numeric dtype.

    Raises
    ------
    InputError
        Naming the variable, what it declares and the limit (and the environment variable that
        raises it).
    """
    for name, var in ds.variables.items():
        if var.ndim > MAX_NDIM:
            raise InputError(f"{path}: variable {name!r} has {var.ndim} dimensions {var.dims}; at most {MAX_NDIM}")
        if var.ndim < 2:
            continue  # coordinates, scene ids, per-date scale and offset
        if var.dtype.kind not in "biuf":
            raise InputError(f"{path}: variable {name!r} has dtype {var.dtype}; imagery is boolean, integer or float")
        chunks = var.chunks
        chunk_shape = [max(c) for c in chunks] if chunks else list(var.shape)
        nbytes = math.prod(chunk_shape) * var.dtype.itemsize
        if nbytes > MAX_CHUNK_BYTES:
            raise InputError(f"{path}: variable {name!r} declares chunks of {tuple(chunk_shape)} "
                             f"({nbytes / 2**30:.1f} GiB each, decoded whole); the limit is "
                             f"{MAX_CHUNK_BYTES / 2**30:.1f} GiB (LANDPULSE_MAX_CHUNK_BYTES)")
        pixels = math.prod(var.shape[-2:])
        if pixels > MAX_SLICE_PIXELS:
            raise InputError(f"{path}: variable {name!r} declares {var.shape[-2]} x {var.shape[-1]} pixels per slice "
                             f"({pixels:.2e}); the limit is {MAX_SLICE_PIXELS:.0e} (LANDPULSE_MAX_SLICE_PIXELS)")


def _is_consolidated(p: Path) -> bool:
    if (p / ".zmetadata").is_file():
        return True
    meta = p / "zarr.json"
    if meta.is_file():
        try:
            return bool(json.loads(meta.read_text()).get("consolidated_metadata"))
        except (OSError, ValueError):
            return False
    return False


def load_small_coords(ds: xr.Dataset) -> xr.Dataset:
    """Load 0-/1-D coordinates (per-date scale, offset, scene id) into memory.

    They are tiny, and keeping them lazy would make every kernel call build graph nodes for them.
    """
    small = {}
    for c in ds.coords:
        if ds[c].ndim <= 1 and c not in ds.indexes:
            var = ds[c].variable.load()
            if var.dtype.kind == "T":  # NumPy's StringDType (zarr v3 strings): plain Python strings
                var = var.astype(object)
            small[c] = var
    return ds.assign_coords(small) if small else ds


def zarr_encoding(
    ds: xr.Dataset,
    chunks: Mapping[str, int] | None = None,
    *,
    clevel: int = DEFAULT_CLEVEL,
    extra: Mapping[str, Mapping[str, Any]] | None = None,
    zarr_format: int = 3,
) -> dict[str, dict[str, Any]]:
    """Per-variable Zarr encoding: blosc-lz4 + shuffle, then (Zarr v3) a crc32c checksum per chunk.

    Parameters
    ----------
    ds : xarray.Dataset
    chunks : mapping of dim to size, optional
        Chunk shape by dimension (default: the Dask chunks, else whole dimensions).
    clevel : int
        Blosc compression level.
    extra : mapping, optional
        Additional encoding per variable (``dtype``, ``scale_factor``, ``_FillValue``...).
    zarr_format : {3, 2}
        Zarr v2 gets the same blosc-lz4 compression without the checksum (Zarr v2 readers such as
        GDAL's Zarr driver know no crc32c filter).
    """
    enc: dict[str, dict[str, Any]] = {}
    for name, var in ds.variables.items():
        if var.ndim == 0:
            continue
        e: dict[str, Any] = {}
        if var.dtype.kind not in "OTU":  # strings keep zarr's default codecs
            itemsize = np.dtype((extra or {}).get(str(name), {}).get("dtype", var.dtype)).itemsize
            if zarr_format == 2:
                e["compressors"] = (Blosc(cname="lz4", clevel=clevel, shuffle=Blosc.SHUFFLE if itemsize > 1 else Blosc.NOSHUFFLE),)
            else:
                e["compressors"] = (
                    BloscCodec(cname="lz4", clevel=clevel, shuffle="shuffle" if itemsize > 1 else "noshuffle", typesize=itemsize),
                    Crc32cCodec(),
                )
        if var.ndim >= 2:
            if chunks:
                e["chunks"] = tuple(min(int(chunks.get(cast(str, d), n)), n)
                                    for d, n in zip(var.dims, var.shape, strict=True))
            elif var.chunks:
                e["chunks"] = tuple(c[0] for c in var.chunks)
        if "grid_mapping" in var.encoding and "grid_mapping" not in var.attrs:
            e["grid_mapping"] = var.encoding["grid_mapping"]
        e.update((extra or {}).get(str(name), {}))
        enc[str(name)] = e
    return enc


#: Held while warning filters are changed: they are process-wide (Python 3.11), and units run in
#: threads side by side (landpulse.production.units captures warnings under it too)
WARNINGS_LOCK = threading.RLock()


@contextlib.contextmanager
def quiet_consolidation() -> Iterator[None]:
    """Silence zarr's note that consolidated metadata is not (yet) part of the Zarr v3 spec: zarr
    and xarray read it, and a reader that does not simply lists the store."""
    with WARNINGS_LOCK, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Consolidated metadata is currently not part")
        yield


def _with_grid_mapping_attrs(ds: xr.Dataset) -> xr.Dataset:
    """Put ``grid_mapping`` into attributes so it survives an explicit encoding on write."""
    ds = ds.copy()
    if "spatial_ref" not in ds.variables:
        return ds
    for name in ds.data_vars:
        var = ds[name]
        if name != "spatial_ref" and var.ndim >= 2 and "grid_mapping" not in var.attrs:
            ds[name].attrs["grid_mapping"] = var.encoding.pop("grid_mapping", "spatial_ref")
    return ds


def write_zarr(
    ds: xr.Dataset,
    path: PathLike,
    *,
    overwrite: bool = False,
    chunks: Mapping[str, int] | None = None,
    encoding: Mapping[str, Mapping[str, Any]] | None = None,
    progress: bool = False,
    consolidated: bool = False,
    zarr_format: int = 3,
) -> Path:
    """Write ``ds`` as a Zarr v3 store at ``path``, atomically, with checksummed chunks.

    Each Dask task writes whole Zarr chunks that no other task touches: the Dask chunks are
    aligned to the Zarr chunks before writing (never ``safe_chunks=False``).

    Parameters
    ----------
    ds : xarray.Dataset
    path : str or path
    overwrite : bool
        Replace an existing store (atomically).
    chunks : mapping of dim to size, optional
        Zarr chunk shape (default: the Dask chunks).
    encoding : mapping, optional
        Extra encoding per variable (``dtype``, ``scale_factor``, ``_FillValue``).
    progress : bool
        Show a progress bar while computing.
    consolidated : bool
        Consolidate the metadata (stores that are never appended to: products).
    zarr_format : {3, 2}
        Zarr v2 (no chunk checksums) for readers without Zarr v3 support.

    Returns
    -------
    pathlib.Path
    """
    ds = _with_grid_mapping_attrs(ds)
    if chunks:
        ds = _chunk_images(ds, chunks)
    if zarr_format == 2:
        # codecs carried over from a Zarr v3 source (a string serializer...) have no Zarr v2 form
        for var in ds.variables.values():
            for key in ("serializer", "compressors", "filters", "shards"):
                var.encoding.pop(key, None)
    enc = zarr_encoding(ds, chunks, extra=encoding, zarr_format=zarr_format)
    path = Path(path)
    with atomic_directory(path, overwrite=overwrite) as tmp, quiet_consolidation():
        delayed = ds.to_zarr(tmp, mode="w", zarr_format=zarr_format, consolidated=consolidated, encoding=enc,
                             compute=False)
        _compute(delayed, progress)
    return path


def _chunk_images(ds: xr.Dataset, chunks: Mapping[str, int]) -> xr.Dataset:
    """Rechunk the image variables (2-D and up) only; small coordinates stay in memory."""
    out = ds.copy()
    for name, var in ds.variables.items():
        if var.ndim >= 2:
            out[name] = ds[name].chunk({d: chunks[cast(str, d)] for d in var.dims if d in chunks})
    return out


def append_zarr(ds: xr.Dataset, path: PathLike, *, dim: str = "time", progress: bool = False) -> Path:
    """Append ``ds`` along ``dim`` to an existing landpulse store (same variables and grid).

    Only variables along ``dim`` are written; the store keeps its grid and encodings, and takes
    ``ds``'s attributes (callers merge them with the store's). All or nothing: the store is marked (:data:`APPEND_MARK`) before anything is written; if the
    append fails, the arrays are cut back to their old length and the mark removed; if the
    process dies, the mark stays and :func:`open_store` refuses the store until
    :func:`roll_back_append` (which ``landpulse ingest --append`` runs first) has cut it back.
    """

    path = Path(path)
    ds = _with_grid_mapping_attrs(ds)
    ds = ds.drop_vars([n for n, v in ds.variables.items() if dim not in v.dims])
    for var in ds.variables.values():
        var.attrs.pop("_FillValue", None)  # raw (undecoded) opens surface it; the store has its own
    group = zarr.open_group(path, mode="r+", zarr_format=3)
    mark: dict[str, Any] = {"dim": dim, "length": int(cast(zarr.Array, group[dim]).shape[0])}
    group.attrs[APPEND_MARK] = mark
    # xarray writes ds.attrs over the store's: the mark goes with them until the pixels are written
    ds.attrs = {**ds.attrs, APPEND_MARK: mark}
    try:
        delayed = ds.to_zarr(path, mode="a", append_dim=dim, zarr_format=3, consolidated=False, compute=False)
        _compute(delayed, progress)
    except BaseException:
        roll_back_append(path)
        raise
    del zarr.open_group(path, mode="r+", zarr_format=3).attrs[APPEND_MARK]
    return path


def _compute(delayed: Any, progress: bool) -> None:
    """Compute a store write; when a chunk fails, wait for the chunks still being written first.

    Dask's threaded scheduler raises at the first failed task while others may still write chunks;
    the caller then removes the unfinished store, and a late writer could recreate part of it. With
    our own pool the running tasks are waited for (queued ones cancelled) before the error leaves.
    """
    with progress_bar() if progress else contextlib.nullcontext():
        if dask.base.get_scheduler() is not dask.threaded.get:  # sync, processes or a cluster's client
            delayed.compute()
            return
        pool = ThreadPoolExecutor(max_workers=dask.config.get("num_workers", None) or os.cpu_count() or 1)
        try:
            delayed.compute(scheduler="threads", pool=pool)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
