"""Vector tiles of a published build: one PMTiles v3 archive, one MVT layer per level.

The archive is written by a small encoder of our own (measured against tippecanoe in
bench/tiles.py): each level is simplified per zoom as a *coverage* (shapely.coverage_simplify),
so neighbours keep sharing exactly the same vertices and no sliver opens between them at any
zoom; coordinates are then rounded to the tile grid, which maps shared vertices to shared
integer points. Every area appears at every zoom (no feature dropping, as tippecanoe would do
by default), and only published values ever enter a tile: properties come from
``publish.wide_values``, where withheld cells are already empty.
"""

from __future__ import annotations

import gzip
import json
import math
import mmap
import os
import struct
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from pmtiles.tile import (
    Compression,
    Entry,
    MagicNumberNotFound,
    SpecVersionUnsupported,
    TileType,
    deserialize_directory,
    deserialize_header,
    find_tile,
    serialize_header,
    tileid_to_zxy,
    zxy_to_tileid,
)
from pmtiles.writer import optimize_directories

from geo import __version__
from geo.errors import BuildError, NotFoundError
from geo.release import TOTAL, PublishedBuild, wide_values

EXTENT = 4096
"""Tile grid of every MVT layer."""
BUFFER = 64
"""Tile units drawn beyond each tile edge, so strokes do not end at tile seams."""
SIMPLIFY_UNITS = 1.5
"""Coverage simplification tolerance per zoom, in tile units (1/8 px on a 512 px tile)."""
MIN_ZOOM_FLOOR = 0
MAX_ZOOM_CEILING = 14
"""Above this MapLibre and QGIS overzoom: 4096 units per tile keep 0.6 m at z14."""
MAX_ZOOM_FLOOR = 10
MAX_TILES_AT_MAXZOOM = 4096
"""Bounding-box tiles allowed at maxzoom: keeps a country-wide build (VG5000 Gemeinden) to
minutes and its archive small; overzooming such generalised boundaries loses nothing."""
TILE_FIELDS = ("status",)
"""Per indicator every tile carries the rate ``<ind>`` and ``<ind>_status`` (latest year)."""
DETAIL_FIELDS = ("ci_low", "ci_high", "numerator", "denominator")
"""Carried as ``<ind>_<field>`` only at the archive's maxzoom (what QGIS and overzoomed street
views read); low zooms stay light. Reliability, comparisons and other years come from the API."""
_R = 6378137.0
_WORLD = 2 * math.pi * _R / 2  # half the Web Mercator world width, metres


@dataclass(frozen=True)
class ZoomRange:
    """Zoom levels an archive holds."""

    minzoom: int
    maxzoom: int


@dataclass(frozen=True)
class TilesSummary:
    """What write_pmtiles wrote."""

    path: Path
    zooms: ZoomRange
    tiles: int
    size: int
    bounds: tuple[float, float, float, float]


def _lat_factor(lat: float) -> float:
    return max(math.cos(math.radians(lat)), 0.05)


def zoom_range(published: PublishedBuild) -> ZoomRange:
    """Choose zooms from the geography's size: the whole area in a tile or two at ``minzoom``;
    at ``maxzoom`` a median area of the finest level spans one to two tiles, i.e. 2,000 to
    4,000 tile units (street level is overzoomed from there), within MAX_ZOOM_FLOOR..CEILING
    and at most MAX_TILES_AT_MAXZOOM tiles of bounding box.
    """
    total = published.shapes[TOTAL]
    minx, miny, maxx, maxy = total.total_bounds
    lat = (miny + maxy) / 2
    world_km = 40075.0 * _lat_factor(lat)
    width_km = max((maxx - minx) / 360 * 40075.0 * _lat_factor(lat), (maxy - miny) / 360 * 40075.0)
    minzoom = int(math.floor(math.log2(world_km / max(width_km, 0.01)))) - 1
    finest = published.shapes[published.geography.level_ids[-1]]
    # median area in km² from a local approximation of degrees (no projection needed)
    km2 = shapely.area(finest.geometry.to_numpy()) * (111.32**2) * _lat_factor(lat)
    side_km = math.sqrt(float(np.median(km2))) if len(km2) else width_km
    maxzoom = int(math.floor(math.log2(world_km / max(side_km, 0.01)))) + 1
    maxzoom = min(max(maxzoom, MAX_ZOOM_FLOOR), MAX_ZOOM_CEILING)
    while maxzoom > 0 and _bbox_tiles(total.total_bounds, maxzoom) > MAX_TILES_AT_MAXZOOM:
        maxzoom -= 1
    minzoom = min(max(minzoom, MIN_ZOOM_FLOOR), maxzoom)
    return ZoomRange(minzoom, maxzoom)


