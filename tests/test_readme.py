"""Every ``python`` code block of the README runs, in order, in one namespace, in a scratch folder.

The README's blocks use names a reader brings along (``item.json``, ``foreign.zarr``, two dates to
compare, a series of water maps); :data:`GIVEN` defines them before the block that first uses
them, from real data only: the bundled CC0 Sentinel-2 L1C crop, its Landsat 7/8 pair and the
Bolzano Sentinel-2 L2A series in ../shared/data. ``foreign.zarr`` is the bundled scene's bands
written without their radiometric metadata (generated from the real scene, to play a foreign store).
The CBERS block's scene is INPE's metadata of a real scene (its published coefficients, as in
tests/support/cbers.py) beside GENERATED digital numbers: no real CBERS pixels are at hand.
"""

from __future__ import annotations

import re
import shutil
import warnings
from pathlib import Path

import pytest
import xarray as xr

from landpulse.errors import ProductMeaningWarning
from tests.support import BOLZANO, REPO, skip_or_fail

BLOCKS = re.findall(r"^```python\n(.*?)^```", (REPO / "README.md").read_text(), flags=re.S | re.M)

#: names each block needs that no earlier block defines: (a line of the block, the code run before it)
GIVEN = [
    ('open_store("foreign.zarr")', "scene = ds\n"),
    ('landpulse.indices(ds, ["ndvi"', "ds = scene\n"),
    # INPE's metadata of a real CBERS-4 MUX scene (its published coefficients, tests/support/cbers.py)
    # with generated band files beside it: no real CBERS pixels ship with the project
    ('scene_from_inpe("CBERS_4_MUX', """
from pathlib import Path as _Path
import numpy as _np, rasterio as _rio
from rasterio.transform import from_origin as _from_origin
from tests.support.cbers import MUX_SCENE as _MUX, write_inpe_xml as _write_inpe_xml
_write_inpe_xml(_Path("."))
for _b, _dn in {"5": 40, "6": 50, "7": 60, "8": 90}.items():  # generated digital numbers
    with _rio.open(f"{_MUX['scene_id']}_BAND{_b}.tif", "w", driver="GTiff", width=6, height=5, count=1, dtype="uint8",
                   crs="EPSG:32723", transform=_from_origin(500000.0, 8000000.0, 20.0, 20.0), nodata=0) as _dst:
        _dst.write(_np.full((5, 6), _dn, _np.uint8), 1)
"""),
    ("change.difference(", """
from landpulse.datasets import change_scene_items
pair = landpulse.open_store(ingest([scene_from_stac_item(p, bands=["red", "nir", "swir16", "swir22"])
                                    for p in change_scene_items()], "landsat.zarr"))
pre_ds, post_ds = pair.isel(time=0), pair.isel(time=1)
ndvi_before, ndvi_after = landpulse.ndvi(pre_ds), landpulse.ndvi(post_ds)
nbr_pre, nbr_post = (landpulse.indices(d, ["nbr"])["nbr"] for d in (pre_ds, post_ds))
ds = l2a[["B02", "B03", "B04", "B08"]]
clouds = landpulse.mask(l2a) > 0
ndvi = landpulse.ndvi(l2a).where(~clouds)
"""),
    ("water.index_water(ds)", """
ds = scene
maps = landpulse.water.index_water(l2a)
product = landpulse.water.summary(maps)
"""),
]


def test_readme_has_blocks() -> None:
    assert len(BLOCKS) >= 5


def test_every_readme_code_block_runs(tmp_path: Path, sample_item: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not BOLZANO.exists():
        skip_or_fail("shared_data", f"shared data not found at {BOLZANO}")
    import landpulse
    from landpulse.io import ingest, scene_from_stac_item
    from landpulse.production.run import run_store

    monkeypatch.chdir(tmp_path)
    (tmp_path / BOLZANO.name).symlink_to(BOLZANO)  # the README opens it by name
    for f in sample_item.parent.iterdir():  # the bundled scene's item with its band files
        shutil.copy(f, tmp_path / f.name)
    raw = landpulse.open_store(ingest(scene_from_stac_item("item.json"), "source.zarr"))
    foreign = xr.Dataset({b: raw[b].drop_vars([c for c in raw[b].coords if str(c).endswith(("_dn_scale", "_dn_offset"))])
                          for b in ("red", "nir")})
    for b in foreign.data_vars:
        foreign[b].attrs = {}
    foreign.to_zarr("foreign.zarr", zarr_format=3, consolidated=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ProductMeaningWarning)
        run_store("source.zarr", "demo-output/products", products=["ndvi", "water"], echo=lambda _: None)
    namespace: dict[str, object] = {"landpulse": landpulse, "ingest": ingest, "scene_from_stac_item": scene_from_stac_item}
    for i, block in enumerate(BLOCKS):
        for marker, setup in GIVEN:
            if marker in block:
                exec(compile(setup, f"<given before README block {i + 1}>", "exec"), namespace)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ProductMeaningWarning)
            try:
                exec(compile(block, f"<README block {i + 1}>", "exec"), namespace)
            except Exception as err:
                pytest.fail(f"README block {i + 1} fails: {type(err).__name__}: {err}\n{block}")
