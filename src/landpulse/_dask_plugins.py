"""Dask worker plugins (imported only when a distributed cluster is used)."""

from __future__ import annotations

import importlib
from typing import Any

from distributed import WorkerPlugin


class ImportModules(WorkerPlugin):
    """Import the job's plugin modules on every worker, also on workers that replace lost ones."""

    idempotent = True

    def __init__(self, modules: list[str]) -> None:
        self.modules = list(modules)

    def setup(self, worker: Any) -> None:
        for m in self.modules:
            importlib.import_module(m)
