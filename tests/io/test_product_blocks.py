"""write_product_blocks writes every chunk, also those holding only nodata (issue 13 found that
zarr 3.1 ignored the write_empty_chunks setting of the array it reopened: an all-NaN chunk, a fully
cloudy block or a break map without a break, was left out and its unit refused as incomplete)."""

from __future__ import annotations

from pathlib import Path

import dask.array as dsa
import numpy as np
import xarray as xr

from landpulse.io.products import open_product, write_product_blocks
from landpulse.production.commit import check_complete


def test_all_nodata_chunks_are_written(tmp_path: Path) -> None:
    values = np.full((300, 400), np.nan, dtype=np.float32)
    values[:150, :200] = 0.5  # one chunk with data, three with nodata only
    da = xr.DataArray(dsa.from_array(values, chunks=(150, 200)), dims=("y", "x"), name="prod",
                      coords={"y": 5e6 - 10.0 * np.arange(300), "x": 6e5 + 10.0 * np.arange(400)}).rio.write_crs("EPSG:32632")
    for encoding in ("float32", "int16"):
        path = tmp_path / f"{encoding}.zarr"
        write_product_blocks(da, path, encoding=encoding)
        assert sorted(p.name for p in (path / "prod" / "c").iterdir()) == ["0", "1"]
        assert len(list((path / "prod" / "c").rglob("*"))) == 2 + 4  # two row folders, four chunks
        check_complete(path, ["prod"])
        np.testing.assert_array_equal(open_product(path)["prod"].values, values)
