"""GENERATED field layouts: synthetic parcels for tests, benchmarks and the notebook.

No real field-boundary layer on this machine overlaps the bundled imagery, so the parcels used
with it are generated here and are labelled as generated wherever they are used. The layouts
imitate an agricultural landscape: fields on a jittered grid, rotated and sheared quadrilaterals
of log-normally distributed area (median a few hectares), plus the awkward cases an exact
method must handle: fields with a hole (a farmyard), multipolygons (a field cut by a lane),
slivers narrower or smaller than a pixel, overlapping parcels (two claims on one strip) and fields laid
across given chunk or tile edges. Real layers (LPIS, fiboa GeoParquet) are read unchanged by
:func:`landpulse.io.parcels.read_parcels`.
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import shapely

from landpulse.errors import InputError

KINDS = ("field", "holed", "multipart", "sliver", "overlap", "edge")


def generate_parcels(bounds: Sequence[float], n: int, *, crs: object, seed: int = 0,
                     median_area_m2: float = 20_000.0, special_fraction: float = 0.05,
                     edges_x: Sequence[float] = (), edges_y: Sequence[float] = ()) -> gpd.GeoDataFrame:
    """Generate ``n`` parcels inside ``bounds`` (GENERATED data, not real field boundaries).

    Parameters
    ----------
    bounds : (xmin, ymin, xmax, ymax)
        In the units of ``crs`` (metres for a projected CRS).
    n : int
        Number of parcels.
    crs : object
        Any CRS geopandas accepts.
    seed : int
        Random seed: the same arguments give the same layout.
    median_area_m2 : float
        Median field area (log-normal, sigma 0.8), capped by the grid cell the layout gives a field.
    special_fraction : float
        Fraction of parcels that are holed, multipart, slivers or overlapping (a quarter each).
    edges_x, edges_y : sequence of float
        Coordinates of chunk or tile edges: some fields are centred on them (kind ``edge``).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``id`` (str, fiboa's identifier column), ``kind`` (one of :data:`KINDS`),
        ``crop`` (a generated label), ``generated`` (True), ``geometry`` (valid polygons or
        multipolygons).
    """
    if n <= 0:
        raise InputError(f"the number of parcels must be positive, got {n}")
    xmin, ymin, xmax, ymax = (float(b) for b in bounds)
    rng = np.random.default_rng(seed)
    width, height = xmax - xmin, ymax - ymin
    cell = float(np.sqrt(width * height / n))
    nx = max(int(np.ceil(width / cell)), 1)
    ny = max(int(np.ceil(n / nx)), 1)
    k = np.arange(n)
    cx = xmin + (k % nx + 0.5 + rng.uniform(-0.15, 0.15, n)) * (width / nx)
    cy = ymax - (k // nx + 0.5 + rng.uniform(-0.15, 0.15, n)) * (height / ny)
    kind = np.full(n, "field", dtype=object)
    n_edge = min(n, 4 * (len(edges_x) + len(edges_y)))
    picks = rng.choice(n, size=n_edge, replace=False) if n_edge else np.zeros(0, int)
    for j, p in enumerate(picks):
        if j % 2 == 0 and len(edges_x):
            cx[p] = edges_x[(j // 2) % len(edges_x)] + rng.uniform(-0.2, 0.2) * cell
        elif len(edges_y):
            cy[p] = edges_y[(j // 2) % len(edges_y)] + rng.uniform(-0.2, 0.2) * cell
        kind[p] = "edge"
    rest = np.flatnonzero(kind == "field")
    special = rng.choice(rest, size=min(len(rest), int(round(special_fraction * n))), replace=False)
    for j, p in enumerate(special):
        kind[p] = ("holed", "multipart", "sliver", "overlap")[j % 4]
    area = np.minimum(rng.lognormal(np.log(median_area_m2), 0.8, n), (0.8 * cell) ** 2)
    aspect = rng.uniform(1.0, 3.0, n)
    w = np.sqrt(area * aspect)
    h = area / w
    scale = np.minimum(1.0, 0.85 * cell / np.maximum(w, h))
    w, h = w * scale, h * scale
    theta = rng.uniform(-np.pi / 6, np.pi / 6, n)
    shear = rng.uniform(-0.15, 0.15, n)
    corners = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5], [-0.5, -0.5]])
    local = corners[None, :, :] * np.stack([w, h], axis=1)[:, None, :]
    local[:, :, 0] += shear[:, None] * local[:, :, 1]
    local[:, :4] += rng.uniform(-0.05, 0.05, (n, 4, 2)) * np.stack([w, h], 1)[:, None, :]
    local[:, 4] = local[:, 0]
    cos, sin = np.cos(theta)[:, None], np.sin(theta)[:, None]
    xs = cx[:, None] + cos * local[:, :, 0] - sin * local[:, :, 1]
    ys = cy[:, None] + sin * local[:, :, 0] + cos * local[:, :, 1]
    geoms = shapely.polygons(np.stack([xs, ys], axis=2))
    pixelish = 10.0 * np.sqrt(median_area_m2 / 20_000.0)
    for p in special:
        g = geoms[p]
        c = g.centroid
        if kind[p] == "holed":
            geoms[p] = g.difference(shapely.buffer(c, 0.2 * min(w[p], h[p])))
        elif kind[p] == "multipart":
            lane = shapely.affinity.rotate(shapely.box(c.x - 0.03 * w[p], c.y - h[p], c.x + 0.03 * w[p], c.y + h[p]),
                                           np.degrees(theta[p]), origin=c)
            geoms[p] = g.difference(lane)
        elif kind[p] == "sliver":
            thin = rng.uniform(0.05, 0.6) * pixelish
            if rng.random() < 0.5:  # a scrap smaller than a pixel: a triangle a few metres across
                geoms[p] = shapely.Polygon([(c.x, c.y), (c.x + thin * 1.3, c.y + 0.2 * thin), (c.x + 0.4 * thin, c.y + thin)])
                continue
            geoms[p] = shapely.affinity.rotate(shapely.box(c.x - w[p] / 2, c.y - thin / 2, c.x + w[p] / 2, c.y + thin / 2),
                                               np.degrees(theta[p]), origin=c)
        else:  # overlap: a strip over this field and (often) the gap beside it
            geoms[p] = shapely.affinity.rotate(
                shapely.box(c.x, c.y - h[p] / 4, c.x + 0.5 * w[p] + 0.3 * cell, c.y + h[p] / 4), np.degrees(theta[p]),
                origin=c)
    geoms = shapely.make_valid(geoms)
    geoms = np.array([_polygonal(g) for g in geoms], dtype=object)
    crops = np.array(["maize", "winter wheat", "grassland", "apple orchard", "vineyard", "potato"])
    return gpd.GeoDataFrame({"id": [f"gen-{i:07d}" for i in range(n)], "kind": kind.astype(str),
                             "crop": crops[rng.integers(0, len(crops), n)], "generated": np.ones(n, bool)},
                            geometry=gpd.GeoSeries(geoms, crs=crs))


def _polygonal(g: shapely.Geometry) -> shapely.Geometry:
    if isinstance(g, (shapely.Polygon, shapely.MultiPolygon)):
        return g
    parts = [p for p in shapely.get_parts(g) if isinstance(p, (shapely.Polygon, shapely.MultiPolygon))]
    return shapely.union_all(parts) if parts else shapely.Polygon()
