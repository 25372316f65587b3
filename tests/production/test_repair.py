"""A damaged committed unit is repaired by a run that verifies (RELIABILITY: `verify` alone is not
the end of the story): ``landpulse run JOB --verify`` re-checks the units it would skip and
recomputes the damaged ones, to the bytes of the undamaged store."""

from __future__ import annotations

from pathlib import Path

import pytest

from landpulse.cli import main
from tests.support.series import job_dict, store_digest, write_job, write_series


def test_run_with_verify_recomputes_exactly_the_damaged_units(tmp_path: Path, sample_store: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    series = write_series(sample_store, tmp_path / "18SVG.zarr", [0, 1, 2])
    spec = write_job(tmp_path / "job.yaml", job_dict(series, tmp_path, products=["ndvi", "savi"]))
    store = tmp_path / "products"
    assert main(["run", str(spec)]) == 0
    clean = store_digest(store)
    units = sorted(p.parent for p in store.glob("*/*/*/item.json"))
    assert len(units) == 6
    flipped = sorted(units[1].glob("*.zarr/*/c/*/*/*"))[0]
    data = bytearray(flipped.read_bytes())
    data[len(data) // 2] ^= 0xFF
    flipped.write_bytes(bytes(data))
    (units[4] / "thumbnail.png").unlink()
    untouched = {u: (u / "item.json").stat().st_mtime_ns for u in units if u not in (units[1], units[4])}
    capsys.readouterr()

    assert main(["run", str(spec)]) == 0  # without --verify the ledger trusts its items
    assert "nothing new to do" in capsys.readouterr().out
    assert main(["verify", str(store)]) == 5
    capsys.readouterr()

    assert main(["run", str(spec), "--verify", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "2 unit(s) to compute" in out and f"damaged {units[1].parts[-3]}_{units[1].parts[-2]}_{units[1].parts[-1]}" in out

    assert main(["run", str(spec), "--verify"]) == 0
    out = capsys.readouterr().out
    assert out.count("damaged  ") == 2 and out.count("replaced ") == 2, out
    assert main(["verify", str(store)]) == 0
    assert store_digest(store) == clean  # the same bytes as before the damage
    assert all((u / "item.json").stat().st_mtime_ns == m for u, m in untouched.items())  # nothing else rewritten
