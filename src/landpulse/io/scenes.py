"""Scenes: one acquisition's band files plus everything needed to read them right.

A :class:`Scene` is built from a STAC item (a local static catalogue; radiometry from
``raster:bands``) or from a set of GeoTIFF/JP2 files plus a sensor name (radiometry from the
sensor registry and the processing baseline). Either way, every band ends up with an explicit
scale, offset, nodata and valid range before a single pixel is read.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from landpulse.errors import InputError, MissingBandError, UnreadableInputError
from landpulse.io.remote import REMOTE_SCHEMES, public_href
from landpulse.spec.sensors import SensorSpec, get_sensor, parse_baseline, sensors

_IMAGE_TYPES = ("image/tiff", "image/jp2", "image/vnd.stac.geotiff")


@dataclass(frozen=True)
class BandSource:
    """One band of one scene: where it is and how to read it.

    Attributes
    ----------
    name : str
        landpulse band name (common name, or lower-case id for non-spectral bands: ``scl``).
    href : str
        Local path of the GeoTIFF/COG/JP2 file, or its ``http(s)://``/``s3://`` URL.
    scale, offset : float
        Reflectance = DN * scale + offset (1, 0 for classification bands).
    nodata : float or None
        Raw nodata value.
    valid_range : (float, float) or None
        Raw values outside it are saturated/defective.
    kind : str
        ``reflectance`` or ``classification``.
    band_index : int
        1-based band of the file.
    calibration : str or None
        JSON record of the top-of-atmosphere calibration ``scale``/``offset`` were derived from
        (:class:`landpulse.spec.calibration.BandCalibration`), None for bands that need none.
    classification : str or None
        For a quality band read from a STAC item: JSON ``{"asset": key, "classes": [...]}`` or
        ``{"asset": key, "bitfields": [...]}`` with the item's STAC classification-extension table
        as published, or ``{"asset": key}`` when the item states none; None otherwise.
    """

    name: str
    href: str
    scale: float = 1.0
    offset: float = 0.0
    nodata: float | None = None
    valid_range: tuple[float, float] | None = None
    kind: str = "reflectance"
    band_index: int = 1
    calibration: str | None = None
    classification: str | None = None


@dataclass(frozen=True)
class Scene:
    """One acquisition: id, time, sensor and band sources.

    Attributes
    ----------
    id : str
    datetime : numpy.datetime64
        Acquisition time (UTC, nanosecond precision, no time zone).
    bands : dict of str to BandSource
    sensor : str or None
        Sensor spec id (``sentinel2-l2a``).
    platform : str or None
    processing_baseline : str or None
    properties : dict
        Extra provenance (for example ``earthsearch:boa_offset_applied``).
    """

    id: str
    datetime: np.datetime64
    bands: dict[str, BandSource]
    sensor: str | None = None
    platform: str | None = None
    processing_baseline: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)

    def select(self, names: Sequence[str] | None) -> Scene:
        """This scene restricted to ``names`` (all bands when None).

        Raises
        ------
        MissingBandError
            When a requested band is not in the scene (never filled with zeros).
        """
        if names is None:
            return self
        missing = [n for n in names if n not in self.bands]
        if missing:
            raise MissingBandError(
                f"scene {self.id} has no {', '.join(repr(m) for m in missing)} band "
                f"(it has: {', '.join(self.bands)})"
            )
        return Scene(self.id, self.datetime, {n: self.bands[n] for n in names}, self.sensor,
                     self.platform, self.processing_baseline, dict(self.properties))


def to_datetime64(value: str | dt.datetime | np.datetime64) -> np.datetime64:
    """UTC acquisition time as ``datetime64[ns]`` (time zones converted, then dropped)."""
    if isinstance(value, np.datetime64):
        return value.astype("datetime64[ns]")
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        try:
            value = dt.datetime.fromisoformat(text)
        except ValueError as err:
            raise InputError(f"cannot read datetime {value!r}; use ISO 8601, e.g. 2016-01-12T15:56:00Z") from err
    if not isinstance(value, dt.datetime):
        raise InputError(f"cannot read datetime {value!r} ({type(value).__name__}); use an ISO 8601 string, "
                         "e.g. 2016-01-12T15:56:00Z")
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return np.datetime64(value, "ns")


def _item_number(value: Any, what: str, *, finite: bool = True) -> float:
    """A number of an item's ``raster:bands`` (scale, offset, nodata), checked: InputError naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{what} must be a number; got {value!r} ({type(value).__name__})")
    if finite and not math.isfinite(value):
        raise InputError(f"{what} must be finite; got {value!r}")
    return float(value)


