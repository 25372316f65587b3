"""Job specs: what a production run reads, computes and writes, as a validated YAML file.

A job spec is loaded with ``yaml.safe_load`` only and validated with pydantic v2 models; every
error names the field and the fix (:class:`JobSpecError`). ``landpulse validate job.yaml`` checks a
spec without running it. A minimal spec::

    name: ndvi-nightly
    inputs:
      kind: zarr                    # zarr | scenes | stac | stac-api
      stores: [{path: scenes.zarr, tile: 18SVG}]
    products: [ndvi]
    output:
      store: products

Paths are the operator's: relative ones resolve against the folder of the spec file. Names that
become parts of output paths (job name, product names, tile ids; and tile and scene ids read
from input metadata) are checked: letters, digits, ``_``, ``-``, ``.``, no ``..`` and no
separators, so nothing is ever written outside the output store.
"""

from __future__ import annotations

import datetime as dt
import difflib
import importlib
import os
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Final, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from landpulse.errors import InputError
from landpulse.io.files import validate_name
from landpulse.io.resampling import RESAMPLINGS
from landpulse.production.windows import check_window_spec, fixed_windows
from landpulse.products.registry import ProductKind, get_product, is_registered, product_names

#: Spec format version; bump when a field changes meaning.
SPEC_VERSION: Final = 1

#: Product kinds production runs plan units of.
PLANNED_KINDS: tuple[ProductKind, ...] = ("scene", "window", "comparison", "monitoring")


class JobSpecError(InputError):
    """A job spec that cannot be run: unreadable, not YAML, or invalid (the message lists each field)."""


def _name(value: str, what: str) -> str:
    try:
        return validate_name(value, what)
    except InputError as err:
        raise ValueError(str(err)) from None


def _resolve(value: str | Path, info: ValidationInfo) -> Path:
    if not isinstance(value, (str, Path)) or not str(value):
        # str() would make a path of anything (`path: 5`, `path: [a]`): a typo must not become a folder
        raise ValueError(f"a path must be a non-empty string; got {value!r} ({type(value).__name__})")
    base = Path((info.context or {}).get("base", "."))
    p = Path(os.path.expanduser(str(value)))
    return Path(os.path.normpath(p if p.is_absolute() else base / p))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ZarrStoreInput(_Model):
    """One Zarr store of scenes on one tile (``landpulse ingest`` output or a foreign store)."""

    path: Path
    tile: str | None = Field(None, description="Tile id (default: the store's folder name without .zarr).")

    @field_validator("path", mode="before")
    @classmethod
    def _path(cls, v: Any, info: ValidationInfo) -> Path:
        return _resolve(v, info)

    @field_validator("tile")
    @classmethod
    def _tile(cls, v: str | None) -> str | None:
        return None if v is None else _name(v, "tile id")

    @property
    def tile_id(self) -> str:
        return self.tile or _name(self.path.name.removesuffix(".zarr"), "tile id (from the store's folder name)")


class RadiometrySpec(_Model):
    """Declare the radiometry of a foreign store whose bands carry none (see declare_radiometry)."""

    scale: float
    offset: float = 0.0
    bands: list[str] | None = None


class _InputBase(_Model):
    exclude: list[str] = Field(default_factory=list, description="Scene ids to leave out (quarantine).")
    bands: dict[str, str] | None = Field(None, description="Explicit band variables, {red: B04}.")


class ZarrInputs(_InputBase):
    """Scenes already in Zarr stores, one store per tile, dates along ``time``."""

    kind: Literal["zarr"]
    stores: list[ZarrStoreInput] = Field(min_length=1)
    radiometry: RadiometrySpec | None = None

    @field_validator("stores", mode="before")
    @classmethod
    def _stores(cls, v: Any) -> Any:
        if isinstance(v, (str, Path)):
            v = [v]
        if isinstance(v, Mapping):  # {tile: path}
            return [{"tile": k, "path": p} for k, p in v.items()]
        if not isinstance(v, (list, tuple)):
            raise ValueError(f"`stores` is a list of stores, a {{tile: path}} mapping or one path; got {v!r}")
        return [{"path": s} if isinstance(s, (str, Path)) else s for s in v]

    @model_validator(mode="after")
    def _unique_tiles(self) -> ZarrInputs:
        tiles = [s.tile_id for s in self.stores]
        dup = sorted({t for t in tiles if tiles.count(t) > 1})
        if dup:
            raise ValueError(f"tile(s) {dup} appear in more than one store; give each store its own `tile`")
        return self


