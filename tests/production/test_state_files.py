"""Files a run writes for its own state are never written through a symbolic link
(RELIABILITY: lock, running marker, reports, catalogue: O_NOFOLLOW or temporary file + rename)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from landpulse.cli import main
from landpulse.errors import LandpulseError
from landpulse.io.files import open_no_follow, write_atomic
from tests.support.series import job_dict, write_job, write_series


@pytest.fixture
def job(tmp_path: Path, sample_store: Path) -> Path:
    series = write_series(sample_store, tmp_path / "18SVG.zarr", [0])
    return write_job(tmp_path / "job.yaml", job_dict(series, tmp_path))


def test_links_planted_where_a_run_writes_its_state_are_replaced_not_followed(job: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    reports = tmp_path / "reports"
    reports.mkdir()
    products = tmp_path / "products"
    products.mkdir()
    planted = [reports / "running.json", reports / "latest.json", reports / "latest.html", products / "catalog.json"]
    for p in planted:
        p.symlink_to(victim)
    assert main(["run", str(job)]) == 0
    assert victim.read_text() == "precious\n"
    assert not (reports / "running.json").exists() and not (reports / "running.json").is_symlink()
    for p in planted[1:]:
        assert p.is_file() and not p.is_symlink()
    assert json.loads((reports / "latest.json").read_text())["exit_code"] == 0


def test_a_lock_file_that_is_a_link_stops_the_run(job: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (tmp_path / "products").mkdir()
    (tmp_path / "products" / ".landpulse.lock").symlink_to(victim)
    assert main(["run", str(job)]) == 1
    assert "symbolic link" in capsys.readouterr().err
    assert victim.read_text() == "precious\n" and not list((tmp_path / "products").glob("ndvi"))


def test_write_atomic_replaces_a_link_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("x")
    target = tmp_path / "state.json"
    target.symlink_to(victim)
    write_atomic(target, "{}\n")
    assert victim.read_text() == "x" and target.read_text() == "{}\n" and not target.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json", "victim"]
    lock = tmp_path / "lock"
    lock.symlink_to(victim)
    with pytest.raises(LandpulseError, match="symbolic link"):
        open_no_follow(lock)
