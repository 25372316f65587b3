"""From a scene store to committed products: compute, write, quick-look, then the STAC item.

A product ``<out>/<name>/`` is complete only when its STAC item ``<name>.json`` exists: the item
is written last, atomically, after the Zarr store (itself renamed into place whole) and the
quick-look. :func:`run_products` skips products whose item is already there unless told to
overwrite, so rerunning a finished run writes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dask
import xarray as xr

from .backend import device_info, resolve_device, to_device
from .catalogue import catalogue as _catalogue
from .errors import InputError
from .indices import index_product, ndvi
from .io.products import Encoding, item_encoding, open_product, write_product_blocks
from .io.stac import product_item, write_item
from .io.store import PathLike, atomic_directory, open_store, validate_name
from .progress import progress_bar
from .radiometry import declare_radiometry
from .viz import quicklook
from .water import water_product

ProductFn = Callable[..., xr.DataArray]


def all_index_names() -> list[str]:
    """Catalogue index names and aliases (lower case)."""
    return _catalogue().all_names()

#: Products ``landpulse run`` knows, by name: the function and its quick-look style.
PRODUCTS: dict[str, tuple[ProductFn, str]] = {
    "ndvi": (ndvi, "index"),
}
# every spectral index of the catalogue (and its aliases), by the names landpulse.indices takes
PRODUCTS.update({n: (index_product(n), "index") for n in all_index_names() if n not in PRODUCTS})
# water maps (class products: quick-looks with their class colours) and the water frequency
PRODUCTS.update({n: (water_product(n), "frequency" if n == "water_frequency" else "index")
                 for n in ("water", "water_otsu", "water_wofs", "water_frequency")})


@dataclass
class ProductResult:
    """What happened to one product of a run."""

    name: str
    status: str  # "written" | "skipped" (already committed)
    store: Path
    item: Path
    quicklook: Path | None = None
    seconds: float = 0.0
    stats: dict[str, float] = field(default_factory=dict)


def product_paths(out_dir: Path, name: str) -> tuple[Path, Path, Path]:
    """``(zarr store, quick-look PNG, STAC item)`` of product ``name`` under ``out_dir``."""
    base = out_dir / validate_name(name, "product name")
    return base / f"{name}.zarr", base / f"{name}.png", base / f"{name}.json"


def _stats(written: Mapping[str, Any], size: int) -> dict[str, float]:
    """Valid fraction, min, mean and max of a product, from the statistics taken as it was written."""
    if not written.get("valid_pixels"):
        return {"valid_fraction": 0.0}
    return {"valid_fraction": written["valid_pixels"] / max(1, size),
            **{k: float(written[k]) for k in ("min", "mean", "max")}}


def write_run_report(results: Sequence[ProductResult], out_dir: PathLike, *, store: str) -> Path:
    """Write ``<out_dir>/run-report.json``: what each product did, its statistics and timing."""
    import datetime as dt  # noqa: PLC0415
    import json  # noqa: PLC0415

    from ._version import __version__  # noqa: PLC0415

    report = {
        "software": f"landpulse {__version__}",
        "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "store": store,
        "device": device_info(resolve_device()).as_dict(),
        "products": [
            {"name": r.name, "status": r.status, "store": str(r.store), "item": str(r.item),
             "quicklook": str(r.quicklook) if r.quicklook else None, "seconds": round(r.seconds, 3), "stats": r.stats}
            for r in results
        ],
    }
    path = Path(out_dir) / "run-report.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path


def run_products(
    store: PathLike | xr.Dataset,
    out_dir: PathLike,
    *,
    products: Sequence[str] = ("ndvi",),
    bands: Mapping[str, str] | None = None,
    encoding: Encoding = "int16",
    overwrite: bool = False,
    quicklooks: bool = True,
    radiometry: tuple[float, float] | None = None,
    progress: bool = False,
) -> list[ProductResult]:
    """Compute ``products`` for a store and commit each one (Zarr, quick-look, STAC item last).

    Parameters
    ----------
    store : path or xarray.Dataset
        A scene store (``landpulse ingest`` output, or a foreign Zarr store).
    out_dir : path
        Products go to ``<out_dir>/<product>/``.
    products : sequence of str
        Names from :data:`PRODUCTS`.
    bands : mapping, optional
        Explicit band variables, ``{"red": "B04"}``.
    encoding : {'int16', 'float32'}
        Storage of index products.
    overwrite : bool
        Recompute products that are already committed.
    quicklooks : bool
        Write a PNG quick-look per product.
    radiometry : (scale, offset), optional
        Declare the radiometry of a foreign store whose bands carry none.
    progress : bool
        Show progress while computing.

    Returns
    -------
    list of ProductResult
    """
    unknown = [p for p in products if p not in PRODUCTS]
    if unknown:
        raise InputError(f"unknown product(s) {unknown}; available: {', '.join(PRODUCTS)}")
    ds = store if isinstance(store, xr.Dataset) else open_store(store)
    if radiometry is not None:
        ds = declare_radiometry(ds, scale=radiometry[0], offset=radiometry[1])
    out = Path(out_dir)
    placed = resolve_device()
    device = device_info(placed).as_dict()
    input_ids = [str(v) for v in ds["scene_id"].values] if "scene_id" in ds.coords else []
    if placed == "gpu":
        ds = to_device(ds)  # inputs cross to the GPU once; products come back at the write (to_host)
    results = []
    for name in products:
        zarr_path, png_path, item_path = product_paths(out, name)
        if item_path.exists() and not overwrite:
            results.append(ProductResult(name, "skipped", zarr_path, item_path,
                                         png_path if png_path.exists() else None))
            continue
        t0 = time.perf_counter()
        fn, style = PRODUCTS[name]
        product = fn(ds, bands=bands) if bands else fn(ds)
        item_path.unlink(missing_ok=True)  # the old item must not describe the new store, even briefly
        # one pass: compute, pack, write every chunk and take the statistics (write_blocks moves a
        # GPU product to the host chunk by chunk); the store is renamed into place whole
        with atomic_directory(zarr_path, overwrite=True) as tmp, progress_bar() if progress else nullcontext():
            written = write_product_blocks(product, tmp, encoding=encoding)
        stored = open_product(zarr_path)[str(product.name)]
        stats = _stats(written.stats, product.size)
        png = quicklook(stored, png_path, style=style, title=f"{name.upper()}: {', '.join(input_ids[:3]) or out.name}") if quicklooks else None
        enc = item_encoding(written)  # what was stored: an index overflowing int16 x 1e-4 stays float32
        item = product_item(
            stored.assign_attrs(product.attrs), item_id=f"{out.name}-{name}",
            data_href=f"./{zarr_path.name}", quicklook_href=f"./{png_path.name}" if png else None,
            device=device, input_ids=input_ids, encoding=enc,
        )
        write_item(item, item_path)
        results.append(ProductResult(name, "written", zarr_path, item_path, png,
                                     time.perf_counter() - t0, stats))
    return results


# ----------------------------------------------------------------------------------------------
# production jobs: job spec -> plan -> units on a Dask cluster -> committed products + report


@dataclass
class JobResult:
    """The outcome of :func:`run_job`; ``exit_code`` is what the CLI returns to the scheduler."""

    run_id: str
    status: str  # "ok" | "nothing-to-do" | "partial"
    exit_code: int
    units: list[Any]
    report: dict[str, Any]
    report_json: Path | None = None
    report_html: Path | None = None

    @property
    def failed(self) -> list[Any]:
        return [u for u in self.units if u.status == "failed"]


#: Exit status of a run where some units failed (the others are committed).
EXIT_UNITS_FAILED = 4


def _lost(err: BaseException) -> bool:
    """True for errors that mean "the worker running it died", not "the unit failed"."""
    return type(err).__name__ in ("KilledWorker", "CommClosedError", "FutureCancelledError", "CancelledError",
                                  "StreamClosedError")


def _unit_resources(client: Any, kind: str) -> dict[str, int] | None:
    """``{landpulse-unit: 1}`` when every worker runs one unit at a time through that resource.

    Workers landpulse starts (local, local-cuda, slurm) always have it, whether or not they have
    connected yet (Slurm jobs may still be queued). For an existing cluster (address) it is read
    from the workers, after waiting for the first one: deciding on an empty cluster would let late
    workers run several units at once, each with all of the worker's threads.
    """
    from .cluster import UNIT_RESOURCE  # noqa: PLC0415

    if kind in ("local", "local-cuda", "slurm"):
        return {UNIT_RESOURCE: 1}
    client.wait_for_workers(1)
    workers = client.scheduler_info().get("workers", {}).values()
    return {UNIT_RESOURCE: 1} if workers and all(UNIT_RESOURCE in w.get("resources", {}) for w in workers) else None


def _execute(units: Sequence[Any], settings: Any, client: Any, echo: Callable[[str], None],
             n_threads: int, resources: dict[str, int] | None = None) -> list[Any]:
    """Run unit tasks; units lost with their workers get one more try each, one at a time."""
    from .commit import UnitResult, run_unit  # noqa: PLC0415

    results: dict[str, Any] = {}
    total = len(units)

    def report(res: Any) -> None:
        results[res.unit] = res
        line = f"[{len(results):>{len(str(total))}}/{total}] {res.status:8s} {res.unit}"
        if res.status == "failed":
            line += f": {res.error_type}: {res.error}"
        elif res.status != "skipped":
            line += f" ({res.seconds:.1f} s)"
        echo(line)

    def lost_result(unit: Any, err: BaseException, again: bool) -> Any:
        res = UnitResult(unit.id, unit.product, unit.tile, unit.period, unit.datetime.isoformat() + "Z",
                         unit.inputs, "failed", str(unit.folder(settings.store)))
        res.error_type = "PoisonScene" if again else type(err).__name__
        res.error = (f"scene {', '.join(unit.inputs)} killed the worker running it again when run alone "
                     f"({type(err).__name__}: {err})" if again else str(err))
        return res

    lost: list[Any] = []
    if client is None:
        from concurrent.futures import ThreadPoolExecutor, as_completed  # noqa: PLC0415

        with ThreadPoolExecutor(max_workers=n_threads) as pool:
            futures = {pool.submit(run_unit, u, settings): u for u in units}
            for fut in as_completed(futures):
                report(fut.result())
        return [results[u.id] for u in units]

    from distributed import as_completed as dist_completed  # noqa: PLC0415

    by_key = {}
    futures = []
    for u in units:
        fut = client.submit(run_unit, u, settings, key=f"landpulse-unit-{u.id}-{settings.run_id}", pure=False,
                            resources=resources)
        by_key[fut.key] = u
        futures.append(fut)
    for fut in dist_completed(futures):
        unit = by_key[fut.key]
        try:
            report(fut.result())
        except Exception as err:
            if _lost(err):
                lost.append((unit, err))
                echo(f"lost     {unit.id}: {type(err).__name__} (its worker died); it will be retried alone")
            else:
                report(lost_result(unit, err, again=False))
        finally:
            fut.release()
    for unit, _ in lost:
        fut = client.submit(run_unit, unit, settings, key=f"landpulse-unit-{unit.id}-{settings.run_id}-retry",
                            pure=False, resources=resources)
        try:
            report(fut.result())
        except Exception as err:
            report(lost_result(unit, err, again=_lost(err)))
        finally:
            fut.release()
    return [results[u.id] for u in units]


def run_job(
    job: Any,
    *,
    wait: float = 0.0,
    echo: Callable[[str], None] = print,
) -> JobResult:
    """Run a production job: plan, compute every unit not yet committed, commit, report.

    Parameters
    ----------
    job : landpulse.jobspec.JobSpec
        From :func:`landpulse.jobspec.load_job`.
    wait : float
        Seconds to wait for another run holding the store's lock (0: fail at once).
    echo : callable
        Receives one line of progress at a time (default: print).

    Returns
    -------
    JobResult
        ``exit_code`` 0 when every planned unit is committed (also when there was nothing to do),
        4 when some units or inputs failed (the report names the scenes).

    Raises
    ------
    landpulse.ledger.StoreLockedError
        When another run holds the lock (exit status 75).
    """
    import datetime as dt  # noqa: PLC0415
    import uuid  # noqa: PLC0415

    from .cluster import default_workers, make_client  # noqa: PLC0415
    from .commit import UnitSettings  # noqa: PLC0415
    from .io.stac import write_collections  # noqa: PLC0415
    from .ledger import clean_orphans, store_lock  # noqa: PLC0415
    from .plan import make_plan  # noqa: PLC0415
    from .report import build_report, write_report  # noqa: PLC0415

    t_start = time.perf_counter()
    started = dt.datetime.now(dt.UTC)
    run_id = f"{started:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
    store = job.output.store
    reports = job.output.reports_dir
    timings: dict[str, float] = {}
    cluster_info: dict[str, Any] = {"kind": job.cluster.kind}
    with store_lock(store, wait=wait, holder_file=reports / "running.json"):
        orphans = clean_orphans(store)
        if orphans:
            echo(f"removed {len(orphans)} unfinished temporary folder(s) left by an interrupted run")
        t = time.perf_counter()
        with dask.config.set(scheduler="sync"):  # metadata only: never through a cluster
            plan = make_plan(job)
        timings["plan"] = round(time.perf_counter() - t, 3)
        echo(f"plan: {len(plan.tiles)} tile(s), {len(plan.scenes)} scene(s); {len(plan.todo)} unit(s) to compute, "
             f"{len(plan.committed)} already committed"
             + (f", {plan.out_of_dates} outside the dates" if plan.out_of_dates else "")
             + (f", {len(plan.failures)} input(s) failed" if plan.failures else ""))
        for f in plan.failures:
            echo(f"input failed: {f.scene}: {f.error}")
        results: list[Any] = []
        if plan.todo:
            settings = UnitSettings(
                store=str(store), run_id=run_id, backend=job.backend, chunk=job.output.chunk, clevel=job.output.clevel,
                cog=job.output.cog, quicklooks=job.output.quicklooks, checksums=tuple(job.output.checksums),
                fsync=job.output.fsync, plugins=tuple(job.plugins),
            )
            t = time.perf_counter()
            # (each unit task imports the job's plugin modules itself: UnitSettings.plugins)
            with make_client(job.cluster) as client:
                timings["cluster_start"] = round(time.perf_counter() - t, 3)
                if client is not None:
                    info = client.scheduler_info()
                    from .cluster import dashboard_address  # noqa: PLC0415

                    started_here = job.cluster.kind in ("local", "local-cuda")
                    has_dashboard = dashboard_address(job.cluster) is not None if started_here \
                        else "dashboard" in info.get("services", {})
                    link = client.dashboard_link if has_dashboard else None
                    workers = info.get("workers", {})
                    cluster_info.update(scheduler=str(client.scheduler.address), workers=len(workers),
                                        threads=sum(w.get("nthreads", 0) for w in workers.values()), dashboard=link)
                    echo(f"cluster: {job.cluster.kind}, {len(workers)} worker(s)"
                         + (f"; Dask dashboard: {link}" if link else ""))
                t = time.perf_counter()
                resources = _unit_resources(client, job.cluster.kind) if client is not None else None
                results = _execute(plan.todo, settings, client, echo, n_threads=default_workers(job.cluster),
                                   resources=resources)
                timings["compute"] = round(time.perf_counter() - t, 3)
        else:
            echo("nothing new to do: every unit is already committed")
        t = time.perf_counter()
        catalog_files = write_collections(store, title=f"landpulse job {job.name}")  # (the lock made the store)
        timings["catalogue"] = round(time.perf_counter() - t, 3)
        failed = [r for r in results if r.status == "failed"]
        exit_code = EXIT_UNITS_FAILED if failed or plan.failures else 0
        status = "partial" if exit_code else ("ok" if plan.todo else "nothing-to-do")
        timings["total"] = round(time.perf_counter() - t_start, 3)
        report = build_report(job, plan, results, run_id=run_id, started=started, status=status,
                              exit_code=exit_code, timings=timings, cluster=cluster_info,
                              orphans=len(orphans), catalogue_files=[str(p) for p in catalog_files])
        json_path, html_path = write_report(report, reports, keep=job.output.keep_reports)
    if failed or plan.failures:
        names = sorted({s for r in failed for s in r.inputs} | {f.scene for f in plan.failures})
        echo(f"FAILED: {len(failed)} unit(s), {len(plan.failures)} input(s); scenes: {', '.join(names)}")
    echo(f"run report: {json_path} and {html_path}")
    return JobResult(run_id, status, exit_code, results, report, json_path, html_path)