class GridSpec(_Model):
    """A target grid for scene inputs (:class:`landpulse.io.warp.TargetGrid`): every scene is put
    onto it (read where it sits on it, warped per block where not), scenes of one solar day are
    mosaicked, and the grid's ``name`` is the tile of every unit."""

    name: str = Field(description="Tile id of the units on this grid (a folder name).")
    crs: str = Field(description="CRS of the grid, e.g. EPSG:32632.")
    resolution: float = Field(gt=0, description="Pixel size in CRS units.")
    bounds: tuple[float, float, float, float] = Field(description="left, bottom, right, top in the grid's CRS.")
    alignment: tuple[float, float] | None = Field(None, description="x, y the pixel corners are aligned to (default 0, 0).")
    resampling: dict[str, str] = Field(default_factory=dict, description="Method per band name ({red: average}); "
                                       "classification bands nearest, others bilinear.")

    @field_validator("name")
    @classmethod
    def _tile(cls, v: str) -> str:
        return validate_name(v, "grid name")

    @field_validator("crs")
    @classmethod
    def _crs(cls, v: str) -> str:
        # rasterio (GDAL) only for a spec with a grid: validating other specs stays free of it
        from rasterio.crs import CRS
        from rasterio.errors import CRSError

        try:
            return str(CRS.from_user_input(v).to_string())
        except CRSError as err:
            raise ValueError(f"unknown CRS {v!r}: {err}") from err

    @field_validator("resampling")
    @classmethod
    def _methods(cls, v: dict[str, str]) -> dict[str, str]:
        bad = {k: m for k, m in v.items() if m not in RESAMPLINGS}
        if bad:
            raise ValueError(f"unknown resampling {bad}; one of {', '.join(RESAMPLINGS)}")
        return v


class _SceneInputs(_InputBase):
    grid: GridSpec | None = Field(None, description="Put every scene onto this grid (mosaics of one solar day).")
    resolution: float | None = Field(None, gt=0, description="Target pixel size in metres (default: finest band).")
    chunk: int | None = Field(None, ge=256, description="Spatial chunk size (default: a divisor of the tile near 2048).")
    tile_property: str | None = Field(None, description="Item property holding the tile id (default: MGRS/grid properties).")


class SceneFolderInputs(_SceneInputs):
    """A folder of scenes: each subfolder (or the folder itself) holds one STAC item JSON."""

    kind: Literal["scenes"]
    path: Path

    @field_validator("path", mode="before")
    @classmethod
    def _path(cls, v: Any, info: ValidationInfo) -> Path:
        return _resolve(v, info)


class StacInputs(_SceneInputs):
    """A local static STAC catalogue (catalog.json or collection.json) of scenes with COG assets."""

    kind: Literal["stac"]
    catalog: Path

    @field_validator("catalog", mode="before")
    @classmethod
    def _path(cls, v: Any, info: ValidationInfo) -> Path:
        return _resolve(v, info)


class RemoteSpec(_Model):
    """Timeouts and retries of remote (``http(s)``, ``s3``) assets (:class:`landpulse.io.remote.RemoteOptions`)."""

    timeout: float = Field(30.0, gt=0, description="Seconds one HTTP request may take.")
    retries: int = Field(4, ge=0, le=20, description="Retries of a failed read before its scene fails.")
    backoff: float = Field(0.5, ge=0, description="First delay between retries in seconds, doubled each retry.")
    max_backoff: float = Field(8.0, ge=0, description="Longest delay between two retries.")


