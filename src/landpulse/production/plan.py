"""The task plan of a job: inputs discovered, grouped into units (product x tile x date), checked
against the ledger.

A *unit* is one product on one tile for one acquisition time. It is the grain of everything a
production run promises: it is computed by one task, written into its own folder
``<store>/<product>/<tile>/<period>/`` (a Zarr store, a quick-look, optionally a COG, and its
STAC item, written last, the commit marker), and it is skipped by later runs when its item
records the same inputs and parameters. ``period`` is the acquisition time, ``YYYYMMDDTHHMMSS``
in UTC.

Discovery only reads metadata (store coordinates, item JSON); no pixels are read here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import numpy as np

from landpulse.errors import InputError, LandpulseError, ProductMeaningWarning, RadiometryError
from landpulse.io.files import validate_name
from landpulse.io.store_metadata import read_scene_times
from landpulse.production.jobspec import JobSpec, SceneFolderInputs, StacApiInputs, StacInputs, ZarrInputs
from landpulse.production.ledger import Ledger, verify_unit
from landpulse.production.windows import Window, fixed_windows, windows_of
from landpulse.products.registry import get_product, is_registered

# xarray, rasterio and the readers that use them (landpulse.io.store, .warp, .load, .remote,
# .stac_api, pystac, landpulse.spec.radiometry) are imported in the functions that open inputs:
# a plan of Zarr stores whose units are all committed reads Zarr metadata only (make_plan), so a
# nightly run with nothing to do costs little more than Python's start-up.
if TYPE_CHECKING:
    import xarray as xr

    from landpulse.io.remote import RemoteOptions
    from landpulse.io.warp import TargetGrid


@dataclass(frozen=True)
class ZarrSource:
    """Scene ``index`` along ``time`` of a Zarr store."""

    store: str
    index: int
    radiometry: tuple[float, float, tuple[str, ...] | None] | None = None


@dataclass(frozen=True)
class ItemSource:
    """A scene described by a STAC item (its assets are read directly, local or remote).

    ``item`` is the item's file, or for an item found by a STAC API search its URL; ``document``
    then holds the item as the API served it (JSON text), so workers never search again.
    """

    item: str
    resolution: float | None = None
    chunk: int | None = None
    document: str | None = None
    remote: RemoteOptions | None = None
    #: with a target grid (``inputs.grid``): the grid and the resampling per band
    grid: TargetGrid | None = None
    resampling: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class SceneRef:
    """One input scene: id, tile, acquisition time (UTC) and how to read it."""

    id: str
    tile: str
    datetime: dt.datetime
    source: ZarrSource | ItemSource
    bbox: tuple[float, float, float, float] | None = None

    @property
    def period(self) -> str:
        return period_label(self.datetime)


@dataclass(frozen=True)
class Unit:
    """One product on one tile for one acquisition time: the grain of commits and retries."""

    product: str
    tile: str
    period: str
    datetime: dt.datetime
    scenes: tuple[SceneRef, ...]
    params: tuple[tuple[str, Any], ...]
    encoding: str
    bands: tuple[tuple[str, str], ...] | None
    params_hash: str
    #: a committed unit is at the unit's folder and this one replaces it
    replace: bool = False
    #: compute even when the ledger holds this unit as it is (``--overwrite``)
    force: bool = False
    #: the time window of a window unit (None: a scene unit)
    window: Window | None = None
    #: a window unit whose window was still open at planning time
    provisional: bool = False
    #: the baseline window of a comparison unit (``window`` is then the current one)
    baseline: Window | None = None

    @property
    def id(self) -> str:
        return f"{self.product}_{self.tile}_{self.period}"

    @property
    def inputs(self) -> list[str]:
        """Input scene ids: the one scene of a scene unit; the sorted ids of a window unit's scenes
        (its identity: one more scene in the window makes it another unit)."""
        return sorted(s.id for s in self.scenes) if self.window is not None else [s.id for s in self.scenes]

    def folder(self, store: str | Path) -> Path:
        return Ledger(store).folder(self.product, self.tile, self.period)

    def is_committed(self, ledger: Ledger) -> bool:
        """True when ``ledger`` holds this unit made from the same inputs with the same parameters
        (the one rule for "nothing to do", used by the plan and again by the unit's task)."""
        entry = ledger.entry(self.product, self.tile, self.period)
        if entry is None or entry.inputs != self.inputs or entry.params_hash != self.params_hash:
            return False
        # a unit committed while its window was open is made final once, after the window closes
        return self.window is None or entry.provisional == self.provisional


@dataclass
class PlanFailure:
    """An input that could not become a unit (unreadable metadata, no tile id, duplicates...)."""

    scene: str
    tile: str | None
    error: str
    kind: str = "InputError"


@dataclass
class Plan:
    """What a run will do: units to compute, units already committed, inputs that failed."""

    todo: list[Unit] = field(default_factory=list)
    committed: list[Unit] = field(default_factory=list)
    failures: list[PlanFailure] = field(default_factory=list)
    scenes: list[SceneRef] = field(default_factory=list)
    out_of_dates: int = 0
    #: committed units found damaged by a verifying plan (unit id -> problems); they are in ``todo``
    damaged: dict[str, list[str]] = field(default_factory=dict)

    @property
    def tiles(self) -> list[str]:
        return sorted({s.tile for s in self.scenes})


def period_label(when: dt.datetime) -> str:
    """``YYYYMMDDTHHMMSS`` (UTC) of an acquisition time."""
    return when.strftime("%Y%m%dT%H%M%S")


def _utc(t: Any) -> dt.datetime:
    if isinstance(t, np.datetime64):
        seconds = int(t.astype("datetime64[s]").astype(np.int64))
        return dt.datetime(1970, 1, 1) + dt.timedelta(seconds=seconds)
    if isinstance(t, str):
        t = dt.datetime.fromisoformat(t.replace("Z", "+00:00"))
    if t.tzinfo is not None:
        t = t.astimezone(dt.UTC).replace(tzinfo=None)
    return t.replace(microsecond=0)


def params_hash(product: str, params: Mapping[str, Any], encoding: str, bands: Mapping[str, str] | None,
                radiometry: Any = None, resolution: float | None = None, grid: Mapping[str, Any] | None = None) -> str:
    """Digest of everything that changes a product's values (not its storage layout).

    ``resolution`` (the pixel size scene inputs are read at) and ``grid`` (the target grid) enter
    only when set, so digests of units committed before they were part of the digest stay valid.
    """
    doc = {"product": product, "params": dict(params), "encoding": encoding, "bands": dict(bands or {}),
           "radiometry": radiometry}
    if resolution is not None:
        doc["resolution"] = float(resolution)
    if grid is not None:
        doc["grid"] = dict(grid)
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:16]


