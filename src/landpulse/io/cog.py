"""Cloud-Optimized GeoTIFF export of stored products (rioxarray + GDAL's COG driver).

The COG holds the stored values unchanged (int16 scaled by 1e-4 with nodata -32768 for indices,
or float32 with NaN) with the scale, offset and nodata in the GeoTIFF metadata, DEFLATE with a
horizontal predictor, 512 x 512 internal tiles and overviews (averaged for continuous products,
nearest for classes), so GIS software and GDAL read correct values without landpulse.
"""

from __future__ import annotations

from pathlib import Path

import rioxarray  # noqa: F401  (registers .rio)
import xarray as xr

from landpulse.io.store import PathLike

#: Overview resampling per quick-look style: continuous values are averaged, classes are not.
OVERVIEW_RESAMPLING = {"index": "average"}


def write_cog(product_store: PathLike, name: str, path: PathLike, *, style: str = "index",
              blocksize: int = 512) -> Path:
    """Export variable ``name`` of a product store (first date) as a Cloud-Optimized GeoTIFF.

    Parameters
    ----------
    product_store : path
        A product Zarr store (:func:`landpulse.io.products.write_product_blocks` output).
    name : str
        The product variable.
    path : path
        The ``.tif`` to write.
    style : str
        Quick-look style of the product (chooses the overview resampling of continuous values;
        class products, with CF ``flag_values``, are always resampled to the nearest class).
    blocksize : int
        Internal tile size.

    Returns
    -------
    pathlib.Path
    """
    ds = xr.open_zarr(product_store, consolidated=False, mask_and_scale=False, decode_coords="all", chunks={})
    da = ds[name]
    resampling = "nearest" if "flag_values" in da.attrs else OVERVIEW_RESAMPLING.get(style, "nearest")
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
    if fill is not None:
        da = da.rio.write_nodata(fill, encoded=False)
    else:
        da = da.rio.write_nodata(float("nan"), encoded=False)
    path = Path(path)
    da.rio.to_raster(path, driver="COG", compress="DEFLATE", predictor=2 if da.dtype.kind in "iu" else 3,
                     blocksize=blocksize, overview_resampling=resampling,
                     BIGTIFF="IF_SAFER", tags={})
    return path