class StacApiInputs(_SceneInputs):
    """Scenes found by a STAC API item search at plan time; their assets are read where they are.

    Credentials are never part of a spec: GDAL takes them from the environment of the workers
    (``AWS_*``, ``GDAL_HTTP_*``), and pystac-client searches anonymously.
    """

    kind: Literal["stac-api"]
    url: str = Field(description="The API's landing page (http(s)://...).")
    collections: list[str] = Field(min_length=1)
    bbox: tuple[float, float, float, float] | None = Field(None, description="west, south, east, north (degrees).")
    intersects: dict[str, Any] | None = Field(None, description="A GeoJSON geometry (exclusive with bbox).")
    datetime: str | None = Field(None, description="A STAC datetime or interval: 2022-06-01/2022-06-30, 2022-06-01/..")
    query: dict[str, Any] | None = Field(None, description="Query extension, e.g. {eo:cloud_cover: {lt: 20}}.")
    filter: dict[str, Any] | str | None = Field(None, description="CQL2 filter (CQL2-JSON mapping or CQL2-text).")
    limit: int = Field(100, ge=1, le=10000, description="Page size asked of the server.")
    max_items: int | None = Field(None, ge=1, description="Stop after this many items.")
    remote: RemoteSpec = Field(default_factory=RemoteSpec)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError(f"inputs.url must be an http(s) URL of a STAC API, not {v!r}")
        if "@" in v.split("//", 1)[1].split("/", 1)[0]:
            raise ValueError("inputs.url must not carry credentials; give them through the environment")
        return v.rstrip("/")

    @model_validator(mode="after")
    def _where(self) -> StacApiInputs:
        if self.bbox is not None and self.intersects is not None:
            raise ValueError("give bbox or intersects, not both")
        return self


Inputs = Annotated[ZarrInputs | SceneFolderInputs | StacInputs | StacApiInputs, Field(discriminator="kind")]


