"""Jobs whose inputs come from a real STAC API (stac-fastapi-pgstac over PostgreSQL + pgstac) and
whose pixels are read over HTTP from a real nginx, both started by the tests on localhost.

The data: three real Sentinel-2 L2A dates of the shared Bolzano series (one 100 % cloudy by its
SCL, two clear), repackaged as COGs of the same digital numbers with STAC items carrying
``proj:*``, ``raster:bands`` and ``eo:bands`` (tests/support/remote_data.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from landpulse.production.jobspec import JobSpecError, parse_job
from landpulse.production.plan import make_plan
from landpulse.production.run import run_job
from tests.support.remote_data import collection, with_base
from tests.support.series import leftovers, store_digest

QUIET = {"echo": lambda _line: None}


def _job(out: Path, inputs: dict[str, Any]) -> dict[str, Any]:
    return {"name": "remote", "inputs": inputs, "products": ["ndvi", "water"],
            "output": {"store": str(out / "products"), "reports": str(out / "reports"), "quicklooks": True, "cog": True},
            "cluster": {"kind": "threads", "n_workers": 2}}


def _api_inputs(api: Any, cid: str, **over: Any) -> dict[str, Any]:
    return {"kind": "stac-api", "url": api.url, "collections": [cid], "chunk": 256,
            "remote": {"timeout": 5, "retries": 2, "backoff": 0.05, "max_backoff": 0.1}, **over}


def _load(api: Any, cid: str, items: list[dict[str, Any]], base: str) -> list[dict[str, Any]]:
    served = [with_base(i, base, cid) for i in items]
    api.load(collection(served, cid), served)
    return served


def _products(store: Path) -> dict[str, Any]:
    """Every product file's digest; items without what records where the inputs were read from."""
    digest = store_digest(store)
    for rel, entry in digest.items():
        if rel.endswith("item.json"):
            entry.pop("links", None)
    return digest


def test_stac_api_job_writes_products_identical_to_local_files(stac_api: Any, cog_server: Any, bolzano_cogs: Any,
                                                              tmp_path: Path) -> None:
    root, items = bolzano_cogs
    _load(stac_api, "bolzano-identical", items, f"{cog_server.url}/cogs")
    # the search: bbox, datetime interval and the query extension leave out the cloudy date; one
    # item per page, so the client follows the API's next links
    w, s, e, n = items[0]["bbox"]
    remote = _job(tmp_path / "remote", _api_inputs(stac_api, "bolzano-identical", bbox=[w, s, e, n],
                                                   datetime="2022-06-01T00:00:00Z/2022-06-30T23:59:59Z",
                                                   query={"eo:cloud_cover": {"lt": 50}}, limit=1))
    plan = make_plan(parse_job(remote))
    clear = sorted(i["id"] for i in items if i["properties"]["eo:cloud_cover"] < 50)
    assert sorted(s.id for s in plan.scenes) == clear and len(clear) == 2 and not plan.failures
    assert run_job(parse_job(remote), **QUIET).exit_code == 0

    # the same scenes as a folder of local items beside their COGs (a scene folder keeps its assets inside)
    for item in items:
        if item["id"] in clear:
            (root / item["id"] / "item.json").write_text(json.dumps(with_base(item, str(root))))
    local = _job(tmp_path / "local", {"kind": "scenes", "path": str(root), "chunk": 256})
    assert run_job(parse_job(local), **QUIET).exit_code == 0

    a, b = _products(tmp_path / "remote" / "products"), _products(tmp_path / "local" / "products")
    assert sorted(a) == sorted(b) and len([k for k in a if k.endswith("item.json")]) == 4  # 2 dates x 2 products
    different = [k for k in a if a[k] != b[k]]
    assert not different, different
    assert any(k.endswith("ndvi.tif") for k in a) and any(".zarr/" in k for k in a)


def test_nightly_run_picks_up_only_items_it_has_not_seen(stac_api: Any, cog_server: Any, bolzano_cogs: Any,
                                                         tmp_path: Path) -> None:
    _, items = bolzano_cogs
    clear = [i for i in items if i["properties"]["eo:cloud_cover"] < 50]
    job = _job(tmp_path, _api_inputs(stac_api, "bolzano-nightly", limit=1))
    _load(stac_api, "bolzano-nightly", clear[:1], f"{cog_server.url}/cogs")
    first = run_job(parse_job(job), **QUIET)
    assert first.exit_code == 0 and sorted(u.status for u in first.units) == ["written", "written"]
    again = run_job(parse_job(job), **QUIET)
    assert again.exit_code == 0 and again.units == [] and again.status == "nothing-to-do"
    _load(stac_api, "bolzano-nightly", clear[1:2], f"{cog_server.url}/cogs")  # a new acquisition published
    plan = make_plan(parse_job(job))
    assert [u.inputs for u in plan.todo] == [[clear[1]["id"]]] * 2 and len(plan.committed) == 2
    nightly = run_job(parse_job(job), **QUIET)
    assert nightly.exit_code == 0 and {tuple(u.inputs) for u in nightly.units} == {(clear[1]["id"],)}


