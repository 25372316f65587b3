"""Runs: a job spec (or one scene store) to committed units, through one path.

:func:`run_job` takes the store's lock, tidies what interrupted runs left, plans (units not yet
committed), computes each unit as a task (:func:`landpulse.production.units.run_unit`: compute,
write, commit) on the job's cluster, rebuilds the STAC catalogue and writes the run report.
:func:`run_store` is the one-off form for one scene store (``landpulse compute STORE --out DIR``):
it describes the store as a job (zarr inputs, the products asked for, a ``threads`` cluster) and
runs it through :func:`run_job`, so both write the same units, commit them the same way, and are
checked by the same ``landpulse verify``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from landpulse.errors import ClusterLostError, EnvironmentFaultError, InputError, LandpulseError, environment_fault
from landpulse.io.stac_catalogue import write_collections
from landpulse.production.cluster import UNIT_RESOURCE, dashboard_address, default_workers, make_client
from landpulse.production.jobspec import JobSpec, JobSpecError, parse_job
from landpulse.production.ledger import Ledger, clean_orphans, store_lock
from landpulse.production.plan import Unit, make_plan
from landpulse.production.report import build_report, write_report
from landpulse.production.sizing import choose_cluster
from landpulse.products.registry import get_product

if TYPE_CHECKING:
    from landpulse.io.store import PathLike
    from landpulse.production.units import UnitResult, UnitSettings

# The unit module (kernels, COG, quick-looks) and the product browser (matplotlib) are imported
# where they are used: a run with nothing to do loads neither (tests/test_startup.py).


@dataclass
class JobResult:
    """The outcome of :func:`run_job`; ``exit_code`` is what the CLI returns to the scheduler."""

    run_id: str
    status: str  # "ok" | "nothing-to-do" | "partial"
    exit_code: int
    units: list[UnitResult]
    report: dict[str, Any]
    report_json: Path | None = None
    report_html: Path | None = None

    @property
    def failed(self) -> list[UnitResult]:
        return [u for u in self.units if u.status == "failed"]


#: Cluster kinds whose units run on this machine (its devices are theirs).
_HERE = ("threads", "local")

#: Exit status of a run where some units failed (the others are committed).
EXIT_UNITS_FAILED = 4


def _lost(err: BaseException) -> bool:
    """True for errors that mean "the worker running it died", not "the unit failed"."""
    return type(err).__name__ in ("KilledWorker", "CommClosedError", "FutureCancelledError", "CancelledError",
                                  "StreamClosedError")


def _scheduler_lost(client: Any) -> bool:
    """True when the client has lost its scheduler (reconnecting, or closed): a future that fails
    then was cancelled with the scheduler, not lost with a worker, and no retry can run."""
    return str(getattr(client, "status", "running")) not in ("running", "newly-created")


def _unit_resources(client: Any, kind: str) -> dict[str, int] | None:
    """``{landpulse-unit: 1}`` when every worker runs one unit at a time through that resource.

    Workers landpulse starts (local, local-cuda, slurm) always have it, whether or not they have
    connected yet (Slurm jobs may still be queued). For an existing cluster (address) it is read
    from the workers, after waiting for the first one: deciding on an empty cluster would let late
    workers run several units at once, each with all of the worker's threads.
    """
    if kind in ("local", "local-cuda", "slurm"):
        return {UNIT_RESOURCE: 1}
    client.wait_for_workers(1)
    workers = client.scheduler_info().get("workers", {}).values()
    return {UNIT_RESOURCE: 1} if workers and all(UNIT_RESOURCE in w.get("resources", {}) for w in workers) else None


class _Stop(Exception):
    """Raised inside :func:`_execute` when a unit met an environment fault: nothing more is started."""


def _execute(units: Sequence[Unit], settings: UnitSettings, client: Any, echo: Callable[[str], None],
             n_threads: int, resources: dict[str, int] | None = None
             ) -> tuple[list[UnitResult], EnvironmentFaultError | None]:
    """Run unit tasks; units lost with their workers get one more try each, one at a time.

    Returns the results (in plan order) and the environment fault that stopped the run, if any:
    a unit whose output disk is full, read-only or not writable (status ``stopped``) stops the
    run, since every other unit would meet it too; units not started then have no result. So does
    a scheduler that goes away (:class:`~landpulse.errors.ClusterLostError`): its futures are
    cancelled, which must not read as workers killed by the scenes they ran.
    """
    from landpulse.production.units import UnitResult, run_unit

    results: dict[str, UnitResult] = {}
    total = len(units)
    fault: list[EnvironmentFaultError] = []

    def report(res: UnitResult) -> None:
        results[res.unit] = res
        line = f"[{len(results):>{len(str(total))}}/{total}] {res.status:8s} {res.unit}"
        if res.status in ("failed", "stopped"):
            line += f": {res.error_type}: {res.error}"
        elif res.status != "skipped":
            line += f" ({res.seconds:.1f} s)"
        echo(line)
        for note in res.warnings:
            echo(f"    note: {note}")
        if res.status == "stopped" and not fault:
            fault.append(EnvironmentFaultError(str(res.error)))
            raise _Stop

    def lost_result(unit: Unit, err: BaseException, again: bool) -> UnitResult:
        res = UnitResult(unit.id, unit.product, unit.tile, unit.period, unit.datetime.isoformat() + "Z",
                         unit.inputs, "failed", str(unit.folder(settings.store)))
        res.error_type = "PoisonScene" if again else type(err).__name__
        res.error = (f"scene {', '.join(unit.inputs)} killed the worker running it again when run alone "
                     f"({type(err).__name__}: {err})" if again else str(err))
        return res

    def ordered() -> tuple[list[UnitResult], EnvironmentFaultError | None]:
        return [results[u.id] for u in units if u.id in results], (fault[0] if fault else None)

    lost: list[tuple[Unit, BaseException]] = []
    if client is None:
        pool = ThreadPoolExecutor(max_workers=n_threads)
        submitted = {pool.submit(run_unit, u, settings): u for u in units}
        try:
            for fut in as_completed(submitted):
                report(fut.result())
        except _Stop:
            pool.shutdown(wait=True, cancel_futures=True)
            for fut in submitted:  # units that were running when the fault came finished meanwhile
                if fut.done() and not fut.cancelled() and fut.result().unit not in results:
                    results[fut.result().unit] = fut.result()
            return ordered()
        except BaseException:
            # a signal (KeyboardInterrupt) or an error: units not started are dropped, the ones
            # running finish their commit (a unit is all or nothing either way), then the run ends
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        return ordered()

    from distributed import as_completed as dist_completed  # the cluster extra: only with a cluster

    by_key = {}
    futures = []
    for u in units:
        fut = client.submit(run_unit, u, settings, key=f"landpulse-unit-{u.id}-{settings.run_id}", pure=False,
                            resources=resources)
        by_key[fut.key] = u
        futures.append(fut)
    def scheduler_gone(err: BaseException) -> None:
        if not fault:
            done = len(results)
            fault.append(ClusterLostError(
                f"the Dask scheduler {getattr(client.scheduler, 'address', '')} was lost mid-run "
                f"({type(err).__name__}) with {total - done} of {total} unit(s) unfinished; each is committed whole "
                "or not at all: start the scheduler again and rerun to compute the rest (committed units are kept)"))
        raise _Stop

    try:
        for fut in dist_completed(futures):
            unit = by_key[fut.key]
            try:
                report(fut.result())
            except _Stop:
                raise
            except Exception as err:
                if _lost(err) and _scheduler_lost(client):
                    scheduler_gone(err)
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
            except _Stop:
                raise
            except Exception as err:
                if _lost(err) and _scheduler_lost(client):
                    scheduler_gone(err)
                report(lost_result(unit, err, again=_lost(err)))
            finally:
                fut.release()
    except _Stop:
        if _scheduler_lost(client):
            _close_lost_client(client)
        else:
            client.cancel([f for f in futures if not f.done()])
    return ordered()


def _close_lost_client(client: Any) -> None:
    """Close a client whose scheduler is gone, now: it would otherwise try to reconnect for Dask's
    connect timeout, and closing it cancels that attempt, which Dask logs as a traceback (the run
    says what happened in one line instead)."""
    log = logging.getLogger("distributed.client")
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        with contextlib.suppress(Exception):
            client.close(timeout=10)
    finally:
        log.setLevel(level)


def _write_browser(store: Path, *, changed: bool, echo: Callable[[str], None], timings: dict[str, float]) -> None:
    """The job's ``output.browse``: rewrite the product browser when the run changed the catalogue
    (or it is missing); a run with nothing new leaves it, like the store, untouched. A site that
    cannot be written is reported, never a failure of the committed units."""
    from landpulse.browse import SITE_DIR, write_site

    if not changed and (store / SITE_DIR / "index.html").is_file():
        return
    t = time.perf_counter()
    try:
        site = write_site(store)
    except (LandpulseError, OSError) as err:
        echo(f"product browser not written: {err}")
        return
    timings["browse"] = round(time.perf_counter() - t, 3)
    echo(f"product browser: {site.page} ({site.items} item(s))")


def _run_parcels(job: JobSpec, echo: Callable[[str], None]) -> None:
    """The job's per-parcel statistics, under the lock the run holds (see production.parcels)."""
    from landpulse.production.jobspec import ZarrInputs
    from landpulse.production.parcels import COMBINED_TILE, run_parcel_tiles

    inputs = job.inputs
    assert isinstance(inputs, ZarrInputs)  # (the spec refuses parcels with other inputs)
    rad = inputs.radiometry
    stores = [(store.tile_id, store.path) for store in inputs.stores]
    where = stores[0][0] if len(stores) == 1 else f"{', '.join(t for t, _ in stores)} (combined as {COMBINED_TILE})"
    for spec in job.parcels:
        done = run_parcel_tiles(stores, spec.file, job.output.store, products=spec.products, mode=spec.mode,
                                quantiles=spec.quantiles, bands=inputs.bands, mask=spec.mask, id_column=spec.id_column,
                                radiometry=(rad.scale, rad.offset, rad.bands) if rad is not None else None,
                                locked=True)
        echo(f"parcels {spec.file.name} on {where}: {len(done.committed)} unit(s) committed, "
             f"{done.skipped} already there")