def _bbox_tiles(bounds: np.ndarray, z: int) -> int:
    """Number of tiles of zoom ``z`` that the lon/lat box touches."""
    x0, y0 = _lonlat_tile(bounds[0], bounds[3], z)
    x1, y1 = _lonlat_tile(bounds[2], bounds[1], z)
    return (x1 - x0 + 1) * (y1 - y0 + 1)


def _lonlat_tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 1 << z
    lat = max(min(lat, 85.05112878), -85.05112878)
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


# --- MVT encoding (protobuf by hand: the schema is six small messages) -----------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field."""
    return _varint((number << 3) | 2) + _varint(len(payload)) + payload


_SHIFTS = np.arange(0, 70, 7, dtype=np.uint64)
_LIMITS = np.uint64(1) << _SHIFTS[1:]


def _packed(values: list[int] | np.ndarray) -> bytes:
    """Varint-encode many non-negative integers at once."""
    v = np.asarray(values, dtype=np.uint64)
    if v.size == 0:
        return b""
    groups = (v[:, None] >> _SHIFTS[None, :]) & np.uint64(0x7F)
    nbytes = 1 + (v[:, None] >= _LIMITS[None, :]).sum(axis=1)
    col = np.arange(len(_SHIFTS))[None, :]
    groups |= np.where(col < nbytes[:, None] - 1, np.uint64(0x80), np.uint64(0))
    return groups.astype(np.uint8)[col < nbytes[:, None]].tobytes()


def _encode_value(value: Any) -> bytes:
    if isinstance(value, bool):
        return _varint((7 << 3) | 0) + _varint(int(value))
    if isinstance(value, int):
        if value >= 0:
            return _varint((5 << 3) | 0) + _varint(value)
        return _varint((6 << 3) | 0) + _varint((value << 1) ^ (value >> 63))
    if isinstance(value, float):
        return _varint((3 << 3) | 1) + struct.pack("<d", value)
    return _field(1, str(value).encode("utf-8"))


def _ring_commands(ring: np.ndarray, cursor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """MoveTo, LineTo… and ClosePath for one ring of integer tile coordinates (last point
    = first point), zigzag-delta encoded from the running cursor; returns the new cursor."""
    pts = ring[:-1]
    deltas = np.diff(np.vstack([cursor[None, :], pts]), axis=0)
    zz = ((deltas << 1) ^ (deltas >> 63)).ravel()
    n = len(pts)
    out = np.empty(len(zz) + 3, dtype=np.int64)
    out[0] = (1 << 3) | 1
    out[1:3] = zz[:2]
    out[3] = ((n - 1) << 3) | 2
    out[4:-1] = zz[2:]
    out[-1] = (1 << 3) | 7
    return out, pts[-1]


def _clean_ring(coords: np.ndarray, exterior: bool) -> np.ndarray | None:
    """Drop repeated points after rounding; drop rings that collapsed or flipped."""
    keep = np.ones(len(coords), dtype=bool)
    keep[1:] = np.any(coords[1:] != coords[:-1], axis=1)
    ring = coords[keep]
    if len(ring) < 4:
        return None
    x, y = ring[:, 0].astype(float), ring[:, 1].astype(float)
    area = float(np.dot(x[:-1], y[1:]) - np.dot(x[1:], y[:-1])) / 2
    # MVT, y pointing down: exterior rings have positive area, holes negative
    if (area > 0) != exterior or area == 0:
        return None
    return ring


def _polygon_geometry(geom: shapely.Geometry) -> np.ndarray:
    cursor = np.zeros(2, dtype=np.int64)
    parts: list[np.ndarray] = []
    polys = geom.geoms if geom.geom_type == "MultiPolygon" else [geom]
    for poly in polys:
        shell = _clean_ring(np.asarray(poly.exterior.coords, dtype=np.int64), True)
        if shell is None:
            continue
        cmd, cursor = _ring_commands(shell, cursor)
        parts.append(cmd)
        for hole in poly.interiors:
            ring = _clean_ring(np.asarray(hole.coords, dtype=np.int64), False)
            if ring is not None:
                cmd, cursor = _ring_commands(ring, cursor)
                parts.append(cmd)
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)


