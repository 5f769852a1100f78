"""Coverage simplification per zoom, and a level's geometry packed for the way between processes.

``shapely.coverage_simplify`` (GEOS) costs about the same whatever the tolerance: it nodes
the whole coverage every time. At the finer zooms only a few areas have a corner small
enough to go, so ``simplify_zoom`` simplifies just those areas, with the outline of that
subset held fixed (``simplify_boundary=False``): their edges with the untouched areas stay
exactly as they are, so the result is still a gap-free coverage. A Visvalingam–Whyatt
corner goes when its triangle is at most the tolerance squared; the areas whose smallest
corner stays above ``CORNER_MARGIN`` times that keep every vertex either way. When more than
``SUBSET_SHARE`` of the areas would be touched, the whole coverage is simplified at once
(and its outer boundary with it).

``Packed`` is a geometry array as WKB in one buffer: the ahead process sends its results
back this way (one bytes object per array instead of one pickled object per area), and a
zoom job decodes only the zoom it encodes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely

from geo.render.tiles.mvt import EXTENT

SIMPLIFY_UNITS = 2.0
"""Coverage simplification tolerance per zoom, in tile units (1/4 px on a 512 px tile; 1.5
made the national archive 0.2 % larger, which paid for gzip level 6 instead of 5)."""
CORNER_MARGIN = 1.5
"""Areas whose smallest corner is below this many times the tolerance squared are simplified
(GEOS removes a corner at 1×; the margin covers its smoothing and ring rules)."""
SUBSET_SHARE = 0.5
"""Above this share of areas touched, the whole coverage is simplified in one call."""
_WORLD = 2 * math.pi * 6378137.0 / 2  # half the Web Mercator world width, metres


def tile_size(z: int) -> float:
    """Width of a zoom-``z`` tile in Web Mercator metres."""
    return 2 * _WORLD / (1 << z)


def tolerance(z: int) -> float:
    """The simplification tolerance of zoom ``z`` in metres."""
    return tile_size(z) / EXTENT * SIMPLIFY_UNITS


def smallest_corners(geoms: np.ndarray) -> np.ndarray:
    """Per geometry the smallest triangle a vertex makes with its two ring neighbours."""
    parts, owner = shapely.get_parts(geoms, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    closing = np.ones(len(ring), dtype=bool)
    closing[:-1] = ring[1:] != ring[:-1]
    xy, ring = xy[~closing], ring[~closing]
    at = np.arange(len(ring))
    first = np.searchsorted(ring, ring, side="left")
    last = np.searchsorted(ring, ring, side="right") - 1
    prev = np.where(at == first, last, at - 1)
    nxt = np.where(at == last, first, at + 1)
    ax, ay = xy[prev, 0] - xy[:, 0], xy[prev, 1] - xy[:, 1]
    bx, by = xy[nxt, 0] - xy[:, 0], xy[nxt, 1] - xy[:, 1]
    area = 0.5 * np.abs(ax * by - bx * ay)
    out = np.full(len(geoms), np.inf)
    np.minimum.at(out, owner[ring_part[ring]], area)
    return out


def orient(geoms: np.ndarray) -> np.ndarray:
    """Exterior rings clockwise in y-up Mercator = positive area in y-down tile space."""
    return np.asarray(shapely.orient_polygons(geoms, exterior_cw=True))


def simplify_zoom(geoms: np.ndarray, z: int, *, oriented: np.ndarray | None = None,
                  corners: np.ndarray | None = None) -> np.ndarray:
    """The coverage ``geoms`` simplified for zoom ``z``, oriented for MVT; ``oriented`` and
    ``corners`` (``orient`` and ``smallest_corners`` of ``geoms``) may be passed in when
    several zooms are simplified."""
    tol = tolerance(z)
    corners = smallest_corners(geoms) if corners is None else corners
    touched = corners <= CORNER_MARGIN * tol * tol
    if not touched.any():
        return orient(geoms) if oriented is None else oriented
    if touched.sum() > SUBSET_SHARE * len(geoms):
        source, out = geoms, np.asarray(shapely.coverage_simplify(geoms, tol))
    else:
        source = geoms[touched]
        part = np.asarray(shapely.coverage_simplify(source, tol, simplify_boundary=False))
        if shapely.get_num_coordinates(part).sum() == shapely.get_num_coordinates(source).sum():
            return orient(geoms) if oriented is None else oriented  # no vertex went
        out = (orient(geoms) if oriented is None else oriented).copy()
        out[touched] = orient(_filled(part, source))
        return out
    return orient(_filled(out, source))


def _filled(simplified: np.ndarray, source: np.ndarray) -> np.ndarray:
    """A coverage simplification never collapses a polygon, but guard all the same."""
    empty = shapely.is_empty(simplified) | shapely.is_missing(simplified)
    simplified[empty] = source[empty]
    return simplified


@dataclass(frozen=True)
class Packed:
    """A geometry array as WKB: geometry ``i`` is ``data[offsets[i]:offsets[i+1]]``."""

    data: bytes
    offsets: np.ndarray

    @classmethod
    def pack(cls, geoms: np.ndarray) -> Packed:
        """Pack a geometry array (exact coordinates)."""
        wkb = shapely.to_wkb(geoms).tolist()
        sizes = np.fromiter((len(b) for b in wkb), dtype=np.int64, count=len(wkb))
        return cls(b"".join(wkb), np.concatenate([[0], np.cumsum(sizes)]))

    def unpack(self) -> np.ndarray:
        """The geometry array again."""
        data, bounds = self.data, self.offsets.tolist()
        wkb = np.empty(len(bounds) - 1, dtype=object)
        wkb[:] = [data[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        return np.asarray(shapely.from_wkb(wkb))
