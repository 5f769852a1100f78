"""Tiling: every level simplified per zoom and cut into MVT tiles of the Web Mercator grid.

Each level is simplified per zoom as a *coverage* (``simplify``), so neighbours keep sharing
exactly the same vertices and no sliver opens between them at any zoom; coordinates are
then rounded to the tile grid, which maps shared vertices to shared integer points. Every
area appears at every zoom (no feature dropping, as tippecanoe would do by default).
Properties come from ``features.level_attributes``, encoded once per level and process,
when a zoom first needs them.

A zoom is encoded in one pass per level: one spatial-index query for all its tiles, one
clip of every (tile, area) pair, then the geometry commands (``geometry``) and the layers
(``mvt``) of every feature at once, so the Python work per tile is a few joins of bytes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pmtiles.tile import tileid_to_zxy, zxy_to_tileid

from geo.errors import BuildError
from geo.inputs.geography import Geography
from geo.release import TOTAL, PublishedBuild
from geo.render.tiles.features import level_attributes
from geo.render.tiles.geometry import polygon_commands
from geo.render.tiles.mvt import EXTENT, LayerAttributes, encode_layers
from geo.render.tiles.simplify import (
    Packed,
    orient,
    simplify_zoom,
    smallest_corners,
    tile_size,
)
from geo.render.tiles.zoom import ZoomRange, zoom_range_of

BUFFER = 64
"""Tile units drawn beyond each tile edge, so strokes do not end at tile seams."""
_WORLD = 2 * math.pi * 6378137.0 / 2  # half the Web Mercator world width, metres


@dataclass(eq=False)
class Level:
    """One level's areas ready for tiling: Web Mercator geometry in attribute order, its
    simplification per zoom where computed ahead (``LevelGeometry``), and its attributes,
    encoded by ``encode`` when first used (in a build: once in each worker process that
    encodes tiles, beside the other writers, instead of before them)."""

    name: str
    geometry: np.ndarray
    encode: Callable[[], LayerAttributes]
    simplified: Mapping[int, Packed] = field(default_factory=dict)
    _attrs: LayerAttributes | None = field(default=None, init=False, repr=False)

    @property
    def attrs(self) -> LayerAttributes:
        """The level's attributes (encoded on first use)."""
        if self._attrs is None:
            self._attrs = self.encode()
        return self._attrs


@dataclass(frozen=True)
class LevelGeometry:
    """A level's projected areas and their simplification per zoom, computed from the
    geography alone (so before the counts are protected, beside that work); packed, so it
    crosses between processes as a few buffers (a zoom that equals another shares its
    buffer)."""

    area_ids: np.ndarray
    geometry: Packed
    simplified: dict[int, Packed]


def _project(shapes: gpd.GeoDataFrame, area_ids: pd.Index, level: str) -> np.ndarray:
    """The areas' geometry in Web Mercator, in the order of ``area_ids``."""
    shapes = shapes.set_index("area_id").reindex(area_ids)
    if shapes.geometry.isna().any():
        missing = area_ids[shapes.geometry.isna().to_numpy()].tolist()
        raise BuildError(f"tiles: level '{level}' has areas without geometry: {missing[:5]}")
    geoms = shapes.geometry.to_crs(3857).to_numpy()
    return np.asarray(shapely.make_valid(shapely.force_2d(geoms)))


def level_geometry(areas: pd.DataFrame, shapes: Mapping[str, gpd.GeoDataFrame],
                   levels: Sequence[str], zooms: ZoomRange) -> dict[str, LevelGeometry]:
    """Every level projected (areas in the order of ``areas``, as the attributes are) and
    simplified at each zoom of ``zooms``."""
    out = {}
    for level in levels:
        ids = pd.Index(areas.loc[areas["level"] == level, "area_id"])
        geoms = _project(shapes[level], ids, level)
        oriented, corners = orient(geoms), smallest_corners(geoms)
        unchanged: Packed | None = None  # the zooms that keep every vertex share one buffer
        simplified = {}
        for z in range(zooms.minzoom, zooms.maxzoom + 1):
            result = simplify_zoom(geoms, z, oriented=oriented, corners=corners)
            if result is oriented:
                unchanged = unchanged or Packed.pack(oriented)
                simplified[z] = unchanged
            else:
                simplified[z] = Packed.pack(result)
        out[level] = LevelGeometry(ids.to_numpy(), Packed.pack(geoms), simplified)
    return out


def geography_geometry(geography: Geography) -> dict[str, LevelGeometry]:
    """``level_geometry`` of every level of a geography at the zooms ``zoom_range`` chooses
    (what a build's archive holds), areas in the geography's order."""
    zooms = zoom_range_of(geography.shapes, geography.level_ids[-1])
    return level_geometry(geography.areas, geography.shapes, [TOTAL, *geography.level_ids], zooms)


