"""Write the bundled crop of the real Bolzano Sentinel-2 L2A series (``make demo``'s time series).

A 160 x 160 pixel crop (1.6 x 1.6 km at 10 m, rows 480-639, columns 200-359 of the store: the
Adige and Isarco rivers at Bolzano with the city and orchards around them) of all 12 dates of
``../shared/data/s2l2a-bolzano-2022-06.zarr`` (June 2022). Bands B02 B03 B04 B08 as uint16
reflectance x 10000 (0 where the export had NaN), SCL as uint8; one chunk per variable. Scene ids
``S2_32TPS_<date>`` are given here (the openEO export has none).

    python scripts/make_bolzano_crop.py        # rewrites src/landpulse/sample_data/s2l2a-bolzano-2022-06-crop/
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

import landpulse
from landpulse.io.store import write_zarr

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
OUT = REPO / "src" / "landpulse" / "sample_data" / "s2l2a-bolzano-2022-06-crop"
ROWS, COLS = slice(480, 640), slice(200, 360)

NOTICE = """Contains modified Copernicus Sentinel data 2022; crop of tests/data/stac/S2_L2A_sample.zarr
from Open-EO/openeo-processes-dask (commit 83bcd03b, Apache-2.0, see LICENSE-openeo-processes-dask).
Made by scripts/make_bolzano_crop.py: rows 480-639, columns 200-359 of every date; B02 B03 B04 B08 as
uint16 reflectance x 10000 (0 where the export had NaN), SCL as uint8; scene ids S2_32TPS_<date>
given by landpulse.
"""


def main() -> None:
    src = landpulse.open_store(SHARED / "s2l2a-bolzano-2022-06.zarr").isel(y=ROWS, x=COLS).load()
    ds = src[["B02", "B03", "B04", "B08", "SCL"]].copy()
    for v in ("B02", "B03", "B04", "B08"):
        ds[v] = ds[v].fillna(0).round().astype(np.uint16)
        ds[v].attrs = {"nodata": 0}
    ds["SCL"] = ds["SCL"].fillna(0).astype(np.uint8)
    ds["SCL"].attrs = {}
    ids = [f"S2_32TPS_{np.datetime_as_string(t, unit='D').replace('-', '')}" for t in ds.t.values]
    ds = ds.assign_coords(scene_id=("t", np.array(ids, dtype=object))).drop_vars("crs", errors="ignore")
    ds.attrs = {"title": "Bolzano Sentinel-2 L2A, June 2022 (crop)", "source": NOTICE.replace("\n", " ").strip()}
    ds = ds.rio.write_crs(src.rio.crs)
    for var in ds.variables.values():
        var.encoding = {}  # the export's float encodings (NaN fill) do not fit the integer bands
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    write_zarr(ds, OUT / "bolzano.zarr", chunks={"t": 12, "y": 160, "x": 160})
    (OUT / "NOTICE").write_text(NOTICE)
    shutil.copy(SHARED / "LICENSE-openeo-processes-dask", OUT / "LICENSE-openeo-processes-dask")
    print(f"{OUT}: {sum(p.stat().st_size for p in OUT.rglob('*') if p.is_file()) / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
