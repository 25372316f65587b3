"""The cluster a job runs on when its spec does not say: sized to the work.

A job spec without a ``cluster:`` section used to get a local cluster of processes whatever its
size. Starting one costs seconds (the scheduler, one process per core, each importing landpulse
and loading its kernels from Numba's cache; and closing them), which is most of a small job's
wall time: 12 dates of 705 x 935 px compute in about two seconds. The unit work itself (Numba
kernels, blosc, GDAL) releases the GIL, so threads in this process use the cores as well as
processes do. Processes pay for themselves on long jobs, where a worker that dies (a poison
scene, memory) costs its unit and not the run, and where the start-up is a small share.

:func:`choose_cluster` picks ``threads`` below :data:`PROCESS_CLUSTER_PIXELS` input pixels to
compute (summed over the units; about four full Sentinel-2 tiles) and ``local`` processes from
there on, and says why; an explicit ``cluster:`` in the spec (or ``--cluster``) always wins, and
GPU jobs keep the spec's default. The choice and its reason are in the run report (``cluster``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from landpulse.production.jobspec import ClusterSpec, JobSpec
from landpulse.production.plan import Unit, ZarrSource

#: Input pixels (per band, summed over the units to compute) from which a job gets a local process
#: cluster: 4 Sentinel-2 tiles of 10980 x 10980, tens of seconds of work per core, where the few
#: seconds of starting and closing worker processes are a small share.
PROCESS_CLUSTER_PIXELS = 4 * 10980 * 10980

#: Pixels assumed for an input whose size cannot be read from its metadata (a full tile).
UNKNOWN_PIXELS = 10980 * 10980


def _zarr_pixels(store: str) -> int:
    """The largest ``y * x`` of a Zarr store's arrays, from its metadata files only (v3 or v2)."""
    root = Path(store)
    best = 0
    for meta in [*root.glob("*/zarr.json"), *root.glob("*/.zarray")]:
        try:
            doc = json.loads(meta.read_text())
        except (OSError, ValueError):
            continue
        shape = doc.get("shape") or []
        if len(shape) >= 2:
            best = max(best, int(shape[-1]) * int(shape[-2]))
    return best or UNKNOWN_PIXELS


def _item_pixels(item: str) -> int:
    """``proj:shape`` of a STAC item's largest asset (or of the item), else a full tile."""
    try:
        doc = json.loads(Path(item).read_text())
    except (OSError, ValueError):
        return UNKNOWN_PIXELS
    shapes = [doc.get("properties", {}).get("proj:shape")]
    shapes += [a.get("proj:shape") for a in doc.get("assets", {}).values() if isinstance(a, dict)]
    sizes = [int(s[-1]) * int(s[-2]) for s in shapes if isinstance(s, list) and len(s) >= 2]
    return max(sizes) if sizes else UNKNOWN_PIXELS


def unit_pixels(units: Sequence[Unit]) -> int:
    """Input pixels (per band) the units will read, summed over the units (metadata only)."""
    cache: dict[str, int] = {}
    total = 0
    for unit in units:
        for scene in unit.scenes:
            src = scene.source
            key, count = (src.store, _zarr_pixels) if isinstance(src, ZarrSource) else (src.item, _item_pixels)
            if key not in cache:
                cache[key] = count(key)
            total += cache[key]
    return total


def choose_cluster(job: JobSpec, units: Sequence[Unit]) -> tuple[ClusterSpec, str]:
    """The cluster ``units`` of ``job`` run on, and why (one sentence for the run report).

    Parameters
    ----------
    job : JobSpec
        Its ``cluster`` is kept when the spec (or ``--cluster``) set it.
    units : sequence of Unit
        The units to compute (``Plan.todo``).

    Returns
    -------
    (ClusterSpec, str)
    """
    if "cluster" in job.model_fields_set:
        return job.cluster, f"{job.cluster.kind}, as the job spec (or --cluster) sets it"
    if job.backend == "gpu":
        return job.cluster, f"backend gpu: the default cluster ({job.cluster.kind})"
    pixels = unit_pixels(units)
    mpx = pixels / 1e6
    limit = PROCESS_CLUSTER_PIXELS / 1e6
    if pixels < PROCESS_CLUSTER_PIXELS:
        return (job.cluster.model_copy(update={"kind": "threads"}),
                f"chosen: threads in this process for {len(units)} unit(s) of {mpx:.0f} Mpx in all (below "
                f"{limit:.0f} Mpx a process cluster's start-up costs more than it saves; set cluster: to choose)")
    return (job.cluster.model_copy(update={"kind": "local"}),
            f"chosen: a local process cluster for {len(units)} unit(s) of {mpx:.0f} Mpx in all (from {limit:.0f} Mpx "
            "on, workers that can die alone pay for their start-up; set cluster: to choose)")
