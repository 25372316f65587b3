"""One run path: ``landpulse compute STORE`` (store mode) is a one-off job through the same unit
execution, commit function, ledger, catalogue, report and ``verify`` as ``landpulse run JOB``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from landpulse.cli import main
from landpulse.production import units
from landpulse.production.commit import commit_folder
from tests.support.series import job_dict, store_digest, write_job, write_series

PRODUCTS = ["ndvi", "savi"]  # (the series holds red and nir only)


@pytest.fixture(scope="module")
def series(tmp_path_factory: pytest.TempPathFactory, sample_store: Path) -> Path:
    # three dates derived from the bundled real scene (tests/support/series.py says how); the
    # folder name is the tile id store mode gives its units
    return write_series(sample_store, tmp_path_factory.mktemp("one-path") / "18SVG.zarr", [0, 1, 2])


def _chunks(store: Path) -> dict[str, str]:
    """Every file of every unit but the items (which record when, where and in which run)."""
    return {k: v for k, v in store_digest(store).items() if not k.endswith("item.json")}


def test_store_mode_and_job_mode_write_identical_units_through_one_commit(
        series: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    commits: list[Path] = []

    def counted(tmp: Path, target: Path, **kw: Any) -> bool:
        commits.append(target)
        return commit_folder(tmp, target, **kw)

    monkeypatch.setattr(units, "commit_folder", counted)
    store_out = tmp_path / "store-mode"
    args = ["compute", str(series), "--out", str(store_out)] + [a for p in PRODUCTS for a in ("--product", p)]
    assert main(args) == 0, capsys.readouterr().err
    assert len(commits) == 6 and all(c.is_relative_to(store_out) for c in commits)

    # `compute` writes a COG per unit by default: the job asks for them too, and they must be
    # identical as well
    job = job_dict(series, tmp_path / "job", products=PRODUCTS,
                   output={"store": str(tmp_path / "job" / "products"), "reports": str(tmp_path / "job" / "reports"),
                           "quicklooks": True, "cog": True})
    assert main(["run", str(write_job(tmp_path / "job.yaml", job))]) == 0, capsys.readouterr().err
    job_out = tmp_path / "job" / "products"
    assert len(commits) == 12 and all(c.is_relative_to(job_out) for c in commits[6:])

    store_units, job_units = _chunks(store_out), _chunks(job_out)
    assert len(store_units) > 6 * 4 and store_units == job_units  # byte for byte, file for file
    # the items differ only in what says when, where and in which run (and nothing else)
    assert store_digest(store_out) == store_digest(job_out)
    # one report format: both runs wrote report.json and report.html of the same schema
    reports = [json.loads((tmp_path / name / "latest.json").read_text())
               for name in ("store-mode-reports", "job/reports")]
    assert [r["summary"]["written"] for r in reports] == [6, 6]
    assert set(reports[0]) == set(reports[1]) and reports[0]["landpulse_report"] == reports[1]["landpulse_report"]
    assert all((tmp_path / name / "latest.html").is_file() for name in ("store-mode-reports", "job/reports"))


def test_verify_checks_units_of_both_modes(series: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store_out = tmp_path / "s"
    assert main(["compute", str(series), "--out", str(store_out)]) == 0
    job = job_dict(series, tmp_path / "j")
    assert main(["run", str(write_job(tmp_path / "job.yaml", job))]) == 0
    capsys.readouterr()
    for out in (store_out, tmp_path / "j" / "products"):
        assert main(["verify", str(out)]) == 0
        assert "3 unit(s) checked, 0 damaged" in capsys.readouterr().out
        chunk = sorted(out.glob("ndvi/18SVG/*/ndvi.zarr/ndvi/c/*/*/*"))[0]
        chunk.write_bytes(chunk.read_bytes()[:-1] + bytes([chunk.read_bytes()[-1] ^ 0xFF]))
        assert main(["verify", str(out)]) == 5
        assert "1 damaged" in capsys.readouterr().out