# ----------------------------------------------------------------------------------------------
# discovery


def _lonlat_bounds(crs: Any, bounds: tuple[float, float, float, float]) -> tuple[float, float, float, float] | None:
    try:
        from rasterio.warp import transform_bounds  # rasterio (GDAL) only where bounds are computed

        return tuple(transform_bounds(crs, "EPSG:4326", *bounds))
    except Exception:
        return None


def _store_crs(ds: xr.Dataset) -> Any:
    """The store's CRS as rioxarray reads it (grid mapping or ``crs`` attribute), or None."""
    try:
        return ds.rio.crs
    except Exception:  # rioxarray raises its own errors for unreadable grid mappings
        return None


def _declaration_ruled_out(ds: xr.Dataset, tdim: str, rad: tuple[float, float, tuple[str, ...] | None],
                           dates: int = 4) -> str | None:
    """Why the pixels rule out the radiometry declared for a whole store, or None.

    One declaration holds for every date, so one date that rules it out refuses the store before
    any unit is written. Up to ``dates`` dates spread over the store are checked, each on two
    blocks per band (:func:`landpulse.spec.radiometry.declare_radiometry`): a cloudy date alone
    cannot tell a missing offset from bright clouds. Units check their own date again.
    """
    from landpulse.spec.radiometry import declare_radiometry

    n = ds.sizes[tdim]
    for i in sorted({int((k + 0.5) * n / min(dates, n)) for k in range(min(dates, n))}):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ProductMeaningWarning)  # each unit records its own
                declare_radiometry(ds.isel({tdim: [i]}), scale=rad[0], offset=rad[1], bands=list(rad[2]) if rad[2] else None)
        except RadiometryError as err:
            return f"date {i} ({_utc(ds[tdim].values[i]).date()}): {err}"
    return None