def run_job(
    job: JobSpec,
    *,
    wait: float = 0.0,
    overwrite: bool = False,
    verify: bool = False,
    echo: Callable[[str], None] = print,
    now: dt.datetime | None = None,
) -> JobResult:
    """Run a production job: plan, compute every unit not yet committed, commit, report.

    Parameters
    ----------
    job : landpulse.production.jobspec.JobSpec
        From :func:`landpulse.production.jobspec.load_job`.
    wait : float
        Seconds to wait for another run holding the store's lock (0: fail at once).
    overwrite : bool
        Recompute the units that are already committed too (each replaces its committed unit).
    verify : bool
        Check every committed unit against its checksums first, and recompute the damaged ones (the
        repair path; it reads every committed file, so it costs a read of the store).
    echo : callable
        Receives one line of progress at a time (default: print).
    now : datetime, optional
        The planning time (naive UTC; default the clock): window units whose window ends after it
        are provisional.

    Returns
    -------
    JobResult
        ``exit_code`` 0 when every planned unit is committed (also when there was nothing to do),
        4 when some units or inputs failed (the report names the scenes).

    Raises
    ------
    landpulse.production.ledger.StoreLockedError
        When another run holds the lock (exit status 75).
    landpulse.errors.EnvironmentFaultError
        When the output's disk is full, read-only or not writable (exit status 74): the run stops
        at once, the units committed before are kept, the report says so (where it can be written),
        no temporary file is left, and a rerun after the fix completes the job.
    """
    t_start = time.perf_counter()
    started = dt.datetime.now(dt.UTC)
    run_id = f"{started:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
    store = job.output.store
    reports = job.output.reports_dir
    timings: dict[str, float] = {}
    cluster_info: dict[str, Any] = {"kind": job.cluster.kind}
    if job.backend == "gpu" and job.cluster.kind in _HERE:
        from landpulse.backend import resolve_device, set_options  # (the backend imports xarray and the kernels)

        with set_options(backend="gpu"):
            resolve_device()  # no GPU on the machine the units run on: exit 3 before anything runs
    try:
        with store_lock(store, wait=wait, holder_file=reports / "running.json"):
            orphans = clean_orphans(store)
            if orphans:
                echo(f"removed {len(orphans)} unfinished temporary folder(s) left by an interrupted run")
            t = time.perf_counter()
            plan = make_plan(job, overwrite=overwrite, verify=verify, now=now)  # metadata, never a cluster
            timings["plan"] = round(time.perf_counter() - t, 3)
            echo(f"plan: {len(plan.tiles)} tile(s), {len(plan.scenes)} scene(s); {len(plan.todo)} unit(s) to compute, "
                 f"{len(plan.committed)} already committed"
                 + (f", {plan.out_of_dates} outside the dates" if plan.out_of_dates else "")
                 + (f", {len(plan.failures)} input(s) failed" if plan.failures else "")
                 + (f", {len(plan.damaged)} damaged" if plan.damaged else ""))
            for unit_id, problems in plan.damaged.items():
                echo(f"damaged  {unit_id}: {problems[0]}" + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
                     + "; it is recomputed")
            for f in plan.failures:
                echo(f"input failed: {f.scene}: {f.error}")
            results: list[UnitResult] = []
            if plan.todo:
                from landpulse.production.units import UnitSettings

                settings = UnitSettings(
                    store=str(store), run_id=run_id, backend=job.backend, chunk=job.output.chunk, clevel=job.output.clevel,
                    cog=job.output.cog, quicklooks=job.output.quicklooks, checksums=tuple(job.output.checksums),
                    fsync=job.output.fsync, plugins=tuple(job.plugins),
                )
                cluster, why = choose_cluster(job, plan.todo)  # the spec's cluster, or one sized to the work
                cluster_info.update(kind=cluster.kind, choice=why)
                echo(f"cluster choice: {why}")
                t = time.perf_counter()
                # (each unit task imports the job's plugin modules itself: UnitSettings.plugins)
                with make_client(cluster) as client:
                    timings["cluster_start"] = round(time.perf_counter() - t, 3)
                    if client is not None:
                        info = client.scheduler_info()
                        started_here = cluster.kind in ("local", "local-cuda")
                        has_dashboard = dashboard_address(cluster) is not None if started_here \
                            else "dashboard" in info.get("services", {})
                        link = client.dashboard_link if has_dashboard else None
                        workers = info.get("workers", {})
                        cluster_info.update(scheduler=str(client.scheduler.address), workers=len(workers),
                                            threads=sum(w.get("nthreads", 0) for w in workers.values()), dashboard=link)
                        echo(f"cluster: {cluster.kind}, {len(workers)} worker(s)"
                             + (f"; Dask dashboard: {link}" if link else ""))
                    t = time.perf_counter()
                    resources = _unit_resources(client, cluster.kind) if client is not None else None
                    results, fault = _execute(plan.todo, settings, client, echo, n_threads=default_workers(cluster),
                                              resources=resources)
                    timings["compute"] = round(time.perf_counter() - t, 3)
            else:
                fault = None
                echo("nothing new to do: every unit is already committed" if plan.committed or not plan.failures
                     else "nothing to compute: no input could be planned")
            if fault is None and job.parcels:
                t = time.perf_counter()
                _run_parcels(job, echo)
                timings["parcels"] = round(time.perf_counter() - t, 3)
            t = time.perf_counter()
            catalog_files: list[Path] = []
            if fault is None:
                try:
                    ledger = Ledger(store)  # (the lock made the store)
                    catalog_files = write_collections(store, {p: ledger.items(p) for p in ledger.products()},
                                                      title=f"landpulse job {job.name}")
                except OSError as err:
                    fault = environment_fault(err, store)
                    if fault is None:
                        raise
            timings["catalogue"] = round(time.perf_counter() - t, 3)
            if job.output.browse and fault is None:
                _write_browser(store, changed=bool(catalog_files) or any(r.status in ("written", "replaced") for r in results),
                               echo=echo, timings=timings)
            failed = [r for r in results if r.status == "failed"]
            if fault is not None:
                exit_code, status = fault.exit_code, "stopped"
                echo(f"STOPPED: {fault}")
            else:
                exit_code = EXIT_UNITS_FAILED if failed or plan.failures else 0
                status = "partial" if exit_code else ("ok" if plan.todo else "nothing-to-do")
            timings["total"] = round(time.perf_counter() - t_start, 3)
            report = build_report(job, plan, results, run_id=run_id, started=started, status=status,
                                  exit_code=exit_code, timings=timings, cluster=cluster_info,
                                  orphans=len(orphans), catalogue_files=[str(p) for p in catalog_files],
                                  fault=str(fault) if fault else None)
            try:
                json_path, html_path = write_report(report, reports, keep=job.output.keep_reports)
            except OSError as err:  # reports on the full or read-only disk too: none is left half-written
                raise environment_fault(err, reports) or err from None
    except OSError as err:  # the lock, the tidying or the plan met a full, read-only or forbidden output
        stop = environment_fault(err, store) or environment_fault(err, reports)
        if stop is None:
            raise
        raise stop from err
    if fault is not None:
        echo(f"run report: {json_path} and {html_path}")
        raise fault
    if failed or plan.failures:
        names = sorted({s for r in failed for s in r.inputs} | {f.scene for f in plan.failures})
        echo(f"FAILED: {len(failed)} unit(s), {len(plan.failures)} input(s); scenes: {', '.join(names)}")
    echo(f"run report: {json_path} and {html_path}")
    return JobResult(run_id, status, exit_code, results, report, json_path, html_path)