class _Attributes:
    """One level's attribute table, encoded once: the key and value messages of the whole
    level, and per feature its tags as indices into them. A tile keeps only the keys and
    values its features use (remapped), so every tile stays a self-contained MVT layer."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        keys: dict[str, int] = {}
        values: dict[tuple[type, Any], int] = {}
        self.tags: list[tuple[np.ndarray, np.ndarray]] = []
        for props in rows:
            k = [keys.setdefault(key, len(keys)) for key in props]
            v = [values.setdefault((type(val), val), len(values)) for val in props.values()]
            self.tags.append((np.asarray(k, dtype=np.int64), np.asarray(v, dtype=np.int64)))
        self.key_fields = [_field(3, key.encode("utf-8")) for key in keys]
        self.value_fields = [_field(4, _encode_value(val)) for (_, val) in values]


def _encode_layer(name: str, attrs: _Attributes, features: list[tuple[int, np.ndarray]]) -> bytes:
    """One MVT layer from ``(feature index, geometry commands)`` pairs."""
    ks = np.unique(np.concatenate([attrs.tags[i][0] for i, _ in features]))
    vs = np.unique(np.concatenate([attrs.tags[i][1] for i, _ in features]))
    parts = [_varint((15 << 3) | 0) + _varint(2), _field(1, name.encode("utf-8"))]
    for i, commands in features:
        gk, gv = attrs.tags[i]
        tags = np.empty(2 * len(gk), dtype=np.int64)
        tags[0::2] = np.searchsorted(ks, gk)
        tags[1::2] = np.searchsorted(vs, gv)
        body = (
            _varint((1 << 3) | 0) + _varint(i + 1)
            + _field(2, _packed(tags))
            + _varint((3 << 3) | 0) + _varint(3)
            + _field(4, _packed(commands))
        )
        parts.append(_field(2, body))
    parts += [attrs.key_fields[k] for k in ks]
    parts += [attrs.value_fields[v] for v in vs]
    parts.append(_varint((5 << 3) | 0) + _varint(EXTENT))
    return _field(3, b"".join(parts))


# --- features and tiling -----------------------------------------------------------------------


@dataclass
class _Level:
    name: str
    geometry: np.ndarray  # Web Mercator
    props: _Attributes  # every zoom
    detail: _Attributes  # props plus DETAIL_FIELDS, for maxzoom


def _json_scalar(value: Any) -> Any:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if np.isnan(value) else float(value)
    return value


def feature_properties(published: PublishedBuild, level: str) -> pd.DataFrame:
    """The attribute table the tiles of one level carry (withheld values are empty)."""
    wide = wide_values(published, level)
    cols = ["area_id", "name", "parent_id"]
    for ind in published.catalogue.indicators:
        cols.append(ind.id)
        cols += [f"{ind.id}_{fld}" for fld in (*TILE_FIELDS, *DETAIL_FIELDS)]
    frame = wide[cols].copy()
    for ind in published.catalogue.indicators:
        for fld in ("numerator", "denominator"):
            col = f"{ind.id}_{fld}"
            frame[col] = pd.array(frame[col], dtype="Int64")
    return frame


def _levels(published: PublishedBuild) -> list[_Level]:
    levels = []
    detail_cols = {f"{i.id}_{f}" for i in published.catalogue.indicators for f in DETAIL_FIELDS}
    for level in [TOTAL, *published.geography.level_ids]:
        table = feature_properties(published, level)
        shapes = published.shapes[level].set_index("area_id").reindex(table["area_id"])
        if shapes.geometry.isna().any():
            missing = table["area_id"][shapes.geometry.isna().to_numpy()].tolist()
            raise BuildError(f"tiles: level '{level}' has areas without geometry: {missing[:5]}")
        geoms = shapes.geometry.to_crs(3857).to_numpy()
        geoms = shapely.make_valid(shapely.force_2d(geoms))
        props, detail = [], []
        for row in table.itertuples(index=False):
            full = {k: v for k, v in zip(table.columns, map(_json_scalar, row), strict=True)
                    if v is not None and v != ""}
            detail.append(full)
            props.append({k: v for k, v in full.items() if k not in detail_cols})
        levels.append(_Level(level, np.asarray(geoms), _Attributes(props), _Attributes(detail)))
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
            commands = _polygon_geometry(merged)
            if len(commands):
                features.append((int(i), commands))
        if features:
            out.append(_encode_layer(level.name, level.detail if detail else level.props, features))
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


# --- PMTiles archive ----------------------------------------------------------------------------


def _field_types(published: PublishedBuild) -> dict[str, str]:
    fields = {"area_id": "String", "name": "String", "parent_id": "String"}
    for ind in published.catalogue.indicators:
        fields[ind.id] = "Number"
        for fld in (*TILE_FIELDS, *DETAIL_FIELDS):
            fields[f"{ind.id}_{fld}"] = "String" if fld == "status" else "Number"
    return fields


def tiles_metadata(published: PublishedBuild, zooms: ZoomRange) -> dict[str, Any]:
    """The archive's JSON metadata: TileJSON-like fields, ``vector_layers`` and what the
    properties mean."""
    geo = published.geography
    fields = _field_types(published)
    names = {TOTAL: geo.total_name, **{lv.id: lv.name for lv in geo.levels}}
    description = f"{geo.name}, Release {published.release_id}"
    if geo.notice:
        description += f" – {geo.notice}"
    return {
        "name": geo.name,
        "description": description,
        "attribution": geo.attribution + (
            f" – {geo.notice}" if geo.notice and geo.notice not in geo.attribution else ""),
        "version": "1",
        "type": "overlay",
        "format": "pbf",
        "generator": f"quartier {__version__}",
        "vector_layers": [
            {"id": level, "description": names[level], "minzoom": zooms.minzoom,
             "maxzoom": zooms.maxzoom, "fields": fields}
            for level in [TOTAL, *geo.level_ids]
        ],
        "quartier": {
            "geography": geo.id,
            "release_id": published.release_id,
            "notice": geo.notice,
            "levels": [TOTAL, *geo.level_ids],
            "years": {ind.id: published.latest_year(ind.id)
                      for ind in published.catalogue.indicators},
            "fields": {
                "<indicator>": "Rate (je 'per', Einheit 'unit') des letzten Jahres",
                "<indicator>_status": "published | suppressed (geheim) | missing",
                "<indicator>_ci_low/_ci_high": "95-%-Konfidenzintervall (nur maxzoom)",
                "<indicator>_numerator/_denominator": "Zähler und Nenner, falls veröffentlicht "
                                                      "(nur maxzoom)",
            },
        },
    }


def write_pmtiles(
    published: PublishedBuild,
    path: Path,
    *,
    minzoom: int | None = None,
    maxzoom: int | None = None,
) -> TilesSummary:
    """Write the build's vector tiles to ``path`` (PMTiles v3, gzip MVT, clustered)."""
    auto = zoom_range(published)
    zooms = ZoomRange(auto.minzoom if minzoom is None else minzoom,
                      auto.maxzoom if maxzoom is None else maxzoom)
    if not 0 <= zooms.minzoom <= zooms.maxzoom <= 22:
        raise BuildError(f"tiles: bad zoom range {zooms.minzoom}..{zooms.maxzoom}")
    tiles = {zxy_to_tileid(z, x, y): data for z, x, y, data in iter_tiles(published, zooms)}
    if not tiles:
        raise BuildError(f"tiles: '{published.geography.id}' produced no tiles")
    lon0, lat0, lon1, lat1 = (float(v) for v in published.shapes[TOTAL].total_bounds)
    centre_zoom = min(zooms.minzoom + 2, zooms.maxzoom)
    header: dict[str, Any] = {
        "tile_type": TileType.MVT,
        "tile_compression": Compression.GZIP,
        "min_lon_e7": int(lon0 * 1e7), "min_lat_e7": int(lat0 * 1e7),
        "max_lon_e7": int(math.ceil(lon1 * 1e7)), "max_lat_e7": int(math.ceil(lat1 * 1e7)),
        "center_zoom": centre_zoom,
        "center_lon_e7": int((lon0 + lon1) / 2 * 1e7),
        "center_lat_e7": int((lat0 + lat1) / 2 * 1e7),
    }
    metadata = tiles_metadata(published, zooms)
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    _write_archive(tmp, tiles, header, metadata)
    os.replace(tmp, path)
    return TilesSummary(path, zooms, len(tiles), path.stat().st_size, (lon0, lat0, lon1, lat1))


