"""Start-up: each command loads only what it uses (checked in fresh processes through ``sys.modules``,
never by timing). ``benchmarks/bench_whole.py`` measures what that is worth in seconds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.series import job_dict, write_job

#: Loaded by a command only when it computes something (kernels, cluster, quick-looks, COGs).
HEAVY = ("numba", "distributed", "matplotlib")
#: Not even needed to read a store: `landpulse --help` must load none of these either.
DATA = ("numpy", "xarray", "dask", "zarr", "rasterio", "rioxarray", "pandas", "pydantic", "pystac")

_CLI = ("import json, sys\n"
        "from landpulse.cli import main\n"
        "rc = main(sys.argv[1:])\n"
        "sys.stderr.write('\\nMODULES ' + json.dumps(sorted(sys.modules)) + '\\n')\n"
        "sys.exit(rc)\n")


def _modules_after(*args: str, cwd: Path) -> tuple[int, set[str], str]:
    """Run ``landpulse ARGS`` in a fresh interpreter; its exit status, loaded modules and output."""
    proc = subprocess.run([sys.executable, "-c", _CLI, *args], capture_output=True, text=True, cwd=cwd, timeout=120)
    line = next(x for x in proc.stderr.splitlines() if x.startswith("MODULES "))
    top = {m.split(".")[0] for m in json.loads(line.removeprefix("MODULES "))}
    return proc.returncode, top, proc.stdout + proc.stderr


def _python(code: str, cwd: Path) -> str:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_help_loads_no_data_library(tmp_path: Path) -> None:
    rc, mods, out = _modules_after("--help", cwd=tmp_path)
    assert rc == 0 and "Commands" in out
    assert not mods & set(HEAVY + DATA), sorted(mods & set(HEAVY + DATA))


def test_validate_loads_no_kernel_cluster_or_plotting(tmp_path: Path, sample_store: Path) -> None:
    job = write_job(tmp_path / "job.yaml", job_dict(sample_store, tmp_path / "out"))
    rc, mods, out = _modules_after("validate", str(job), cwd=tmp_path)
    assert rc == 0 and "valid job spec" in out
    assert not mods & set(HEAVY), sorted(mods & set(HEAVY))


def test_nothing_to_do_run_loads_no_kernel_cluster_or_plotting(tmp_path: Path, sample_store: Path) -> None:
    job = write_job(tmp_path / "job.yaml", job_dict(sample_store, tmp_path / "out"))
    rc, mods, out = _modules_after("run", str(job), cwd=tmp_path)  # the first run computes (and loads them)
    assert rc == 0 and "numba" in mods, out[-2000:]
    rc, mods, out = _modules_after("run", str(job), cwd=tmp_path)
    assert rc == 0 and "nothing new to do" in out, out[-2000:]
    assert not mods & set(HEAVY), sorted(mods & set(HEAVY))


def test_import_landpulse_is_lazy_and_complete(tmp_path: Path) -> None:
    """``import landpulse`` loads no data library, yet every public name, the product namespaces'
    aliases and ``ds.landpulse`` (xarray imported after landpulse, or before) work as before."""
    out = _python(
        "import sys, landpulse\n"
        f"print(sorted(m for m in {DATA + HEAVY!r} if m in sys.modules))\n"
        "import xarray as xr, numpy as np\n"
        "ds = xr.Dataset({'red': (('y', 'x'), np.full((2, 2), 0.1, 'f4')), 'nir': (('y', 'x'), np.full((2, 2), 0.5, 'f4'))})\n"
        "print(hasattr(ds, 'landpulse'), hasattr(ds, 'rio'))\n"
        "import landpulse.water, landpulse.change\n"
        "from landpulse.change import composite\n"
        "print(landpulse.water is landpulse.products.water, landpulse.change is landpulse.products.change)\n"
        "print(all(getattr(landpulse, n) is not None for n in landpulse.__all__))\n", cwd=tmp_path)
    lines = out.splitlines()
    assert lines == ["[]", "True True", "True True", "True"], out
    before = _python("import xarray as xr, landpulse\nprint(hasattr(xr.Dataset, 'landpulse'))\n", cwd=tmp_path)
    assert before.strip() == "True"


def test_unknown_public_name_is_an_attribute_error() -> None:
    import landpulse

    with pytest.raises(AttributeError, match="not_a_name"):
        landpulse.not_a_name  # noqa: B018
    assert "ndvi" in dir(landpulse)
