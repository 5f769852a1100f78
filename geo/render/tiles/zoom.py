"""Zoom choice: which zoom levels an archive holds, from the size of the geography.

The whole area fits a tile or two at ``minzoom``; at ``maxzoom`` a median area of the finest
level spans one to two tiles, and street level is overzoomed from there by the client.
Sizes come from a local approximation of degrees, so no projection is needed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely

from geo.release import TOTAL, PublishedBuild

MIN_ZOOM_FLOOR = 0
MAX_ZOOM_CEILING = 14
"""Above this MapLibre and QGIS overzoom: 4096 units per tile keep 0.6 m at z14."""
MAX_ZOOM_FLOOR = 10
MAX_TILES_AT_MAXZOOM = 4096
"""Bounding-box tiles allowed at maxzoom: keeps a country-wide build (VG5000 Gemeinden) to
minutes and its archive small; overzooming such generalised boundaries loses nothing."""


@dataclass(frozen=True)
class ZoomRange:
    """Zoom levels an archive holds."""

    minzoom: int
    maxzoom: int


def _lat_factor(lat: float) -> float:
    return max(math.cos(math.radians(lat)), 0.05)


def _lonlat_tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 1 << z
    lat = max(min(lat, 85.05112878), -85.05112878)
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def _bbox_tiles(bounds: np.ndarray, z: int) -> int:
    """Number of tiles of zoom ``z`` that the lon/lat box touches."""
    x0, y0 = _lonlat_tile(bounds[0], bounds[3], z)
    x1, y1 = _lonlat_tile(bounds[2], bounds[1], z)
    return (x1 - x0 + 1) * (y1 - y0 + 1)


def zoom_range(published: PublishedBuild) -> ZoomRange:
    """Choose zooms from the geography's size: the whole area in a tile or two at ``minzoom``;
    at ``maxzoom`` a median area of the finest level spans one to two tiles, i.e. 2,000 to
    4,000 tile units (street level is overzoomed from there), within MAX_ZOOM_FLOOR..CEILING
    and at most MAX_TILES_AT_MAXZOOM tiles of bounding box.
    """
    return zoom_range_of(published.shapes, published.geography.level_ids[-1])


def zoom_range_of(shapes: Mapping[str, gpd.GeoDataFrame], finest_level: str) -> ZoomRange:
    """``zoom_range`` from the shapes of the total and the finest level (EPSG:4326)."""
    total = shapes[TOTAL]
    minx, miny, maxx, maxy = total.total_bounds
    lat = (miny + maxy) / 2
    world_km = 40075.0 * _lat_factor(lat)
    width_km = max((maxx - minx) / 360 * 40075.0 * _lat_factor(lat), (maxy - miny) / 360 * 40075.0)
    minzoom = int(math.floor(math.log2(world_km / max(width_km, 0.01)))) - 1
    finest = shapes[finest_level]
    # median area in km² from a local approximation of degrees (no projection needed)
    km2 = shapely.area(finest.geometry.to_numpy()) * (111.32**2) * _lat_factor(lat)
    side_km = math.sqrt(float(np.median(km2))) if len(km2) else width_km
    maxzoom = int(math.floor(math.log2(world_km / max(side_km, 0.01)))) + 1
    maxzoom = min(max(maxzoom, MAX_ZOOM_FLOOR), MAX_ZOOM_CEILING)
    while maxzoom > 0 and _bbox_tiles(total.total_bounds, maxzoom) > MAX_TILES_AT_MAXZOOM:
        maxzoom -= 1
    minzoom = min(max(minzoom, MIN_ZOOM_FLOOR), maxzoom)
    return ZoomRange(minzoom, maxzoom)
