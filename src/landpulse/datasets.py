"""Real imagery that ships with landpulse (see ``landpulse/sample_data/README.md``)."""

from __future__ import annotations

import importlib.resources
from pathlib import Path


def sample_data_dir() -> Path:
    """Folder of the bundled sample imagery."""
    return Path(str(importlib.resources.files("landpulse") / "sample_data"))


def sample_scene_item() -> Path:
    """STAC item of the bundled Sentinel-2 L1C crop (18SVG, 2016-01-12, CC0)."""
    return sample_data_dir() / "s2-l1c-18SVG-2016-01-12" / "item.json"


def change_scene_items() -> list[Path]:
    """STAC items of the bundled Landsat pair for change detection, oldest first: Landsat 7
    (2001-07-30) and Landsat 8 (2013-07-07), 41 x 41 pixels at 30 m near Marburg (USGS, public
    domain; see ``sample_data/README.md``)."""
    root = sample_data_dir() / "landsat-marburg-2001-2013"
    return [root / "LE07_2001-07-30" / "item.json", root / "LC08_2013-07-07" / "item.json"]


def sample_series_store() -> Path:
    """The bundled real time series: a Zarr store of a 160 x 160 pixel crop of the Bolzano
    Sentinel-2 L2A series, 12 dates of June 2022 (B02 B03 B04 B08 uint16 reflectance x 10000,
    nodata 0, to be declared with ``scale=1e-4``; SCL). Contains modified Copernicus Sentinel data
    2022 (Apache-2.0, see ``sample_data/README.md``)."""
    return sample_data_dir() / "s2l2a-bolzano-2022-06-crop" / "bolzano.zarr"
