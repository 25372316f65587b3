"""Remote assets read in place: COGs (and anything GDAL opens) over HTTP(S) and S3, by windows.

A remote band is a Dask array whose every block is one windowed read through GDAL's ``/vsicurl/``
(``http``, ``https``) or ``/vsis3/`` (``s3``) file systems, so blocks are fetched in parallel by
Range requests and nothing is downloaded whole. Each read is bounded and retried:

* every request is bounded by ``timeout`` seconds (``GDAL_HTTP_TIMEOUT``);
* a read that fails (an HTTP error status, a truncated body, a timeout) is retried by landpulse
  ``retries`` times with back-off ``backoff * 2**k`` seconds (at most ``max_backoff``), each retry
  with GDAL's cache of that URL disabled (``CPL_VSIL_CURL_NON_CACHED``), because GDAL remembers a
  failed URL and would answer the retry from its cache; GDAL's own retries are off
  (``GDAL_HTTP_MAX_RETRY=0``), so ``retries + 1`` is the number of attempts, whatever failed;
* after that the read raises :class:`~landpulse.errors.RemoteReadError` naming the scene, the band,
  the URL (without query string or user info: signed URLs carry tokens) and GDAL's last error.

Credentials are never arguments: GDAL reads them from the environment (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_PROFILE``, ``AWS_S3_ENDPOINT``...,
``GDAL_HTTP_HEADER_FILE``, ``GDAL_HTTP_AUTH``); with no AWS credentials in the environment S3 is
read anonymously (``AWS_NO_SIGN_REQUEST=YES``). Nothing here puts a credential into a task, a log
or a message.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import rasterio
from rasterio.windows import Window

from landpulse.errors import RemoteReadError

if TYPE_CHECKING:
    import dask.array

REMOTE_SCHEMES = ("http", "https", "s3")


@dataclass(frozen=True)
class RemoteOptions:
    """How remote reads are bounded and retried.

    Attributes
    ----------
    timeout : float
        Seconds one HTTP request may take (``GDAL_HTTP_TIMEOUT``; connect timeout: a third of it).
    retries : int
        Retries of a failed read (header or window).
    backoff : float
        First delay in seconds; doubled at each retry.
    max_backoff : float
        Longest delay between two of landpulse's retries.
    """

    timeout: float = 30.0
    retries: int = 4
    backoff: float = 0.5
    max_backoff: float = 8.0


DEFAULT_OPTIONS = RemoteOptions()


def is_remote(href: str) -> bool:
    """Whether ``href`` is an ``http``, ``https`` or ``s3`` URL."""
    return urlsplit(href).scheme.lower() in REMOTE_SCHEMES


def public_href(href: str) -> str:
    """``href`` as it may be shown: user info and query string (tokens, signatures) removed."""
    parts = urlsplit(href)
    if not parts.scheme:
        return href
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def gdal_path(href: str) -> str:
    """The GDAL virtual-file path of a remote href (``/vsicurl/https://...``, ``/vsis3/bucket/key``)."""
    parts = urlsplit(href)
    if parts.scheme.lower() == "s3":
        return f"/vsis3/{parts.netloc}{parts.path}"
    return f"/vsicurl/{href}"


def gdal_config(options: RemoteOptions = DEFAULT_OPTIONS, *, uncached: str | None = None) -> dict[str, Any]:
    """GDAL configuration for remote reads (no credentials: GDAL takes those from the environment)."""
    cfg: dict[str, Any] = {
        "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",  # no directory listing per file
        "GDAL_HTTP_TIMEOUT": str(max(1, round(options.timeout))),
        "GDAL_HTTP_CONNECTTIMEOUT": str(max(1, round(options.timeout / 3))),
        "GDAL_HTTP_MAX_RETRY": "0",  # the retries are landpulse's (_with_retries)
        "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
        "GDAL_HTTP_MULTIPLEX": "YES",
        "GDAL_INGESTED_BYTES_AT_OPEN": "65536",  # a COG's header (IFDs, tile offsets) in one request
        "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif,.tiff,.TIF,.TIFF,.jp2,.JP2,.vrt",
    }
    if not any(k in os.environ for k in ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE",
                                         "AWS_NO_SIGN_REQUEST")):
        cfg["AWS_NO_SIGN_REQUEST"] = "YES"
    if uncached is not None:
        cfg["CPL_VSIL_CURL_NON_CACHED"] = uncached
    return cfg


@dataclass(frozen=True)
class RemoteInfo:
    """What a remote raster's header says: CRS (string), transform, shape, dtype, band count, nodata."""

    crs: str | None
    transform: Any
    shape: tuple[int, int]
    dtype: str
    count: int
    nodata: float | None


