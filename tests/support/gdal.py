"""GDAL's C API through the libgdal that rasterio's wheel carries, for what rasterio does not
expose (category names of a raster band): the GDAL a GIS user's tools are built on."""

from __future__ import annotations

import ctypes
import ctypes.util
from pathlib import Path

import rasterio

from tests.support import skip_or_fail


def _libgdal() -> ctypes.CDLL:
    wheel_libs = sorted((Path(rasterio.__file__).resolve().parent.parent / "rasterio.libs").glob("libgdal*.so*"))
    name = str(wheel_libs[0]) if wheel_libs else ctypes.util.find_library("gdal")
    if name is None:
        skip_or_fail("gdal-c-api", "no libgdal found beside rasterio or on the library path")
    lib = ctypes.CDLL(name)
    lib.GDALAllRegister.restype = None
    lib.GDALOpen.restype = ctypes.c_void_p
    lib.GDALOpen.argtypes = [ctypes.c_char_p, ctypes.c_int]
    lib.GDALGetRasterBand.restype = ctypes.c_void_p
    lib.GDALGetRasterBand.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.GDALGetRasterCategoryNames.restype = ctypes.POINTER(ctypes.c_char_p)
    lib.GDALGetRasterCategoryNames.argtypes = [ctypes.c_void_p]
    lib.GDALGetMetadata.restype = ctypes.POINTER(ctypes.c_char_p)
    lib.GDALGetMetadata.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.GDALClose.restype = None
    lib.GDALClose.argtypes = [ctypes.c_void_p]
    lib.GDALVersionInfo.restype = ctypes.c_char_p
    lib.GDALVersionInfo.argtypes = [ctypes.c_char_p]
    lib.GDALAllRegister()
    return lib


def gdal_version() -> str:
    """The release name of the GDAL library (``3.10.3``)."""
    return str(_libgdal().GDALVersionInfo(b"RELEASE_NAME").decode())


def category_names(path: str | Path, band: int = 1) -> list[str]:
    """GDALGetRasterCategoryNames of ``band``: the class name of each pixel value, from 0."""
    lib = _libgdal()
    handle = lib.GDALOpen(str(path).encode(), 0)
    if not handle:
        raise OSError(f"GDAL cannot open {path}")
    try:
        raster_band = lib.GDALGetRasterBand(handle, band)
        # as gdalinfo (and QGIS) do: the GeoTIFF driver of GDAL 3.10 reads the .aux.xml sidecar
        # on the first metadata request, not on a request for category names
        lib.GDALGetMetadata(raster_band, None)
        names = lib.GDALGetRasterCategoryNames(raster_band)
        out: list[str] = []
        i = 0
        while names and names[i] is not None:
            out.append(names[i].decode())
            i += 1
        return out
    finally:
        lib.GDALClose(handle)
