"""write_product_blocks writes every chunk, also those holding only nodata (issue 13 found that
zarr 3.1 ignored the write_empty_chunks setting of the array it reopened: an all-NaN chunk, a fully
cloudy block or a break map without a break, was left out and its unit refused as incomplete)."""

from __future__ import annotations

from pathlib import Path

import dask.array as dsa
import numpy as np
import pytest
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


def _real_products(bolzano: xr.Dataset) -> dict[str, tuple[xr.DataArray, str, str]]:
    """Products of one real Bolzano date in each storage kind: int16-packed index, float32 index,
    uint8 classes with colours, an integer count; (product, encoding, quick-look style)."""
    import landpulse
    from landpulse.products.registry import get_product

    one = bolzano.isel(t=slice(3, 4))
    ndvi = landpulse.ndvi(one).rename("ndvi")
    water = get_product("water").compute(one).rename("water")
    count = get_product("clear_count").compute(bolzano.isel(t=slice(0, 4)), mask="auto").rename("clear_count")
    return {"int16": (ndvi, "int16", "index"), "float32": (ndvi, "float32", "index"),
            "classes": (water, "int16", "index"), "count": (count, "int16", "index")}


def test_a_cog_from_the_kept_slice_is_the_cog_from_the_store(bolzano: xr.Dataset, tmp_path: Path) -> None:
    # the production unit writes its COG from the stored values kept in memory while writing: the
    # file must be the one read back from the store would give, byte for byte (same pixels, packing,
    # nodata, georeferencing, overviews, colour table and category names)
    from landpulse.io.cog import write_cog
    from landpulse.io.products import stored_first_slice
    from landpulse.thumbnails import class_colour_table, is_class_product

    for kind, (product, encoding, style) in _real_products(bolzano).items():
        name = str(product.name)
        store = tmp_path / f"{kind}.zarr"
        written = write_product_blocks(product.chunk({product.dims[-2]: 128, product.dims[-1]: 256}), store,
                                       encoding=encoding, chunks={str(product.dims[-2]): 128, str(product.dims[-1]): 256},
                                       keep_first_slice=64 << 20)
        kept = stored_first_slice(product, written, encoding)  # type: ignore[arg-type]
        assert kept is not None and written.first_slice is not None
        colours = class_colour_table(product.attrs) if is_class_product(product.attrs) else None
        a = write_cog(store, name, tmp_path / f"{kind}-store.tif", style=style, colours=colours)
        b = write_cog(kept, name, tmp_path / f"{kind}-memory.tif", style=style, colours=colours)
        assert a.read_bytes() == b.read_bytes(), kind
        side = Path(f"{a}.aux.xml")
        assert side.exists() == Path(f"{b}.aux.xml").exists()
        if side.exists():
            assert side.read_text() == Path(f"{b}.aux.xml").read_text()
    # a slice over the budget is not kept (the unit then reads the store back)
    product = _real_products(bolzano)["int16"][0]
    written = write_product_blocks(product, tmp_path / "big.zarr", keep_first_slice=1000)
    assert written.first_slice is None and stored_first_slice(product, written) is None


def test_tasks_write_whole_chunks_or_nothing(tmp_path: Path) -> None:
    # RELIABILITY: each Dask task writes whole Zarr chunks that no other task touches; Dask chunks
    # that straddle the store's chunks are refused before anything is written (never safe_chunks=False)
    import zarr

    from landpulse.backend.storage import write_blocks
    from landpulse.errors import LandpulseError

    values = np.linspace(-1, 1, 300 * 400, dtype=np.float32).reshape(300, 400)
    target = zarr.create_array(str(tmp_path / "t.zarr"), shape=(300, 400), chunks=(150, 200), dtype="float32",
                               fill_value=np.nan)
    for chunks in ((100, 200), (150, 300), (300, 400)):  # rows across chunk edges, columns, the whole array
        da = xr.DataArray(dsa.from_array(values, chunks=chunks), dims=("y", "x"), name="p")
        with pytest.raises(LandpulseError, match="do not match the store's chunk size"):
            write_blocks(da, target)
        assert np.isnan(target[:]).all()  # nothing was written
    written = write_blocks(xr.DataArray(dsa.from_array(values, chunks=(150, 200)), dims=("y", "x"), name="p"), target)
    assert written.chunks_written == 4
    np.testing.assert_array_equal(target[:], values)
