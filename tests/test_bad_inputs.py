"""A generated bad-input suite (RELIABILITY.md; issue 18): for each kind of input a table of
corruptions, each of which must give a typed landpulse error whose message names the field, never
a traceback from inside xarray, zarr or pydantic, never a silent success.

Every case is generated here (labelled by its id); the valid starting points are the bundled real
scene's store and STAC item, and a small job spec over them.
"""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr
import yaml
import zarr

import landpulse
from landpulse.cli import main
from landpulse.errors import LandpulseError
from landpulse.io import scene_from_stac_item
from landpulse.production.jobspec import load_job, parse_job
from tests.support.series import job_dict

# --- band arrays (the Python API: xarray in) ---------------------------------------------------------


def _bands(n_time: int = 2, ny: int = 6, nx: int = 8) -> xr.Dataset:
    rng = np.random.default_rng(0)
    coords = {"time": np.array(["2023-01-01", "2023-01-06", "2023-01-11"][:n_time], "datetime64[ns]"),
              "y": 5200000.0 - 10.0 * np.arange(ny), "x": 600000.0 + 10.0 * np.arange(nx)}
    ds = xr.Dataset({b: (("time", "y", "x"), rng.uniform(0.01, 0.5, (n_time, ny, nx)).astype(np.float32))
                     for b in ("red", "nir")}, coords=coords)
    for b in ds.data_vars:
        ds[b].attrs["landpulse_radiometry"] = "reflectance"
    return ds.rio.write_crs("EPSG:32632")


def _with(band: str, values: Any, dims: tuple[str, ...] = ("time", "y", "x")) -> Callable[[xr.Dataset], xr.Dataset]:
    def edit(ds: xr.Dataset) -> xr.Dataset:
        attrs = dict(ds[band].attrs)
        data = values(ds) if callable(values) else values
        ds = ds.drop_vars(band)
        ds[band] = (dims, data)
        ds[band].attrs.update(attrs)
        return ds
    return edit


def _coord(name: str, values: Callable[[np.ndarray], np.ndarray]) -> Callable[[xr.Dataset], xr.Dataset]:
    return lambda ds: ds.assign_coords({name: values(ds[name].values.copy())})


def _nan_first(v: np.ndarray) -> np.ndarray:
    v[0] = np.nan
    return v


def _inf_last(v: np.ndarray) -> np.ndarray:
    v[-1] = np.inf
    return v


BAND_CASES: dict[str, tuple[Callable[[xr.Dataset], xr.Dataset], str]] = {
    "missing band": (lambda ds: ds.drop_vars("nir"), "nir"),
    "string dtype": (_with("red", lambda ds: np.full(ds["red"].shape, "a")), "red"),
    "complex dtype": (_with("red", lambda ds: ds["red"].values.astype(np.complex64)), "red"),
    "datetime dtype": (_with("nir", lambda ds: np.zeros(ds["nir"].shape, "datetime64[ns]")), "nir"),
    "object dtype": (_with("red", lambda ds: ds["red"].values.astype(object)), "red"),
    "one-dimensional band": (_with("red", lambda ds: ds["red"].values[0, 0], ("x",)), "red"),
    "empty along x": (lambda ds: ds.isel(x=slice(0, 0)), "x"),
    "empty along time": (lambda ds: ds.isel(time=slice(0, 0)), "time"),
    "NaN x coordinate": (_coord("x", _nan_first), "x"),
    "inf y coordinate": (_coord("y", _inf_last), "y"),
    "non-monotonic x": (_coord("x", lambda v: v[::-1][np.r_[1, 0, 2:v.size]] if v.size > 2 else v), "x"),
}


@pytest.mark.parametrize("case", list(BAND_CASES))
def test_bad_band_arrays_give_a_typed_error_naming_the_field(case: str) -> None:
    edit, field = BAND_CASES[case]
    ds = edit(_bands())
    with pytest.raises(LandpulseError) as caught:
        landpulse.ndvi(ds).compute()
    assert field in str(caught.value), (case, caught.value)


def test_the_valid_band_arrays_pass() -> None:  # the starting point of the table is good
    assert np.isfinite(landpulse.ndvi(_bands()).values).all()


# --- STAC items ---------------------------------------------------------------------------------------

