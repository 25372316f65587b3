"""Cloud, shadow and quality masks from Sentinel-2 SCL classes, Landsat QA_PIXEL bits, and the
class tables STAC items state for their quality bands.

The rules are data: each sensor spec (``landpulse/spec/sensor_specs/*.json``) describes its
classification band under ``"mask"``: named classes (Sentinel-2 SCL) or bit flags and 2-bit
confidences (Landsat QA_PIXEL), which of them mean "no data", which are masked by default and
which are buffered by default. A :class:`Mask` picks from those names; it is compiled into a
lookup table from classification value to mask code, which the fused index kernel applies in
the same pass as the indices.

Mask codes (uint8, CF ``flag_values``/``flag_meanings``):

====  ==========  ============================================================
0     clear       usable observation
1     masked      a masked class or flag (cloud, shadow, cirrus...)
2     buffer      clear, but within ``buffer`` metres of a buffered class
3     nodata      no data (fill, SCL 0), or a value the classification lacks
====  ==========  ============================================================

Quality bands whose sensor has no rules in the registry (CBERS ``CMASK``) are read from the class
table their STAC item publishes (classification extension: ``classification:classes`` or
``classification:bitfields``), never from a guess; which classes are masked follows a name rule
(:func:`class_name_meaning`), recorded with the table in every product's provenance. Where the
item states no table, asking for a mask raises :class:`~landpulse.errors.ClassTableMissingError`.

Buffers are given in metres and turned into a disc of pixels for the grid at hand, so the same
buffer covers the same ground at 10 m and at 20 m; the buffer is computed with halos, so results
never depend on the chunking.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from landpulse.backend import apply_overlap_kernel, disc_spans, spatial_dims
from landpulse.errors import (
    ClassTableMissingError,
    GridMismatchError,
    InputError,
    MissingBandError,
    ProductMeaningWarning,
)
from landpulse.products.areas import grid_steps
from landpulse.spec.bands import declared_sensors
from landpulse.spec.radiometry import CLASSIFICATION_ATTR
from landpulse.spec.sensors import SensorSpec, sensors

MASK_CLEAR, MASK_MASKED, MASK_BUFFER, MASK_NODATA = 0, 1, 2, 3
MASK_FLAG_VALUES = [MASK_CLEAR, MASK_MASKED, MASK_BUFFER, MASK_NODATA]
MASK_FLAG_MEANINGS = "clear masked buffer nodata"


@dataclass(frozen=True)
class Mask:
    """Which classes or flags to mask, and how far to buffer them.

    Parameters
    ----------
    classes : sequence of str, optional
        Class names (SCL: ``cloud_high``, ``cloud_shadow``...) or flag names (QA_PIXEL: ``cloud``,
        ``dilated_cloud``...) to mask. Default: the sensor's default set.
    confidences : mapping of str to str, optional
        QA_PIXEL confidences: ``{"cloud_confidence": "medium"}`` masks pixels whose cloud
        confidence is medium or higher.
    buffer : float
        Buffer in metres around the ``buffer_classes`` (0: no buffer).
    buffer_classes : sequence of str, optional
        Classes or flags the buffer grows from. Default: the sensor's default buffer set
        (clouds and shadows), restricted to the masked ones.
    band : str, optional
        Variable holding the classification band (default: found by name: ``SCL``,
        ``QA_PIXEL``...).
    sensor : str, optional
        Sensor spec id whose rules apply (default: from the dataset's ``sensor`` attribute or
        the classification band's name).
    source : {None, 'sensor', 'item'}
        Where the meaning of the classification values comes from: ``'sensor'`` the rules of the
        sensor registry, ``'item'`` the class table the band's STAC item states (classification
        extension), None (default) the registry where it has rules for the band, else the item's
        table.
    """

    classes: Sequence[str] | None = None
    confidences: Mapping[str, str] = field(default_factory=dict)
    buffer: float = 0.0
    buffer_classes: Sequence[str] | None = None
    band: str | None = None
    sensor: str | None = None
    source: str | None = None

    def describe(self) -> dict[str, Any]:
        return {"classes": list(self.classes) if self.classes is not None else None,
                "confidences": dict(self.confidences), "buffer_m": float(self.buffer),
                "buffer_classes": list(self.buffer_classes) if self.buffer_classes is not None else None,
                "band": self.band, "sensor": self.sensor, "source": self.source}


MaskLike = Mask | str | bool | None


@dataclass(frozen=True)
class MaskRules:
    """The mask rules of one sensor's classification band (from its spec)."""

    sensor: str
    band_id: str
    band_name: str
    kind: str  # "classes" | "bits"
    rules: dict[str, Any]

    @property
    def names(self) -> list[str]:
        if self.kind == "classes":
            return list(self.rules["classes"].values())
        if self.kind == "bitfields":
            return [name for _, _, _, name in self.rules["fields"]]
        return [*self.rules["flags"], *self.rules.get("confidences", {})]

    def table_size(self) -> int:
        if self.kind == "classes":
            return 256 if max((int(v) for v in self.rules["classes"]), default=0) < 256 else 65536
        return 65536

    def _check(self, names: Iterable[str], what: str) -> list[str]:
        names = list(names)
        flags = self.names if self.kind in ("classes", "bitfields") else list(self.rules["flags"])
        bad = [n for n in names if n not in flags]
        if bad:
            raise InputError(f"{self.sensor} {self.band_id} has no {what} {bad}; known: {', '.join(flags)}")
        return names

    def tables(self, mask: Mask) -> tuple[np.ndarray, np.ndarray]:
        """``(lut, buffer_lut)``: mask code per classification value, and 1 where it is a buffer source."""
        classes = self._check(mask.classes if mask.classes is not None else self.rules["default"], "class or flag")
        default_buf = [c for c in self.rules.get("default_buffer", []) if c in classes]
        buffered = self._check(mask.buffer_classes if mask.buffer_classes is not None else default_buf,
                               "class or flag")
        nodata = list(self.rules.get("nodata", []))
        n = self.table_size()
        lut = np.full(n, MASK_NODATA, np.uint8)
        blut = np.zeros(n, np.uint8)
        if self.kind == "classes":
            if mask.confidences:
                raise InputError(f"{self.band_id} has classes, not confidences; give classes=[...] instead")
            for value, name in self.rules["classes"].items():
                v = int(value)
                lut[v] = MASK_NODATA if name in nodata else (MASK_MASKED if name in classes else MASK_CLEAR)
                blut[v] = 1 if name in buffered else 0
            return lut, blut
        values = np.arange(n, dtype=np.int64)
        if self.kind == "bitfields":
            if mask.confidences:
                raise InputError(f"{self.band_id} has bit fields, not confidences; give classes=[...] instead")
            masked, source, is_nodata = (np.zeros(n, bool) for _ in range(3))
            for offset, length, value, name in self.rules["fields"]:
                hit = ((values >> offset) & ((1 << length) - 1)) == value
                if name in classes:
                    masked |= hit
                if name in buffered:
                    source |= hit
                if name in nodata:
                    is_nodata |= hit
            lut[:] = np.where(is_nodata, MASK_NODATA, np.where(masked, MASK_MASKED, MASK_CLEAR))
            blut[:] = source & ~is_nodata
            return lut, blut

        def flag(name: str) -> np.ndarray:
            return ((values >> int(self.rules["flags"][name])) & 1).astype(bool)

        levels = self.rules["levels"]
        masked = np.zeros(n, bool)
        for c in classes:
            masked |= flag(c)
        for conf, level in mask.confidences.items():
            if conf not in self.rules.get("confidences", {}):
                raise InputError(f"{self.sensor} {self.band_id} has no confidence {conf!r}; known: "
                                 f"{', '.join(self.rules.get('confidences', {}))}")
            if level not in levels:
                raise InputError(f"confidence level {level!r} unknown; use one of {', '.join(levels)}")
            lo_bit = int(self.rules["confidences"][conf][0])
            masked |= ((values >> lo_bit) & 3) >= int(levels[level])
        source = np.zeros(n, bool)
        for c in buffered:
            source |= flag(c)
        is_nodata = np.zeros(n, bool)
        for c in nodata:
            is_nodata |= flag(c)
        lut[:] = np.where(is_nodata, MASK_NODATA, np.where(masked, MASK_MASKED, MASK_CLEAR))
        blut[:] = source & ~is_nodata
        return lut, blut