@pytest.mark.parametrize("fault", ["500", "truncate"])
def test_a_scene_the_server_fails_fails_alone_and_a_rerun_completes_it(stac_api: Any, cog_server: Any, bolzano_cogs: Any,
                                                                       tmp_path: Path, fault: str) -> None:
    _, items = bolzano_cogs
    good, bad = [i for i in items if i["properties"]["eo:cloud_cover"] < 50]
    cid = f"bolzano-fault-{fault}"
    _load(stac_api, cid, [good], f"{cog_server.url}/cogs")
    # the server of this scene breaks (a URL of its own per case: GDAL caches what it read before)
    _load(stac_api, cid, [bad], f"{cog_server.url}/switch/{fault}")
    job = _job(tmp_path, _api_inputs(stac_api, cid))
    cog_server.fault(fault)
    try:
        broken = run_job(parse_job(job), **QUIET)
    finally:
        cog_server.fault("ok")
    assert broken.exit_code == 4, [(u.unit, u.status, u.error) for u in broken.units] + [broken.report.get("input_failures")]
    failed = {u.product: u for u in broken.units if u.status == "failed"}
    assert sorted(failed) == ["ndvi", "water"] and all(u.inputs == [bad["id"]] for u in failed.values())
    expect = "HTTP response code: 500" if fault == "500" else "after 3 attempts"
    for u in failed.values():
        assert u.error_type == "RemoteReadError" and bad["id"] in (u.error or "") and expect in (u.error or "")
        assert "/switch/" in (u.error or "")
    store = tmp_path / "products"
    committed = sorted(p.parent.name for p in store.glob("*/*/*/item.json"))
    assert len(committed) == 2 and not leftovers(store)  # the good scene's two units, nothing half-written
    report = json.loads((tmp_path / "reports" / "latest.json").read_text())
    assert bad["id"] in json.dumps(report)
    rerun = run_job(parse_job(job), **QUIET)  # the server is back
    assert rerun.exit_code == 0 and {tuple(u.inputs) for u in rerun.units} == {(bad["id"],)}
    assert len(list(store.glob("*/*/*/item.json"))) == 4 and not leftovers(store)


def test_stac_api_spec_is_checked() -> None:
    base = {"name": "x", "products": ["ndvi"], "output": {"store": "out"}}
    with pytest.raises(JobSpecError, match="bbox or intersects"):
        parse_job({**base, "inputs": {"kind": "stac-api", "url": "http://h/", "collections": ["c"],
                                      "bbox": [0, 0, 1, 1], "intersects": {"type": "Point", "coordinates": [0, 0]}}})
    with pytest.raises(JobSpecError, match="credentials"):
        parse_job({**base, "inputs": {"kind": "stac-api", "url": "https://user:pw@h/", "collections": ["c"]}})
    with pytest.raises(JobSpecError, match="http"):
        parse_job({**base, "inputs": {"kind": "stac-api", "url": "ftp://h/", "collections": ["c"]}})


def test_unreachable_api_is_a_named_input_failure(tmp_path: Path) -> None:
    from tests.support.servers import free_port

    job = parse_job(_job(tmp_path, {"kind": "stac-api", "url": f"http://127.0.0.1:{free_port()}", "collections": ["c"]}))
    plan = make_plan(job)
    assert not plan.todo and len(plan.failures) == 1 and "STAC API search at http://127.0.0.1" in plan.failures[0].error
    assert run_job(job, **QUIET).exit_code == 4


def test_cli_ingest_searches_the_api_and_reads_over_http(stac_api: Any, cog_server: Any, bolzano_cogs: Any,
                                                         tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import xarray as xr

    from landpulse.cli import main
    from landpulse.io import ingest, open_store, scene_from_stac_item

    root, items = bolzano_cogs
    _load(stac_api, "bolzano-cli", items, f"{cog_server.url}/cogs")
    code = main(["ingest", str(tmp_path / "api.zarr"), "--stac-api", stac_api.url, "--collection", "bolzano-cli",
                 "--filter", "eo:cloud_cover < 50", "--datetime", "2022-06-01/2022-06-30", "--chunk", "256"])
    assert code == 0, capsys.readouterr().err
    assert "ingested 2 scene(s)" in capsys.readouterr().out
    clear = [with_base(i, str(root)) for i in items if i["properties"]["eo:cloud_cover"] < 50]
    local = ingest([scene_from_stac_item(i) for i in clear], tmp_path / "local.zarr", chunks=(256, 256))
    xr.testing.assert_identical(open_store(tmp_path / "api.zarr"), open_store(local))
