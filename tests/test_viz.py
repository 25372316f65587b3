"""Quick-looks: class products in their class colours (thumbnails and figures), indices in theirs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.colors import to_rgba
from PIL import Image

from landpulse.products.water import water_attrs
from landpulse.viz import WATER_COLOURS, thumbnail_png


def rgba_bytes(colour: str) -> list[int]:
    return [round(c * 255) for c in to_rgba(colour)]


def test_class_thumbnail_uses_class_colours_and_hides_nodata(tmp_path: Path) -> None:
    codes = np.array([[0, 1], [2, 255]], dtype=np.float32)  # not water, water, cloud, nodata
    png = thumbnail_png(codes, tmp_path / "t.png", style="index", attrs=water_attrs("test"))
    rgba = np.asarray(Image.open(png))
    assert rgba[0, 0].tolist() == rgba_bytes(WATER_COLOURS[0])
    assert rgba[0, 1].tolist() == rgba_bytes(WATER_COLOURS[1])
    assert rgba[1, 0].tolist() == rgba_bytes(WATER_COLOURS[2])
    assert rgba[1, 1, 3] == 0  # nodata transparent


def test_index_thumbnail_keeps_the_index_colour_map(tmp_path: Path) -> None:
    values = np.array([[-1.0, 1.0], [0.0, np.nan]], dtype=np.float32)
    rgba = np.asarray(Image.open(thumbnail_png(values, tmp_path / "i.png", style="index")))
    assert rgba[0, 0, 0] > 150 and rgba[0, 0, 1] < 100  # RdYlGn: -1 red
    assert rgba[0, 1, 1] > 80 and rgba[0, 1, 0] < 50     # +1 green
    assert rgba[1, 1, 3] == 0                            # NaN transparent


def test_class_cog_overviews_hold_classes_only(tmp_path: Path) -> None:
    """COG overviews of a class product pick classes (nearest), never averages of class codes."""
    import rasterio
    import rioxarray  # noqa: F401
    import xarray as xr

    from landpulse.io.cog import write_cog
    from landpulse.io.products import write_product_blocks

    n = 1024
    # columns alternate not-water (0) and cloud (2): an average of codes would invent water (1)
    codes = np.broadcast_to(np.where(np.arange(n) % 2 == 0, 0, 2), (n, n)).astype(np.uint8)
    codes[: n // 4] = 255
    da = xr.DataArray(codes, dims=("y", "x"), name="water", attrs=water_attrs("test"),
                      coords={"y": 5_200_000.0 - 5 - 10 * np.arange(n), "x": 600_000.0 + 5 + 10 * np.arange(n)})
    da = da.rio.write_crs("EPSG:32632")
    write_product_blocks(da, tmp_path / "w.zarr", encoding="int16")
    tif = write_cog(tmp_path / "w.zarr", "water", tmp_path / "w.tif", style="index")
    with rasterio.open(tif) as src:
        assert src.overviews(1), "the COG has overviews"
    with rasterio.open(tif, overview_level=0) as ov:
        assert set(np.unique(ov.read(1)).tolist()) <= {0, 2, 255}