def _sensor_for_item(item: Mapping[str, Any]) -> SensorSpec | None:
    coll = item.get("collection")
    props = item.get("properties", {})
    by_collection = [spec for spec in sensors().values() if coll in spec.stac_collections]
    if len(by_collection) > 1:  # one collection, several sensors (landsat-c2-l2): the platform decides
        platform = str(props.get("platform", "")).lower()
        by_collection = [spec for spec in by_collection if platform in spec.platforms]
    if len(by_collection) == 1:
        return by_collection[0]
    # collections the registry does not list (INPE's Brazil Data Cube CBERS products): platform + instrument
    platform = str(props.get("platform", "")).lower()
    instruments = {str(i).lower().replace("awfi", "wfi") for i in props.get("instruments") or []}
    by_platform = [spec for spec in sensors().values()
                   if platform in spec.platforms and spec.id.rsplit("-", 1)[-1] in instruments]
    if len(by_platform) == 1:
        return by_platform[0]
    product_type = str(props.get("s2:product_type", ""))
    if product_type.endswith("2A"):
        return get_sensor("sentinel2-l2a")
    if product_type.endswith("1C"):
        return get_sensor("sentinel2-l1c")
    return None


# roles (STAC best practices) and key fragments of quality assets; kept only for sensors whose
# registry entry has no mask rules of its own (CBERS), so that a mask asked of them can say why not
_QUALITY_ROLES = frozenset({"quality", "cloud", "cloud-shadow", "snow-ice", "data-mask", "land-water"})


def _class_table(asset: Mapping[str, Any]) -> dict[str, Any] | None:
    """The STAC classification-extension table of an asset (on the asset or its one raster band)."""
    rbs = asset.get("raster:bands") or [{}]
    for holder in (asset, rbs[0] if len(rbs) == 1 and isinstance(rbs[0], Mapping) else {}):
        if "classification:classes" in holder:
            return {"classes": holder["classification:classes"]}
        if "classification:bitfields" in holder:
            return {"bitfields": holder["classification:bitfields"]}
    return None


def _has_mask_rules(spec: SensorSpec | None) -> bool:
    return spec is not None and any("mask" in b for b in spec.raw.get("bands", {}).values())


def _is_quality_asset(key: str, asset: Mapping[str, Any]) -> bool:
    k = key.lower()
    return bool(_QUALITY_ROLES & set(asset.get("roles") or [])) or "mask" in k or k.startswith("qa")


def _local_href(href: str, base: Path) -> str:
    """A local path made absolute; an ``http(s)``/``s3`` URL kept as it is (read in place by
    :mod:`landpulse.io.remote`); other schemes refused."""
    parsed = urlparse(href)
    if parsed.scheme in REMOTE_SCHEMES:
        return href
    if parsed.scheme in ("gs", "az", "abfs", "ftp"):
        raise UnreadableInputError(
            f"asset href {public_href(href)} uses {parsed.scheme}://, which landpulse does not read; "
            "http(s):// and s3:// assets are read in place, other assets must be local files"
        )
    path = Path(parsed.path if parsed.scheme == "file" else href)
    return str(path if path.is_absolute() else (base / path).resolve())