def _radiometry(inputs: ZarrInputs) -> tuple[float, float, tuple[str, ...] | None] | None:
    r = inputs.radiometry
    return (r.scale, r.offset, tuple(r.bands) if r.bands else None) if r is not None else None


def _zarr_scenes_from_metadata(inputs: ZarrInputs) -> list[SceneRef] | None:
    """The scenes of Zarr stores from their metadata alone (no CRS parsing, no pixels, no bbox);
    None when a store needs xarray (:func:`landpulse.io.store_metadata.read_scene_times`)."""
    rad = _radiometry(inputs)
    scenes = []
    for entry in inputs.stores:
        meta = read_scene_times(entry.path)
        if meta is None:
            return None
        for i, when in enumerate(meta.times):
            sid = meta.scene_ids[i] if meta.scene_ids else f"{entry.tile_id}_{period_label(when)}"
            scenes.append(SceneRef(sid, entry.tile_id, when, ZarrSource(str(entry.path), i, rad)))
    return scenes


def _zarr_scenes(inputs: ZarrInputs) -> tuple[list[SceneRef], list[PlanFailure]]:
    from landpulse.io.store import datetime_dim, open_store

    scenes: list[SceneRef] = []
    failures: list[PlanFailure] = []
    rad = _radiometry(inputs)
    for entry in inputs.stores:
        tile = entry.tile_id
        try:
            ds = open_store(entry.path)
        except LandpulseError as err:
            failures.append(PlanFailure(str(entry.path), tile, str(err), type(err).__name__))
            continue
        tdim = datetime_dim(ds)
        if tdim is None:
            failures.append(PlanFailure(str(entry.path), tile, f"{entry.path} has no time dimension"))
            continue
        crs = _store_crs(ds)
        if crs is None:  # refused here, before any unit is written: a product without a CRS is no product
            failures.append(PlanFailure(
                str(entry.path), tile,
                f"{entry.path} has no CRS (no grid-mapping variable such as spatial_ref, no crs attribute): write "
                "one into the store (ds.rio.write_crs('EPSG:...') then save it) before computing products from it",
                "GridMismatchError"))
            continue
        if rad is not None:
            refused = _declaration_ruled_out(ds, tdim, rad)
            if refused is not None:
                failures.append(PlanFailure(str(entry.path), tile, refused, "RadiometryError"))
                continue
        ids = [str(v) for v in ds["scene_id"].values] if "scene_id" in ds.coords else None
        try:
            bbox = _lonlat_bounds(crs, ds.rio.bounds())
        except Exception:
            bbox = None
        for i, t in enumerate(ds[tdim].values):
            when = _utc(t)
            sid = ids[i] if ids else f"{tile}_{period_label(when)}"
            scenes.append(SceneRef(sid, tile, when, ZarrSource(str(entry.path), i, rad), bbox))
    return scenes, failures


def _tile_of(props: Mapping[str, Any], key: str | None) -> str | None:
    if key:
        v = props.get(key)
        return None if v is None else str(v)
    if "grid:code" in props:  # e.g. MGRS-18SVG
        return str(props["grid:code"]).split("-", 1)[-1]
    if "s2:mgrs_tile" in props:
        return str(props["s2:mgrs_tile"])
    if all(k in props for k in ("mgrs:utm_zone", "mgrs:latitude_band", "mgrs:grid_square")):
        return f"{int(props['mgrs:utm_zone']):02d}{props['mgrs:latitude_band']}{props['mgrs:grid_square']}"
    if "landsat:wrs_path" in props and "landsat:wrs_row" in props:
        return f"{int(props['landsat:wrs_path']):03d}{int(props['landsat:wrs_row']):03d}"
    return None