class AreaSpec(_Model):
    """Which tiles to process (default: every tile the inputs hold)."""

    tiles: list[str] | None = None
    bbox: tuple[float, float, float, float] | None = Field(
        None, description="[west, south, east, north] in degrees: keep tiles that intersect it.")

    @field_validator("tiles")
    @classmethod
    def _tiles(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else [_name(t, "tile id") for t in v]

    @field_validator("bbox")
    @classmethod
    def _bbox(cls, v: tuple[float, float, float, float] | None) -> tuple[float, float, float, float] | None:
        if v is not None:
            w, s, e, n = v
            if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
                raise ValueError("bbox must be [west, south, east, north] in degrees with west < east, south < north")
        return v


class DateSpec(_Model):
    """Which acquisition dates to consider. The ledger always skips what is already committed."""

    start: dt.datetime | None = None
    end: dt.datetime | None = None
    since: Literal["last-run"] | None = Field(
        None, description="Only dates after the newest committed date of each product and tile "
                          "(minus lookback_days, to catch late arrivals).")
    lookback_days: int = Field(0, ge=0)

    @field_validator("start", "end", mode="before")
    @classmethod
    def _date(cls, v: Any) -> Any:
        if isinstance(v, dt.date) and not isinstance(v, dt.datetime):
            return dt.datetime(v.year, v.month, v.day)
        return v

    @field_validator("start", "end")
    @classmethod
    def _utc(cls, v: dt.datetime | None) -> dt.datetime | None:
        if v is not None and v.tzinfo is not None:
            v = v.astimezone(dt.UTC).replace(tzinfo=None)
        return v

    @model_validator(mode="after")
    def _order(self) -> DateSpec:
        if self.start and self.end and self.end < self.start:
            raise ValueError(f"end ({self.end:%Y-%m-%d}) is before start ({self.start:%Y-%m-%d})")
        return self


class ProductSpec(_Model):
    """A product to compute, with the parameters of its function (and, for a window product, its
    time window: :mod:`landpulse.production.windows`)."""

    name: str
    params: dict[str, Any] = Field(default_factory=dict)
    encoding: Literal["int16", "float32"] | None = Field(None, description="Override output.encoding.")
    window: dict[str, Any] | None = Field(
        None, description="Window products: the windows of their units, {kind: month | quarter | season | year | "
                          "dekad | rolling | range | event | reference | all, ...} (default: all).")

    baseline: dict[str, Any] | None = Field(
        None, description="Comparison products: the one window every current window is compared with "
                          "({kind: reference | range, ...}); with `window: {kind: event}` the pre-event window.")

    @field_validator("baseline", mode="before")
    @classmethod
    def _baseline(cls, v: Any) -> Any:
        if v is None:
            return None
        try:
            spec = check_window_spec(v)
            fixed = fixed_windows(spec)
        except InputError as err:
            raise ValueError(str(err)) from None
        if fixed is None or len(fixed) != 1:
            raise ValueError("baseline must be one fixed window: {kind: reference, start, end} or a range with one range")
        return spec

    @field_validator("window", mode="before")
    @classmethod
    def _window(cls, v: Any) -> Any:
        if v is None:
            return None
        try:
            return check_window_spec(v)
        except InputError as err:
            raise ValueError(str(err)) from None

    @field_validator("name")
    @classmethod
    def _known(cls, v: str, info: ValidationInfo) -> str:
        _name(v, "product name")
        if _deferred(v, info):
            return v
        try:
            product = get_product(v)
        except InputError as err:
            raise ValueError(str(err)) from None
        if product.kind not in PLANNED_KINDS:
            raise ValueError(f"product {v!r} is a {product.kind} product; job runs compute "
                             f"{' and '.join(PLANNED_KINDS)} products")
        return v

    @model_validator(mode="after")
    def _params(self, info: ValidationInfo) -> ProductSpec:
        if not _deferred(self.name, info):
            check_product_params(self.name, self.params)
            kind = get_product(self.name).kind
            if self.window is not None and kind == "scene":
                raise ValueError(f"product {self.name!r} is a scene product (one unit per date): `window` is for "
                                 f"window products ({', '.join(product_names(['window']))})")
            if kind == "monitoring" and (self.baseline is None or self.window is not None):
                raise ValueError(f"monitoring product {self.name!r} needs `baseline`, its stable history window "
                                 "({kind: reference, start, end}), and no `window`: it monitors every scene after it")
            if self.baseline is not None and kind not in ("comparison", "monitoring"):
                raise ValueError(f"product {self.name!r} is a {kind} product: `baseline` is for comparison and "
                                 f"monitoring products ({', '.join(product_names(['comparison', 'monitoring']))})")
            if kind == "comparison" and self.window is None:
                raise ValueError(f"comparison product {self.name!r} needs a `window` (the current windows, or "
                                 "{kind: event, date: ...})")
            if kind == "comparison" and self.baseline is None and (self.window or {}).get("kind") != "event":
                raise ValueError(f"comparison product {self.name!r} needs a `baseline` window (or `window: {{kind: event, "
                                 "date: ...}}`, whose pre-event window is the baseline)")
            if kind == "comparison" and self.baseline is not None and (self.window or {}).get("kind") == "event":
                raise ValueError(f"comparison product {self.name!r}: an event window brings its own baseline (the pre-event "
                                 "window); leave `baseline` out")
        return self

    @property
    def window_spec(self) -> dict[str, Any]:
        """The window of a window product's units (``{kind: all}`` when the spec gives none)."""
        return dict(self.window) if self.window is not None else {"kind": "all"}


def _deferred(name: str, info: ValidationInfo) -> bool:
    """True for a product no installed package registers, in a spec validated without importing
    its plugins (``landpulse validate``): a plugin may register it at run time."""
    return bool((info.context or {}).get("plugins_not_imported")) and not is_registered(name)


def check_product_params(name: str, params: Mapping[str, Any]) -> None:
    """Check ``params`` against the keyword parameters of product ``name``'s function.

    Unknown names are refused, and values of parameters typed as a ``Literal`` must be one of its
    choices (:meth:`~landpulse.products.registry.Product.params_schema`: declared by the table of
    built-in products, so checking imports no product module). Raises ValueError naming the
    parameter and the accepted values.
    """
    accepted, open_ended = get_product(name).params_schema()
    choices_of = dict(accepted)
    for key, value in params.items():
        if key not in choices_of and not open_ended:
            raise ValueError(f"unknown parameter {key!r} for product {name}; accepted: "
                             f"{', '.join(choices_of) or 'none'}")
        choices = choices_of.get(key)
        if choices and value not in choices:
            raise ValueError(f"parameter {key!r} of product {name} must be one of {list(choices)}; got {value!r}")


class ParcelStatsSpec(_Model):
    """Per-parcel statistics of scene products: one unit per product, tile and date
    (``parcels-<product>/<tile>/<date>/``), appended by each run for the dates not yet committed."""

    file: Path = Field(description="Field boundaries: GeoPackage, GeoParquet (fiboa), GeoJSON or Shapefile.")
    products: list[str] = Field(default_factory=lambda: ["ndvi"], min_length=1)
    mode: Literal["exact", "centre", "all_touched"] = "exact"
    quantiles: list[float] = Field(default_factory=lambda: [0.5])
    mask: bool = Field(True, description="Mask what the classification band (SCL, QA_PIXEL) flags.")
    id_column: str = "id"

    @field_validator("products")
    @classmethod
    def _known_products(cls, v: list[str], info: ValidationInfo) -> list[str]:
        for name in v:
            if _deferred(name, info):
                continue
            try:
                get_product(name)
            except InputError as err:
                raise ValueError(str(err)) from None
        return v

    @field_validator("quantiles")
    @classmethod
    def _unit_interval(cls, v: list[float]) -> list[float]:
        bad = [q for q in v if not 0.0 <= q <= 1.0]
        if bad:
            raise ValueError(f"quantiles must lie in [0, 1]; got {bad}")
        return v


class OutputSpec(_Model):
    """Where products go and how they are stored."""

    store: Path = Field(description="Product store folder: <store>/<product>/<tile>/<date>/ per unit.")
    reports: Path | None = Field(None, description="Run reports folder (default: <store>-reports beside the store).")
    encoding: Literal["int16", "float32"] = "int16"
    chunk: int | None = Field(None, ge=128, description="Spatial chunk of products (default: the input's chunks).")
    clevel: int = Field(5, ge=0, le=9, description="Blosc-lz4 compression level of products.")
    cog: bool = Field(False, description="Also export each product as a Cloud-Optimized GeoTIFF.")
    quicklooks: bool = True
    checksums: list[Literal["crc32c", "sha256"]] = Field(
        default_factory=lambda: ["crc32c"], min_length=1,  # type: ignore[arg-type]  # lambda inferred as list[str]
        description="Checksums of every file of a unit, recorded in its STAC item (sha256 also gives "
                    "assets a STAC file:checksum; it costs ~0.1 core-second per Sentinel-2 tile-date).")
    fsync: bool = Field(True, description="Flush every file to disk before a unit is committed (power-loss safety).")
    keep_reports: int = Field(60, ge=1, description="Run reports kept (oldest are removed).")
    browse: bool = Field(False, description="Also write the product browser (<store>/browse/index.html, "
                                            "`landpulse browse`) whenever the run changed the catalogue.")

    @field_validator("store", "reports", mode="before")
    @classmethod
    def _path(cls, v: Any, info: ValidationInfo) -> Path | None:
        return None if v is None else _resolve(v, info)

    @property
    def reports_dir(self) -> Path:
        return self.reports or self.store.with_name(f"{self.store.name}-reports")


class SecuritySpec(_Model):
    """TLS for the Dask comms (distributed.Security). Paths only: credentials never enter the spec."""

    temporary: bool = Field(False, description="Self-signed credentials for a local cluster (needs `cryptography`).")
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    require_encryption: bool = True

    @field_validator("ca_file", "cert_file", "key_file", mode="before")
    @classmethod
    def _path(cls, v: Any, info: ValidationInfo) -> Path | None:
        return None if v is None else _resolve(v, info)

    @model_validator(mode="after")
    def _complete(self) -> SecuritySpec:
        files = (self.ca_file, self.cert_file, self.key_file)
        if self.temporary and any(files):
            raise ValueError("give either temporary: true or ca_file/cert_file/key_file, not both")
        if not self.temporary and not all(files):
            raise ValueError("TLS needs ca_file, cert_file and key_file (or temporary: true for a local cluster)")
        return self


class SlurmSpec(_Model):
    """Workers as Slurm jobs through dask-jobqueue's SLURMCluster.

    ``jobs`` worker jobs are started; with ``maximum_jobs`` the cluster adapts between
    ``minimum_jobs`` (default ``jobs``) and ``maximum_jobs`` instead, replacing jobs that end
    (a cancelled or pre-empted worker job comes back). GPU partitions: ``gpus_per_worker`` asks for
    ``--gres=gpu:N`` and starts dask-cuda's worker (one worker process per GPU of the job).
    """

    partition: str | None = Field(None, description="Slurm partition (sbatch -p); `queue` is the same thing.")
    queue: str | None = None
    account: str | None = None
    walltime: str = "01:00:00"
    cores: int = Field(1, ge=1, description="CPU cores per worker job.")
    memory: str = "4GiB"
    processes: int = Field(1, ge=1, description="Worker processes per job (CPU workers).")
    gpus_per_worker: int = Field(0, ge=0, description="GPUs per worker job (--gres=gpu:N); >0 starts dask-cuda workers.")
    jobs: int = Field(1, ge=1, description="Worker jobs to start (fixed size).")
    minimum_jobs: int | None = Field(None, ge=0, description="Adaptive scaling: fewest worker jobs.")
    maximum_jobs: int | None = Field(None, ge=1, description="Adaptive scaling: most worker jobs.")
    job_extra_directives: list[str] = Field(default_factory=list, description="Extra #SBATCH lines, e.g. --qos=low.")
    prologue: list[str] = Field(default_factory=list, description="Shell lines before the worker starts "
                                                                    "(module load ..., source venv/bin/activate).")
    worker_command: str | None = Field(None, description="Python module that starts a worker "
                                                         "(default: distributed's, or dask_cuda.cli with GPUs).")
    python: str | None = Field(None, description="Python on the compute nodes (default: this interpreter).")
    interface: str | None = Field(None, description="Network interface workers and scheduler use (ib0, eth0).")
    death_timeout: int = Field(60, ge=1, description="Seconds a worker waits for a lost scheduler before exiting.")
    log_directory: Path | None = None

    @field_validator("log_directory", mode="before")
    @classmethod
    def _path(cls, v: Any, info: ValidationInfo) -> Path | None:
        return None if v is None else _resolve(v, info)

    @model_validator(mode="after")
    def _consistent(self) -> SlurmSpec:
        if self.partition and self.queue and self.partition != self.queue:
            raise ValueError(f"partition {self.partition!r} and queue {self.queue!r} disagree (they are one setting)")
        if self.maximum_jobs is not None and (self.minimum_jobs or 0) > self.maximum_jobs:
            raise ValueError(f"minimum_jobs ({self.minimum_jobs}) exceeds maximum_jobs ({self.maximum_jobs})")
        if self.minimum_jobs is not None and self.maximum_jobs is None:
            raise ValueError("minimum_jobs needs maximum_jobs (adaptive scaling); for a fixed size use `jobs`")
        return self

    @property
    def partition_name(self) -> str | None:
        return self.partition or self.queue

    @property
    def adaptive(self) -> bool:
        return self.maximum_jobs is not None


class ClusterSpec(_Model):
    """Where the work runs. ``local`` (processes, the default), ``local-cuda`` (one worker per GPU),
    ``address`` (an existing scheduler), ``slurm`` (dask-jobqueue), ``threads`` (in this process)."""

    kind: Literal["local", "local-cuda", "address", "slurm", "threads"] = "local"
    n_workers: int | None = Field(None, ge=1)
    threads_per_worker: int = Field(1, ge=1)
    memory_limit: str | None = Field(None, description="Per worker, e.g. 4GiB (default: share of the machine).")
    address: str | None = Field(None, description="Scheduler address for kind: address, e.g. tls://10.0.0.5:8786.")
    scheduler_file: Path | None = Field(None, description="kind: address: the scheduler's JSON file "
                                                           "(dask scheduler --scheduler-file), instead of `address`.")
    host: str = Field("127.0.0.1", description="Interface the scheduler (and local workers) bind to.")
    dashboard: bool | str = Field(True, description="false, true (127.0.0.1:8787) or host:port.")
    security: SecuritySpec | None = None
    allowed_failures: int = Field(1, ge=0, description="Worker deaths a unit may cause before it is set aside; "
                                                       "it is then retried alone once, and a second death names it poison.")
    rmm_pool_size: str | None = Field("80%", description="local-cuda: RMM pool per GPU (null: no pool).")
    slurm: SlurmSpec | None = None

    @field_validator("scheduler_file", mode="before")
    @classmethod
    def _scheduler_file(cls, v: Any, info: ValidationInfo) -> Path | None:
        return None if v is None else _resolve(v, info)

    @model_validator(mode="after")
    def _kind_fields(self) -> ClusterSpec:
        if self.kind == "address" and not (self.address or self.scheduler_file):
            raise ValueError("kind: address needs `address` (e.g. tcp://127.0.0.1:8786) or `scheduler_file`")
        if self.address and self.scheduler_file:
            raise ValueError("give `address` or `scheduler_file`, not both")
        if self.kind != "address" and (self.address or self.scheduler_file):
            raise ValueError(f"`address`/`scheduler_file` are only for kind: address (kind is {self.kind})")
        if self.slurm is not None and self.kind != "slurm":
            raise ValueError(f"`slurm` settings are only for kind: slurm (kind is {self.kind})")
        if self.address and not self.address.startswith(("tcp://", "tls://", "ucx://", "inproc://")):
            raise ValueError(f"address {self.address!r} must start with tcp://, tls:// or ucx://")
        if self.security and self.security.temporary and self.kind not in ("local", "local-cuda"):
            raise ValueError("temporary TLS credentials only work for clusters started here (local, local-cuda)")
        return self


class JobSpec(_Model):
    """A production job: inputs, area, dates, products, output and cluster."""

    version: Literal[1] = SPEC_VERSION
    name: str
    inputs: Inputs
    area: AreaSpec = Field(default_factory=AreaSpec)
    dates: DateSpec = Field(default_factory=DateSpec)
    products: list[ProductSpec] = Field(min_length=1)
    output: OutputSpec
    cluster: ClusterSpec = Field(default_factory=ClusterSpec)
    backend: Literal["auto", "cpu", "gpu"] = "auto"
    plugins: list[str] = Field(default_factory=list, description="Modules imported on the driver and every worker "
                                                                  "(each must be allowed by the operator: LANDPULSE_PLUGINS) "
                                                                  "before running (to register extra products).")
    parcels: list[ParcelStatsSpec] = Field(default_factory=list, description="Per-parcel statistics (zarr inputs).")

    @field_validator("name")
    @classmethod
    def _job_name(cls, v: str) -> str:
        return _name(v, "job name")

    @field_validator("products", mode="before")
    @classmethod
    def _product_shorthand(cls, v: Any) -> Any:
        return [{"name": p} if isinstance(p, str) else p for p in v] if isinstance(v, list) else v

    @field_validator("dates", mode="before")
    @classmethod
    def _dates_shorthand(cls, v: Any) -> Any:
        return {"since": "last-run"} if v in ("since-last-run", "last-run") else v

    @field_validator("plugins")
    @classmethod
    def _modules(cls, v: list[str]) -> list[str]:
        for m in v:
            if not all(part.isidentifier() for part in m.split(".")):
                raise ValueError(f"plugin {m!r} is not a module name (like mypackage.products)")
        return v

    @model_validator(mode="after")
    def _parcels_need_stores(self) -> JobSpec:
        if self.parcels and self.inputs.kind != "zarr":
            raise ValueError("parcels: per-parcel statistics read scene stores; use inputs of kind zarr "
                             f"(these are {self.inputs.kind!r})")
        if self.parcels and isinstance(self.inputs, ZarrInputs) and len(self.inputs.stores) > 1 \
                and "all-tiles" in [s.tile_id for s in self.inputs.stores]:
            raise ValueError("parcels: tile id 'all-tiles' names the units that combine the tiles' parcels; "
                             "give that store another `tile`")
        return self

    @model_validator(mode="after")
    def _unique_products(self) -> JobSpec:
        names = [p.name for p in self.products]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"product(s) {dup} listed twice")
        return self

    def encoding_of(self, product: ProductSpec) -> str:
        return product.encoding or self.output.encoding


