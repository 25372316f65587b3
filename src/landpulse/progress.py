"""Progress on the console for long work: Dask's progress bar, or the dashboard link."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

from dask.diagnostics import ProgressBar


def active_client() -> Any:
    """The current ``distributed`` client, or None (also when distributed is not installed)."""
    try:
        from distributed import default_client  # optional (the cluster extra)

        return default_client()
    except Exception:
        return None


@contextlib.contextmanager
def progress_bar(minimum: float = 1.0) -> Iterator[None]:
    """Show progress for Dask computations inside the block.

    With a local scheduler, Dask's text progress bar (after ``minimum`` seconds) on stderr; with a
    distributed client, its dashboard link once (the dashboard shows the task stream).
    """
    client = active_client()
    if client is not None:
        link = getattr(client, "dashboard_link", None)
        if link:
            print(f"Dask dashboard: {link}", file=sys.stderr)
        yield
        return

    with ProgressBar(minimum=minimum, out=sys.stderr):
        yield