def _check_assets(item: Mapping[str, Any], item_path: Path, root: Path) -> None:
    """Asset hrefs of a local catalogue must be local files under the catalogue's folder."""

    root = root.resolve()
    for key, asset in (item.get("assets") or {}).items():
        href = str(asset.get("href", ""))
        parsed = urlparse(href)
        if parsed.scheme not in ("", "file"):
            continue  # remote assets: scene_from_stac_item refuses them with its own message
        p = Path(parsed.path if parsed.scheme == "file" else href)
        p = (p if p.is_absolute() else item_path.parent / p).resolve()
        if not p.is_relative_to(root):
            raise InputError(f"asset {key!r} of item {item.get('id')} points outside the input folder "
                             f"{root} ({href}); keep assets inside the catalogue")


def _item_scene(item: Mapping[str, Any], item_path: Path, root: Path,
                inputs: SceneFolderInputs | StacInputs | StacApiInputs, *, api_url: str | None = None) -> SceneRef:
    if item.get("type") != "Feature" or "assets" not in item:
        raise InputError(f"{item_path} is not a STAC item")
    sid = validate_name(str(item.get("id", "")), "scene id")
    props = item.get("properties") or {}
    tile = inputs.grid.name if inputs.grid is not None else _tile_of(props, inputs.tile_property)
    if tile is None:
        raise InputError(f"item {sid} has no tile id (grid:code, s2:mgrs_tile or mgrs:* properties); "
                         "set inputs.tile_property to the property that holds it")
    validate_name(tile, "tile id")
    when = props.get("datetime") or props.get("start_datetime")
    if not when:
        raise InputError(f"item {sid} has no datetime")
    bbox = tuple(item["bbox"][:4]) if item.get("bbox") and len(item["bbox"]) >= 4 else None
    if api_url is not None:
        assert isinstance(inputs, StacApiInputs)
        for key, asset in (item.get("assets") or {}).items():
            href = str(asset.get("href", ""))
            if not urlparse(href).scheme and not href.startswith("/"):
                raise InputError(f"asset {key!r} of item {sid} has a relative href ({href}); a STAC API's items "
                                 "need absolute asset hrefs")
        from landpulse.io.remote import RemoteOptions

        r = inputs.remote
        source = ItemSource(api_url, inputs.resolution, inputs.chunk, json.dumps(item, sort_keys=True),
                            RemoteOptions(r.timeout, r.retries, r.backoff, r.max_backoff), *_grid_of(inputs))
        return SceneRef(sid, tile, _utc(when), source, bbox)
    _check_assets(item, item_path, root)
    return SceneRef(sid, tile, _utc(when), ItemSource(str(item_path.resolve()), inputs.resolution, inputs.chunk,
                                                      None, None, *_grid_of(inputs)), bbox)


def _grid_of(inputs: SceneFolderInputs | StacInputs | StacApiInputs) -> tuple[TargetGrid | None, tuple[tuple[str, str], ...]]:
    g = inputs.grid
    if g is None:
        return None, ()
    from landpulse.io.warp import TargetGrid

    return (TargetGrid.from_bounds(g.crs, g.resolution, g.bounds, g.alignment), tuple(sorted(g.resampling.items())))