def scene_from_stac_item(
    item: str | Path | Mapping[str, Any],
    *,
    bands: Sequence[str] | None = None,
    base_dir: str | Path | None = None,
) -> Scene:
    """Build a :class:`Scene` from a STAC Item (a JSON file or a parsed dict).

    Bands are resolved by ``eo:bands`` common name (``red``, ``nir``...) and classification
    assets by key (``scl``); where an item offers a COG and a JP2 of one band, the COG wins.
    Scale, offset and nodata come from each asset's ``raster:bands``; where those are absent they
    come from the sensor registry and the item's ``s2:processing_baseline``.

    A quality asset's class table (STAC classification extension: ``classification:classes`` or
    ``classification:bitfields``, on the asset or its raster band) is recorded with the band
    (:attr:`BandSource.classification`, the band attribute ``stac_classification`` after ingest),
    where masks read it. For sensors without mask rules in the registry (CBERS), a quality asset
    (roles ``quality``/``cloud``..., or a key with ``mask`` or starting ``qa``: ``CMASK``) is kept
    as a classification band named by its lower-cased key, with or without a table; a mask asked
    of one without a table raises :class:`~landpulse.errors.ClassTableMissingError`.

    Parameters
    ----------
    item : path or mapping
        The item; relative asset hrefs resolve against its folder (or ``base_dir``).
    bands : sequence of str, optional
        Bands to keep (default: all image assets that resolve to a band).
    base_dir : path, optional
        Folder for relative hrefs when ``item`` is a dict.

    Raises
    ------
    UnreadableInputError
        When the item cannot be read, or an asset's scheme is not read (``gs://``, ``az://``);
        ``http(s)://`` and ``s3://`` hrefs are kept and read in place (:mod:`landpulse.io.remote`).
    MissingBandError
        When a requested band has no asset.
    """
    if isinstance(item, (str, Path)):
        path = Path(item)
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise UnreadableInputError(f"cannot read STAC item {path}: {err}") from err
        base = Path(base_dir) if base_dir else path.resolve().parent
    else:
        data = dict(item)
        base = Path(base_dir) if base_dir else Path.cwd()
    if not isinstance(data, Mapping) or data.get("type") != "Feature" or "assets" not in data:
        raise UnreadableInputError("not a STAC Item (needs type 'Feature' and 'assets')")
    if not isinstance(data["assets"], Mapping):
        raise InputError(f"STAC item {data.get('id')}: 'assets' must be a mapping of asset keys to assets; "
                         f"got {type(data['assets']).__name__}")
    props = data.get("properties", {})
    if not isinstance(props, Mapping):
        raise InputError(f"STAC item {data.get('id')}: 'properties' must be a mapping; got {type(props).__name__}")
    spec = _sensor_for_item(data)
    baseline = props.get("s2:processing_baseline")
    when = props.get("datetime") or props.get("start_datetime")
    if not when:
        raise InputError(f"STAC item {data.get('id')} has no datetime")
    try:
        when = to_datetime64(when)
    except InputError as err:
        raise InputError(f"STAC item {data.get('id')}, properties.datetime: {err}") from None
    if baseline is not None and spec is not None and spec.baseline_offset is not None:
        try:
            parse_baseline(str(baseline))
        except InputError as err:
            raise InputError(f"STAC item {data.get('id')}, properties.s2:processing_baseline: {err}") from None

    sources: dict[str, tuple[int, BandSource]] = {}
    for key, asset in data["assets"].items():
        media = str(asset.get("type", ""))
        roles = asset.get("roles", ["data"])
        if not media.startswith(_IMAGE_TYPES):
            continue
        where = f"STAC item {data.get('id')}, asset {key!r}"
        eo = asset.get("eo:bands") or []
        if not isinstance(eo, list) or not all(isinstance(b, Mapping) for b in eo):
            raise InputError(f"{where}: 'eo:bands' must be a list of band objects; got {eo!r}")
        if len(eo) > 1:
            continue  # multi-band composites (visual) are not bands
        common = eo[0].get("common_name") if eo else None
        table = _class_table(asset)
        band_spec = None
        if spec is not None:
            for candidate in (common, eo[0].get("name") if eo else None, key.split("-")[0]):
                if candidate:
                    try:
                        band_spec = spec.band(candidate)
                        break
                    except InputError:
                        pass
        # for a sensor without mask rules in the registry (CBERS), a quality asset is kept as the
        # classification band: with the classes the item states (STAC classification extension),
        # or without, so that a mask asked of it can say why there is none; for sensors with rules
        # (SCL, QA_PIXEL) the item's table is recorded on their classification band
        item_quality = (band_spec is None and common is None and not _has_mask_rules(spec)
                        and (table is not None or _is_quality_asset(key, asset)))
        if "data" not in roles and not item_quality and (band_spec is None or band_spec.kind != "classification"):
            continue  # quality assets (Landsat qa_pixel has roles cloud/...) only when the sensor knows them
        # the sensor's name wins: Earth Search labels all three red-edge bands common_name "rededge"
        name = band_spec.name if band_spec else (key.lower() if item_quality else common)
        if name is None:
            continue
        kind = band_spec.kind if band_spec else ("classification" if item_quality or not common else "reflectance")
        classification = None
        if kind == "classification" and (item_quality or table is not None):
            classification = json.dumps({"asset": key, **(table or {})}, sort_keys=True)
        rbs = asset.get("raster:bands") or [{}]
        if not isinstance(rbs, list) or not isinstance(rbs[0], Mapping):
            raise InputError(f"{where}: 'raster:bands' must be a list of band objects; got {rbs!r}")
        rb = rbs[0]
        if not isinstance(asset.get("href"), str) or not asset["href"]:
            raise InputError(f"{where}: 'href' must be a path or URL string; got {asset.get('href')!r}")
        if kind == "classification":
            scale, offset = 1.0, 0.0
        elif "scale" in rb or "offset" in rb:
            scale = _item_number(rb.get("scale", 1.0), f"{where}: raster:bands scale")
            offset = _item_number(rb.get("offset", 0.0), f"{where}: raster:bands offset")
            if scale == 0:
                raise InputError(f"{where}: raster:bands scale must be non-zero")
        elif spec is not None:
            scale, offset = spec.scale, spec.offset_for(baseline)
        else:
            raise InputError(
                f"asset {key!r} of item {data.get('id')} has no raster:bands scale/offset and the "
                "sensor is unknown; add raster:bands to the item"
            )
        # a classification band has its own nodata or none (QA_RADSAT's 0 means "nothing saturated")
        nodata = rb.get("nodata", band_spec.nodata if band_spec and band_spec.nodata is not None
                        else (spec.nodata if spec and kind != "classification" else None))
        if nodata is not None and not (isinstance(nodata, str) and nodata.lower() in ("nan", "inf", "-inf")):
            nodata = _item_number(nodata, f"{where}: raster:bands nodata", finite=False)
        elif isinstance(nodata, str):
            nodata = float(nodata)  # STAC's raster extension spells the float specials as strings
        valid = (band_spec.valid_range if band_spec and band_spec.valid_range else (spec.valid_range if spec and kind != "classification" else None))
        priority = 0 if "tiff" in media else 1  # prefer the COG over the JP2 of the same band
        src = BandSource(name, str(asset["href"]), scale, offset,
                         None if nodata is None or (isinstance(nodata, float) and math.isnan(nodata)) else float(nodata),
                         tuple(valid) if valid else None, kind,  # type: ignore[arg-type]
                         classification=classification)
        if name not in sources or priority < sources[name][0]:
            sources[name] = (priority, src)
    chosen = {k: v for k, (_, v) in sources.items()}
    if bands is not None:
        missing = [b for b in bands if b not in chosen]
        if missing:
            raise MissingBandError(
                f"STAC item {data.get('id')} has no asset for band(s) {missing} "
                f"(bands found: {', '.join(chosen) or 'none'})"
            )
        chosen = {b: chosen[b] for b in bands}
    chosen = {k: replace(v, href=_local_href(v.href, base)) for k, v in chosen.items()}
    return Scene(
        id=str(data.get("id")),
        datetime=when,
        bands=chosen,
        sensor=spec.id if spec else None,
        platform=props.get("platform"),
        processing_baseline=baseline,
        properties={k: v for k, v in props.items() if k.startswith(("earthsearch:", "s2:product_uri", "s2:granule_id"))},
    )


