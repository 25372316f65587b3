"""The package's layers, checked on its source: no import cycles, products that never touch a
device library, io that knows no production, a GPU leaf without Numba."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import REPO

SRC = REPO / "src" / "landpulse"


def _modules() -> dict[str, tuple[Path, bool]]:
    out = {}
    for p in SRC.rglob("*.py"):
        parts = list(p.relative_to(SRC.parent).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_pkg else parts)] = (p, is_pkg)
    return out


def import_graph() -> dict[str, set[str]]:
    """``module -> modules of landpulse it imports``, from every import statement (also those inside
    functions), with ``from package import submodule`` resolved to the submodule. The implicit
    import of a module's parent packages is not an edge (Python allows it mid-initialisation)."""
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for mod, (path, is_pkg) in mods.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = mod.split(".") if is_pkg else mod.split(".")[:-1]
                    parts = parts[: len(parts) - (node.level - 1)]
                    base = ".".join(parts + ([node.module] if node.module else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
            else:
                continue
            for target in targets:
                while target and target not in mods:
                    target = target.rpartition(".")[0]
                if target and target != mod:
                    graph[mod].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def test_the_cycle_finder_finds_cycles() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_in_the_package() -> None:
    graph = import_graph()
    assert len(graph) > 60 and "landpulse.production.run" in graph["landpulse.cli"] | set().union(*graph.values())
    assert cycles(graph) == []


def _imports_of(prefix: str) -> dict[str, set[str]]:
    """Every module each module under ``prefix`` imports (any package, top-level names too)."""
    out: dict[str, set[str]] = {}
    for mod, (path, _) in _modules().items():
        if not (mod == prefix or mod.startswith(prefix + ".")):
            continue
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
        out[mod] = names
    return out


@pytest.mark.parametrize("layer,forbidden", [
    ("landpulse.products", ("cupy", "cupyx", "numba", "landpulse.backend.cpu", "landpulse.backend.gpu",
                            "landpulse.production", "landpulse.io", "landpulse.cli")),
    ("landpulse.io", ("landpulse.production", "landpulse.cli")),
    ("landpulse.spec", ("landpulse.products", "landpulse.production", "landpulse.io", "cupy", "numba")),
    ("landpulse.backend", ("landpulse.products", "landpulse.production", "landpulse.io")),
    ("landpulse.backend.ops", ("cupy", "numba", "landpulse.backend.cpu", "landpulse.backend.gpu")),
    ("landpulse.backend.gpu", ("numba", "landpulse.backend.cpu")),
    ("landpulse.backend.cpu", ("cupy", "landpulse.backend.gpu")),
    # the product browser reads a catalogue: no production internals, no device code
    ("landpulse.browse", ("landpulse.production", "landpulse.cli", "landpulse.backend", "cupy", "numba")),
])
def test_layers_import_only_what_they_may(layer: str, forbidden: tuple[str, ...]) -> None:
    bad = {mod: sorted(n for n in names if any(n == f or n.startswith(f + ".") for f in forbidden))
           for mod, names in _imports_of(layer).items()}
    assert {m: b for m, b in bad.items() if b} == {}


def test_the_product_registry_is_a_leaf() -> None:
    assert import_graph()["landpulse.products.registry"] == {"landpulse.errors"}


def test_the_gpu_backend_loads_no_numba() -> None:
    code = ("import sys, landpulse, landpulse.backend.gpu, landpulse.backend.storage, landpulse.io.products\n"
            "loaded = sorted(m for m in sys.modules if m == 'numba' or m.startswith('numba.'))\n"
            "assert not loaded, loaded\n"
            "import landpulse.backend.cpu\n"
            "assert 'numba' in sys.modules\n")  # the check can fail: the CPU leaf does load it
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