def store_job(
    store: PathLike,
    out_dir: PathLike,
    *,
    products: Sequence[str] = ("ndvi",),
    bands: Mapping[str, str] | None = None,
    encoding: str = "int16",
    quicklooks: bool = True,
    radiometry: tuple[float, float] | None = None,
    tile: str | None = None,
    backend: str = "auto",
    cog: bool = True,
) -> JobSpec:
    """The one-off job of :func:`run_store`: ``store`` as the zarr input of one tile (``tile``,
    default the store's folder name), ``products`` into ``out_dir`` (reports beside it, in
    ``<out_dir>-reports``), on a ``threads`` cluster (this process).

    Raises
    ------
    InputError
        For unknown products (naming the closest), bad band mappings, encodings or tile ids, in
        one line.
    """
    for name in products:
        get_product(name)
    spec: dict[str, Any] = {
        "name": "store",
        "inputs": {"kind": "zarr", "stores": [{"path": str(store), **({"tile": tile} if tile else {})}],
                   **({"bands": dict(bands)} if bands else {}),
                   **({"radiometry": {"scale": radiometry[0], "offset": radiometry[1]}} if radiometry else {})},
        "products": list(products),
        # a COG per unit by default: what odc-stac, stackstac and GIS software load (README "STAC assets")
        "output": {"store": str(out_dir), "encoding": encoding, "quicklooks": quicklooks, "cog": cog},
        "cluster": {"kind": "threads"},
        "backend": backend,
    }
    try:
        return parse_job(spec, base=Path.cwd(), source=str(store))
    except JobSpecError as err:  # the spec is ours: say what was wrong with the arguments, in one line
        problems = [line.strip() for line in str(err).splitlines()[1:]]
        raise InputError(f"{store}: {'; '.join(problems)}") from None