def scene_from_files(
    files: Mapping[str, str | Path],
    *,
    datetime: str | dt.datetime | np.datetime64,
    sensor: str,
    processing_baseline: str | None = None,
    scale: float | None = None,
    offset: float | None = None,
    scene_id: str | None = None,
    platform: str | None = None,
) -> Scene:
    """Build a :class:`Scene` from band files named by common name or band id.

    Parameters
    ----------
    files : mapping
        ``{"red": "B04.tif", "B08": "B08.jp2", ...}``.
    datetime : str or datetime
        Acquisition time.
    sensor : str
        Sensor spec id (``sentinel2-l2a``, ``sentinel2-l1c``).
    processing_baseline : str, optional
        Needed by sensors whose offset depends on it (Sentinel-2), unless ``offset`` is given.
    scale, offset : float, optional
        Override the sensor's radiometry (both or neither).
    scene_id, platform : str, optional

    Raises
    ------
    InputError
        For an unknown sensor or band, or a Sentinel-2 scene without baseline or offset.
    """
    spec = get_sensor(sensor)
    if (scale is None) != (offset is None):
        raise InputError("give both scale and offset, or neither")
    when = to_datetime64(datetime)
    sources: dict[str, BandSource] = {}
    for key, href in files.items():
        b = spec.band(key)
        if b.kind == "classification":
            s, o = 1.0, 0.0
        elif scale is not None and offset is not None:
            s, o = float(scale), float(offset)
        else:
            s, o = spec.scale, spec.offset_for(processing_baseline)
        nodata = b.nodata if b.nodata is not None else (spec.nodata if b.kind != "classification" else None)
        valid = b.valid_range or (spec.valid_range if b.kind != "classification" else None)
        sources[b.name] = BandSource(b.name, str(Path(href).resolve()), s, o,
                                     None if nodata is None else float(nodata), valid, b.kind)
    sid = scene_id or f"{sensor}_{np.datetime_as_string(when, unit='s').replace(':', '')}"
    return Scene(sid, when, sources, spec.id, platform, processing_baseline)
