"""Environment faults are told apart from scene errors (RELIABILITY): a full disk or a read-only
output stops the run at once with its own status (74) and a message naming the cause, blames no
scene, leaves no truncated report or temporary file, and a rerun after the fix completes the job.

The output store lives on a small tmpfs this test mounts (root on Linux; skipped elsewhere)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from landpulse.cli import main
from tests.support import skip_or_fail
from tests.support.series import clean_run_digest, job_dict, leftovers, store_digest, write_job, write_series

DATES = 4


@pytest.fixture(scope="module")
def series(tmp_path_factory: pytest.TempPathFactory, sample_store: Path) -> Path:
    return write_series(sample_store, tmp_path_factory.mktemp("env") / "18SVG.zarr", range(DATES))


@pytest.fixture(scope="module")
def reference(series: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    return clean_run_digest(series, tmp_path_factory.mktemp("clean"))


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs at tmp_path/disk: room for about one NDVI unit of the series."""
    disk = tmp_path / "disk"
    disk.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)], capture_output=True, text=True)
    if done.returncode != 0:
        skip_or_fail("tmpfs", f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def _remount(disk: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(disk)], check=True)


@pytest.mark.parametrize("fault", ["full", "read-only"])
def test_a_full_or_read_only_output_stops_the_run_with_its_own_status(
        fault: str, series: Path, reference: dict[str, object], small_disk: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    job = job_dict(series, tmp_path, output={"store": str(small_disk / "products"), "reports": str(tmp_path / "reports")},
                   cluster={"kind": "threads", "n_workers": 1})
    spec = write_job(tmp_path / "job.yaml", job)
    if fault == "read-only":
        (small_disk / "products").mkdir()
        _remount(small_disk, "ro")
    assert main(["run", str(spec)]) == 74
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    cause = "No space left on device" if fault == "full" else "Read-only file system"
    assert len(lines) == 1 and lines[0].startswith("landpulse: error:") and cause in lines[0], err
    assert "scene(s) failed" not in err
    if fault == "full":  # found by the second unit: the first is committed, the run stops, the report says why
        assert "STOPPED" in out
        report = json.loads((tmp_path / "reports" / "latest.json").read_text())
        assert report["status"] == "stopped" and report["exit_code"] == 74 and cause in report["environment_fault"]
        assert report["failed_scenes"] == []  # no healthy scene is blamed
        assert 1 <= report["summary"]["written"] < DATES and report["summary"]["stopped"] >= 1  # it stopped early
        assert leftovers(small_disk / "products") == []  # no temporary folder or file left behind
        assert main(["verify", str(small_disk / "products")]) == 0  # what was committed is whole
    else:  # found before anything runs (the store's lock cannot be created there)
        assert not (tmp_path / "reports" / "latest.json").exists()
    assert not list(tmp_path.glob("reports/**/.*tmp*"))  # no half-written report
    capsys.readouterr()
    _remount(small_disk, "rw,size=64m")  # the fix
    assert main(["run", str(spec)]) == 0
    assert store_digest(small_disk / "products") == reference