#: Environment variable with the plugin modules the operator allows (comma-separated module names).
PLUGINS_ENV = "LANDPULSE_PLUGINS"


def allowed_plugins() -> frozenset[str]:
    """Plugin modules a job spec may name: the operator's list in ``LANDPULSE_PLUGINS``.

    A job spec is data, not code: the modules it names are imported only when the person running
    landpulse allows them. (Installed packages register products through the ``landpulse.products``
    entry points instead, with no spec involved.)
    """
    return frozenset(m.strip() for m in os.environ.get(PLUGINS_ENV, "").split(",") if m.strip())


def _import_plugins(data: Any) -> None:
    """Import the spec's plugin modules before validating products (they may register some).

    Raises
    ------
    JobSpecError
        For a module the operator has not allowed, or one that cannot be imported.
    """
    listed = (data.get("plugins") or []) if isinstance(data, Mapping) else []
    # names that are no module names are left to the field's own validation (one error per field)
    names = [m for m in listed if isinstance(m, str) and all(part.isidentifier() for part in m.split("."))]
    refused = [m for m in names if m not in allowed_plugins()]
    if refused:
        raise JobSpecError(f"plugins: {', '.join(refused)} not allowed: a job spec is data, not code, so the modules it "
                           f"names are imported only when the operator allows them ({PLUGINS_ENV}={','.join(names)}), "
                           "or install a package that registers its products through the landpulse.products "
                           "entry points")
    for m in names:
        try:
            importlib.import_module(m)
        except ImportError as err:
            raise JobSpecError(f"plugins: cannot import {m!r}: {err}") from err


