"""The loops a user would write by hand, without landpulse: the references of ``bench_whole.py``.

Run as a whole process (``python benchmarks/hand_loop.py ndvi SRC OUT`` / ``ingest ITEM OUT``),
so its imports and exit are timed the way ``landpulse run`` / ``landpulse ingest`` are. It imports
no landpulse module.

* ``ndvi``: for every date of a Zarr scene store (the shared Bolzano series: float32 reflectance
  x 1e4, NaN fill), read red (B04) and nir (B08) with zarr-python, NDVI in NumPy float32
  (NaN where an input is NaN or the sum is 0, values outside [-1, 1] NaN), packed to int16 x 1e-4
  with nodata -32768, written as a Zarr v3 array (blosc-lz4 level 5 with shuffle, then a crc32c
  per chunk: landpulse's product codecs), a Cloud-Optimized GeoTIFF with rasterio (DEFLATE,
  predictor 2, 512 px tiles, overviews) and a PNG quick-look with Pillow.
* ``ingest``: every band of a local STAC item (the bundled Sentinel-2 L1C scene) read with
  rasterio, 20 m bands replicated onto the 10 m grid (exact, the grids are nested), each written
  as a Zarr v3 array ``(1, y, x)`` uint16 with the same codecs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import zarr
from zarr.codecs import BloscCodec, Crc32cCodec


def ndvi(src: Path, out: Path) -> None:
    import rasterio.shutil
    from PIL import Image
    from rasterio.enums import Resampling
    from rasterio.io import MemoryFile
    from rasterio.transform import from_origin

    g = zarr.open_group(str(src), mode="r")
    red_all, nir_all = g["B04"], g["B08"]
    xs, ys = g["x"][:], g["y"][:]
    res = float(xs[1] - xs[0])
    transform = from_origin(float(xs[0]) - res / 2, float(ys[0]) + res / 2, res, res)
    lut = np.zeros((256, 3), np.uint8)  # brown -> yellow -> green, index 0 transparent
    lut[:, 0] = np.linspace(140, 0, 256)
    lut[:, 1] = np.linspace(80, 140, 256)
    lut[:, 2] = np.linspace(20, 40, 256)
    out.mkdir(parents=True, exist_ok=True)
    for t in range(red_all.shape[0]):
        red = red_all[t].astype(np.float32) * np.float32(1e-4)
        nir = nir_all[t].astype(np.float32) * np.float32(1e-4)
        with np.errstate(divide="ignore", invalid="ignore"):
            v = (nir - red) / (nir + red)
        v[~((v >= -1) & (v <= 1))] = np.nan
        packed = np.where(np.isnan(v), -32768, np.round(v * 1e4)).astype(np.int16)
        unit = out / f"{t:02d}"
        unit.mkdir(exist_ok=True)
        grp = zarr.open_group(str(unit / "ndvi.zarr"), mode="w", zarr_format=3)
        arr = grp.create_array("ndvi", shape=(1, *packed.shape), dtype="int16", chunks=(1, *packed.shape),
                               fill_value=-32768, serializer="auto",
                               compressors=[BloscCodec(cname="lz4", clevel=5, shuffle="shuffle", typesize=2),
                                            Crc32cCodec()])
        arr[0] = packed
        arr.attrs.update({"scale_factor": 1e-4, "_FillValue": -32768})
        profile = {"driver": "GTiff", "height": packed.shape[0], "width": packed.shape[1], "count": 1,
                   "dtype": "int16", "crs": "EPSG:32632", "transform": transform, "nodata": -32768}
        with MemoryFile() as mem:
            with mem.open(**profile) as tmp:
                tmp.write(packed, 1)
                tmp.scales = (1e-4,)
                tmp.build_overviews([2, 4, 8], Resampling.average)
                rasterio.shutil.copy(tmp, str(unit / "ndvi.tif"), driver="COG", COMPRESS="DEFLATE",
                                     PREDICTOR="2", BLOCKSIZE="512", COPY_SRC_OVERVIEWS="YES")
        idx = np.where(np.isnan(v), 0, np.clip((np.nan_to_num(v) + 1) * 127.5, 1, 255).astype(np.int32))
        rgba = np.dstack([lut[idx], np.where(idx == 0, 0, 255).astype(np.uint8)])
        Image.fromarray(rgba, "RGBA").save(unit / "thumbnail.png", optimize=False)


def ingest(item_path: Path, out: Path) -> None:
    import rasterio

    item = json.loads(item_path.read_text())
    assets = {k: item_path.parent / a["href"] for k, a in item["assets"].items()
              if a.get("href", "").endswith(".tif") and "data" in a.get("roles", ["data"])}
    grp = zarr.open_group(str(out), mode="w", zarr_format=3)
    bands: dict[str, np.ndarray] = {}
    for name, path in sorted(assets.items()):
        with rasterio.open(path) as f:
            bands[name] = f.read(1)
    shape = max(b.shape for b in bands.values())
    for name, data in bands.items():
        if data.shape != shape:  # Sentinel-2 20 m on the 10 m grid: nested, exact replication
            fy, fx = shape[0] // data.shape[0], shape[1] // data.shape[1]
            data = np.repeat(np.repeat(data, fy, axis=0), fx, axis=1)[: shape[0], : shape[1]]
        arr = grp.create_array(name, shape=(1, *shape), dtype=data.dtype, chunks=(1, *shape), fill_value=0,
                               compressors=[BloscCodec(cname="lz4", clevel=5, shuffle="shuffle",
                                                       typesize=data.dtype.itemsize), Crc32cCodec()])
        arr[0] = data


if __name__ == "__main__":
    what, a, b = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    {"ndvi": ndvi, "ingest": ingest}[what](a, b)
