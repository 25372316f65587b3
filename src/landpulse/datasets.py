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
