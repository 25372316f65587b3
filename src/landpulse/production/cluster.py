"""One factory for the Dask client a job runs on: local processes, local GPUs, an existing
scheduler, or Slurm.

``make_client(spec)`` is a context manager yielding a :class:`distributed.Client` (or ``None`` for
``kind: threads``, which runs units in this process). Whatever it starts, it stops on exit.

Security defaults: the scheduler, the workers it starts and the dashboard bind to ``127.0.0.1``
unless ``cluster.host`` / ``cluster.dashboard`` say otherwise; TLS comes from
:class:`distributed.Security` (certificate *paths* in the spec, or ``temporary: true`` for a
local cluster). Nothing secret is passed in task arguments or printed.

``distributed``, ``dask-cuda`` and ``dask-jobqueue`` are imported only when a kind needs them; a
missing one is an error naming the ``landpulse[cluster]`` extra.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

from landpulse.errors import BackendUnavailableError, InputError, LandpulseError
from landpulse.production.jobspec import ClusterSpec, SecuritySpec, SlurmSpec

CLUSTER_EXTRA_HINT = "install the cluster extra: pip install 'landpulse[cluster]'"

#: Worker resource that limits a worker to one unit at a time (a unit then uses all the worker's
#: threads for its chunks). Workers of clusters landpulse starts have it; give it to the workers
#: of an existing cluster with ``dask worker ... --resources landpulse-unit=1``.
UNIT_RESOURCE = "landpulse-unit"


class ClusterError(LandpulseError):
    """The cluster could not be started or reached."""


def _require(module: str, what: str) -> Any:
    try:
        if module == "dask_jobqueue":
            return _import_jobqueue()
        return importlib.import_module(module)
    except ImportError as err:
        raise BackendUnavailableError(f"cluster kind {what!r} needs {module.split('.')[0]}, which is not "
                                      f"installed: {CLUSTER_EXTRA_HINT}") from err


def _import_jobqueue() -> Any:
    """Import dask-jobqueue without letting it replace this process's Ctrl-C handler.

    Its ``runner`` module calls ``signal.signal(SIGINT, lambda *_: sys.exit())`` at import time:
    that would change how the whole CLI reacts to Ctrl-C, and it raises ValueError when the first
    import happens off the main thread (a notebook's or a test's worker thread). The handler in
    place before the import is kept.
    """

    if "dask_jobqueue" in sys.modules:
        return sys.modules["dask_jobqueue"]
    saved = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is threading.main_thread():
        try:
            return importlib.import_module("dask_jobqueue")
        finally:
            signal.signal(signal.SIGINT, saved)
    original = signal.signal
    signal.signal = lambda *args, **kwargs: saved  # only for this import
    try:
        return importlib.import_module("dask_jobqueue")
    finally:
        signal.signal = original


def security_from(spec: SecuritySpec | None) -> Any:
    """A :class:`distributed.Security` for the spec (None: plain TCP)."""
    if spec is None:
        return None
    distributed = _require("distributed", "tls")
    if spec.temporary:
        try:
            return distributed.Security.temporary()
        except ImportError as err:
            raise BackendUnavailableError("temporary TLS credentials need the `cryptography` package: "
                                          "pip install cryptography") from err
    for path in (spec.ca_file, spec.cert_file, spec.key_file):
        if path is not None and not path.is_file():
            raise InputError(f"cluster.security: {path} does not exist")
    return distributed.Security(
        tls_ca_file=str(spec.ca_file), tls_client_cert=str(spec.cert_file), tls_client_key=str(spec.key_file),
        tls_scheduler_cert=str(spec.cert_file), tls_scheduler_key=str(spec.key_file),
        tls_worker_cert=str(spec.cert_file), tls_worker_key=str(spec.key_file),
        require_encryption=spec.require_encryption,
    )


def dashboard_address(spec: ClusterSpec) -> str | None:
    """Where the dashboard listens: None (off), or host:port (localhost by default)."""
    if spec.dashboard is False:
        return None
    if spec.dashboard is True:
        return f"{spec.host}:8787"
    return str(spec.dashboard)


def default_workers(spec: ClusterSpec) -> int:
    """Worker processes of a local cluster: one per ``threads_per_worker`` cores."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return spec.n_workers or max(1, cores // spec.threads_per_worker)