def prepare_levels(published: PublishedBuild,
                   ahead: Mapping[str, LevelGeometry] | None = None) -> list[Level]:
    """The total and every level, projected, their attributes encoded when first used; the
    geometry ``ahead`` is used where its areas are the attributes' areas, in their order
    (the release's areas of that level, as ``geo.release.wide_values`` lists them)."""
    levels = []
    areas = published.areas
    for level in [TOTAL, *published.geography.level_ids]:
        area_ids = pd.Index(areas.loc[areas["level"] == level, "area_id"])
        encode = partial(_attributes, published, level, area_ids)
        known = (ahead or {}).get(level)
        if known is not None and np.array_equal(known.area_ids, area_ids.to_numpy()):
            levels.append(Level(level, known.geometry.unpack(), encode, known.simplified))
        else:
            geoms = _project(published.shapes[level], area_ids, level)
            levels.append(Level(level, geoms, encode))
    return levels


def _attributes(published: PublishedBuild, level: str, area_ids: pd.Index) -> LayerAttributes:
    """The level's encoded attributes, which must list its areas in ``area_ids``' order."""
    ids, attrs = level_attributes(published, level)
    if not ids.equals(area_ids):
        raise BuildError(f"tiles: level '{level}' lists its attributes in another area order")
    return attrs


def levels_bounds(levels: list[Level]) -> tuple[float, float, float, float]:
    """Web Mercator bounds of every level's areas."""
    bounds = shapely.total_bounds(np.concatenate([lv.geometry for lv in levels]))
    return (float(bounds[0]), float(bounds[1]), float(bounds[2]), float(bounds[3]))


def tile_range(bounds: tuple[float, float, float, float], z: int) -> tuple[int, int, int, int]:
    """First and last column and row of the zoom-``z`` tiles the bounds touch."""
    size = tile_size(z)
    n = 1 << z
    minx, miny, maxx, maxy = bounds
    x0 = max(int(math.floor((minx + _WORLD) / size)), 0)
    x1 = min(int(math.floor((maxx + _WORLD) / size)), n - 1)
    y0 = max(int(math.floor((_WORLD - maxy) / size)), 0)
    y1 = min(int(math.floor((_WORLD - miny) / size)), n - 1)
    return x0, y0, x1, y1


def _level_layers(level: Level, geoms: np.ndarray, box: np.ndarray, left: np.ndarray,
                  top: np.ndarray, scale: float, detail: bool) -> dict[int, bytes]:
    """This level's layer in each tile that any area touches, by index into the tiles'
    clipping boxes ``box`` (rows of xmin, ymin, xmax, ymax)."""
    boxes = shapely.box(box[:, 0], box[:, 1], box[:, 2], box[:, 3])
    tile, area = shapely.STRtree(geoms).query(boxes)
    order = np.lexsort((area, tile))
    tile, area = tile[order], area[order]
    # every (tile, area) pair in one call: the ufunc behind shapely.clip_by_rect takes a
    # rectangle per geometry, where the wrapper insists on one rectangle for all
    clipped = shapely.lib.clip_by_rect(geoms[area], box[tile, 0], box[tile, 1], box[tile, 2],
                                       box[tile, 3])
    cmds = polygon_commands(clipped, left[tile], top[tile], scale)
    drawn = cmds.counts > 0
    tags = level.attrs.detail if detail else level.attrs.tags
    return encode_layers(level.name, level.attrs, tags, tile[drawn], area[drawn],
                         cmds.commands, cmds.counts[drawn], len(boxes))


def encode_zoom(levels: list[Level], z: int, *, detail: bool,
                bounds: tuple[float, float, float, float],
                columns: tuple[int, int] | None = None) -> dict[int, bytes]:
    """Every non-empty tile of zoom ``z`` (uncompressed MVT) by PMTiles tile id.

    ``columns`` limits the work to tile columns ``x0 <= x < x1`` (a part of a zoom).
    """
    x0, y0, x1, y1 = tile_range(bounds, z)
    if columns is not None:
        x0, x1 = max(x0, columns[0]), min(x1, columns[1] - 1)
    grid_x, grid_y = np.meshgrid(np.arange(x0, x1 + 1), np.arange(y0, y1 + 1), indexing="ij")
    xs, ys = grid_x.ravel(), grid_y.ravel()
    size = tile_size(z)
    left = -_WORLD + xs * size
    top = _WORLD - ys * size
    pad = size * BUFFER / EXTENT
    box = np.column_stack([left - pad, top - size - pad, left + size + pad, top + pad])
    scale = EXTENT / size
    parts: dict[int, list[bytes]] = {}
    for level in levels:
        packed = level.simplified.get(z)
        geoms = simplify_zoom(level.geometry, z) if packed is None else packed.unpack()
        for t, layer in _level_layers(level, geoms, box, left, top, scale, detail).items():
            parts.setdefault(t, []).append(layer)
    return {zxy_to_tileid(z, int(xs[t]), int(ys[t])): b"".join(layers)
            for t, layers in parts.items()}


def iter_tiles(
    published: PublishedBuild, zooms: ZoomRange
) -> Iterator[tuple[int, int, int, bytes]]:
    """Yield ``(z, x, y, mvt bytes)`` of every non-empty tile, uncompressed, zoom by zoom."""
    levels = prepare_levels(published)
    bounds = levels_bounds(levels)
    for z in range(zooms.minzoom, zooms.maxzoom + 1):
        tiles = encode_zoom(levels, z, detail=z == zooms.maxzoom, bounds=bounds)
        for tile_id in sorted(tiles):
            yield (*tileid_to_zxy(tile_id), tiles[tile_id])
