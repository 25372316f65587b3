"""``landpulse validate --plan`` catches what will certainly fail at run time, from metadata only:
missing radiometry, missing bands (each product's ``Product.inputs``), unreadable inputs. Real
stores: the shared Bolzano series (no radiometric metadata of its own) copied to tmp and cut."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from landpulse.cli import main
from landpulse.production.jobspec import parse_job
from landpulse.production.plan import make_plan
from landpulse.production.preflight import preflight
from landpulse.production.run import run_job
from tests.support import BOLZANO, skip_or_fail
from tests.support.series import write_job


@pytest.fixture
def bolzano_copy(tmp_path: Path) -> Path:
    if not BOLZANO.exists():
        skip_or_fail("shared_data", f"shared data not found at {BOLZANO}")
    return Path(shutil.copytree(BOLZANO, tmp_path / "bolzano.zarr"))


def _spec(store: Path, out: Path, *, radiometry: bool, products: list[str] | None = None) -> dict[str, Any]:
    inputs: dict[str, Any] = {"kind": "zarr", "stores": [{"path": str(store), "tile": "32TPS"}],
                              "bands": {"red": "B04", "nir": "B08", "green": "B03", "blue": "B02"}}
    if radiometry:
        inputs["radiometry"] = {"scale": 1e-4, "offset": 0}
    return {"name": "preflight", "inputs": inputs, "products": products or ["ndvi"],
            "output": {"store": str(out / "products"), "reports": str(out / "reports")},
            "cluster": {"kind": "threads"}}


def test_missing_radiometry_is_caught_and_is_what_the_run_meets(tmp_path: Path, bolzano_copy: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    spec = _spec(bolzano_copy, tmp_path / "out", radiometry=False)
    path = write_job(tmp_path / "job.yaml", spec)
    assert main(["validate", str(path), "--plan"]) == 2
    out = capsys.readouterr()
    assert "will fail: ndvi from" in out.out and "(12 unit(s)): RadiometryError" in out.out
    assert re.search(r"band '(B04' \(red|B08' \(nir)\) carries no radiometric metadata", out.out), out.out
    assert "inputs.radiometry" in out.out and "units or inputs that will fail" in out.err
    # the run meets exactly that: every unit fails with a RadiometryError (here on two dates, to stay quick)
    spec["dates"] = {"start": "2022-06-02", "end": "2022-06-05"}
    result = run_job(parse_job(spec), echo=lambda line: None)
    assert result.exit_code == 4 and result.units
    assert {u.error_type for u in result.units} == {"RadiometryError"}


def test_declared_radiometry_passes(tmp_path: Path, bolzano_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_job(tmp_path / "job.yaml", _spec(bolzano_copy, tmp_path / "out", radiometry=True))
    assert main(["validate", str(path), "--plan"]) == 0
    out = capsys.readouterr().out
    assert "12 unit(s) to compute" in out and "will fail" not in out


def test_missing_band_is_caught_per_product(tmp_path: Path, bolzano_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """B08 (nir) removed from the store and its consolidated metadata: NDVI will fail, NDWI (green, nir)
    too, while a product that needs no nir (the green-red index GRVI is not in the catalogue; use
    the water map, which lists no fixed inputs) is not flagged."""
    shutil.rmtree(bolzano_copy / "B08")
    meta = json.loads((bolzano_copy / ".zmetadata").read_text())
    meta["metadata"] = {k: v for k, v in meta["metadata"].items() if not k.startswith("B08/")}
    (bolzano_copy / ".zmetadata").write_text(json.dumps(meta))
    spec = _spec(bolzano_copy, tmp_path / "out", radiometry=True, products=["ndvi", "ndwi", "water"])
    spec["inputs"]["bands"].pop("nir")
    plan = make_plan(parse_job(spec))
    problems = {p.product: p for p in preflight(plan.todo)}
    assert set(problems) == {"ndvi", "ndwi"}
    assert problems["ndvi"].error_type == "MissingBandError" and problems["ndvi"].units == 12
    assert "no 'nir' band" in problems["ndvi"].reason
    path = write_job(tmp_path / "job.yaml", spec)
    assert main(["validate", str(path), "--plan"]) == 2
    assert capsys.readouterr().out.count("will fail:") == 2


def test_unreadable_item_asset_is_caught(tmp_path: Path, sample_item: Path) -> None:
    folder = tmp_path / "scenes"
    shutil.copytree(sample_item.parent, folder)
    (folder / "B08.tif").unlink()
    spec = {"name": "items", "inputs": {"kind": "scenes", "path": str(folder)}, "products": ["ndvi"],
            "output": {"store": str(tmp_path / "out")}, "cluster": {"kind": "threads"}}
    plan = make_plan(parse_job(spec))
    assert len(plan.todo) == 1  # the plan reads only the item: the missing asset is found by the preflight
    (problem,) = preflight(plan.todo)
    assert problem.error_type == "UnreadableInputError" and "B08.tif" in problem.reason