def cluster_config(spec: ClusterSpec) -> dict[str, Any]:
    """Dask settings for every process of a cluster landpulse starts (nested, as Dask's config).

    ``allowed-failures``: the spec's worker deaths per task. ``pre-spawn-environ`` without
    ``MALLOC_TRIM_THRESHOLD_`` (``None`` unsets it in the worker's environment):
    Dask sets ``MALLOC_TRIM_THRESHOLD_=65536`` so workers hand freed memory back to the OS at once.
    Setting it also switches off glibc's adaptive mmap threshold, so every chunk-sized buffer
    (tens of MB: raw bands, float product, packed and encoded bytes) is a fresh ``mmap`` whose pages
    fault in one by one: units took twice as long (1.3 s vs 2.5-4.2 s per Sentinel-2 tile-date,
    benchmarks/RESULTS.md). Units allocate the same few chunk sizes over and over, which glibc's
    default reuses, so peak memory stays bounded without the trim.

    Processes started here read it from this process's config; processes started elsewhere (Slurm
    worker jobs, the scheduler and workers of ``scripts/landpulse-sbatch.sh``) inherit it through
    ``DASK_INTERNAL_INHERIT_CONFIG`` (:func:`inherited_config`).
    """
    return {"distributed": {"scheduler": {"allowed-failures": spec.allowed_failures},
                            "nanny": {"pre-spawn-environ": {"MALLOC_TRIM_THRESHOLD_": None}}}}


