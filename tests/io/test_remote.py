"""Remote assets read in place: COGs of the real Bolzano series served by a real nginx on localhost.

What the data is: three real Sentinel-2 L2A dates over Bolzano (../shared/data), repackaged as
uint16 COGs of the same digital numbers (tests/support/remote_data.py). The server is Debian's
nginx (tests/support/servers.py), with its fault locations: 500s, a server that fails the first
requests of each file, truncated bodies, a server that never answers.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
import xarray as xr

from landpulse.errors import RemoteReadError
from landpulse.io import ingest, open_store, scene_from_stac_item
from landpulse.io.ingest import scene_dataset, scene_grid
from landpulse.io.remote import RemoteInfo, RemoteOptions, gdal_path, public_href, remote_band
from tests.support.remote_data import with_base

FAST = RemoteOptions(timeout=2.0, retries=2, backoff=0.05, max_backoff=0.1)


def _scenes(items: list[dict[str, Any]], base: str) -> list[Any]:
    return [scene_from_stac_item(with_base(i, base)) for i in items]


@pytest.fixture(scope="module")
def local_store(bolzano_cogs: tuple[Path, list[dict[str, Any]]], tmp_path_factory: pytest.TempPathFactory) -> xr.Dataset:
    root, items = bolzano_cogs
    return open_store(ingest(_scenes(items, str(root)), tmp_path_factory.mktemp("local") / "s.zarr", chunks=(256, 256)))


def test_http_ingest_equals_local_ingest_by_range_requests(cog_server: Any, bolzano_cogs: Any, local_store: xr.Dataset,
                                                          tmp_path: Path) -> None:
    _, items = bolzano_cogs
    before = len(cog_server.requests())
    remote = open_store(ingest(_scenes(items, f"{cog_server.url}/cogs"), tmp_path / "r.zarr", chunks=(256, 256)))
    xr.testing.assert_identical(remote, local_store)  # same DNs, radiometry, CRS, dates, ids, attributes
    assert set(map(str, remote["scene_id"].values)) == {i["id"] for i in items}
    # read in place: only header and block ranges were fetched, never a whole file
    gets = [line.split() for line in cog_server.requests()[before:] if "/cogs/" in line]
    data = [g for g in gets if g[1] not in ("200",) or g[3] != "0"]  # HEAD requests send no body
    assert data and all(g[1] == "206" and g[2].startswith("bytes=") for g in data), data[:5]


def test_flaky_server_is_retried_with_backoff(cog_server: Any, bolzano_cogs: Any, local_store: xr.Dataset,
                                             tmp_path: Path) -> None:
    _, items = bolzano_cogs
    # every file's first two requests are answered 500 by the server; the third is served
    remote = open_store(ingest(_scenes(items, f"{cog_server.url}/flaky/2"), tmp_path / "r.zarr", chunks=(256, 256),
                               remote=FAST))
    xr.testing.assert_identical(remote, local_store)
    log = [line for line in cog_server.requests() if "/flaky/2/" in line]
    assert sum(" 500 " in line for line in log) == 2 * 5 * len(items)  # two failures per file (5 files per item)


@pytest.mark.parametrize(("location", "error"), [
    ("fault/500", r"HTTP response code: 500"),
    ("truncate", r"cannot read .*truncate.* after 3 attempts"),
    ("hang", r"[Tt]imed? ?out"),
])
def test_server_faults_fail_the_scene_with_the_error_named(cog_server: Any, bolzano_cogs: Any, tmp_path: Path,
                                                           location: str, error: str) -> None:
    _, items = bolzano_cogs
    scene = _scenes(items[:1], f"{cog_server.url}/{location}")[0]
    options = RemoteOptions(timeout=1.0, retries=2, backoff=0.05, max_backoff=0.1) if location == "hang" else FAST
    with pytest.raises(RemoteReadError, match=error) as err:
        ingest(scene, tmp_path / "r.zarr", remote=options)
    message = str(err.value)
    assert f"scene {items[0]['id']}" in message and "band" in message and "after 3 attempts" in message
    assert not (tmp_path / "r.zarr").exists() and not list(tmp_path.iterdir())  # nothing written


def test_truncated_blocks_after_a_good_header_are_retried_then_named(cog_server: Any, bolzano_cogs: Any) -> None:
    # the header comes from the good location; every pixel block from one that cuts bodies short
    root, items = bolzano_cogs
    rel = items[0]["assets"]["B04"]["href"]
    good = f"{cog_server.url}/cogs/{rel}"
    with rasterio.open(gdal_path(good)) as src:
        info = RemoteInfo(src.crs.to_string(), src.transform, (src.height, src.width), "uint16", 1, 0)
    arr = remote_band(good, 1, info, (256, 256), "scene X, band red", FAST)
    with rasterio.open(root / rel) as src:
        np.testing.assert_array_equal(arr.compute(), src.read(1))
    bad = remote_band(f"{cog_server.url}/truncate/{rel}", 1, info, (256, 256), "scene X, band red", FAST)
    with pytest.raises(RemoteReadError, match=r"scene X, band red: cannot read .*/truncate/.* after 3 attempts"):
        bad.compute()


def test_credentials_come_from_the_environment_never_from_tasks_or_messages(
        cog_server: Any, bolzano_cogs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # S3 through the same path: nginx stands in for an S3 endpoint (path-style, plain HTTP); GDAL
    # signs each request with the credentials of the environment (AWS Signature v4)
    root, items = bolzano_cogs
    secret = "s3cr3t-Do-Not-Log"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIALANDPULSETEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("AWS_S3_ENDPOINT", cog_server.url.removeprefix("http://"))
    monkeypatch.setenv("AWS_HTTPS", "NO")
    monkeypatch.setenv("AWS_VIRTUAL_HOSTING", "FALSE")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    scene = _scenes(items[:1], "s3://cogs")[0]
    assert scene.bands["red"].href.startswith("s3://cogs/")
    before = len(cog_server.requests())
    store = open_store(ingest(scene, tmp_path / "s3.zarr", chunks=(256, 256)))
    local = open_store(ingest(_scenes(items[:1], str(root)), tmp_path / "l.zarr", chunks=(256, 256)))
    xr.testing.assert_identical(store, local)
    # only this test's bucket: nginx logs a request when it ends, so an earlier test's slow or
    # truncated response can land in the log after `before` was taken
    signed = [line for line in cog_server.requests()[before:] if line.startswith("/cogs/")]
    assert signed and all("auth=AWS4-HMAC-SHA256 Credential=AKIALANDPULSETEST/" in line for line in signed)
    # the task graph (what Dask ships to workers) holds URLs and windows, no credential
    grid, grids = scene_grid(scene)
    graph = repr(dict(scene_dataset(scene, grid, grids, (256, 256))["red"].data.__dask_graph__()))
    assert "s3://cogs/" in graph and secret not in graph and "AKIA" not in graph
    # an error names the URL without query string or user info (signed URLs carry tokens)
    assert public_href("https://user:pw@host:8443/a/b.tif?X-Amz-Signature=abc&token=t") == "https://host:8443/a/b.tif"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-" + secret)
    bad = scene_from_stac_item(with_base(items[0], f"{cog_server.url}/fault/500") | {"id": "x"})
    with pytest.raises(RemoteReadError) as err:
        ingest(bad, tmp_path / "bad.zarr", remote=FAST)
    assert secret not in str(err.value) and not re.search(r"AKIA|Signature", str(err.value))
    assert "AWS_SECRET_ACCESS_KEY" in os.environ  # taken from the environment, not passed along


def test_a_jp2_over_http_is_read_in_place(cog_server: Any, bolzano_cogs: Any, tmp_path: Path) -> None:
    # JPEG 2000 (lossless, as ESA's Sentinel-2 bands) of one real band, through GDAL's OpenJPEG driver
    root, items = bolzano_cogs
    with rasterio.open(root / items[1]["assets"]["B04"]["href"]) as src:
        red, profile = src.read(1), src.profile
    jp2 = root / "jp2" / "B04.jp2"
    jp2.parent.mkdir(exist_ok=True)
    with rasterio.open(jp2, "w", driver="JP2OpenJPEG", width=red.shape[1], height=red.shape[0], count=1,
                       dtype="uint16", crs=profile["crs"], transform=profile["transform"], QUALITY="100",
                       REVERSIBLE="YES", BLOCKXSIZE="256", BLOCKYSIZE="256") as dst:
        dst.write(red, 1)
    item = json.loads(json.dumps(items[1]))
    item["assets"] = {"B04": {**item["assets"]["B04"], "href": f"{cog_server.url}/cogs/jp2/B04.jp2", "type": "image/jp2"}}
    scene = scene_from_stac_item(item)
    ds = open_store(ingest(scene, tmp_path / "jp2.zarr", chunks=(256, 256)))
    np.testing.assert_array_equal(ds["red"].values[0], red)
    assert any("/cogs/jp2/B04.jp2 206 bytes=" in line for line in cog_server.requests())