def mask_rules() -> list[MaskRules]:
    """Every classification band with mask rules in the sensor registry."""
    out = []
    for spec in sensors().values():
        for bid, b in spec.raw.get("bands", {}).items():
            if "mask" in b:
                name = (b.get("common_name") or bid).lower()
                out.append(MaskRules(spec.id, bid, name, b["mask"]["type"], b["mask"]))
    return out


# --- class tables stated by STAC items (classification extension) --------------------------------

#: the name rule, as documented in the README: words (a class name split at anything that is not
#: a letter or digit, and at camelCase, lower-cased) that say "not a clear observation"...
NOT_CLEAR_WORDS = frozenset({"cloud", "clouds", "cloudy", "shadow", "shadows", "cirrus", "haze", "hazy",
                             "saturated", "saturation", "defective"})
#: ...those of them whose classes the default buffer grows from (clouds and shadows, as the sensors')...
BUFFER_WORDS = frozenset({"cloud", "clouds", "cloudy", "shadow", "shadows", "cirrus"})
#: ...words (or the pair "no data") that say "no data"...
NODATA_WORDS = frozenset({"nodata", "fill", "missing"})
#: ...words that negate the others ("not_cloud", "cloud_free", "clear", "no_shadow" are clear)...
NEGATION_WORDS = frozenset({"no", "not", "non", "free", "clear", "without"})
#: ...and snow, masked only on request, as for Sentinel-2 and Landsat.
SNOW_WORDS = frozenset({"snow", "ice"})
NAME_RULE = ("a class whose name has a word 'nodata', 'fill', 'missing' or the pair 'no data' is no data; "
             "else a class with a word 'no', 'not', 'non', 'free', 'clear' or 'without' is clear; else a class "
             "with a word 'cloud(s)', 'cloudy', 'shadow(s)', 'cirrus', 'haze', 'hazy', 'saturated', "
             "'saturation' or 'defective' is masked by default (buffered by default where the word is a cloud, "
             "shadow or cirrus word); every other class (snow and ice included) is clear unless named in "
             "Mask(classes=...); values the table lacks are no data. Words: the name split at anything "
             "not a letter or digit and before a capital that follows a small letter, lower-cased; descriptions "
             "are not read.")