def _dotted(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``: ``dask.config.set`` then changes only those leaves."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            out.update(_dotted(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def inherited_config(spec: ClusterSpec) -> str:
    """:func:`cluster_config` as the value of ``DASK_INTERNAL_INHERIT_CONFIG`` (how Dask passes
    configuration to processes it does not start itself; base64, safe in a shell script)."""
    import dask.config  # (Dask itself only where a cluster is configured: a run with nothing to do needs none)

    return str(dask.config.serialize(cluster_config(spec)))


@contextlib.contextmanager
def make_client(spec: ClusterSpec) -> Iterator[Any]:
    """Start (or connect to) the cluster the spec describes and yield its client.

    Parameters
    ----------
    spec : ClusterSpec
        ``local`` (default), ``local-cuda``, ``address``, ``slurm`` or ``threads``.

    Yields
    ------
    distributed.Client or None
        None for ``threads`` (units run in this process).

    Raises
    ------
    BackendUnavailableError
        When the libraries a kind needs are missing (names the extra).
    ClusterError
        When the cluster cannot be started or reached.
    """
    if spec.kind == "threads":
        yield None
        return
    distributed = _require("distributed", spec.kind)
    import dask.config

    with dask.config.set(_dotted(cluster_config(spec))), contextlib.ExitStack() as stack:
        security = security_from(spec.security)
        cluster: Any = None
        starting = _spec_clusters()
        try:
            if spec.kind == "local":
                cluster = distributed.LocalCluster(
                    n_workers=default_workers(spec), threads_per_worker=spec.threads_per_worker, processes=True,
                    host=spec.host, dashboard_address=dashboard_address(spec), memory_limit=spec.memory_limit or "auto",
                    security=security, protocol="tls://" if security is not None else None,
                    resources={UNIT_RESOURCE: 1},
                )
            elif spec.kind == "local-cuda":
                dask_cuda = _require("dask_cuda", "local-cuda")
                kwargs: dict[str, Any] = {}
                if spec.rmm_pool_size:
                    kwargs["rmm_pool_size"] = spec.rmm_pool_size
                if spec.memory_limit:
                    kwargs["memory_limit"] = spec.memory_limit
                if spec.n_workers:
                    kwargs["n_workers"] = spec.n_workers
                cluster = dask_cuda.LocalCUDACluster(
                    host=spec.host, dashboard_address=dashboard_address(spec), threads_per_worker=spec.threads_per_worker,
                    security=security, protocol="tls" if security is not None else None,
                    resources={UNIT_RESOURCE: 1}, **kwargs,
                )
            elif spec.kind == "slurm":
                cluster = make_slurm_cluster(spec, security)
            if cluster is not None:
                stack.callback(cluster.close)
                client = distributed.Client(cluster, security=security)
            elif spec.scheduler_file is not None:  # address, through the scheduler's file
                client = distributed.Client(scheduler_file=str(spec.scheduler_file), security=security, timeout="60s")
            else:  # address
                client = distributed.Client(spec.address, security=security, timeout="30s")
        except LandpulseError:
            raise
        except Exception as err:
            raise ClusterError(f"could not start or reach the {spec.kind} cluster: {type(err).__name__}: {err}") from err
        except BaseException:  # a signal (KeyboardInterrupt) while the cluster was starting
            # the process is on its way out: the watcher threads of the abandoned worker processes
            # would log their exits ("exit status was already read ...") after the one line the CLI
            # prints; only that logger is quietened (distributed's others still speak)
            logging.getLogger("distributed.process").setLevel(logging.ERROR)
            if cluster is None:
                _close_half_started(starting)
            raise
        stack.callback(client.close)
        yield client


def _spec_clusters() -> set[int]:
    """Ids of the Dask clusters (LocalCluster, SLURMCluster, ...) alive in this process."""
    try:
        from distributed.deploy.spec import SpecCluster  # already imported by _require
    except ImportError:
        return set()
    return {id(c) for c in list(SpecCluster._instances)}


def _close_half_started(before: set[int]) -> None:
    """Close the clusters a signal interrupted in their constructor (we hold no reference to them).

    Left alone, Dask's exit hook closes them at interpreter exit and prints an AssertionError
    traceback (workers still starting), and the start tasks they abandon log "Task exception was
    never retrieved"; here they are closed quietly, their processes stopped, and taken off the
    hook's list. Only on the way out of an interrupted start (the process is about to exit).
    """
    from distributed.deploy.spec import SpecCluster

    for c in list(SpecCluster._instances):
        if id(c) in before:
            continue
        loop: Any = c.loop  # a tornado IOLoop over an asyncio loop
        with contextlib.suppress(BaseException):  # the start tasks it abandons fail: not worth a traceback
            loop.asyncio_loop.set_exception_handler(lambda loop, context: None)
        with contextlib.suppress(BaseException):
            c.close(timeout=10)
        with contextlib.suppress(BaseException):
            for w in list(getattr(c, "_created", ())):  # nannies/workers in their start: stop their processes
                proc = getattr(getattr(w, "process", None), "process", None)
                if proc is not None and proc.is_alive():
                    proc.terminate()
        c.shutdown_on_close = False
        SpecCluster._instances.discard(c)


def make_slurm_cluster(spec: ClusterSpec, security: Any) -> Any:
    """A dask-jobqueue ``SLURMCluster``: ``jobs`` worker jobs, or adaptive between the minimum and maximum.

    The scheduler runs here (the batch job or login node that runs ``landpulse run``); workers
    are Slurm jobs. When the run ends or fails, :func:`make_client` closes the cluster, which
    cancels every worker job (``scancel``); a driver killed outright leaves workers that exit on
    their own after ``death_timeout`` seconds without a scheduler.
    """
    cluster = slurm_cluster(spec, security)
    s = spec.slurm or SlurmSpec()
    if s.adaptive:
        cluster.adapt(minimum_jobs=s.minimum_jobs if s.minimum_jobs is not None else s.jobs, maximum_jobs=s.maximum_jobs)
    else:
        cluster.scale(jobs=s.jobs)
    return cluster


def _rmm_fraction(size: str | None) -> str | None:
    """dask-cuda's worker takes a pool size in bytes or as a fraction: ``80%`` -> ``0.8``."""
    if size is None:
        return None
    text = str(size).strip()
    return str(float(text[:-1]) / 100) if text.endswith("%") else text


def slurm_cluster(spec: ClusterSpec, security: Any = None) -> Any:
    """The ``SLURMCluster`` of a spec, not yet scaled (``cluster.job_script()`` shows its batch script)."""
    jobqueue = _require("dask_jobqueue", "slurm")

    s = spec.slurm or SlurmSpec()
    directives = list(s.job_extra_directives)
    worker_args = ["--resources", f"{UNIT_RESOURCE}=1"]
    worker_command = s.worker_command
    if s.gpus_per_worker:
        directives.append(f"--gres=gpu:{s.gpus_per_worker}")
        worker_command = worker_command or "dask_cuda.cli"
        rmm = _rmm_fraction(spec.rmm_pool_size)
        if rmm:
            worker_args += ["--rmm-pool-size", rmm]
    kwargs: dict[str, Any] = {
        "cores": s.cores, "memory": s.memory, "processes": s.processes, "walltime": s.walltime,
        "job_extra_directives": directives,
        # worker jobs do not see this process's Dask config: hand it over (cluster_config)
        "job_script_prologue": [f"export DASK_INTERNAL_INHERIT_CONFIG='{inherited_config(spec)}'", *s.prologue],
        "worker_extra_args": worker_args,
        "death_timeout": s.death_timeout,
        "python": s.python or sys.executable,
        "job_name": "landpulse-worker",
        "scheduler_options": {"host": spec.host, "dashboard_address": dashboard_address(spec) or ":0"},
    }
    if worker_command:
        kwargs["worker_command"] = worker_command
    if s.partition_name:
        kwargs["queue"] = s.partition_name
    if s.account:
        kwargs["account"] = s.account
    if s.interface:
        kwargs["interface"] = s.interface
        kwargs["scheduler_options"].pop("host")
    if s.log_directory:
        kwargs["log_directory"] = str(s.log_directory)
    if security is not None:
        kwargs["security"] = security
        kwargs["protocol"] = "tls://"
    return jobqueue.SLURMCluster(**kwargs)


def worker_job_script(spec: ClusterSpec) -> str:
    """The batch script of one worker job, as :func:`make_slurm_cluster` would submit it."""
    cluster = slurm_cluster(spec)
    try:
        return str(cluster.job_script())
    finally:
        cluster.close()