def _write_archive(path: Path, tiles: Mapping[int, bytes], header: dict[str, Any],
                   metadata: Mapping[str, Any]) -> None:
    """Tiles in tile-id order (clustered), identical contents stored once, runs merged."""
    entries: list[Entry] = []
    offsets: dict[bytes, int] = {}
    blobs: list[bytes] = []
    offset = 0
    for tile_id in sorted(tiles):
        data = gzip.compress(tiles[tile_id], compresslevel=9, mtime=0)
        known = offsets.get(data)
        if known is None:
            offsets[data] = known = offset
            blobs.append(data)
            offset += len(data)
            entries.append(Entry(tile_id, known, len(data), 1))
            continue
        last = entries[-1]
        if last.offset == known and last.tile_id + last.run_length == tile_id:
            last.run_length += 1
        else:
            entries.append(Entry(tile_id, known, len(data), 1))
    root, leaves, _ = optimize_directories(entries, 16384 - 127)
    meta = gzip.compress(json.dumps(metadata, ensure_ascii=False).encode("utf-8"), mtime=0)
    first, last_id = tileid_to_zxy(entries[0].tile_id), tileid_to_zxy(entries[-1].tile_id)
    header = {
        **header,
        "root_offset": 127, "root_length": len(root),
        "metadata_offset": 127 + len(root), "metadata_length": len(meta),
        "leaf_directory_offset": 127 + len(root) + len(meta), "leaf_directory_length": len(leaves),
        "tile_data_offset": 127 + len(root) + len(meta) + len(leaves), "tile_data_length": offset,
        "addressed_tiles_count": len(tiles), "tile_entries_count": len(entries),
        "tile_contents_count": len(blobs), "clustered": True,
        "internal_compression": Compression.GZIP,
        "min_zoom": first[0], "max_zoom": last_id[0],
    }
    with open(path, "wb") as fh:
        fh.write(serialize_header(header))  # type: ignore[arg-type]
        fh.write(root)
        fh.write(meta)
        fh.write(leaves)
        for blob in blobs:
            fh.write(blob)


