"""Change alerts as polygons: the patches of changed pixels of a map, as GeoJSON a person can act on.

A monitoring product (BFAST-Monitor's break dates) says, per pixel, whether and when something
changed. What a water agency or a forest service acts on is a patch: "2.3 ha changed around
12 June, here". :func:`change_patches` turns a boolean map of changed pixels into one polygon per
4-connected patch (the pixels' own edges, so the polygons rasterize back to exactly those pixels),
with its pixel count, area in hectares and the first, median and last value of the map inside it
(the break dates, as decimal years). :func:`write_alerts` writes them as an RFC 7946 GeoJSON
FeatureCollection (longitude/latitude, WGS 84), written to a temporary file and renamed.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from affine import Affine

#: File name of a unit's alerts (beside its Zarr store and STAC item).
ALERTS_NAME = "alerts.geojson"
#: Media type of the alerts asset.
GEOJSON_MEDIA_TYPE = "application/geo+json"


def change_patches(changed: np.ndarray, values: np.ndarray | None, transform: Affine,
                   pixel_area_m2: float) -> list[dict[str, Any]]:
    """One polygon per 4-connected patch of ``changed`` pixels, in the map's CRS.

    Parameters
    ----------
    changed : numpy.ndarray
        bool ``(y, x)``: the pixels to report (for example the breaks new since the last run).
    values : numpy.ndarray, optional
        float ``(y, x)``: what each changed pixel says (a break date as a decimal year); only
        pixels of ``changed`` are read (NaN elsewhere is fine). None: no value properties.
    transform : affine.Affine
        The grid's transform (pixel corners).
    pixel_area_m2 : float
        Area of one pixel in square metres (the map's CRS in metres).

    Returns
    -------
    list of dict
        GeoJSON-like features (geometry in the map's CRS), largest patch first; properties
        ``patch`` (1-based, in that order), ``pixels``, ``hectares`` and, with ``values``,
        ``first``, ``median`` and ``last`` (of ``values`` over the patch's pixels).
    """
    from rasterio.features import shapes
    from scipy import ndimage

    changed = np.asarray(changed, dtype=bool)
    shape = None if values is None else np.shape(values)
    if changed.ndim != 2 or (shape is not None and shape != changed.shape):
        raise ValueError(f"changed {changed.shape} and values {shape} must be one (y, x) grid")
    labels, n = ndimage.label(changed)  # 4-connectivity: rasterio's shapes traces the same patches
    if n == 0:
        return []
    ids = labels[changed]
    counts = np.bincount(ids, minlength=n + 1)[1:]
    described: dict[int, tuple[float, float, float]] = {}
    if values is not None:  # the changed pixels' values grouped by patch (no full-grid copy)
        order = np.argsort(ids, kind="stable")
        groups = np.split(np.asarray(values)[changed].astype(np.float64)[order], np.cumsum(counts)[:-1])
        described = {k + 1: (float(np.min(g)), float(np.median(g)), float(np.max(g))) for k, g in enumerate(groups)}
    rings: dict[int, list[dict[str, Any]]] = {}
    for geom, label in shapes(labels.astype(np.int32), mask=changed, connectivity=4, transform=transform):
        rings.setdefault(int(label), []).append(geom)
    features: list[dict[str, Any]] = []
    for i, label in enumerate(sorted(range(1, n + 1), key=lambda k: (-counts[k - 1], k)), start=1):
        pixels = int(counts[label - 1])
        parts = rings[label]
        geometry = parts[0] if len(parts) == 1 else {
            "type": "MultiPolygon", "coordinates": [p["coordinates"] for p in parts]}
        props: dict[str, Any] = {"patch": i, "pixels": pixels, "hectares": round(pixels * pixel_area_m2 / 1e4, 4)}
        if label in described:
            first, median, last = described[label]
            props.update({"first": round(first, 6), "median": round(median, 6), "last": round(last, 6)})
        features.append({"type": "Feature", "geometry": geometry, "properties": props})
    return features


def class_patches(codes: np.ndarray, classes: Mapping[int, str], transform: Affine,
                  pixel_area_m2: float) -> list[dict[str, Any]]:
    """The patches of each class of a class map (:func:`change_patches` per class value), with the
    class's name as property ``class``; by class in the order given, each class's largest first,
    numbered across all of them.

    Parameters
    ----------
    codes : numpy.ndarray
        integer ``(y, x)`` class codes (nodata is any code not in ``classes``).
    classes : mapping of int to str
        The class values that are changes, and their names (CF ``flag_meanings``).
    """
    features: list[dict[str, Any]] = []
    for code, name in classes.items():
        for f in change_patches(np.asarray(codes) == code, None, transform, pixel_area_m2):
            f["properties"] = {"patch": len(features) + 1, "class": name,
                               **{k: v for k, v in f["properties"].items() if k != "patch"}}
            features.append(f)
    return features


def write_alerts(features: Sequence[dict[str, Any]], path: str | os.PathLike[str], crs: Any, *,
                 properties: dict[str, Any] | None = None) -> Path:
    """Write ``features`` (in ``crs``) as an RFC 7946 GeoJSON FeatureCollection in WGS 84.

    ``properties``: members of the collection itself (what the values are, since when). Written
    to a temporary sibling and renamed: a reader never sees half a file.
    """
    from rasterio.warp import transform_geom

    out = []
    for f in features:
        geom = transform_geom(crs, "EPSG:4326", f["geometry"], precision=7)
        out.append({"type": "Feature", "geometry": geom, "properties": f["properties"]})
    doc: dict[str, Any] = {"type": "FeatureCollection", **(properties or {}), "features": out}
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:12]}")
    try:
        tmp.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