def _folder_scenes(inputs: SceneFolderInputs) -> tuple[list[SceneRef], list[PlanFailure]]:
    root = inputs.path
    if not root.is_dir():
        return [], [PlanFailure(str(root), None, f"scene folder {root} does not exist or is not a folder")]
    candidates = sorted(set(root.glob("*.json")) | set(root.glob("*/*.json")))
    scenes, failures = [], []
    for path in candidates:
        try:
            item = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            failures.append(PlanFailure(str(path), None, f"cannot read {path}: {err}", "UnreadableInputError"))
            continue
        if not isinstance(item, dict) or item.get("type") != "Feature":
            continue  # not an item (a catalogue, a collection, other JSON)
        try:
            scenes.append(_item_scene(item, path, root, inputs))
        except LandpulseError as err:
            failures.append(PlanFailure(str(item.get("id") or path), None, str(err), type(err).__name__))
    if not scenes and not failures:
        failures.append(PlanFailure(str(root), None, f"no STAC item JSON found in {root} or its subfolders"))
    return scenes, failures


def _stac_scenes(inputs: StacInputs) -> tuple[list[SceneRef], list[PlanFailure]]:
    import pystac

    try:
        cat = pystac.read_file(str(inputs.catalog))
    except Exception as err:
        return [], [PlanFailure(str(inputs.catalog), None, f"cannot read STAC catalogue {inputs.catalog}: {err}",
                                "UnreadableInputError")]
    if not isinstance(cat, pystac.Catalog):
        return [], [PlanFailure(str(inputs.catalog), None, f"{inputs.catalog} is not a catalogue or collection")]
    root = inputs.catalog.resolve().parent
    scenes, failures = [], []
    for item in cat.get_items(recursive=True):
        href = item.get_self_href()
        if href is None:
            failures.append(PlanFailure(item.id, None, f"item {item.id} has no self href (save the catalogue first)"))
            continue
        path = Path(href)
        try:
            scenes.append(_item_scene(item.to_dict(transform_hrefs=False), path, root, inputs))
        except LandpulseError as err:
            failures.append(PlanFailure(item.id, None, str(err), type(err).__name__))
    return scenes, failures


def _stac_api_scenes(inputs: StacApiInputs) -> tuple[list[SceneRef], list[PlanFailure]]:
    """Scenes of a STAC API search (every page), found at plan time; pixels stay where they are."""
    from landpulse.io.remote import public_href
    from landpulse.io.stac_api import StacSearch, search_items

    search = StacSearch(inputs.url, tuple(inputs.collections), inputs.bbox, inputs.intersects, inputs.datetime,
                        inputs.query, inputs.filter, inputs.limit, inputs.max_items)
    try:
        items = search_items(search)
    except LandpulseError as err:
        return [], [PlanFailure(public_href(inputs.url), None, str(err), type(err).__name__)]
    scenes, failures = [], []
    for item in items:
        self_href = next((str(link.get("href")) for link in item.get("links") or [] if link.get("rel") == "self"),
                         f"{inputs.url}/collections/{item.get('collection')}/items/{item.get('id')}")
        try:
            scenes.append(_item_scene(item, Path("."), Path("."), inputs, api_url=public_href(self_href)))
        except LandpulseError as err:
            failures.append(PlanFailure(str(item.get("id")), None, str(err), type(err).__name__))
    return scenes, failures


def discover(job: JobSpec) -> tuple[list[SceneRef], list[PlanFailure]]:
    """All input scenes of a job (metadata only), and the inputs that could not be read."""
    inputs = job.inputs
    if isinstance(inputs, ZarrInputs):
        scenes, failures = _zarr_scenes(inputs)
    elif isinstance(inputs, SceneFolderInputs):
        scenes, failures = _folder_scenes(inputs)
    elif isinstance(inputs, StacApiInputs):
        scenes, failures = _stac_api_scenes(inputs)
    else:
        scenes, failures = _stac_scenes(inputs)
    return _selected(job, scenes), failures


def _selected(job: JobSpec, scenes: list[SceneRef]) -> list[SceneRef]:
    """The scenes the job's ``exclude``, ``area.tiles`` and ``area.bbox`` keep."""
    inputs = job.inputs
    excluded = set(inputs.exclude)
    scenes = [s for s in scenes if s.id not in excluded]
    if job.area.tiles is not None:
        keep = set(job.area.tiles)
        scenes = [s for s in scenes if s.tile in keep]
    if job.area.bbox is not None:
        w, s_, e, n = job.area.bbox
        scenes = [s for s in scenes if s.bbox is None or not (s.bbox[2] < w or s.bbox[0] > e or s.bbox[3] < s_ or s.bbox[1] > n)]
    return scenes