# --- reading: a cached archive for the service ------------------------------------------------


class PMTilesArchive:
    """A PMTiles archive on disk with its directories parsed once (the pmtiles package
    re-parses them for every tile, ~5 ms; this keeps lookups in microseconds)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        with open(self.path, "rb") as fh:
            stat = os.fstat(fh.fileno())
            self.size = stat.st_size
            if self.size < 127:
                raise BuildError(f"{self.path}: not a PMTiles v3 archive (only {self.size} bytes)")
            self._map = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        self.key = (str(self.path), stat.st_ino, stat.st_mtime_ns, stat.st_size)
        try:
            self.header = deserialize_header(self._map[:127])
        except (MagicNumberNotFound, SpecVersionUnsupported, ValueError) as exc:
            raise BuildError(f"{self.path}: not a PMTiles v3 archive ({exc!r})") from exc
        h = self.header
        self.minzoom = int(h["min_zoom"])
        self.maxzoom = int(h["max_zoom"])
        self.compression = h["tile_compression"]
        self._root = deserialize_directory(self._slice(h["root_offset"], h["root_length"]))
        self._leaves: OrderedDict[int, list[Entry]] = OrderedDict()
        self._lock = threading.Lock()
        raw = self._slice(h["metadata_offset"], h["metadata_length"])
        if h["internal_compression"] == Compression.GZIP:
            raw = gzip.decompress(raw)
        self.metadata: dict[str, Any] = json.loads(raw)

    def _slice(self, offset: int, length: int) -> bytes:
        return self._map[offset: offset + length]

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """West, south, east, north in degrees."""
        h = self.header
        return (h["min_lon_e7"] / 1e7, h["min_lat_e7"] / 1e7, h["max_lon_e7"] / 1e7,
                h["max_lat_e7"] / 1e7)

    @property
    def center(self) -> tuple[float, float, int]:
        """Longitude, latitude and zoom of the header's centre."""
        h = self.header
        return h["center_lon_e7"] / 1e7, h["center_lat_e7"] / 1e7, int(h["center_zoom"])

    def _leaf(self, offset: int, length: int) -> list[Entry]:
        with self._lock:
            entries = self._leaves.get(offset)
            if entries is not None:
                self._leaves.move_to_end(offset)
                return entries
        h = self.header
        entries = deserialize_directory(self._slice(h["leaf_directory_offset"] + offset, length))
        with self._lock:
            self._leaves[offset] = entries
            while len(self._leaves) > 256:
                self._leaves.popitem(last=False)
        return entries

    def get(self, z: int, x: int, y: int) -> bytes | None:
        """Return the stored (still compressed) bytes of one tile, or None if it is empty."""
        n = 1 << z
        if not (0 <= x < n and 0 <= y < n):
            return None
        tile_id = zxy_to_tileid(z, x, y)
        directory = self._root
        for _ in range(4):
            entry = find_tile(directory, tile_id)
            if entry is None:
                return None
            if entry.run_length > 0:
                return self._slice(self.header["tile_data_offset"] + entry.offset, entry.length)
            directory = self._leaf(entry.offset, entry.length)
        return None

    def read(self, start: int, length: int) -> bytes:
        """Return raw archive bytes (for HTTP range requests)."""
        return self._slice(start, length)

    def tiles(self) -> Iterator[tuple[int, int, int, bytes]]:
        """Yield every addressed tile as ``(z, x, y, stored bytes)``."""

        def walk(entries: list[Entry]) -> Iterator[tuple[int, int, int, bytes]]:
            for entry in entries:
                if entry.run_length == 0:
                    yield from walk(self._leaf(entry.offset, entry.length))
                    continue
                data = self._slice(self.header["tile_data_offset"] + entry.offset, entry.length)
                for i in range(entry.run_length):
                    yield (*tileid_to_zxy(entry.tile_id + i), data)

        yield from walk(self._root)

    def close(self) -> None:
        """Release the memory map."""
        self._map.close()


