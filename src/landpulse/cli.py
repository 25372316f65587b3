"""The ``landpulse`` command: ingest imagery, compute products, inspect stores.

Exit status (what schedulers see): 0 success; 1 unexpected failure; 2 bad input or usage
(missing band, unreadable file, not a Zarr store, bad option); 3 backend unavailable
(GPU asked for, none here); 4 some scenes failed; 5 ``verify`` found damage; 74 the output's disk is
full, read-only or not writable (the run stops, no scene is blamed); 69 the Dask scheduler was
lost mid-run (the run stops, no scene is blamed); 75 the store is locked;
130 interrupted by SIGINT (Ctrl-C), 143 by SIGTERM (128 + the signal, as shells report it: the
run stops at the next unit boundary, closes its cluster and releases the lock). Failures print
one line, ``landpulse: error: <reason>``, on stderr; set ``LANDPULSE_DEBUG=1`` for the traceback.

Each command imports what it uses when it runs (the rest of this module imports only typer and
landpulse's errors), so ``landpulse --help`` and a command that has nothing to do start quickly.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from landpulse import __version__
from landpulse.errors import InputError, LandpulseError

if TYPE_CHECKING:
    from landpulse.production.jobspec import JobSpec
    from landpulse.production.run import JobResult

app = typer.Typer(
    name="landpulse",
    help="GPU-accelerated land and water products from satellite imagery (NDVI, indices, water, change).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"landpulse {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    """landpulse: ingest imagery into tiled Zarr, compute products, share them with STAC."""


def _parse_pairs(pairs: list[str] | None, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for p in pairs or []:
        key, sep, value = p.partition("=")
        if not sep or not key or not value:
            raise InputError(f"{what} must look like NAME=VALUE; got {p!r}")
        out[key.strip()] = value.strip()
    return out


def _split(text: str | None) -> list[str] | None:
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


@app.command()
def ingest(
    store: Annotated[Path, typer.Argument(help="Zarr store to create (or append to, with --append).")],
    item: Annotated[list[Path] | None, typer.Option("--item", "-i", help="STAC item JSON of a scene (repeatable); assets local files or http(s)/s3 URLs (read in place).")] = None,
    stac_api: Annotated[str | None, typer.Option("--stac-api", help="Search this STAC API (landing page URL) and ingest every item found (all pages).")] = None,
    collection: Annotated[list[str] | None, typer.Option("--collection", help="Collection to search with --stac-api (repeatable).")] = None,
    bbox: Annotated[str | None, typer.Option(help="Search area for --stac-api: west,south,east,north in degrees.")] = None,
    intersects: Annotated[Path | None, typer.Option(help="Search area for --stac-api: a GeoJSON file (geometry or feature).")] = None,
    query: Annotated[str | None, typer.Option(help='Query extension for --stac-api as JSON, e.g. \'{"eo:cloud_cover": {"lt": 20}}\'.')] = None,
    filter_: Annotated[str | None, typer.Option("--filter", help="CQL2-text filter for --stac-api, e.g. \"eo:cloud_cover < 20\".")] = None,
    max_items: Annotated[int | None, typer.Option(help="Stop a --stac-api search after this many items.")] = None,
    inpe: Annotated[list[Path] | None, typer.Option("--inpe", help="INPE metadata XML of a CBERS-4/4A scene (repeatable): its bands (SCENE_BANDn.tif beside it) are calibrated to top-of-atmosphere reflectance.")] = None,
    band: Annotated[list[str] | None, typer.Option("--band", "-b", help="NAME=FILE for one band of a single scene given as files, e.g. red=B04.tif (repeatable).")] = None,
    sensor: Annotated[str | None, typer.Option(help="Sensor of --band files (sentinel2-l2a, sentinel2-l1c, landsat8-9-c2-l2, cbers4-mux...).")] = None,
    datetime: Annotated[str | None, typer.Option("--datetime", help="Acquisition time of --band files (ISO 8601); with --stac-api, the search's datetime or interval (2022-06-01/2022-06-30).")] = None,
    processing_baseline: Annotated[str | None, typer.Option(help="Sentinel-2 processing baseline of --band files, e.g. 05.09 (decides the -1000 DN offset).")] = None,
    scale: Annotated[float | None, typer.Option(help="Override: reflectance = DN * scale + offset (with --offset).")] = None,
    offset: Annotated[float | None, typer.Option(help="Override: see --scale.")] = None,
    scene_id: Annotated[str | None, typer.Option(help="Scene id for --band files.")] = None,
    bands: Annotated[str | None, typer.Option(help="Comma-separated bands to keep, e.g. red,nir,swir16 (default: all).")] = None,
    resolution: Annotated[float | None, typer.Option(help="Target pixel size in metres (default: finest band).")] = None,
    chunk: Annotated[int | None, typer.Option(help="Spatial chunk size in pixels (default: a divisor near 2048).")] = None,
    append: Annotated[bool, typer.Option(help="Append new dates to an existing store (dates already there are skipped).")] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing store.")] = False,
) -> None:
    """Ingest scenes (STAC items, a STAC API search, INPE CBERS scenes, or band files) into a tiled Zarr v3 store."""
    from landpulse.io.ingest import ingest as do_ingest
    from landpulse.io.inpe import scene_from_inpe
    from landpulse.io.scenes import scene_from_files, scene_from_stac_item

    keep = _split(bands)
    scenes = [scene_from_stac_item(p, bands=keep) for p in item or []]
    if stac_api:
        scenes += [scene_from_stac_item(found, bands=keep)
                   for found in _search(stac_api, collection, bbox, intersects, datetime, query, filter_, max_items)]
        if not scenes:
            raise InputError(f"the search of {stac_api} found no item")
        datetime = None
    scenes += [scene_from_inpe(p) for p in inpe or []]
    files = _parse_pairs(band, "--band")
    if files:
        if not sensor or not datetime:
            raise InputError("--band files need --sensor and --datetime")
        scenes.append(scene_from_files(files, datetime=datetime, sensor=sensor, processing_baseline=processing_baseline,
                                       scale=scale, offset=offset, scene_id=scene_id))
    if not scenes:
        raise InputError("nothing to ingest: give --item ITEM.json, --stac-api URL, --inpe SCENE_BANDn.xml or --band NAME=FILE")
    path = do_ingest(scenes, store, bands=keep, resolution=resolution, chunks=(chunk, chunk) if chunk else None,
                     overwrite=overwrite, append=append, progress=True)
    typer.echo(f"ingested {len(scenes)} scene(s) into {path}")


def _search(url: str, collections: list[str] | None, bbox: str | None, intersects: Path | None, when: str | None,
            query: str | None, cql2: str | None, max_items: int | None) -> list[dict[str, Any]]:
    from landpulse.io.stac_api import StacSearch, search_items

    box = None
    if bbox:
        try:
            w, s, e, n = (float(v) for v in bbox.split(","))
        except ValueError as err:
            raise InputError(f"--bbox must be west,south,east,north; got {bbox!r}") from err
        box = (w, s, e, n)
    geometry = None
    if intersects is not None:
        try:
            geometry = json.loads(intersects.read_text())
        except (OSError, ValueError) as err:
            raise InputError(f"cannot read --intersects {intersects}: {err}") from err
        geometry = geometry.get("geometry", geometry) if isinstance(geometry, dict) else geometry
    try:
        q = json.loads(query) if query else None
    except ValueError as err:
        raise InputError(f"--query must be JSON: {err}") from err
    return search_items(StacSearch(url, tuple(collections or ()), box, geometry, when, q, cql2, max_items=max_items))


BackendOption = Annotated[str | None, typer.Option(help="auto, cpu or gpu (default: the job's backend, else LANDPULSE_BACKEND, else auto).")]
OverwriteOption = Annotated[bool, typer.Option(help="Recompute units that are already committed (each replaces its committed unit).")]
VerifyOption = Annotated[bool, typer.Option("--verify", help="Check committed units against their checksums first and recompute the damaged ones (reads every committed file).")]


@app.command()
def run(
    job_file: Annotated[Path, typer.Argument(metavar="JOB", help="A job spec (job.yaml): inputs, products, output, cluster.")],
    backend: BackendOption = None,
    overwrite: OverwriteOption = False,
    verify: VerifyOption = False,
    wait: Annotated[float, typer.Option(help="Seconds to wait for another run holding the store's lock (default: exit at once with status 75).")] = 0.0,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan (units to compute) and exit without computing.")] = False,
    cluster: Annotated[str | None, typer.Option("--cluster", help="Run on this cluster kind instead of the spec's: local, local-cuda, slurm, threads, address.")] = None,
    scheduler_file: Annotated[Path | None, typer.Option("--scheduler-file", help="Join the scheduler of this file (dask scheduler --scheduler-file), e.g. inside one Slurm allocation.")] = None,
) -> int:
    """Run a job spec: compute and commit every unit not yet committed, on a Dask cluster (nightly, incremental).

    Exit status: 0 done, or nothing new; 4 some scenes failed (named); 2 bad spec; 3 missing libraries; 75 locked.
    """
    from landpulse.production.jobspec import is_job_file

    if not is_job_file(job_file):
        hint = (f"; to compute products of a scene store, use: landpulse compute {job_file} --out DIR"
                if job_file.suffix.lower() not in (".yaml", ".yml") else "")
        raise InputError(f"{job_file}: landpulse run takes a job spec file (.yaml){hint}")
    job = _load_job(job_file, cluster=cluster, scheduler_file=scheduler_file)
    if backend:
        job = job.model_copy(update={"backend": _backend(backend)})
    if dry_run:
        _print_plan(job, overwrite=overwrite, verify=verify)
        return 0
    from landpulse.production.run import run_job

    return _finish(run_job(job, wait=wait, overwrite=overwrite, verify=verify, echo=typer.echo))


@app.command()
def compute(
    store: Annotated[Path, typer.Argument(help="A scene store: landpulse ingest output, or a foreign Zarr store with a time dimension.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Product store: each unit goes to OUT/<product>/<tile>/<date>/.")],
    product: Annotated[list[str] | None, typer.Option("--product", "-p", help="Product to compute (repeatable; default: ndvi).")] = None,
    band: Annotated[list[str] | None, typer.Option("--band", "-b", help="COMMON=VARIABLE band mapping, e.g. red=B04 (repeatable).")] = None,
    encoding: Annotated[str, typer.Option(help="Storage of index products: int16 (scaled 1e-4) or float32.")] = "int16",
    scale: Annotated[float | None, typer.Option(help="Declare the radiometry of a foreign store: reflectance = value * scale + offset.")] = None,
    offset: Annotated[float, typer.Option(help="See --scale.")] = 0.0,
    tile: Annotated[str | None, typer.Option(help="Tile id of the units (default: the store's folder name).")] = None,
    quicklook: Annotated[bool, typer.Option(help="Write a PNG thumbnail per unit.")] = True,
    cog: Annotated[bool, typer.Option(help="Write a Cloud-Optimized GeoTIFF per unit (what odc-stac and GIS software load).")] = True,
    backend: BackendOption = None,
    overwrite: OverwriteOption = False,
    verify: VerifyOption = False,
) -> int:
    """Compute products for every date of one scene store, as a one-off job: the same units, commits,
    ledger, STAC catalogue and report as `landpulse run JOB`, in this process.

    Exit status: 0 done, or nothing new; 4 some dates failed (named); 2 bad input; 3 backend unavailable; 75 locked.
    """
    from landpulse.io.store import open_store
    from landpulse.production.run import run_store

    if encoding not in ("int16", "float32"):
        raise InputError(f"--encoding must be int16 or float32; got {encoding!r}")
    open_store(store)  # a clear error for a missing path or a folder that is no Zarr store
    result = run_store(store, out, products=product or ["ndvi"], bands=_parse_pairs(band, "--band") or None,
                       encoding=encoding, overwrite=overwrite, verify=verify, quicklooks=quicklook, cog=cog,
                       radiometry=(scale, offset) if scale is not None else None, tile=tile,
                       backend=_backend(backend) if backend else "auto", echo=typer.echo)
    return _finish(result)


@app.command("parcel-stats")
def parcel_stats(
    store: Annotated[list[Path], typer.Argument(help="Scene stores (landpulse ingest output, or foreign Zarr stores with a time dimension): one per tile; with several, parcels across tile edges are combined (the first store listed owns where tiles overlap).")],
    parcels: Annotated[Path, typer.Option("--parcels", help="Field boundaries: GeoPackage, GeoParquet (fiboa), GeoJSON or Shapefile.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The long per-parcel table (.parquet; its STAC item beside it, .json); with --units, a product store.")],
    units: Annotated[bool, typer.Option("--units", help="Nightly mode: OUT is a product store of one committed unit per product and date (parcels-<product>/<tile>/<date>/, item last); only dates not yet committed are computed, a run with nothing new writes nothing.")] = False,
    tile: Annotated[str | None, typer.Option(help="Tile id of the units (--units, one store; default: the store's folder name).")] = None,
    product: Annotated[list[str] | None, typer.Option("--product", "-p", help="Index of the catalogue (repeatable; default: ndvi).")] = None,
    mode: Annotated[str, typer.Option(help="Coverage: exact (fraction of each pixel, exactextract's), centre or all_touched.")] = "exact",
    quantile: Annotated[list[float] | None, typer.Option("--quantile", "-q", help="Weighted quantile in [0, 1] (repeatable; default: 0.5, the median).")] = None,
    mask: Annotated[bool, typer.Option(help="Mask clouds and invalid pixels with the store's classification band (SCL, QA_PIXEL).")] = True,
    band: Annotated[list[str] | None, typer.Option("--band", "-b", help="COMMON=VARIABLE band mapping, e.g. red=B04 (repeatable).")] = None,
    scale: Annotated[float | None, typer.Option(help="Declare the radiometry of a foreign store: reflectance = value * scale + offset.")] = None,
    offset: Annotated[float, typer.Option(help="See --scale.")] = 0.0,
    geometry: Annotated[bool, typer.Option(help="Write GeoParquet with each row's parcel geometry (default: Parquet without).")] = False,
    id_column: Annotated[str, typer.Option(help="The parcels' identifier column (fiboa: id).")] = "id",
) -> int:
    """Per-parcel statistics of index products over every date of a scene store: one coverage
    matrix for all dates and products, a long table (parcel, date, product, statistics, the
    parcels' attributes) and a STAC item for it.

    Exit status: 0 done; 2 bad input.
    """
    import pandas as pd

    from landpulse.io.parcels import parcel_stats_item, read_parcels, write_parcel_stats
    from landpulse.io.stac import write_item
    from landpulse.io.store import open_store
    from landpulse.products.indices import indices
    from landpulse.products.parcels import parcel_weights, zonal_stats
    from landpulse.spec.radiometry import declare_radiometry

    if mode not in ("exact", "centre", "all_touched"):
        raise InputError(f"--mode must be exact, centre or all_touched; got {mode!r}")
    if tile is not None and len(store) > 1:
        raise InputError("--tile names the tile of one store; with several, each store's folder name is its tile id")
    if units:
        from landpulse.io.files import validate_name
        from landpulse.production.parcels import run_parcel_tiles

        tiles = [tile] if tile else [validate_name(s.name.split(".")[0], "tile id (from the store's folder name)")
                                     for s in store]
        done = run_parcel_tiles(list(zip(tiles, store, strict=True)), parcels, out, products=product or ["ndvi"],
                                mode=mode, quantiles=quantile or [0.5], bands=_parse_pairs(band, "--band") or None,
                                radiometry=(scale, offset) if scale is not None else None, mask=mask,
                                id_column=id_column)
        typer.echo(f"{len(done.committed)} unit(s) committed, {done.skipped} already there -> {out}")
        return 0
    fields = read_parcels(parcels)
    names = product or ["ndvi"]
    qs = quantile or [0.5]
    prods = []
    for path in store:
        ds = open_store(path)
        if scale is not None:
            ds = declare_radiometry(ds, scale=scale, offset=offset)
        has_class = any(v in ds for v in ("SCL", "scl", "QA_PIXEL", "qa_pixel"))
        prods.append(indices(ds, names, mask="auto" if (mask and has_class) else None,
                             bands=_parse_pairs(band, "--band") or None))
    prod = prods[0]
    variables = [v for v in prod.data_vars if v != "mask"]
    if len(prods) == 1:
        weights = parcel_weights(prod[variables[0]], fields, mode)  # type: ignore[arg-type]
        tables = [zonal_stats(prod[v], fields, quantiles=qs, weights=weights, id_column=id_column,
                              product_name=str(v)) for v in variables]
        coverage = f"coverage: {weights.nnz} weights, {mode}"
    else:
        from landpulse.products.parcels.tiles import zonal_stats_tiles

        tiles = [s.name.split(".")[0] for s in store]
        tables = [zonal_stats_tiles([p[v] for p in prods], fields,
                                    tiles=tiles, quantiles=qs, mode=mode, id_column=id_column,  # type: ignore[arg-type]
                                    product_name=str(v)) for v in variables]
        coverage = f"{len(store)} tiles combined, {mode}"
    table = pd.concat(tables, ignore_index=True)
    written = write_parcel_stats(table, out, parcels=fields if geometry else None, id_column=id_column)
    dates = [d for d in prod[variables[0]].dims if d not in ("y", "x")]
    item = parcel_stats_item(table, f"./{written.name}", fields, item_id=written.stem,
                             date_column=str(dates[0]) if dates else None, products=[str(v) for v in variables])
    write_item(item, written.with_suffix(".json"))
    typer.echo(f"{len(fields)} parcels x {table.shape[0] // max(len(fields), 1)} rows each -> {written} ({coverage})")
    return 0


def _backend(value: str) -> str:
    if value not in ("auto", "cpu", "gpu"):
        raise InputError(f"--backend must be one of auto, cpu, gpu; got {value!r}")
    return value


def _finish(result: JobResult) -> int:
    """The exit status of a run, with one line on stderr naming the failed scenes."""
    if result.exit_code:
        names = result.report["failed_scenes"]
        typer.echo(f"landpulse: error: {len(names)} scene(s) failed: {', '.join(names)} "
                   f"(details: {result.report_html})", err=True)
    return result.exit_code


def _load_job(path: Path, *, cluster: str | None = None, scheduler_file: Path | None = None) -> JobSpec:
    """Load a job spec, with the command line's cluster overrides applied (and validated)."""
    from landpulse.production.jobspec import ClusterSpec, load_job

    job = load_job(path)
    if cluster or scheduler_file:
        kind = cluster or "address"
        if scheduler_file is not None and kind != "address":
            raise InputError("--scheduler-file joins an existing scheduler: use it without --cluster, or with --cluster address")
        data = job.cluster.model_dump(exclude_none=True)
        if kind != job.cluster.kind:
            data = {k: v for k, v in data.items() if k not in ("address", "scheduler_file", "slurm")}
            if kind == "slurm" and job.cluster.slurm is not None:
                data["slurm"] = job.cluster.slurm.model_dump(exclude_none=True)
        data["kind"] = kind
        if scheduler_file is not None:
            data.pop("address", None)
            data["scheduler_file"] = str(scheduler_file.resolve())
        try:
            job = job.model_copy(update={"cluster": ClusterSpec.model_validate(data)})
        except ValueError as err:
            raise InputError(f"--cluster {kind}: {err}") from err
    return job


def _print_plan(job: JobSpec, *, overwrite: bool = False, verify: bool = False) -> int:
    """Print the plan and what will certainly fail in it (metadata only); the number of such problems."""
    import dask
    import dask.local

    from landpulse.production.plan import describe_plan, make_plan
    from landpulse.production.preflight import preflight

    with dask.config.set(scheduler=dask.local.get_sync):  # (by name, Dask would import distributed)
        plan = make_plan(job, overwrite=overwrite, verify=verify)
    d = describe_plan(plan)
    typer.echo(f"{job.name}: {len(d['tiles'])} tile(s) ({', '.join(d['tiles'])}), {d['scenes']} scene(s); "
               f"{len(d['to_compute'])} unit(s) to compute, {d['committed']} already committed, "
               f"{d['outside_dates']} outside the dates, {len(d['input_failures'])} input failure(s)")
    for u in d["to_compute"]:
        typer.echo(f"  compute {u['unit']} from {', '.join(u['inputs'])}" + (" (replaces the committed one)" if u["replace"] else ""))
    for unit_id, problems in d["damaged"].items():
        typer.echo(f"  damaged {unit_id}: {problems[0]}")
    for f in d["input_failures"]:
        typer.echo(f"  input failed: {f['scene']}: {f['error']}")
    problems = preflight(plan.todo)
    for p in problems:
        typer.echo(f"  will fail: {p.product} from {p.source} ({p.units} unit(s)): {p.error_type}: {p.reason}")
    return len(problems) + len(d["input_failures"])


@app.command("cluster-script")
def cluster_script(
    job_file: Annotated[Path, typer.Argument(help="A job spec whose cluster is (or, with --cluster slurm, becomes) Slurm.")],
    cluster: Annotated[str | None, typer.Option("--cluster", help="Override the spec's cluster kind (slurm).")] = None,
) -> None:
    """Print the batch script of one Slurm worker job, as `landpulse run` would submit it (for review)."""
    from landpulse.production.cluster import worker_job_script

    job = _load_job(job_file, cluster=cluster)
    if job.cluster.kind != "slurm":
        raise InputError(f"{job_file}: cluster kind is {job.cluster.kind!r}; the worker job script exists for "
                         "kind: slurm (or pass --cluster slurm)")
    typer.echo(worker_job_script(job.cluster))


@app.command()
def validate(
    job: Annotated[Path, typer.Argument(help="A job spec (YAML).")],
    plan: Annotated[bool, typer.Option("--plan", help="Also read the inputs' metadata and the ledger, list the units a run would compute and what will certainly fail (missing bands or radiometry, unreadable inputs: exit 2).")] = False,
) -> None:
    """Check a job spec without running it: fields, names, product parameters, paths (it imports
    none of the spec's plugins). With --plan, also what will certainly fail at run time, from
    metadata only (missing bands, missing radiometry, unreadable inputs): exit status 2 then."""
    from landpulse.production.jobspec import SceneFolderInputs, StacInputs, ZarrInputs, load_job
    from landpulse.products.registry import is_registered

    spec = load_job(job, import_plugins=False)
    missing = []
    inputs = spec.inputs
    if isinstance(inputs, ZarrInputs):
        missing = [str(s.path) for s in inputs.stores if not s.path.exists()]
    elif isinstance(inputs, SceneFolderInputs):
        missing = [] if inputs.path.is_dir() else [str(inputs.path)]
    elif isinstance(inputs, StacInputs):
        missing = [] if inputs.catalog.is_file() else [str(inputs.catalog)]
    if missing:
        raise InputError(f"{job}: inputs not found: {', '.join(missing)}")
    products = ", ".join(p.name + (f" {p.params}" if p.params else "") for p in spec.products)
    typer.echo(f"{job}: valid job spec {spec.name!r}: inputs {inputs.kind}, products {products}, "
               f"output {spec.output.store} ({spec.output.encoding}), cluster {spec.cluster.kind}")
    unchecked = [p.name for p in spec.products if not is_registered(p.name)]
    if unchecked:
        typer.echo(f"  not checked: {', '.join(unchecked)} (registered by the plugins {', '.join(spec.plugins)} "
                   "when a run imports them; validate imports nothing the spec names)")
    if plan and _print_plan(spec):
        raise InputError(f"{job}: the plan has units or inputs that will fail (listed above); a run would exit 4")


@app.command()
def verify(
    store: Annotated[Path, typer.Argument(help="A product store written by `landpulse run job.yaml`.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> int:
    """Check every committed unit of a product store against the checksums in its STAC item.

    Exit status 0 when every unit is intact, 5 when any file is missing, changed or unexpected.
    """
    from landpulse.production.ledger import LOCK_NAME, Ledger, verify_unit

    if not store.is_dir():
        raise InputError(f"{store}: no such product store")
    problems = {}
    items = Ledger(store).items()
    if not items and not (store / "catalog.json").is_file() and not (store / LOCK_NAME).is_file():
        # "0 checked" would pass a typo'd path or a scene store as an intact product store
        raise InputError(f"{store}: not a product store (no catalog.json, no run lock and no committed "
                         "unit <product>/<tile>/<period>/item.json); give the folder `landpulse run` or `compute` wrote")
    for item in items:
        found = verify_unit(item.parent)
        if found:
            problems[str(item.parent)] = found
    if as_json:
        typer.echo(json.dumps({"units": len(items), "damaged": problems}, indent=2))
    else:
        for unit, found in problems.items():
            for p in found:
                typer.echo(f"{unit}: {p}")
        typer.echo(f"{len(items)} unit(s) checked, {len(problems)} damaged")
    return 5 if problems else 0


@app.command()
def browse(
    store: Annotated[Path, typer.Argument(help="A product store (its catalog.json and every collection and item it links).")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Site folder (default: STORE/browse).")] = None,
    basemap: Annotated[str, typer.Option(help="XYZ tile URL template for the map's background when online, or 'none' (plain background). Default: OpenStreetMap.")] = "osm",
    title: Annotated[str | None, typer.Option(help="Page title (default: the catalogue's description).")] = None,
) -> None:
    """Write a static product browser beside the catalogue: a map of the items, filters, details, links."""
    from landpulse.browse import OSM_BASEMAP, write_site

    site = write_site(store, out, basemap=OSM_BASEMAP if basemap == "osm" else basemap, title=title)
    typer.echo(f"product browser: {site.page} ({site.items} item(s) in {site.collections} collection(s); "
               f"index {site.index.name}, {site.index.stat().st_size / 1e6:.2f} MB; {site.seconds:.2f} s)")
    for problem in site.problems:
        typer.echo(f"  not followed: {problem}")


def _describe(path: Path) -> dict[str, Any]:
    from landpulse.io.store import datetime_dim, is_zarr_store, open_store
    from landpulse.spec.radiometry import band_radiometry, has_radiometry

    if path.suffix == ".json" and path.is_file():
        from landpulse.io.scenes import scene_from_stac_item

        sc = scene_from_stac_item(path)
        return {
            "kind": "stac-item", "id": sc.id, "datetime": str(sc.datetime), "sensor": sc.sensor,
            "processing_baseline": sc.processing_baseline,
            "bands": {k: {"href": v.href, "scale": v.scale, "offset": v.offset, "nodata": v.nodata} for k, v in sc.bands.items()},
        }
    if not is_zarr_store(path):
        from landpulse.errors import NotAZarrStoreError

        raise NotAZarrStoreError(f"{path} is neither a Zarr store nor a STAC item JSON file")
    ds = open_store(path)
    tdim = datetime_dim(ds)
    info: dict[str, Any] = {
        "kind": "zarr-store",
        "path": str(path),
        "dims": {str(k): int(v) for k, v in ds.sizes.items()},
        "crs": str(ds.rio.crs) if ds.rio.crs else None,
        "attrs": {k: v for k, v in ds.attrs.items() if isinstance(v, (str, int, float))},
    }
    if tdim:
        times = ds[tdim].values
        info["time"] = {"count": int(times.size), "first": str(times.min())[:19], "last": str(times.max())[:19]}
    variables = {}
    for name, var in ds.data_vars.items():
        if var.ndim < 2:
            continue
        entry: dict[str, Any] = {"dtype": str(var.dtype), "dims": list(map(str, var.dims)),
                                 "chunks": [int(c[0]) for c in var.chunks] if var.chunks else None}
        if has_radiometry(var):
            entry["radiometry"] = band_radiometry(var, str(name)).describe()
        variables[str(name)] = entry
    info["variables"] = variables
    return info


@app.command()
def info(
    path: Annotated[Path, typer.Argument(help="A Zarr store (scenes or product) or a STAC item JSON file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Describe a store or STAC item: dimensions, dates, CRS, bands, chunks and radiometry."""
    d = _describe(path)
    if as_json:
        typer.echo(json.dumps(d, indent=2, default=str))
        return
    if d["kind"] == "stac-item":
        typer.echo(f"STAC item {d['id']} ({d['sensor']}, {d['datetime']}, baseline {d['processing_baseline']})")
        for k, v in d["bands"].items():
            typer.echo(f"  {k:10s} scale {v['scale']} offset {v['offset']} nodata {v['nodata']}  {v['href']}")
        return
    typer.echo(f"{d['path']}: {', '.join(f'{k}={v}' for k, v in d['dims'].items())}; CRS {d['crs']}")
    if "time" in d:
        t = d["time"]
        typer.echo(f"  {t['count']} date(s), {t['first']} .. {t['last']}")
    for name, v in d["variables"].items():
        rad = v.get("radiometry")
        rad_txt = f"  scale {rad['scale']} offset {rad['offset']} nodata {rad['nodata']}" if rad else ""
        typer.echo(f"  {name:12s} {v['dtype']:8s} chunks {v['chunks']}{rad_txt}")


def _cli_exception_status(e: Exception) -> int | None:
    """Exit status for the CLI framework's own exceptions (click's, or typer's vendored click)."""
    name = type(e).__name__
    if name == "Exit":
        return int(getattr(e, "exit_code", 0) or 0)
    if name == "Abort":
        return _interrupted()
    if hasattr(e, "format_message"):  # UsageError, BadParameter, NoSuchOption...
        typer.echo(f"landpulse: error: {e.format_message()} (see landpulse --help)", err=True)
        return 2
    return None


#: The signal that interrupted this process (SIGINT when none was recorded: Ctrl-C).
_SIGNAL: list[int] = []


def _terminate(signum: int, frame: Any) -> None:
    """SIGTERM (scancel, a scheduler's timeout, systemd stop) and SIGINT (Ctrl-C): record which, and
    unwind with KeyboardInterrupt, so the cluster this run started is closed (its Slurm worker jobs
    cancelled) and the lock released."""
    _SIGNAL.append(signum)
    raise KeyboardInterrupt(f"signal {signum}")


def _interrupted() -> int:
    """One line and the shell's status for a signal: 128 + its number (130 SIGINT, 143 SIGTERM)."""
    import signal

    signum = _SIGNAL[-1] if _SIGNAL else int(signal.SIGINT)
    name = signal.Signals(signum).name
    # A read the signal abandoned (zarr's I/O loop runs in a thread of its own) leaves a pending
    # task, which asyncio reports as "Task was destroyed but it is pending!" when the process exits:
    # noise after this line, not news.
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    typer.echo(f"landpulse: interrupted by {name}: committed units are kept and nothing "
               "half-written is ever committed; run the command again to finish", err=True)
    return 128 + signum


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI, turn errors into one line on stderr and an exit status."""
    import signal

    _SIGNAL.clear()
    saved: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            saved[signum] = signal.signal(signum, _terminate)
    try:
        result = app(args=argv, standalone_mode=False)
    except KeyboardInterrupt:  # a signal outside the CLI framework's own handling
        if os.environ.get("LANDPULSE_DEBUG"):
            traceback.print_exc()
        return _interrupted()
    except LandpulseError as e:
        if os.environ.get("LANDPULSE_DEBUG"):
            traceback.print_exc()
        typer.echo(f"landpulse: error: {e}", err=True)
        return e.exit_code
    except Exception as e:  # the last line of defence: still one line and a non-zero status
        cli_status = _cli_exception_status(e)
        if cli_status is not None:
            return cli_status
        if os.environ.get("LANDPULSE_DEBUG"):
            traceback.print_exc()
        typer.echo(f"landpulse: error: unexpected {type(e).__name__}: {e} (LANDPULSE_DEBUG=1 shows the traceback)", err=True)
        return 1
    finally:
        for number, handler in saved.items():
            signal.signal(number, handler)
    if _SIGNAL:  # typer turned the KeyboardInterrupt of a signal into a plain exit status 130
        return _interrupted()
    return int(result) if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