def _words(name: str) -> list[str]:
    # "CloudShadow" -> "cloud shadow": a capital after a small letter starts a word
    spaced = "".join(f" {c}" if c.isupper() and i and name[i - 1].islower() else c for i, c in enumerate(name))
    return "".join(c if c.isalnum() else " " for c in spaced.lower()).split()


def class_name_meaning(name: str) -> str:
    """What the name rule reads in a class name: ``'nodata'``, ``'masked'``, ``'snow'`` or ``'clear'``.

    The rule (:data:`NAME_RULE`) reads only the words of the name the item publishes, so a class
    whose name says nothing of clouds is clear: ``cloud_shadow``, ``cloud_high_probability``,
    ``thin_cirrus`` and ``saturated_or_defective`` are masked; ``no_data`` and ``fill`` are no
    data; ``not_cloud``, ``cloud_free``, ``clear`` and ``vegetation`` are clear; ``snow`` is
    ``'snow'`` (clear unless asked for).
    """
    words = _words(name)
    pairs = {" ".join(p) for p in zip(words, words[1:], strict=False)}
    if NODATA_WORDS & set(words) and not NEGATION_WORDS & set(words) or "no data" in pairs:
        return "nodata"
    if NEGATION_WORDS & set(words):
        return "clear"
    if NOT_CLEAR_WORDS & set(words):
        return "masked"
    if SNOW_WORDS & set(words):
        return "snow"
    return "clear"


def _table_classes(entries: object, where: str) -> list[tuple[int, str]]:
    if not isinstance(entries, list) or not entries:
        raise InputError(f"{where}: classification classes must be a non-empty list of {{value, name}}")
    out = []
    for c in entries:
        if not isinstance(c, Mapping) or not isinstance(c.get("name"), str) or isinstance(c.get("value"), bool) \
                or not isinstance(c.get("value"), int) or not 0 <= int(c["value"]) < 65536:
            raise InputError(f"{where}: each class needs an integer value 0-65535 and a name; got {c!r}")
        out.append((int(c["value"]), str(c["name"])))
    values = [v for v, _ in out]
    if len(set(values)) != len(values):
        raise InputError(f"{where}: class values repeat ({values})")
    return out