def run_store(
    store: PathLike,
    out_dir: PathLike,
    *,
    products: Sequence[str] = ("ndvi",),
    bands: Mapping[str, str] | None = None,
    encoding: str = "int16",
    overwrite: bool = False,
    verify: bool = False,
    quicklooks: bool = True,
    radiometry: tuple[float, float] | None = None,
    tile: str | None = None,
    backend: str = "auto",
    echo: Callable[[str], None] = print,
    cog: bool = True,
) -> JobResult:
    """Compute ``products`` for every date of one scene store and commit them as units.

    The same units, commits, ledger and report as a job run (:func:`run_job` of
    :func:`store_job`): ``<out_dir>/<product>/<tile>/<period>/`` per date, each with its Zarr store
    (int16 x 1e-4 or float32 indices, uint8 classes), thumbnail and STAC item, checked by
    ``landpulse verify``; a rerun skips what is committed unless ``overwrite``.

    Parameters
    ----------
    store : path
        A scene store (``landpulse ingest`` output, or a foreign Zarr store with a time dimension).
    out_dir : path
        The product store.
    products : sequence of str
        Registered product names (:func:`landpulse.products.registry.product_names`).
    bands : mapping, optional
        Explicit band variables, ``{"red": "B04"}``.
    encoding : {'int16', 'float32'}
        Storage of index products.
    overwrite : bool
        Recompute units that are already committed.
    verify : bool
        Check committed units against their checksums and recompute the damaged ones.
    quicklooks : bool
        Write a PNG thumbnail per unit.
    radiometry : (scale, offset), optional
        Declare the radiometry of a foreign store whose bands carry none.
    tile : str, optional
        Tile id of the units (default: the store's folder name without ``.zarr``).
    backend : {'auto', 'cpu', 'gpu'}
    echo : callable
        Receives one line of progress at a time.
    cog : bool
        Also write a Cloud-Optimized GeoTIFF per unit (the asset odc-stac loads).

    Returns
    -------
    JobResult
    """
    job = store_job(store, out_dir, products=products, bands=bands, encoding=encoding, quicklooks=quicklooks,
                    radiometry=radiometry, tile=tile, backend=backend, cog=cog)
    return run_job(job, overwrite=overwrite, verify=verify, echo=echo)
