"""RELIABILITY.md, a missing band in the *job* path: a scene without its ``nir`` asset (it still has
``nir08``, B8A, which Sentinel-2's registry does not declare equivalent) and a scene whose ``nir``
file is unreadable each fail alone, named with the band, exit 4; the good scene is committed, the
two bad ones are not, and nothing was computed from B8A.

Inputs: the bundled real scene (CC0 Sentinel-2 L1C crop) as three STAC items in a scene folder; the
second and third items are the same pixels under other ids and dates, edited (asset removed, file
truncated) to make the faults: generated cases, not real acquisitions.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from landpulse.cli import main
from landpulse.production.jobspec import parse_job
from landpulse.production.ledger import ITEM_NAME
from landpulse.production.run import run_job
from tests.support.series import job_dict, leftovers, write_job


def _scene(root: Path, sample_item: Path, name: str, when: str, *, drop: str | None = None,
           truncate: str | None = None) -> str:
    folder = root / name
    folder.mkdir(parents=True)
    item = json.loads(sample_item.read_text())
    item["id"] = f"{item['id']}_{name}"
    item["properties"]["datetime"] = when
    item["assets"] = {k: v for k, v in item["assets"].items() if k in ("red", "nir", "nir08") and k != drop}
    for key, asset in item["assets"].items():
        target = folder / Path(asset["href"]).name
        shutil.copyfile(sample_item.parent / Path(asset["href"]).name, target)
        if key == truncate:
            target.write_bytes(target.read_bytes()[:300])  # the header survives, the pixels do not
    (folder / "item.json").write_text(json.dumps(item))
    return str(item["id"])


@pytest.fixture
def folder(tmp_path: Path, sample_item: Path) -> tuple[Path, dict[str, str]]:
    root = tmp_path / "scenes"
    ids = {"good": _scene(root, sample_item, "good", "2016-01-12T00:00:00Z"),
           "no-nir": _scene(root, sample_item, "no-nir", "2016-01-17T00:00:00Z", drop="nir"),
           "broken-nir": _scene(root, sample_item, "broken-nir", "2016-01-22T00:00:00Z", truncate="nir")}
    return root, ids


def test_a_scene_without_its_band_fails_alone_in_a_job(folder: tuple[Path, dict[str, str]], tmp_path: Path,
                                                       sample_store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root, ids = folder
    job = job_dict(sample_store, tmp_path / "run", inputs={"kind": "scenes", "path": str(root)})
    result = run_job(parse_job(job), echo=lambda _: None)
    assert result.exit_code == 4
    assert sorted(result.report["failed_scenes"]) == sorted([ids["no-nir"], ids["broken-nir"]])
    failures = {u.inputs[0]: u for u in result.failed}
    assert failures[ids["no-nir"]].error_type == "MissingBandError"
    assert "no 'nir' band" in failures[ids["no-nir"]].error and "not substituted" in failures[ids["no-nir"]].error
    assert failures[ids["broken-nir"]].error_type == "UnreadableInputError"
    assert "band nir" in failures[ids["broken-nir"]].error
    store = tmp_path / "run" / "products"
    committed = sorted(p.parent.name for p in store.glob(f"*/*/*/{ITEM_NAME}"))
    assert committed == ["20160112T000000"]  # only the good scene; nothing computed from nir08
    assert leftovers(store) == []
    # the CLI says the same with exit 4, and a rerun does not commit the bad scenes either
    spec = write_job(tmp_path / "job.yaml", job)
    assert main(["run", str(spec)]) == 4
    err = capsys.readouterr()
    assert "Traceback" not in err.err + err.out
    assert sorted(p.parent.name for p in store.glob(f"*/*/*/{ITEM_NAME}")) == committed