# ----------------------------------------------------------------------------------------------
# planning


def _group(scenes: Iterable[SceneRef]) -> tuple[dict[tuple[str, str], tuple[SceneRef, ...]], list[PlanFailure]]:
    """Scenes by (tile, period): one scene each, except on a target grid, where the scenes of one
    local solar day form one unit (a mosaic, period: the earliest scene's time)."""
    by_key: dict[tuple[str, str], list[SceneRef]] = {}
    for s in scenes:
        grid = s.source.grid if isinstance(s.source, ItemSource) else None
        if grid is not None:
            from landpulse.io.load import solar_day_at

            key = (s.tile, solar_day_at(s.datetime, grid))
        else:
            key = (s.tile, s.period)
        by_key.setdefault(key, []).append(s)
    out, failures = {}, []
    for (tile, _), group in sorted(by_key.items()):
        group = sorted(group, key=lambda s: (s.datetime, s.id))
        ids = [s.id for s in group]
        gridded = isinstance(group[0].source, ItemSource) and group[0].source.grid is not None
        if len(set(ids)) > 1 and not gridded:
            ids = sorted(set(ids))
            failures.append(PlanFailure(
                ", ".join(ids), tile,
                f"{len(ids)} scenes for tile {tile} at {group[0].period} ({', '.join(ids)}): one unit takes one scene; "
                "leave one out with inputs.exclude, or give inputs.grid to mosaic them"))
            continue
        unique = tuple({s.id: s for s in group}.values())
        out[(tile, unique[0].period)] = unique
    return out, failures


def make_plan(job: JobSpec, *, ledger: Ledger | None = None, overwrite: bool = False, verify: bool = False,
              now: dt.datetime | None = None) -> Plan:
    """Discover the inputs and decide, unit by unit, what has to be computed.

    A unit is *committed* (skipped) when its STAC item exists and records the same input scene ids
    and the same parameter digest; when the item exists but either differs, the unit is recomputed
    and replaces the old one (``Unit.replace``). With ``overwrite`` every unit is recomputed, the
    committed ones replaced. With ``verify`` every committed unit is checked against its item's
    checksums (:func:`landpulse.production.ledger.verify_unit`, reading its files) and a damaged one
    is recomputed and replaces it (``Plan.damaged`` lists them). Dates outside ``job.dates`` are
    left out.

    Window products (:mod:`landpulse.production.windows`) get one unit per tile and window holding
    at least one scene (inside ``job.dates``; ``since: last-run`` does not apply to them: the
    ledger's input ids already leave every unchanged window alone). Its inputs are the sorted ids
    of the window's scenes, so a scene arriving in a window recomputes exactly that window's units.
    A unit whose window is still open at ``now`` (naive UTC, default the clock) is provisional.

    Zarr stores are first planned from their metadata alone (times and scene ids, no xarray, no
    pixels); when every unit is committed that plan is the answer (a run with nothing to do: the
    checks below passed when those units were committed, and are not repeated). Otherwise, with
    ``area.bbox``, ``overwrite`` or ``verify``, and for every other input, the inputs are opened
    and checked (CRS, the declared radiometry against the pixels, bounds) and the plan is made
    from them.
    """
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    ledger = ledger or Ledger(job.output.store)
    if isinstance(job.inputs, ZarrInputs) and job.area.bbox is None and not overwrite and not verify:
        light = _zarr_scenes_from_metadata(job.inputs)
        if light is not None:
            plan = _plan_scenes(job, _selected(job, light), [], ledger, overwrite=overwrite, verify=verify, now=now)
            if not plan.todo and not plan.failures:
                return plan
    import dask.config
    import dask.local

    # metadata only: never through a cluster (the scheduler as a function: by its name "sync" Dask
    # would import distributed to look for a client first, ~0.5 s of a run)
    with dask.config.set(scheduler=dask.local.get_sync):
        scenes, failures = discover(job)
    return _plan_scenes(job, scenes, failures, ledger, overwrite=overwrite, verify=verify, now=now)