def item_table_rules(band: xr.DataArray) -> MaskRules:
    """Mask rules from the class table a band's STAC item states (attribute ``stac_classification``).

    Raises
    ------
    ClassTableMissingError
        When the item states no ``classification:classes`` (nor ``classification:bitfields``).
    InputError
        When the table is malformed (values not integers, repeated, names missing).
    """
    record = json.loads(str(band.attrs[CLASSIFICATION_ATTR]))
    asset = str(record.get("asset", band.name))
    where = f"the item's {asset} classification table"
    if "classes" not in record and "bitfields" not in record:
        raise ClassTableMissingError(
            f"cannot tell which values are clouds: the item's {asset} has no classification:classes (nor "
            "classification:bitfields) stating what its values mean, and landpulse does not guess them; compute "
            "without a mask (mask=None), or use items that publish the table (STAC classification extension)")
    meaning: dict[str, str] = {}
    rules: dict[str, Any] = {"table": {k: v for k, v in record.items() if k != "asset"}, "rule": NAME_RULE,
                             "reference": f"STAC classification extension table of the item's {asset} asset; "
                                          f"masked classes by landpulse's name rule"}
    if "classes" in record:
        pairs = _table_classes(record["classes"], where)
        rules["classes"] = {str(v): n for v, n in pairs}
        meaning = {n: class_name_meaning(n) for _, n in pairs}
        kind = "classes"
    else:
        fields = record["bitfields"]
        if not isinstance(fields, list) or not fields:
            raise InputError(f"{where}: classification:bitfields must be a non-empty list")
        flat = []
        for f in fields:
            if not isinstance(f, Mapping) or not isinstance(f.get("offset"), int) or not isinstance(f.get("length"), int) \
                    or not (0 <= f["offset"] and 1 <= f["length"] and f["offset"] + f["length"] <= 16):
                raise InputError(f"{where}: each bit field needs an integer offset and length within 16 bits; got {f!r}")
            fname = str(f.get("name", f"bits{f['offset']}"))
            for v, n in _table_classes(f.get("classes"), f"{where}, field {fname}"):
                flat.append((int(f["offset"]), int(f["length"]), v, f"{fname}:{n}"))
                meaning[f"{fname}:{n}"] = class_name_meaning(n)
        rules["fields"] = flat
        kind = "bitfields"
    rules["nodata"] = [n for n, m in meaning.items() if m == "nodata"]
    rules["default"] = [n for n, m in meaning.items() if m == "masked"]
    rules["default_buffer"] = [n for n, m in meaning.items()
                               if m == "masked" and BUFFER_WORDS & set(_words(n.rsplit(":", 1)[-1]))]
    return MaskRules("stac-item", asset, str(band.name).lower(), kind, rules)


def _item_bands(ds: xr.Dataset, mask: Mask) -> list[str]:
    names = [str(v) for v in ds.data_vars if CLASSIFICATION_ATTR in ds[v].attrs]
    return [n for n in names if n == mask.band] if mask.band is not None else names


def resolve_rules(ds: xr.Dataset, mask: Mask) -> tuple[xr.DataArray, MaskRules]:
    """Find the classification band of ``ds`` and the rules that apply to it.

    The sensor registry's rules where a band matches them (SCL, QA_PIXEL), else the class table
    the band's STAC item states (``Mask(source=...)`` chooses).

    Raises
    ------
    MissingBandError
        When no classification band is found.
    ClassTableMissingError
        When the classification band's item states no class table.
    InputError
        When the sensor cannot be decided (rules differ between candidate sensors).
    """
    if mask.source not in (None, "sensor", "item"):
        raise InputError(f"Mask(source=...) must be None, 'sensor' or 'item'; got {mask.source!r}")
    if mask.source != "sensor" and mask.sensor is None:
        item_vars = _item_bands(ds, mask)
        registry = {n for r in mask_rules() for n in (r.band_id.lower(), r.band_name)}
        wanted = [mask.band] if mask.band is not None else [str(v) for v in ds.data_vars]
        if mask.source == "item" or (item_vars and not any(v.lower() in registry for v in wanted)):
            if not item_vars:
                raise MissingBandError("Mask(source='item'): no band of the dataset carries a class table from "
                                       f"its STAC item (attribute {CLASSIFICATION_ATTR!r})")
            return ds[item_vars[0]], item_table_rules(ds[item_vars[0]])
    return _registry_rules(ds, mask)


