"""The notebooks run top to bottom on a CPU (executed with nbclient, outputs discarded), and every
cell that draws a figure shows it as an image (not as a ``<Figure size ...>`` repr)."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.support import BOLZANO

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
#: a call of landpulse.viz's figure functions (not their import)
DRAWS = re.compile(r"\b(plot_product|plot_classes)\(")
#: cells that only draw when the shared Bolzano series is there
NEEDS_SHARED = re.compile(r"if (bolzano_path is not None|BOLZANO\.exists\(\))")


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_and_shows_its_figures(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    drawing = [c for c in code if DRAWS.search(c.source) and (BOLZANO.exists() or not NEEDS_SHARED.search(c.source))]
    assert drawing, f"{path.name} draws no figure"
    for cell in drawing:
        outputs = cell.get("outputs", [])
        images = [o for o in outputs if "image/png" in o.get("data", {})]
        reprs = [o for o in outputs if "<Figure size" in str(o.get("data", {}).get("text/plain", ""))
                 and "image/png" not in o.get("data", {})]
        assert images and not reprs, f"{path.name}: no figure shown by\n{cell.source[:200]}"