_ARCHIVES: dict[str, PMTilesArchive] = {}
_ARCHIVES_LOCK = threading.Lock()


def open_archive(path: Path) -> PMTilesArchive:
    """Return a cached archive for ``path``; a rebuilt file (new inode, mtime or size) is
    reopened on the next call, so the service picks up a rebuild without restarting."""
    path = Path(path)
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise NotFoundError(f"no tiles at {path}") from None
    key = (str(path), stat.st_ino, stat.st_mtime_ns, stat.st_size)
    cached = _ARCHIVES.get(str(path))
    if cached is not None and cached.key == key:
        return cached
    with _ARCHIVES_LOCK:
        cached = _ARCHIVES.get(str(path))
        if cached is not None and cached.key == key:
            return cached
        archive = PMTilesArchive(path)
        # the old map stays valid for requests still holding it; the GC closes it
        _ARCHIVES[str(path)] = archive
        return archive


def decode_tile(data: bytes) -> dict[str, Any]:
    """Decode stored tile bytes (gzip or not) into ``{layer: [properties, ...]}`` plus
    geometry, via mapbox-vector-tile (for tests, benchmarks and checks)."""
    import mapbox_vector_tile

    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return mapbox_vector_tile.decode(data, default_options={"y_coord_down": True})


__all__ = [
    "EXTENT", "PMTilesArchive", "TilesSummary", "ZoomRange", "decode_tile", "feature_properties",
    "iter_tiles", "open_archive", "tiles_metadata", "write_pmtiles", "zoom_range",
]