def _registry_rules(ds: xr.Dataset, mask: Mask) -> tuple[xr.DataArray, MaskRules]:
    rules = mask_rules()
    if mask.sensor is not None:
        rules = [r for r in rules if r.sensor == mask.sensor]
        if not rules:
            known = sorted({r.sensor for r in mask_rules()})
            raise InputError(f"sensor {mask.sensor!r} has no mask rules; sensors with masks: {', '.join(known)}")
    if mask.band is not None:
        if mask.band not in ds.data_vars:
            raise MissingBandError(f"mask band {mask.band!r} is not in the dataset (variables: {', '.join(map(str, ds.data_vars))})")
        var = mask.band
        candidates = [r for r in rules if var.lower() in (r.band_id.lower(), r.band_name)] or rules
    else:
        found = [(str(v), r) for v in ds.data_vars for r in rules if str(v).lower() in (r.band_id.lower(), r.band_name)]
        if not found:
            raise MissingBandError(
                "no classification band for masking in the dataset (looked for "
                f"{', '.join(sorted({r.band_id for r in rules}))}); name it with Mask(band=...)"
            )
        var = found[0][0]
        candidates = [r for v, r in found if v == var]
    declared = declared_sensors(ds)
    if declared:
        narrowed = [r for r in candidates if r.sensor in declared]
        candidates = narrowed or candidates
    distinct = {json.dumps({k: v for k, v in r.rules.items() if k != "reference"}, sort_keys=True) for r in candidates}
    if len(distinct) > 1:
        raise InputError(
            f"the mask rules of {var!r} differ between sensors {', '.join(r.sensor for r in candidates)}; "
            "choose one with Mask(sensor=...)"
        )
    return ds[var], candidates[0]


def as_mask(mask: MaskLike, ds: xr.Dataset | None = None) -> Mask | None:
    """Normalise the ``mask=`` argument: None/False (no mask), True (defaults), or a Mask.

    ``'auto'`` means the sensor's default mask where ``ds`` has a classification band (Sentinel-2
    SCL, Landsat QA_PIXEL, a quality band whose STAC item states its classes), else no mask
    (also where the item's quality band has no class table: an explicit mask raises there), with a :class:`~landpulse.errors.ProductMeaningWarning`
    saying so (the same in the index and the water functions); without ``ds`` it means the defaults.
    """
    if mask is None or mask is False:
        return None
    if isinstance(mask, str) and mask == "auto" and ds is not None:
        try:
            resolve_rules(ds, Mask())
        except MissingBandError:
            warnings.warn("mask='auto': the dataset has no classification band (Sentinel-2 SCL, Landsat "
                          "QA_PIXEL, a quality band with its STAC item's class table), so no cloud or shadow "
                          "mask is applied", ProductMeaningWarning, stacklevel=3)
            return None
        except ClassTableMissingError as err:
            warnings.warn(f"mask='auto': no cloud or shadow mask is applied: {err}", ProductMeaningWarning, stacklevel=3)
            return None
        return Mask()
    if mask is True or mask == "auto":
        return Mask()
    if isinstance(mask, Mask):
        return mask
    raise InputError(f"mask must be None, 'auto' or a landpulse.Mask; got {mask!r}")


def pixel_size(da: xr.DataArray) -> tuple[float, float]:
    """``(res_y, res_x)`` in metres from the coordinates (needs a projected CRS when one is set)."""
    try:
        crs = da.rio.crs
    except Exception:
        crs = None
    if crs is not None and crs.is_geographic:
        raise GridMismatchError(
            f"a buffer in metres needs a projected grid; this one is in {crs} (degrees): reproject it first"
        )

    return grid_steps(da)