def _plan_scenes(job: JobSpec, scenes: list[SceneRef], failures: list[PlanFailure], ledger: Ledger, *,
                 overwrite: bool, verify: bool, now: dt.datetime) -> Plan:
    grouped, dup_failures = _group(scenes)
    failures = failures + dup_failures
    plan = Plan(failures=failures, scenes=list(scenes))
    rad = job.inputs.radiometry.model_dump() if isinstance(job.inputs, ZarrInputs) and job.inputs.radiometry else None
    bands = tuple(sorted(job.inputs.bands.items())) if job.inputs.bands else None
    grid_spec = getattr(job.inputs, "grid", None)
    grid = grid_spec.model_dump() if grid_spec is not None else None
    for spec in job.products:
        encoding = job.encoding_of(spec)
        digest = params_hash(spec.name, spec.params, encoding, job.inputs.bands, rad,
                             getattr(job.inputs, "resolution", None), grid)
        # a plugin's product that `landpulse validate` did not import is planned as a scene product
        kind = get_product(spec.name).kind if is_registered(spec.name) else "scene"
        if kind in ("window", "comparison", "monitoring"):
            units = _window_units(job, spec.name, {"kind": "monitoring"} if kind == "monitoring" else spec.window_spec,
                                  grouped, encoding, bands, digest, now, plan,
                                  baseline=spec.baseline if kind != "window" else None, comparison=kind != "window")
            for unit in units:
                _classify(plan, unit, ledger, overwrite=overwrite, verify=verify)
            continue
        newest: dict[str, str | None] = {}
        for (tile, period), group in grouped.items():
            if not _in_dates(job, spec.name, tile, group[0].datetime, ledger, newest):
                plan.out_of_dates += 1
                continue
            unit = Unit(spec.name, tile, period, group[0].datetime, group, tuple(sorted(spec.params.items())),
                        encoding, bands, digest)
            _classify(plan, unit, ledger, overwrite=overwrite, verify=verify)
    return plan


def _classify(plan: Plan, unit: Unit, ledger: Ledger, *, overwrite: bool, verify: bool) -> None:
    """Put ``unit`` into ``plan.committed`` or ``plan.todo`` (replacing or repairing what is there)."""
    folder = ledger.folder(unit.product, unit.tile, unit.period)
    damage = verify_unit(folder) if verify and not overwrite and unit.is_committed(ledger) else []
    if damage:
        plan.damaged[unit.id] = damage
    if not overwrite and not damage and unit.is_committed(ledger):
        plan.committed.append(unit)
    else:
        plan.todo.append(replace(unit, replace=folder.exists(), force=overwrite or bool(damage)))


def window_digest(digest: str, window: Window, baseline: Window | None = None) -> str:
    """The parameter digest of a window unit: the product's, and the window's bounds and kind
    (a window redefined under the same label is another unit); a comparison's baseline too."""
    doc: dict[str, Any] = {"params_hash": digest, "window": window.as_dict()}
    if baseline is not None:
        doc["baseline"] = baseline.as_dict()
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


