"""The stored quick-look colour tables are matplotlib's, and their lookups give matplotlib's bytes
(the production path writes thumbnails and COG colour tables without importing matplotlib)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from matplotlib.colors import to_rgba as mpl_to_rgba
from PIL import Image

from landpulse import thumbnails
from landpulse.products.water import water_attrs
from landpulse.thumbnails import (
    COLOUR_MAPS,
    STYLES,
    class_colour_table,
    colour_list,
    colour_table,
    map_colours,
    thumbnail_png,
    to_rgba,
)

REPO = Path(__file__).resolve().parents[1]


def _matplotlib_bytes(values: np.ndarray, name: str) -> np.ndarray:
    cmap = matplotlib.colormaps[name].with_extremes(bad=(0, 0, 0, 0))
    return np.asarray(cmap(np.ma.masked_invalid(values), bytes=True))


def test_stored_tables_are_matplotlibs() -> None:
    spec = importlib.util.spec_from_file_location("update_colour_maps", REPO / "scripts" / "update_colour_maps.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    stored = json.loads(thumbnails._TABLE_FILE.read_text())["tables"]
    assert set(stored) == set(COLOUR_MAPS)
    assert stored == script.tables()["tables"], "run python scripts/update_colour_maps.py"
    for name in COLOUR_MAPS:
        cmap = matplotlib.colormaps[name]
        cmap._init()
        np.testing.assert_array_equal(colour_table(name), cmap._lut[: cmap.N])


def test_every_style_names_a_stored_table() -> None:
    for style in STYLES.values():
        assert colour_table(style["cmap"]).shape == (256, 4)
    with pytest.raises(KeyError, match="no stored colour table named 'jet'"):
        colour_table("jet")


EDGES = np.array([0.0, 1.0, -0.0, 1 / 256, 255 / 256, 0.5, np.nextafter(1.0, 0.0), np.nextafter(0.0, -1.0),
                  -0.5, 1.5, -1e30, 1e30, np.nan, np.inf, -np.inf], dtype=np.float64)


@pytest.mark.parametrize("name", COLOUR_MAPS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lookups_equal_matplotlib_at_the_edges(name: str, dtype: type) -> None:
    values = EDGES.astype(dtype)
    np.testing.assert_array_equal(map_colours(values, name), _matplotlib_bytes(values, name))


@settings(max_examples=60, deadline=None)
@given(values=arrays(np.float32, st.integers(1, 300),
                     elements=st.floats(-2, 3, width=32) | st.sampled_from([np.nan, np.inf, -np.inf, 1.0, 0.0])),
       name=st.sampled_from(COLOUR_MAPS))
def test_lookups_equal_matplotlib(values: np.ndarray, name: str) -> None:
    np.testing.assert_array_equal(map_colours(values, name), _matplotlib_bytes(values, name))


@pytest.mark.parametrize("n", [1, 2, 3, 5, 7, 256])
def test_sampled_class_colours_equal_matplotlib(n: int) -> None:
    cmap = matplotlib.colormaps["RdYlGn_r"]
    assert colour_list("RdYlGn_r", n) == [cmap(i / max(1, n - 1)) for i in range(n)]


def test_class_colour_tables_equal_matplotlib() -> None:
    attrs = [water_attrs("test"),
             {"flag_values": [0, 1, 2, 3], "flag_meanings": "stable_not_water new_water lost_water permanent_water"},
             {"flag_values": [1, 2, 3, 4, 5], "flag_meanings": "unburned low moderate_low moderate_high high"}]
    for a in attrs:
        flags = [int(v) for v in np.atleast_1d(a["flag_values"])]
        chosen = thumbnails.class_colours(a)
        if isinstance(chosen, str):
            base = matplotlib.colormaps[chosen]
            colours = [base(i / max(1, len(flags) - 1)) for i in range(len(flags))]
        else:
            colours = chosen[: len(flags)]
        expected = {f: tuple(int(round(c * 255)) for c in mpl_to_rgba(colour)) for f, colour in zip(flags, colours, strict=False)}
        assert class_colour_table(a) == expected


def test_real_ndvi_thumbnail_equals_matplotlibs(tmp_path: Path) -> None:
    from tests.support import BOLZANO, skip_or_fail

    if not BOLZANO.exists():
        skip_or_fail("shared_data", f"{BOLZANO} is absent")
    import zarr

    group = zarr.open_group(str(BOLZANO), mode="r")
    red = np.asarray(group["B04"][0], dtype=np.float32) * 1e-4
    nir = np.asarray(group["B08"][0], dtype=np.float32) * 1e-4
    with np.errstate(invalid="ignore", divide="ignore"):
        ndvi = (nir - red) / (nir + red)
    ndvi[0, :5] = np.nan
    png = np.asarray(Image.open(thumbnail_png(ndvi, tmp_path / "t.png", style="index")))
    st_ = STYLES["index"]
    norm = (ndvi - np.float32(st_["vmin"])) / np.float32(st_["vmax"] - st_["vmin"])
    np.testing.assert_array_equal(png, _matplotlib_bytes(norm, "RdYlGn"))
    assert png[0, 0, 3] == 0


def test_colours_landpulse_cannot_read_are_refused() -> None:
    assert to_rgba("#1f5fbf") == mpl_to_rgba("#1f5fbf")
    assert to_rgba("#1f5fbf80") == mpl_to_rgba("#1f5fbf80")
    for bad in ("red", "#12345", "#gggggg", (1.0, 2.0, 0.0), (0.1,)):
        with pytest.raises(ValueError):
            to_rgba(bad)  # type: ignore[arg-type]