def _format_errors(err: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid job spec ({err.error_count()} problem(s)):"]
    for e in err.errors(include_url=False):
        loc = ".".join(str(p) for p in e["loc"] if not (isinstance(p, str) and p in ("zarr", "scenes", "stac", "stac-api")))
        msg = str(e["msg"]).removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            field = str(e["loc"][-1])
            parent = ".".join(str(p) for p in e["loc"][:-1])
            known = _known_fields(parent)
            close = difflib.get_close_matches(field, known, n=1)
            msg = f"unknown field {field!r}" + (f" (did you mean {close[0]!r}?)" if close else "") + \
                  (f"; fields here: {', '.join(known)}" if known else "")
        elif e["type"] == "missing":
            msg = "required field missing"
        elif e["type"] == "union_tag_invalid":
            msg = "inputs.kind must be one of zarr, scenes, stac, stac-api"
        elif e["type"] == "union_tag_not_found":
            msg = "inputs needs `kind`: zarr, scenes, stac or stac-api"
        lines.append(f"  {loc or '(top level)'}: {msg}")
    return "\n".join(lines)


def _known_fields(parent: str) -> list[str]:
    model: Any = JobSpec
    for part in [p for p in parent.split(".") if p]:
        if part.isdigit():
            continue
        fld = getattr(model, "model_fields", {}).get(part)
        if fld is None:
            return sorted(getattr(model, "model_fields", {})) if part in ("zarr", "scenes", "stac", "stac-api") else []
        ann = fld.annotation
        args = [a for a in typing.get_args(ann) if isinstance(a, type) and issubclass(a, BaseModel)]
        model = args[0] if args else ann
        if typing.get_origin(ann) is list:
            inner = typing.get_args(ann)[0]
            model = inner
    return sorted(getattr(model, "model_fields", {}))


def parse_job(data: Any, *, base: str | Path = ".", source: str = "job spec", import_plugins: bool = True) -> JobSpec:
    """Validate a parsed spec (a mapping) into a :class:`JobSpec`; relative paths resolve against ``base``.

    ``import_plugins``: import the spec's plugin modules first (each must be allowed, see
    :func:`allowed_plugins`), so the products they register are checked too. Without it (what
    ``landpulse validate`` does: validating imports nothing the spec names), a product that no
    installed package registers is accepted unchecked when the spec names plugins.

    Raises
    ------
    JobSpecError
        With one line per invalid field; for plugins not allowed or not importable.
    """
    if not isinstance(data, Mapping):
        raise JobSpecError(f"{source}: a job spec is a YAML mapping (name:, inputs:, products:, output:); "
                           f"got {type(data).__name__}")
    if import_plugins:
        _import_plugins(data)
    context = {"base": Path(base), "plugins_not_imported": not import_plugins and bool(data.get("plugins"))}
    try:
        return JobSpec.model_validate(dict(data), context=context)
    except ValidationError as err:
        raise JobSpecError(_format_errors(err, source)) from None


def load_job(path: str | Path, *, import_plugins: bool = True) -> JobSpec:
    """Read and validate a job spec file (``yaml.safe_load`` only).

    Raises
    ------
    JobSpecError
        When the file cannot be read, is not YAML, or is not a valid spec.
    """
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as err:
        raise JobSpecError(f"cannot read job spec {p}: {err.strerror or err}") from err
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise JobSpecError(f"{p} is not valid YAML: {err}") from err
    if data is None:
        raise JobSpecError(f"{p} is empty: a job spec is a YAML mapping (name:, inputs:, products:, output:)")
    return parse_job(data, base=p.resolve().parent, source=str(p), import_plugins=import_plugins)


def is_job_file(path: str | Path) -> bool:
    """True when ``path`` names a YAML job spec file (``.yaml`` / ``.yml``)."""
    p = Path(path)
    return p.suffix.lower() in (".yaml", ".yml") and not p.is_dir()
