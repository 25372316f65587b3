"""Test inputs for production runs: a time series derived from the bundled real scene.

The bundled imagery is one real Sentinel-2 date. Production tests need several dates whose
pixels differ (so a unit that picked the wrong date would be caught), so date ``k`` is the real
scene's red and nir digital numbers *rolled* by ``(97 k, 194 k)`` pixels: real values and real
texture, but not a real acquisition (the seam of the roll is visible). Scene ids say so
(``..._roll<k>``). Nothing here is presented as a real time series.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
import yaml

import landpulse
from landpulse.io.store import append_zarr, write_zarr

T0 = np.datetime64("2016-01-12T00:00:00", "ns")
STEP = np.timedelta64(5, "D")


def date_of(k: int) -> np.datetime64:
    return T0 + k * STEP


def scene_id(k: int) -> str:
    return f"S2A_18SVG_{np.datetime_as_string(date_of(k), unit='D').replace('-', '')}_L1C_crop_roll{k}"


def period(k: int) -> str:
    return np.datetime_as_string(date_of(k), unit="s").replace("-", "").replace(":", "")


def _date(base: xr.Dataset, k: int) -> xr.Dataset:
    ds = base.copy(deep=True)
    for v in ("red", "nir"):
        ds[v].values = np.roll(base[v].values, (97 * k, 194 * k), axis=(1, 2))
    return ds.assign_coords(time=[date_of(k)], scene_id=("time", np.array([scene_id(k)], dtype=object)))


def write_series(base_store: Path, path: Path, dates: Iterable[int], *, chunk: int = 400) -> Path:
    """Write (or append to) a scene store holding the derived dates ``dates`` (see module docstring)."""
    base = landpulse.open_store(base_store)[["red", "nir"]].load()
    ds = xr.concat([_date(base, k) for k in dates], dim="time", data_vars="all", coords="different",
                   compat="equals", join="exact", combine_attrs="override")
    ds.attrs = dict(base.attrs)
    ds = ds.rio.write_crs(base.rio.crs)
    if path.exists():
        append_zarr(ds.chunk({"time": 1, "y": chunk, "x": chunk}), path, dim="time")
        return path
    return write_zarr(ds, path, chunks={"time": 1, "y": chunk, "x": chunk})


def job_dict(store: Path, out: Path, **over: Any) -> dict[str, Any]:
    """A job spec (as a mapping) over a series store; ``over`` replaces top-level sections."""
    job: dict[str, Any] = {
        "name": "test-job",
        "inputs": {"kind": "zarr", "stores": [{"path": str(store), "tile": "18SVG"}]},
        "products": ["ndvi"],
        "output": {"store": str(out / "products"), "reports": str(out / "reports"), "quicklooks": True},
        "cluster": {"kind": "threads", "n_workers": 2},
    }
    job.update(over)
    return job


def write_job(path: Path, job: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(job, sort_keys=False))
    return path


VOLATILE = {"created", "processing:datetime", "processing:facility", "landpulse:run"}


def store_digest(store: Path) -> dict[str, Any]:
    """Everything a unit holds, for bit-identity checks: sha256 of every file, and each item with
    the fields that record *when* and *where* it ran (not *what*) left out."""
    import hashlib
    import json

    out: dict[str, Any] = {}
    for p in sorted(store.glob("*/*/*/**/*")):
        rel = p.relative_to(store).as_posix()
        if any(part.startswith(".") for part in p.relative_to(store).parts) or not p.is_file():
            continue
        if p.name == "item.json":
            item = json.loads(p.read_text())
            for k in VOLATILE:
                item["properties"].pop(k, None)
            out[rel] = item
        else:
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def snapshot(root: Path) -> dict[str, tuple[int, int, int]]:
    """(size, mtime_ns, inode) of every file and folder under ``root``: a write shows up here."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.stat()
            out[p.relative_to(root).as_posix()] = (st.st_size if p.is_file() else 0, st.st_mtime_ns, st.st_ino)
    st = root.stat()
    out["."] = (0, st.st_mtime_ns, st.st_ino)
    return out


def wait_for(condition: Callable[[], bool], timeout: float = 60.0, what: str = "condition", *,
             every: float = 0.005) -> None:
    """Poll ``condition`` every ``every`` seconds until it holds; TimeoutError after ``timeout`` seconds."""
    t0 = time.monotonic()
    while not condition():
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(f"{what} not reached in {timeout} s")
        time.sleep(every)


def temp_folders(store: Path) -> list[Path]:
    """Unit folders being written (a unit is written in a hidden temporary folder, then renamed)."""
    return list(store.glob("*/*/.*.tmp-*"))


def leftovers(store: Path) -> list[Path]:
    """Hidden files and folders an interrupted run could leave behind (the store's lock file excepted)."""
    return [p for p in store.rglob(".*") if p.name != ".landpulse.lock"]


def clean_run_digest(series: Path, out: Path, **over: Any) -> dict[str, Any]:
    """:func:`store_digest` of the products a job over ``series`` writes into ``out`` when nothing
    interrupts it (run in this process; ``over`` as for :func:`job_dict`): the reference that runs
    broken by a fault must reach after their rerun."""
    from landpulse.production.jobspec import parse_job
    from landpulse.production.run import run_job

    assert run_job(parse_job(job_dict(series, out, **over)), echo=lambda _: None).exit_code == 0
    return store_digest(out / "products")


def write_bolzano_tiles(root: Path, tiles: dict[str, tuple[slice, list[int]]]) -> list[tuple[str, Path]]:
    """The REAL Bolzano series cut into tiles: ``{tile: (columns, dates)}`` written (or appended) as
    ``root/<tile>.zarr`` stores (no radiometry declared: scale 1e-4, offset 0 on B02-B08)."""
    from tests.support import BOLZANO

    ds = landpulse.open_store(BOLZANO).drop_vars("crs")  # (an |S1 grid-mapping placeholder: zarr 3 warns on it)
    stores = []
    for tile, (cols, dates) in tiles.items():
        path = root / f"{tile}.zarr"
        part = ds.isel(x=cols, t=dates)
        if path.exists():
            if dates:
                append_zarr(part.chunk({"t": 1, "y": 256, "x": 256}), path, dim="t")
        else:
            write_zarr(part, path, chunks={"t": 1, "y": 256, "x": 256})
        stores.append((tile, path))
    return stores
