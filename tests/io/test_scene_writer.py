"""The one-pass scene writer (``landpulse.io.scene_writer``) writes the store the xarray path writes.

``landpulse ingest`` of local integer band files into a new store skips xarray and Dask; every
other ingest (appends, remote assets, float bands) goes through ``scene_dataset`` and ``to_zarr``.
Both must give one store: here every ``zarr.json`` is compared as JSON, every chunk file byte for
byte, and the opened datasets with ``xarray.testing.assert_identical``, on the bundled real
Sentinel-2 scene (10 bands, 20 m bands replicated onto 10 m), three real Bolzano dates (SCL,
several chunks with edge chunks), a calibrated CBERS scene and a scene whose scale is flagged.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr

import landpulse
from landpulse.io import scene_from_stac_item
from landpulse.io.scenes import Scene
from tests.support import WriteBand

ingest_module = importlib.import_module("landpulse.io.ingest")  # landpulse.io.ingest is the function


def _files(store: Path) -> dict[str, Path]:
    return {str(p.relative_to(store)): p for p in sorted(store.rglob("*")) if p.is_file()}


def _assert_same_store(direct: Path, reference: Path) -> None:
    a, b = _files(direct), _files(reference)
    assert sorted(a) == sorted(b)
    for rel, path in a.items():
        if path.name == "zarr.json":
            assert json.loads(path.read_text()) == json.loads(b[rel].read_text()), rel
        else:
            assert path.read_bytes() == b[rel].read_bytes(), rel
    xr.testing.assert_identical(landpulse.open_store(direct).load(), landpulse.open_store(reference).load())


def _both(scenes: Scene | Sequence[Scene], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
          **kw: Any) -> tuple[Path, Path]:
    """Ingest with the one-pass writer (checked to be taken), then through xarray."""
    calls: list[int] = []
    write: Callable[..., Path] = ingest_module.write_scene_store

    def counted(*args: Any, **kwargs: Any) -> Path:
        calls.append(1)
        return write(*args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(ingest_module, "write_scene_store", counted)
        direct = ingest_module.ingest(scenes, tmp_path / "direct.zarr", **kw)
    assert calls == [1]
    with monkeypatch.context() as m:
        m.setattr(ingest_module, "direct_write_possible", lambda planned: False)
        reference = ingest_module.ingest(scenes, tmp_path / "xarray.zarr", **kw)
    return direct, reference


def test_the_bundled_scene_in_several_chunks(tmp_path: Path, sample_item: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # 800 x 800 px in 300 x 300 chunks: full, edge and corner chunks; 20 m bands replicated
    direct, reference = _both(scene_from_stac_item(sample_item), tmp_path, monkeypatch, chunks=(300, 300))
    _assert_same_store(direct, reference)
    assert len(list((direct / "swir16" / "c").rglob("*"))) > 9


def test_three_real_bolzano_dates(bolzano_cogs: tuple[Path, list[dict[str, Any]]], tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    direct, reference = _both(_bolzano_scenes(bolzano_cogs, tmp_path), tmp_path, monkeypatch, chunks=(200, 300))
    _assert_same_store(direct, reference)
    ds = landpulse.open_store(direct)
    assert ds.sizes == {"time": 3, "y": 512, "x": 512} and "scl" in ds.data_vars


def _bolzano_scenes(bolzano_cogs: tuple[Path, list[dict[str, Any]]], tmp_path: Path) -> list[Scene]:
    root, items = bolzano_cogs
    scenes = []
    for item in items:
        local = {**item, "assets": {k: {**a, "href": str(root / a["href"])} for k, a in item["assets"].items()}}
        path = tmp_path / f"{item['id']}.json"
        path.write_text(json.dumps(local))
        scenes.append(scene_from_stac_item(path))
    return scenes


def test_appends_of_real_bolzano_dates(bolzano_cogs: tuple[Path, list[dict[str, Any]]], tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # one date ingested, then one and one more appended: by the one-pass writer and by xarray
    first, *later = _bolzano_scenes(bolzano_cogs, tmp_path)
    stores = {}
    calls: list[str] = []
    real = ingest_module.append_scene_store

    def counted(*args: Any, **kwargs: Any) -> Path:
        calls.append(str(args[5]))
        return real(*args, **kwargs)

    for writer in ("one-pass", "xarray"):
        path = ingest_module.ingest(first, tmp_path / f"{writer}.zarr", chunks=(200, 300))
        with monkeypatch.context() as m:
            m.setattr(ingest_module, "append_scene_store", counted)
            if writer == "xarray":
                m.setattr(ingest_module, "direct_append_possible", lambda *a: False)
            for scene in later:
                ingest_module.ingest(scene, path, append=True)
        stores[writer] = path
    assert calls == [str(stores["one-pass"])] * 2
    _assert_same_store(stores["one-pass"], stores["xarray"])
    assert list(landpulse.open_store(stores["one-pass"])["scene_id"].values) == [s.id for s in [first, *later]]


def test_a_calibrated_cbers_scene(tmp_path: Path, write_band: WriteBand, monkeypatch: pytest.MonkeyPatch) -> None:
    from landpulse.io import scene_from_inpe
    from tests.io.test_cbers import _inpe_scene

    direct, reference = _both(scene_from_inpe(_inpe_scene(tmp_path, write_band)), tmp_path, monkeypatch)
    _assert_same_store(direct, reference)
    assert "red_calibration" in landpulse.open_store(direct).coords


def test_a_flagged_scale_is_recorded_alike(tmp_path: Path, sample_item: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from landpulse.errors import ProductMeaningWarning
    from tests.io.test_ingest import _relabelled_sample_item

    scene = scene_from_stac_item(_relabelled_sample_item(tmp_path, sample_item, "scale"), bands=["red", "nir"])
    with pytest.warns(ProductMeaningWarning) as caught:
        direct, reference = _both(scene, tmp_path, monkeypatch, chunks=(256, 512))
    messages = [str(w.message) for w in caught if w.category is ProductMeaningWarning]
    assert len(messages) == 4 and messages[:2] == messages[2:]  # red and nir, once per path
    with pytest.warns(ProductMeaningWarning) as plain:  # the one-pass writer's warnings point at the caller
        ingest_module.ingest(scene, tmp_path / "plain.zarr", chunks=(256, 512))
    assert {Path(w.filename).name for w in plain if w.category is ProductMeaningWarning} == {Path(__file__).name}
    _assert_same_store(direct, reference)


def test_a_float_band_goes_through_xarray(tmp_path: Path, write_band: WriteBand) -> None:
    data = np.full((16, 20), 0.25, np.float32)
    scene = landpulse.io.scene_from_files({"red": write_band("r.tif", data, nodata=None), "nir": write_band("n.tif", data * 2, nodata=None)},
                                          datetime="2023-01-01", sensor="sentinel2-l2a", processing_baseline="05.09")
    planned = [(scene, *ingest_module.scene_grid(scene))]
    assert not ingest_module.direct_write_possible(planned)


def test_ingest_imports_neither_xarray_nor_dask() -> None:
    code = ("import sys, landpulse.io.ingest; "
            "print(sorted(m for m in ('xarray', 'dask', 'pandas', 'rioxarray') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_an_append_killed_while_writing_pixels_is_completed_by_the_rerun(tmp_path: Path, sample_item: Path) -> None:
    """RELIABILITY: SIGKILL of ``landpulse ingest --append`` in the middle of its pixel writes,
    then the same command again: the store ends byte-identical to an append that was never
    killed (the rerun rolls the unfinished date back first, then appends it whole)."""
    import os
    import signal
    import time

    from landpulse.io.store_metadata import APPEND_MARK

    later = json.loads(sample_item.read_text())
    later["id"] += "_as_2016-01-22"
    later["properties"]["datetime"] = "2016-01-22T00:00:00Z"
    for asset in later["assets"].values():
        asset["href"] = str((sample_item.parent / asset["href"]).resolve())
    later_item = tmp_path / "later.json"
    later_item.write_text(json.dumps(later))
    cli = [sys.executable, "-m", "landpulse.cli", "ingest"]
    bands = ["--bands", "blue,green,red,nir"]
    first = [*cli, "--item", str(sample_item), "--chunk", "50", *bands]  # 256 chunks a band: a write that takes a while
    append = [*cli, "--item", str(later_item), "--append", *bands]
    for name in ("killed.zarr", "reference.zarr"):
        subprocess.run([*first[:4], str(tmp_path / name), *first[4:]], check=True, capture_output=True)
    subprocess.run([*append[:4], str(tmp_path / "reference.zarr"), *append[4:]], check=True, capture_output=True)

    store = tmp_path / "killed.zarr"
    proc = subprocess.Popen([*append[:4], str(store), *append[4:]], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        marked = APPEND_MARK in json.loads((store / "zarr.json").read_text()).get("attributes", {})
        if marked and len(list((store / "nir" / "c" / "1").rglob("*"))) > 20:  # pixels of the new date
            break
        time.sleep(0.002)
    assert proc.poll() is None, "the append finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with pytest.raises(landpulse.InputError, match="append stopped before it finished"):
        landpulse.open_store(store)
    subprocess.run([*append[:4], str(store), *append[4:]], check=True, capture_output=True)
    _assert_same_store(store, tmp_path / "reference.zarr")


def test_appends_merge_the_stores_radiometry_warnings(tmp_path: Path, sample_item: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A store ingested from a scene with a doubtful scale keeps its warnings through appends, on
    both append paths: an unflagged later scene adds none, a later flagged one adds only messages
    the store does not hold yet (no duplicates), and the two paths record the same list."""
    import warnings

    from landpulse.errors import ProductMeaningWarning
    from landpulse.spec.radiometry_check import RADIOMETRY_WARNINGS_ATTR
    from tests.io.test_ingest import _relabelled_sample_item

    def dated(item_path: Path, day: str, name: str) -> Path:
        item = json.loads(item_path.read_text())
        item["id"] += f"_as_{day}"
        item["properties"]["datetime"] = f"{day}T00:00:00Z"
        for asset in item["assets"].values():
            asset["href"] = str((item_path.parent / asset["href"]).resolve())
        out = tmp_path / name
        out.write_text(json.dumps(item))
        return out

    flagged = _relabelled_sample_item(tmp_path, sample_item, "scale")
    plain_later = dated(sample_item, "2016-01-22", "plain-later.json")
    flagged_later = dated(flagged, "2016-02-01", "flagged-later.json")
    recorded = {}
    for writer in ("one-pass", "xarray"):
        path = tmp_path / f"{writer}.zarr"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ProductMeaningWarning)
            ingest_module.ingest(scene_from_stac_item(flagged, bands=["red", "nir"]), path)
            first = json.loads(landpulse.open_store(path).attrs[RADIOMETRY_WARNINGS_ATTR])
            with monkeypatch.context() as m:
                if writer == "xarray":
                    m.setattr(ingest_module, "direct_append_possible", lambda *a: False)
                ingest_module.ingest(scene_from_stac_item(plain_later, bands=["red", "nir"]), path, append=True)
                assert json.loads(landpulse.open_store(path).attrs[RADIOMETRY_WARNINGS_ATTR]) == first
                ingest_module.ingest(scene_from_stac_item(flagged_later, bands=["red", "nir"]), path, append=True)
        merged = json.loads(landpulse.open_store(path).attrs[RADIOMETRY_WARNINGS_ATTR])
        assert len(first) == 2 and merged[:2] == first and len(merged) == len(set(merged))
        assert landpulse.open_store(path).sizes["time"] == 3
        recorded[writer] = merged
    assert recorded["one-pass"] == recorded["xarray"]
