"""Cloud-Optimized GeoTIFF export of stored products (rioxarray + GDAL's COG driver).

The COG holds the stored values unchanged (int16 scaled by 1e-4 with nodata -32768 for indices,
or float32 with NaN, uint8 classes with nodata 255) with the scale, offset and nodata in the
GeoTIFF metadata, DEFLATE with a horizontal predictor, 512 x 512 internal tiles and overviews
(averaged for continuous products, nearest for classes), so GIS software and GDAL read correct
values without landpulse. Class products also get a colour table (the quick-look colours) inside
the TIFF and their class names as GDAL category names in the ``.tif.aux.xml`` sidecar beside it
(GDAL keeps category names there for GeoTIFFs; QGIS and ArcGIS read it).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import rasterio
import rasterio.shutil
import rioxarray  # noqa: F401  (registers .rio)
import xarray as xr

from landpulse.io.store import PathLike

#: Overview resampling per quick-look style: continuous values are averaged, classes are not.
OVERVIEW_RESAMPLING = {"index": "average"}

#: 8-bit RGBA per class value
ColourTable = Mapping[int, tuple[int, int, int, int]]


def write_cog(product_store: PathLike | xr.DataArray, name: str, path: PathLike, *, style: str = "index",
              blocksize: int = 512, colours: ColourTable | None = None) -> Path:
    """Export variable ``name`` of a product store (first date) as a Cloud-Optimized GeoTIFF.

    Written to a temporary sibling file and renamed into place: a failed export leaves no file.

    Parameters
    ----------
    product_store : path or xarray.DataArray
        A product Zarr store (:func:`landpulse.io.products.write_product_blocks` output), or the
        stored values of its first slice held in memory
        (:func:`landpulse.io.products.stored_first_slice`): the same file either way.
    name : str
        The product variable.
    path : path
        The ``.tif`` to write.
    style : str
        Quick-look style of the product (chooses the overview resampling of continuous values;
        class products, with CF ``flag_values``, are always resampled to the nearest class).
    blocksize : int
        Internal tile size.
    colours : mapping of int to (r, g, b, a), optional
        Colour table of a uint8 class product (:func:`landpulse.viz.class_colour_table`); its
        ``flag_meanings`` become the category names (``<path>.aux.xml``).

    Returns
    -------
    pathlib.Path
    """
    if isinstance(product_store, xr.DataArray):
        da = product_store
    else:
        ds = xr.open_zarr(product_store, consolidated=None, mask_and_scale=False, decode_coords="all", chunks={})
        da = ds[name]
    classes = "flag_values" in da.attrs and "flag_meanings" in da.attrs
    resampling = "nearest" if "flag_values" in da.attrs else OVERVIEW_RESAMPLING.get(style, "nearest")
    meanings = str(da.attrs.get("flag_meanings", "")).split()
    flag_values = [int(v) for v in np.atleast_1d(da.attrs.get("flag_values", []))]
    tdim = next((d for d in da.dims if d not in (da.dims[-2], da.dims[-1])), None)
    if tdim is not None:
        da = da.isel({tdim: 0}, drop=True)
    da = da.drop_vars([c for c in da.coords if c not in (*da.dims, "spatial_ref")])
    fill = da.attrs.pop("_FillValue", None)
    if fill is None:
        fill = da.encoding.get("_FillValue")
    attrs = {k: v for k, v in da.attrs.items() if k in ("scale_factor", "add_offset", "long_name", "units")}
    for key in ("scale_factor", "add_offset"):
        if key in da.encoding and key not in attrs:
            attrs[key] = da.encoding[key]
    da = da.copy()
    da.attrs = attrs
    da.encoding = {}
    if fill is not None or da.dtype.kind == "f":  # integer counts (clear observations) have no nodata
        da = da.rio.write_nodata(fill if fill is not None else float("nan"), encoded=False)
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:12]}")
    plain = path.with_name(f".{path.name}.plain-{uuid.uuid4().hex[:12]}.tif")
    options = {"compress": "DEFLATE", "predictor": 2 if da.dtype.kind in "iu" else 3, "blocksize": blocksize,
               "overview_resampling": resampling, "BIGTIFF": "IF_SAFER"}
    try:
        if classes and colours is not None and da.dtype == np.uint8:
            # the COG driver copies a colour table but cannot take one: a tiled GeoTIFF first
            da.rio.to_raster(plain, driver="GTiff", tiled=True, blockxsize=blocksize, blockysize=blocksize, tags={})
            with rasterio.open(plain, "r+") as dst:
                dst.write_colormap(1, {int(k): tuple(v) for k, v in colours.items()})
            rasterio.shutil.copy(plain, tmp, driver="COG", **{k.upper(): str(v).upper() for k, v in options.items()})
        else:
            da.rio.to_raster(tmp, driver="COG", tags={}, **options)
        if classes:
            _write_category_names(Path(f"{path}.aux.xml"), dict(zip(flag_values, meanings, strict=False)))
        os.replace(tmp, path)
    except BaseException:
        for leftover in (tmp, Path(f"{path}.aux.xml")):
            leftover.unlink(missing_ok=True)
        raise
    finally:
        plain.unlink(missing_ok=True)
        Path(f"{plain}.aux.xml").unlink(missing_ok=True)
    return path


def _write_category_names(path: Path, names: Mapping[int, str]) -> None:
    """GDAL's PAM sidecar with the category name of each class value (index = pixel value)."""
    top = max(names) if names else -1
    cats = "".join(f"      <Category>{escape(names.get(v, '').replace('_', ' '))}</Category>\n" for v in range(top + 1))
    path.write_text('<PAMDataset>\n  <PAMRasterBand band="1">\n    <CategoryNames>\n'
                    f"{cats}    </CategoryNames>\n  </PAMRasterBand>\n</PAMDataset>\n")
