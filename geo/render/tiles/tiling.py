"""Tiling: every level simplified per zoom and cut into MVT tiles of the Web Mercator grid.

Each level is simplified per zoom as a *coverage* (shapely.coverage_simplify), so neighbours
keep sharing exactly the same vertices and no sliver opens between them at any zoom;
coordinates are then rounded to the tile grid, which maps shared vertices to shared integer
points. Every area appears at every zoom (no feature dropping, as tippecanoe would do by
default). Properties come from ``features.level_attributes``, encoded once per level.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import shapely

from geo.errors import BuildError
from geo.release import TOTAL, PublishedBuild
from geo.render.tiles.features import LevelAttributes, level_attributes
from geo.render.tiles.mvt import EXTENT, encode_layer, polygon_commands
from geo.render.tiles.zoom import ZoomRange

BUFFER = 64
"""Tile units drawn beyond each tile edge, so strokes do not end at tile seams."""
SIMPLIFY_UNITS = 1.5
"""Coverage simplification tolerance per zoom, in tile units (1/8 px on a 512 px tile)."""
_R = 6378137.0
_WORLD = 2 * math.pi * _R / 2  # half the Web Mercator world width, metres


@dataclass
class _Level:
    name: str
    geometry: np.ndarray  # Web Mercator, in the order of attrs.area_ids
    attrs: LevelAttributes


def _levels(published: PublishedBuild) -> list[_Level]:
    levels = []
    for level in [TOTAL, *published.geography.level_ids]:
        attrs = level_attributes(published, level)
        shapes = published.shapes[level].set_index("area_id").reindex(attrs.area_ids)
        if shapes.geometry.isna().any():
            missing = attrs.area_ids[shapes.geometry.isna().to_numpy()].tolist()
            raise BuildError(f"tiles: level '{level}' has areas without geometry: {missing[:5]}")
        geoms = shapes.geometry.to_crs(3857).to_numpy()
        geoms = shapely.make_valid(shapely.force_2d(geoms))
        levels.append(_Level(level, np.asarray(geoms), attrs))
    return levels


def _tile_size(z: int) -> float:
    return 2 * _WORLD / (1 << z)


def _tile_range(bounds: tuple[float, float, float, float], z: int) -> tuple[int, int, int, int]:
    size = _tile_size(z)
    n = 1 << z
    minx, miny, maxx, maxy = bounds
    x0 = max(int(math.floor((minx + _WORLD) / size)), 0)
    x1 = min(int(math.floor((maxx + _WORLD) / size)), n - 1)
    y0 = max(int(math.floor((_WORLD - maxy) / size)), 0)
    y1 = min(int(math.floor((_WORLD - miny) / size)), n - 1)
    return x0, y0, x1, y1


def _simplify(geoms: np.ndarray, z: int) -> np.ndarray:
    tolerance = _tile_size(z) / EXTENT * SIMPLIFY_UNITS
    simplified = shapely.coverage_simplify(geoms, tolerance)
    # a coverage simplification never collapses a polygon, but guard all the same
    empty = shapely.is_empty(simplified) | shapely.is_missing(simplified)
    simplified[empty] = geoms[empty]
    # exterior rings clockwise in y-up Mercator = positive area in y-down tile space
    return shapely.orient_polygons(simplified, exterior_cw=True)


def _encode_tile(
    z: int, x: int, y: int, layers: list[tuple[_Level, np.ndarray, shapely.STRtree]],
    detail: bool = False,
) -> bytes | None:
    size = _tile_size(z)
    minx = -_WORLD + x * size
    maxy = _WORLD - y * size
    pad = size * BUFFER / EXTENT
    box = (minx - pad, maxy - size - pad, minx + size + pad, maxy + pad)
    scale = EXTENT / size
    out = []
    for level, geoms, tree in layers:
        idx = tree.query(shapely.box(*box))
        if len(idx) == 0:
            continue
        idx.sort()
        clipped = shapely.clip_by_rect(geoms[idx], *box)
        features = []
        for i, geom in zip(idx, clipped, strict=True):
            if geom is None or geom.is_empty:
                continue
            local = shapely.transform(
                geom, lambda c: np.rint((c - (minx, maxy)) * (scale, -scale))
            )
            polys = [g for g in shapely.get_parts(local) if g.geom_type == "Polygon"]
            if not polys:
                continue
            merged = shapely.MultiPolygon(polys) if len(polys) > 1 else polys[0]
            commands = polygon_commands(merged)
            if len(commands):
                features.append((int(i), commands))
        if features:
            attrs = level.attrs.detail if detail else level.attrs.props
            out.append(encode_layer(level.name, attrs, features))
    return b"".join(out) if out else None


def iter_tiles(
    published: PublishedBuild, zooms: ZoomRange
) -> Iterator[tuple[int, int, int, bytes]]:
    """Yield ``(z, x, y, mvt bytes)`` of every non-empty tile, uncompressed, zoom by zoom."""
    levels = _levels(published)
    bounds = tuple(shapely.total_bounds(np.concatenate([lv.geometry for lv in levels])))
    for z in range(zooms.minzoom, zooms.maxzoom + 1):
        prepared = []
        for lv in levels:
            geoms = _simplify(lv.geometry, z)
            prepared.append((lv, geoms, shapely.STRtree(geoms)))
        x0, y0, x1, y1 = _tile_range(bounds, z)  # type: ignore[arg-type]
        for x in range(x0, x1 + 1):
            for y in range(y0, y1 + 1):
                data = _encode_tile(z, x, y, prepared, detail=z == zooms.maxzoom)
                if data is not None:
                    yield z, x, y, data
