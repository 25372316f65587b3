"""The two kernel leaves implement the same operations with the same signatures."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from landpulse.backend import registry


def _shape(func: Any) -> list[tuple[str, Any, Any]]:
    """Parameter names, kinds and defaults (annotations differ by design: NumPy vs CuPy arrays)."""
    return [(p.name, p.kind, p.default) for p in inspect.signature(func).parameters.values()]


def test_cpu_and_gpu_registries_hold_the_same_operations_and_signatures() -> None:
    cpu = set(registry.registered_ops("cpu"))  # imports both providers (the GPU one needs no CuPy to import)
    gpu = set(registry.registered_ops("gpu"))
    assert cpu == gpu and len(cpu) >= 14
    for op in sorted(cpu):
        assert _shape(registry._REGISTRY[(op, "cpu")]) == _shape(registry._REGISTRY[(op, "gpu")]), op


def test_the_parity_check_sees_a_mismatch(monkeypatch: pytest.MonkeyPatch) -> None:
    def other(a: Any, *, extra: int = 1) -> Any:
        return a

    registry.registered_ops("gpu")
    monkeypatch.setitem(registry._REGISTRY, ("cva", "gpu"), other)
    assert _shape(registry._REGISTRY[("cva", "cpu")]) != _shape(registry._REGISTRY[("cva", "gpu")])