def _window_units(job: JobSpec, product: str, window_spec: dict[str, Any],
                  grouped: Mapping[tuple[str, str], tuple[SceneRef, ...]],
                  encoding: str, bands: tuple[tuple[str, str], ...] | None, digest: str, now: dt.datetime,
                  plan: Plan, *, baseline: dict[str, Any] | None = None, comparison: bool = False) -> list[Unit]:
    """One unit per tile and window holding at least one of the tile's scenes (in ``job.dates``).

    Comparison units: one per tile and current window, against the baseline window (``baseline``,
    or an event's pre-event window); their inputs are the scenes of both. A tile whose baseline
    holds no scene is a plan failure (nothing to compare with)."""
    d = job.dates
    by_tile: dict[str, list[SceneRef]] = {}
    for (tile, _), group in sorted(grouped.items()):
        for scene in group:  # each scene of a solar day's mosaic is one observation of the window
            if (d.start and scene.datetime < d.start) or (d.end and scene.datetime > d.end):
                plan.out_of_dates += 1
                continue
            by_tile.setdefault(tile, []).append(scene)
    params = tuple(sorted(next(p for p in job.products if p.name == product).params.items()))
    units = []
    for tile, scenes in by_tile.items():
        scenes.sort(key=lambda s: (s.datetime, s.id))
        times = [s.datetime for s in scenes]
        if not comparison:
            for w in windows_of(window_spec, times):
                inside = tuple(s for s in scenes if w.contains(s.datetime))
                units.append(Unit(product, tile, w.label, w.start, inside, params, encoding, bands,
                                  window_digest(digest, w), window=w, provisional=w.is_open(now)))
            continue
        if window_spec.get("kind") == "monitoring":
            # a fixed history, and a monitoring period from its end to the newest scene (it grows)
            (base,) = fixed_windows(baseline or {}) or []
            after = [t for t in times if t >= base.end]
            pairs = []
            if after:
                last = max(after)
                pairs = [(base, Window(base.end, dt.datetime(last.year, last.month, last.day) + dt.timedelta(days=1),
                                       f"monitor-{base.end:%Y%m%d}", "monitoring"))]
        elif baseline is None:  # an event: the pre-event window against the post-event one
            pre, post = fixed_windows(window_spec) or []
            pairs = [(pre, post)] if any(post.contains(t) for t in times) else []
        else:
            (base,) = fixed_windows(baseline) or []
            # current windows overlapping the baseline are no comparison (the scenes would be on both sides)
            pairs = [(base, w) for w in windows_of(window_spec, times) if w.end <= base.start or w.start >= base.end]
        for base, w in pairs:
            before = [s for s in scenes if base.contains(s.datetime)]
            if not before:
                plan.failures.append(PlanFailure(f"{product} {w.label}", tile,
                                                 f"baseline window {base.label} of {product} holds no scene of tile {tile}: "
                                                 "nothing to compare with", "WindowError"))
                continue
            inside = tuple(sorted({*before, *(s for s in scenes if w.contains(s.datetime))},
                                  key=lambda s: (s.datetime, s.id)))
            label = w.label if w.kind == "monitoring" else f"{w.label}_vs_{base.label}"
            units.append(Unit(product, tile, label, w.start, inside, params, encoding, bands,
                              window_digest(digest, w, base),
                              window=w, provisional=w.kind == "monitoring" or w.is_open(now) or base.is_open(now),
                              baseline=base))
    return units


def _in_dates(job: JobSpec, product: str, tile: str, when: dt.datetime, ledger: Ledger,
              newest: dict[str, str | None]) -> bool:
    d = job.dates
    if d.start and when < d.start:
        return False
    if d.end and when > d.end:
        return False
    if d.since == "last-run":
        if tile not in newest:
            newest[tile] = ledger.newest_period(product, tile)
        last = newest[tile]
        if last is not None:
            floor = dt.datetime.strptime(last, "%Y%m%dT%H%M%S") - dt.timedelta(days=d.lookback_days)
            if when < floor:
                return False
    return True


def describe_plan(plan: Plan) -> dict[str, Any]:
    """A JSON-ready summary of a plan (for ``landpulse validate --plan`` and reports)."""
    return {
        "tiles": plan.tiles,
        "scenes": len(plan.scenes),
        "to_compute": [{"unit": u.id, "inputs": u.inputs, "replace": u.replace,
                        **({"window": u.window.as_dict(), "provisional": u.provisional} if u.window else {})}
                       for u in plan.todo],
        "committed": len(plan.committed),
        "damaged": plan.damaged,
        "outside_dates": plan.out_of_dates,
        "input_failures": [f.__dict__ for f in plan.failures],
    }