_open = threading.local()
_OPEN_PER_THREAD = 64


def opened(path: str, key: Any = None) -> Any:
    """A rasterio dataset of ``path`` kept open for this thread (at most 64, least recently used
    closed first): opening a COG costs milliseconds, reading a block of it far less. ``key``
    tells versions of a path apart (a local file's size and mtime)."""
    cache: OrderedDict[Any, Any] = getattr(_open, "datasets", None) or OrderedDict()
    _open.datasets = cache
    k = (path, key)
    if k in cache:
        cache.move_to_end(k)
        return cache[k]
    ds = rasterio.open(path)
    cache[k] = ds
    while len(cache) > _OPEN_PER_THREAD:
        _, old = cache.popitem(last=False)
        old.close()
    return ds


def forget(path: str, key: Any = None) -> None:
    """Close and drop this thread's open dataset of ``path`` (after a failed read)."""
    cache = getattr(_open, "datasets", None)
    if cache is not None and (path, key) in cache:
        cache.pop((path, key)).close()


def _with_retries(href: str, what: str, options: RemoteOptions, action: Any) -> Any:
    path = gdal_path(href)
    last: Exception | None = None
    for attempt in range(options.retries + 1):
        try:
            with rasterio.Env(**gdal_config(options, uncached=path if attempt else None)):
                if attempt == 0:  # the thread's open dataset; a retry opens afresh, uncached
                    return action(opened(path))
                with rasterio.open(path) as src:
                    return action(src)
        except Exception as err:  # rasterio's errors, and GDAL's CPLE_* (which do not derive from them)
            if not type(err).__module__.startswith("rasterio"):
                raise
            forget(path)
            last = err
        if attempt < options.retries:
            time.sleep(min(options.max_backoff, options.backoff * 2 ** attempt))
    raise RemoteReadError(f"{what}: cannot read {public_href(href)} after {options.retries + 1} attempts: {last}")


def probe_remote(href: str, what: str, options: RemoteOptions = DEFAULT_OPTIONS) -> RemoteInfo:
    """Read a remote raster's header (one or two small range requests), with retries.

    Raises
    ------
    RemoteReadError
        After the retries; the message names ``what`` (the scene and band), the URL without its
        query string, and GDAL's error (``HTTP response code: 500``...).
    """
    def header(src: Any) -> RemoteInfo:
        return RemoteInfo(src.crs.to_string() if src.crs else None, src.transform, (src.height, src.width),
                          str(src.dtypes[0]), src.count, src.nodata)
    info: RemoteInfo = _with_retries(href, what, options, header)
    return info


def read_window(href: str, band: int, rows: tuple[int, int], cols: tuple[int, int], dtype: str, what: str,
                options: RemoteOptions = DEFAULT_OPTIONS) -> np.ndarray:
    """Pixels ``[rows[0]:rows[1], cols[0]:cols[1]]`` of 1-based ``band`` of a remote raster."""
    window = Window(cols[0], rows[0], cols[1] - cols[0], rows[1] - rows[0])
    out: np.ndarray = _with_retries(href, what, options, lambda src: src.read(band, window=window))
    return out.astype(dtype, copy=False)


_names = itertools.count()


def remote_band(href: str, band: int, info: RemoteInfo, chunks: tuple[int, int], what: str,
                options: RemoteOptions = DEFAULT_OPTIONS) -> dask.array.Array:
    """A lazy ``(y, x)`` Dask array of a remote band, one windowed read (with retries) per block.

    The graph holds only the URL (as given, for GDAL), the window and the options: credentials stay
    in the environment of whoever reads.
    """
    ny, nx = info.shape
    cy, cx = chunks
    row_edges = list(range(0, ny, cy)) + [ny]
    col_edges = list(range(0, nx, cx)) + [nx]
    name = f"remote-read-{next(_names)}-{abs(hash((href, band, chunks))):x}"
    graph: Mapping[Any, Any] = {
        (name, i, j): (read_window, href, band, (row_edges[i], row_edges[i + 1]),
                       (col_edges[j], col_edges[j + 1]), info.dtype, what, options)
        for i in range(len(row_edges) - 1) for j in range(len(col_edges) - 1)
    }
    row_chunks = tuple(np.diff(row_edges).tolist())
    col_chunks = tuple(np.diff(col_edges).tolist())
    import dask.array  # (here: a metadata probe or a scene's parsing should not load Dask)

    return dask.array.Array(dict(graph), name, (row_chunks, col_chunks), dtype=np.dtype(info.dtype))