def _item_cases() -> dict[str, tuple[Callable[[dict[str, Any]], Any], str]]:
    def set_(path: str, value: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
        def edit(item: dict[str, Any]) -> dict[str, Any]:
            node = item
            keys = path.split("/")
            for k in keys[:-1]:
                node = node[int(k)] if isinstance(node, list) else node[k]
            if value is _DROP:
                del node[keys[-1]]
            else:
                node[keys[-1]] = value
            return item
        return edit

    return {
        "not a Feature": (set_("type", "FeatureCollection"), "Feature"),
        "no assets": (set_("assets", _DROP), "assets"),
        "assets a list": (set_("assets", []), "assets"),
        "no datetime": (set_("properties/datetime", _DROP), "datetime"),
        "datetime not a date": (set_("properties/datetime", "yesterday"), "datetime"),
        "datetime a number": (set_("properties/datetime", 20160112), "datetime"),
        "properties a list": (set_("properties", []), "properties"),
        "asset without href": (set_("assets/red/href", _DROP), "href"),
        "href a number": (set_("assets/red/href", 7), "href"),
        "eo:bands not a list": (set_("assets/red/eo:bands", "red"), "eo:bands"),
        "raster:bands scale a string": (set_("assets/red/raster:bands", [{"scale": "big"}]), "scale"),
        "raster:bands scale NaN": (set_("assets/red/raster:bands", [{"scale": float("nan"), "offset": 0}]), "scale"),
        "raster:bands offset inf": (set_("assets/red/raster:bands", [{"scale": 1e-4, "offset": float("inf")}]), "offset"),
        "nodata a string": (set_("assets/red/raster:bands", [{"scale": 1e-4, "nodata": "zero"}]), "nodata"),
        "baseline unreadable": (set_("properties/s2:processing_baseline", "new"), "baseline"),
        "an item that is a list": (lambda item: [item], "STAC"),
    }


_DROP = object()
ITEM_CASES = _item_cases()


@pytest.mark.parametrize("case", list(ITEM_CASES))
def test_bad_stac_items_give_a_typed_error_naming_the_field(case: str, sample_item: Path, tmp_path: Path) -> None:
    edit, field = ITEM_CASES[case]
    item = json.loads(sample_item.read_text())
    for a in item["assets"].values():  # absolute hrefs to the bundled files
        a["href"] = str(sample_item.parent / Path(a["href"]).name)
    bad = edit(copy.deepcopy(item))
    path = tmp_path / "item.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(LandpulseError) as caught:
        scene = scene_from_stac_item(path, bands=["red", "nir"])
        landpulse.io.ingest(scene, tmp_path / "s.zarr")
    assert field in str(caught.value), (case, caught.value)
    assert not (tmp_path / "s.zarr").exists()


# --- store metadata (Zarr) -----------------------------------------------------------------------------

def _edit_json(rel: str, edit: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    def apply(store: Path) -> None:
        p = store / rel
        meta = json.loads(p.read_text())
        edit(meta)
        p.write_text(json.dumps(meta))
    return apply


def _write_array(name: str, values: Any, dims: list[str]) -> Callable[[Path], None]:
    def apply(store: Path) -> None:
        group = zarr.open_group(store, mode="a")
        if name in group:
            del group[name]
        arr = group.create_array(name, shape=np.shape(values), dtype=np.asarray(values).dtype, dimension_names=dims,
                                 overwrite=True)
        arr[...] = values
    return apply


def _variables(store: Path) -> list[str]:
    return sorted(p.parent.name for p in store.glob("*/zarr.json"))


STORE_CASES: dict[str, tuple[Callable[[Path], None], str]] = {
    "group zarr.json not JSON": (lambda s: (s / "zarr.json").write_text("{not json"), "zarr.json"),
    "band zarr.json not JSON": (lambda s: (s / "red" / "zarr.json").write_text("[1, 2"), "red"),
    "band shape a string": (_edit_json("red/zarr.json", lambda m: m.update(shape="800x800")), "red"),
    "band without data_type": (_edit_json("red/zarr.json", lambda m: m.pop("data_type")), "red"),
    "band data_type unknown": (_edit_json("red/zarr.json", lambda m: m.update(data_type="uint128")), "red"),
    "band dimension_names missing": (_edit_json("red/zarr.json", lambda m: m.pop("dimension_names")), "red"),
    "band dimension_names wrong length": (_edit_json("red/zarr.json", lambda m: m.update(dimension_names=["y", "x"])), "red"),
    "chunk grid zero": (_edit_json("red/zarr.json", lambda m: m["chunk_grid"]["configuration"].update(chunk_shape=[1, 0, 0])), "red"),
    "x coordinate with NaN": (_write_array("x", np.r_[np.nan, 600005.0 + 10 * np.arange(1, 800)], ["x"]), "x"),
    "crs unknown": (_edit_json("spatial_ref/zarr.json", lambda m: m["attributes"].update(
        crs_wkt="not a CRS", spatial_ref="not a CRS")), "CRS"),
    "huge declared shape": (_edit_json("red/zarr.json", lambda m: m.update(shape=[1, 10**7, 10**7])), "red"),
}


@pytest.fixture
def store_copy(sample_store: Path, tmp_path: Path) -> Path:
    target = tmp_path / "store.zarr"
    shutil.copytree(sample_store, target)
    return target


@pytest.mark.parametrize("case", list(STORE_CASES))
def test_bad_store_metadata_gives_a_typed_error_naming_the_field(case: str, store_copy: Path, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    edit, field = STORE_CASES[case]
    assert "spatial_ref" in _variables(store_copy) and "time" in _variables(store_copy)
    edit(store_copy)
    # the Python API ...
    with pytest.raises(LandpulseError) as caught:
        landpulse.ndvi(landpulse.open_store(store_copy)).compute()
    assert field in str(caught.value), (case, caught.value)
    # ... and the CLI: one line, a bad-input status (2: refused at planning, naming the field; 4: the
    # unit failed, named in the report), no product written
    code = main(["compute", str(store_copy), "--out", str(tmp_path / "out"), "--product", "ndvi"])
    err = capsys.readouterr().err
    assert code in (2, 4), (case, code, err)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, (case, err)
    assert code == 4 or field in err, (case, err)
    assert not list((tmp_path / "out").glob("**/item.json"))


# --- job specs (YAML) ---------------------------------------------------------------------------------

JOB_CASES: dict[str, tuple[Callable[[dict[str, Any]], Any], str]] = {
    "not a mapping": (lambda j: ["name", "x"], "mapping"),
    "name a list": (lambda j: {**j, "name": ["a"]}, "name"),
    "products a string of nonsense": (lambda j: {**j, "products": 7}, "products"),
    "unknown product": (lambda j: {**j, "products": ["ndvx"]}, "ndvx"),
    "inputs missing": (lambda j: {k: v for k, v in j.items() if k != "inputs"}, "inputs"),
    "stores a number": (lambda j: {**j, "inputs": {"kind": "zarr", "stores": 3}}, "stores"),
    "store path a number": (lambda j: {**j, "inputs": {"kind": "zarr", "stores": [{"path": 5, "tile": "T"}]}}, "path"),
    "tile with ..": (lambda j: {**j, "inputs": {**j["inputs"], "stores": [{**j["inputs"]["stores"][0], "tile": "../x"}]}}, "tile"),
    "n_workers a word": (lambda j: {**j, "cluster": {"kind": "local", "n_workers": "two"}}, "n_workers"),
    "n_workers negative": (lambda j: {**j, "cluster": {"kind": "local", "n_workers": -1}}, "n_workers"),
    "unknown top-level key": (lambda j: {**j, "outputs": {}}, "outputs"),
    "output a string": (lambda j: {**j, "output": "out/"}, "output"),
    "dates reversed": (lambda j: {**j, "dates": {"start": "2024-01-01", "end": "2023-01-01"}}, "dates"),
    "cluster kind unknown": (lambda j: {**j, "cluster": {"kind": "kubernetes"}}, "kind"),
}


@pytest.mark.parametrize("case", list(JOB_CASES))
def test_bad_job_specs_give_a_typed_error_naming_the_field(case: str, sample_store: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    edit, field = JOB_CASES[case]
    bad = edit(job_dict(sample_store, tmp_path))
    with pytest.raises(LandpulseError) as caught:
        parse_job(bad)
    assert field in str(caught.value), (case, caught.value)
    spec = tmp_path / "job.yaml"
    spec.write_text(yaml.safe_dump(bad))
    with pytest.raises(LandpulseError):
        load_job(spec)
    assert main(["validate", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and field in err, (case, err)


@pytest.mark.parametrize("text,field", [
    ("name: [unclosed", "YAML"),
    ("!!python/object/apply:os.system ['true']", "YAML"),
    ("", "empty"),
    ("42", "mapping"),
])
def test_job_files_that_are_not_a_spec(text: str, field: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "job.yaml"
    spec.write_text(text)
    assert main(["validate", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and field.lower() in err.lower(), err


# --- declared radiometry ---------------------------------------------------------------------------

def _raw() -> xr.Dataset:
    rng = np.random.default_rng(1)
    ds = xr.Dataset({b: (("time", "y", "x"), rng.integers(1000, 5000, (1, 4, 5)).astype(np.uint16)) for b in ("red", "nir")},
                    coords={"time": np.array(["2023-01-01"], "datetime64[ns]"), "y": -10.0 * np.arange(4), "x": 10.0 * np.arange(5)})
    return ds


@pytest.mark.parametrize("kwargs,field", [
    ({"scale": 0.0}, "scale"),
    ({"scale": float("nan")}, "scale"),
    ({"scale": float("inf")}, "scale"),
    ({"scale": -1e-4}, "scale"),
    ({"scale": "1e-4"}, "scale"),
    ({"scale": 1e-4, "offset": float("nan")}, "offset"),
    ({"scale": 1e-4, "offset": float("-inf")}, "offset"),
    ({"scale": 1e-4, "bands": ["swir16"]}, "swir16"),
    ({"scale": 1e-4, "nodata": "none"}, "nodata"),
    ({"scale": 1e-4, "valid_range": (5000, 10)}, "valid_range"),
])
def test_bad_radiometry_declarations_give_a_typed_error_naming_the_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(LandpulseError) as caught:
        landpulse.ndvi(landpulse.declare_radiometry(_raw(), **kwargs)).compute()
    assert field in str(caught.value), (kwargs, caught.value)
