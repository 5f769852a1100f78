"""MVT geometry commands of clipped polygons, for every feature of a batch at once.

Coordinates are moved onto each feature's tile grid and rounded; repeated points after
rounding are dropped, and so are rings that collapsed (fewer than four points) or flipped
(an exterior ring must keep positive area in y-down tile space, a hole negative; a polygon
whose exterior goes loses its holes too). Each ring becomes MoveTo, LineTo… and ClosePath,
zigzag-delta encoded from a cursor that runs through one feature's rings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from geo.render.tiles.mvt import zigzag

_MOVE_TO, _CLOSE_PATH = (1 << 3) | 1, (1 << 3) | 7


@dataclass(frozen=True)
class Commands:
    """Geometry commands of many features: feature ``i`` has ``counts[i]`` integers, one
    feature after another in ``commands`` (an empty feature has none)."""

    commands: np.ndarray
    counts: np.ndarray


def _polygons(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The polygons in each geometry (clipping may leave lines and points) and their owners."""
    parts, owner = shapely.get_parts(geoms, return_index=True)
    multi = shapely.get_type_id(parts) == 6
    if multi.any():
        parts, inner = shapely.get_parts(parts, return_index=True)
        owner = owner[inner]
    keep = shapely.get_type_id(parts) == 3
    return parts[keep], owner[keep]


def polygon_commands(
    geoms: np.ndarray, left: np.ndarray, top: np.ndarray, scale: float
) -> Commands:
    """Commands of each (multi)polygon in Web Mercator on its tile's grid.

    ``left`` and ``top`` are the metres of each feature's tile origin; ``scale`` the tile
    units per metre.
    """
    n = len(geoms)
    polys, poly_owner = _polygons(geoms)
    rings, ring_poly = shapely.get_rings(polys, return_index=True)
    coords, coord_ring = shapely.get_coordinates(rings, return_index=True)
    feature = poly_owner[ring_poly][coord_ring]
    x = np.rint((coords[:, 0] - left[feature]) * scale).astype(np.int64)
    y = np.rint((coords[:, 1] - top[feature]) * -scale).astype(np.int64)
    keep = np.ones(len(x), dtype=bool)
    keep[1:] = (x[1:] != x[:-1]) | (y[1:] != y[:-1]) | (coord_ring[1:] != coord_ring[:-1])
    x, y, point_ring = x[keep], y[keep], coord_ring[keep]
    n_rings = len(rings)
    count = np.bincount(point_ring, minlength=n_rings)
    same = point_ring[1:] == point_ring[:-1]
    cross = x[:-1] * y[1:] - x[1:] * y[:-1]
    # twice the signed area (exact: coordinates are small integers)
    area = np.bincount(point_ring[:-1][same], weights=cross[same], minlength=n_rings)
    exterior = np.ones(n_rings, dtype=bool)
    exterior[1:] = ring_poly[1:] != ring_poly[:-1]
    ok = (count >= 4) & np.where(exterior, area > 0, area < 0)
    poly_ok = np.zeros(len(polys), dtype=bool)
    poly_ok[ring_poly[exterior]] = ok[exterior]
    ok &= poly_ok[ring_poly]
    # the points written: those of kept rings, without each ring's closing point
    last = np.ones(len(x), dtype=bool)
    last[:-1] = ~same
    chosen = ok[point_ring] & ~last
    x, y, point_ring = x[chosen], y[chosen], point_ring[chosen]
    point_feature = poly_owner[ring_poly[point_ring]]
    first = np.ones(len(x), dtype=bool)
    first[1:] = point_feature[1:] != point_feature[:-1]
    dx = np.diff(x, prepend=0)
    dy = np.diff(y, prepend=0)
    dx[first], dy[first] = x[first], y[first]
    kept = np.nonzero(ok)[0]
    points = count[kept] - 1
    size = 2 * points + 3
    start = np.cumsum(size) - size
    out = np.empty(int(size.sum()), dtype=np.int64)
    out[start] = _MOVE_TO
    out[start + 3] = ((points - 1) << 3) | 2
    out[start + size - 1] = _CLOSE_PATH
    rank = np.arange(len(x)) - np.repeat(np.cumsum(points) - points, points)
    at = np.repeat(start, points) + 1 + 2 * rank + (rank >= 1)
    out[at] = zigzag(dx)
    out[at + 1] = zigzag(dy)
    counts = np.bincount(poly_owner[ring_poly[kept]], weights=size, minlength=n)
    return Commands(out, counts.astype(np.int64))