@dataclass(frozen=True)
class ResolvedMask:
    """A mask ready for the kernels: the band to read and its lookup table (after any buffer)."""

    band: xr.DataArray
    lut: np.ndarray
    rules: MaskRules
    mask: Mask
    buffer_pixels: tuple[int, int] = (0, 0)

    def describe(self) -> dict[str, Any]:
        d = self.mask.describe()
        d.update({"sensor": self.rules.sensor, "band": str(self.rules.band_id),
                  "variable": str(self.band.name) if self.band.name is not None else None,
                  "buffer_pixels": list(self.buffer_pixels)})
        if self.rules.sensor == "stac-item":  # the meaning came from the item: record what was read
            d.update({"source": "item", "class_table": self.rules.rules["table"], "name_rule": self.rules.rules["rule"],
                      "masked_by_default": list(self.rules.rules["default"]),
                      "nodata_classes": list(self.rules.rules["nodata"])})
        return d


def resolve(ds: xr.Dataset, mask: Mask) -> ResolvedMask:
    """Turn a :class:`Mask` into the array and lookup table the fused kernel reads.

    Without a buffer the kernel reads the classification band itself; with one, the band is
    first turned into mask codes (with halos), and the kernel reads those codes.
    """
    band, rules = resolve_rules(ds, mask)
    lut, blut = rules.tables(mask)
    if mask.buffer <= 0:
        return ResolvedMask(band, lut, rules, mask)
    res_y, res_x = pixel_size(band)
    spans = disc_spans(float(mask.buffer), res_y, res_x)
    depth = (len(spans) - 1, int(spans[0]))
    codes = apply_overlap_kernel("mask_buffer", band, depth=depth,
                                 kwargs={"lut": lut, "buffer_lut": blut, "spans": spans}, output_dtype=np.uint8)
    codes.name = band.name
    identity = np.full(256, MASK_NODATA, np.uint8)
    identity[:4] = MASK_FLAG_VALUES
    return ResolvedMask(codes, identity, rules, mask, depth)


def mask_attrs(resolved: ResolvedMask) -> dict[str, Any]:
    """CF attributes of a mask product."""
    return {
        "long_name": f"observation mask from {resolved.rules.sensor} {resolved.rules.band_id}",
        "flag_values": list(MASK_FLAG_VALUES),
        "flag_meanings": MASK_FLAG_MEANINGS,
        "mask_rules": json.dumps(resolved.describe(), sort_keys=True),
        "references": resolved.rules.rules.get("reference", ""),
    }


def time_dim(da: xr.DataArray) -> str | None:
    """The dimension along which observations repeat: a datetime dimension, else the one
    leading non-spatial dimension (None for a single 2-D image)."""
    ydim, xdim = spatial_dims(da)
    others = [d for d in da.dims if d not in (ydim, xdim)]
    for d in others:
        if d in da.coords and np.issubdtype(da[d].dtype, np.datetime64):
            return str(d)
    return str(others[0]) if len(others) == 1 else None


def clear_count(mask: xr.DataArray, *, dim: str | None = None) -> xr.DataArray:
    """Per-pixel number of clear observations (mask code 0) along time.

    Parameters
    ----------
    mask : xarray.DataArray
        Mask codes, as returned by :func:`landpulse.mask` or in the ``mask`` variable of
        :func:`landpulse.indices`.
    dim : str, optional
        The time dimension (default: found, see :func:`time_dim`).

    Returns
    -------
    xarray.DataArray
        uint16 count on the mask's grid (0 where every date is masked), CRS kept; lazy when the
        mask is.
    """
    dim = dim or time_dim(mask)
    if dim is None:
        raise InputError("clear_count needs a time dimension; this mask is a single image")
    out = (mask == MASK_CLEAR).sum(dim=dim, dtype=np.uint16).astype(np.uint16)
    out.name = "clear_count"
    out.attrs = {"long_name": "number of clear observations", "units": "1", "time_dimension": dim}
    try:
        crs = mask.rio.crs
        if crs is not None:
            out = out.rio.write_crs(crs)
    except Exception:
        pass
    return out


def known_sensors_with_masks() -> list[str]:
    return sorted({r.sensor for r in mask_rules()})


def sensor_mask_rules(sensor: str | SensorSpec) -> MaskRules:
    """The mask rules of ``sensor`` (an id or spec)."""
    sid = sensor.id if isinstance(sensor, SensorSpec) else sensor
    for r in mask_rules():
        if r.sensor == sid:
            return r
    raise InputError(f"sensor {sid!r} has no mask rules; sensors with masks: {', '.join(known_sensors_with_masks())}")
