"""Writing the PMTiles v3 archive: header, JSON metadata, directories and tile data.

``plan_pmtiles`` splits the work into jobs (a zoom each; the largest zooms in column
strips), each encoding and compressing its tiles; ``pool.run_jobs`` runs them on every core
(a build runs its CSV and GeoPackage writers beside them) and ``TilesPlan.write`` puts the
results together. Tiles are gzip-compressed, stored in tile-id order (clustered), identical
tiles once and consecutive repeats as one run. The gzip streams carry no timestamp and the
tiles are sorted before writing, so the same build writes the same bytes with any number of
workers. The archive is written beside its target and moved into place, so a reader never
sees half a file.
"""

from __future__ import annotations

import gzip
import html
import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from pmtiles.tile import (
    Compression,
    Entry,
    TileType,
    serialize_header,
    tileid_to_zxy,
)
from pmtiles.writer import optimize_directories

from geo import __version__
from geo.errors import BuildError
from geo.release import TOTAL, PublishedBuild
from geo.render.tiles.features import field_types
from geo.render.tiles.pool import WORKERS, run_jobs
from geo.render.tiles.tiling import (
    Level,
    LevelGeometry,
    encode_zoom,
    levels_bounds,
    prepare_levels,
    tile_range,
)
from geo.render.tiles.zoom import ZoomRange, zoom_range

GZIP_LEVEL = 5
"""National build (VG5000): level 5 compresses in two thirds of level 6's time for 0.08 %
more bytes, level 4 in half of it for 1 % more, level 9 takes twice as long for 0.1 % less."""
TILES_PER_JOB = 4096
"""Zooms with more tiles than this (by bounding box) are split into strips of columns, which
bounds a job's memory; each strip simplifies the zoom's levels again, so strips are rare
(the automatic zoom range keeps maxzoom within MAX_TILES_AT_MAXZOOM = 4096)."""
TILES_PER_STRIP = 1024
"""A zoom whose levels were simplified ahead (``LevelGeometry``) is split into strips of
about this many tiles: a strip then costs only its share, and the largest zoom no longer
runs alone on one core at the end."""


@dataclass(frozen=True)
class TilesSummary:
    """What write_pmtiles wrote."""

    path: Path
    zooms: ZoomRange
    tiles: int
    size: int
    bounds: tuple[float, float, float, float]


def attribution_html(published: PublishedBuild) -> str:
    """TileJSON's ``attribution`` (HTML, as MapLibre and pmtiles clients show it): the
    source and notice as escaped text."""
    geo = published.geography
    text = geo.attribution
    if geo.notice and geo.notice not in geo.attribution:
        text += f" – {geo.notice}"
    return html.escape(text)


def tiles_metadata(published: PublishedBuild, zooms: ZoomRange) -> dict[str, Any]:
    """The archive's JSON metadata: TileJSON-like fields, ``vector_layers`` and what the
    properties mean."""
    geo = published.geography
    fields = field_types(published)
    names = {TOTAL: geo.total_name, **{lv.id: lv.name for lv in geo.levels}}
    description = f"{geo.name}, Release {published.release_id}"
    if geo.notice:
        description += f" – {geo.notice}"
    return {
        "name": geo.name,
        "description": description,
        "attribution": attribution_html(published),
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
                "<indicator>_status": "published | suppressed (gesperrt) | missing",
                "<indicator>_ci_low/_ci_high": "95-%-Konfidenzintervall (nur maxzoom)",
                "<indicator>_numerator/_denominator": "Zähler und Nenner, falls veröffentlicht "
                                                      "(nur maxzoom)",
            },
        },
    }


def _write_archive(path: Path, tiles: Mapping[int, bytes], header: dict[str, Any],
                   metadata: Mapping[str, Any]) -> None:
    """Compressed tiles in tile-id order (clustered), identical contents stored once, runs
    merged."""
    entries: list[Entry] = []
    offsets: dict[bytes, int] = {}
    blobs: list[bytes] = []
    offset = 0
    for tile_id in sorted(tiles):
        data = tiles[tile_id]
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


def _zoom_job(levels: list[Level], z: int, detail: bool, bounds: tuple[float, float, float, float],
              columns: tuple[int, int]) -> dict[int, bytes]:
    """The gzip-compressed tiles of one zoom (or strip of columns) by tile id."""
    tiles = encode_zoom(levels, z, detail=detail, bounds=bounds, columns=columns)
    return {tile_id: gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)
            for tile_id, data in tiles.items()}


@dataclass
class TilesPlan:
    """The archive of one build as independent jobs, and how to write their results."""

    published: PublishedBuild
    path: Path
    zooms: ZoomRange
    jobs: list[Callable[[], dict[int, bytes]]] = field(default_factory=list)

    def write(self, results: Sequence[object]) -> TilesSummary:
        """Write the archive from the jobs' results (in the order of ``jobs``)."""
        tiles: dict[int, bytes] = {}
        for part in results:
            if not isinstance(part, dict):
                raise TypeError(f"tiles: a job's result is {type(part).__name__}, not tiles")
            tiles.update(part)
        return _finish(self.published, self.path, self.zooms, tiles)


def plan_pmtiles(
    published: PublishedBuild,
    path: Path,
    *,
    minzoom: int | None = None,
    maxzoom: int | None = None,
    ahead: Mapping[str, LevelGeometry] | None = None,
) -> TilesPlan:
    """Prepare the levels once (projected; their attributes are encoded in the jobs) and
    split the archive into jobs, the longest first: a job per zoom, a zoom of more than
    ``TILES_PER_JOB`` tiles in strips of columns. ``ahead``: the levels' geometry computed
    before (``level_geometry``); the bytes are the same with or without it."""
    auto = zoom_range(published)
    zooms = ZoomRange(auto.minzoom if minzoom is None else minzoom,
                      auto.maxzoom if maxzoom is None else maxzoom)
    if not 0 <= zooms.minzoom <= zooms.maxzoom <= 22:
        raise BuildError(f"tiles: bad zoom range {zooms.minzoom}..{zooms.maxzoom}")
    levels = prepare_levels(published, ahead)
    bounds = levels_bounds(levels)
    sized = []
    for z in range(zooms.maxzoom, zooms.minzoom - 1, -1):
        x0, y0, x1, y1 = tile_range(bounds, z)
        count = (x1 - x0 + 1) * (y1 - y0 + 1)
        ahead_z = all(z in level.simplified for level in levels)
        strips = max(1, math.ceil(count / (TILES_PER_STRIP if ahead_z else TILES_PER_JOB)))
        edges = [x0 + (x1 + 1 - x0) * i // strips for i in range(strips + 1)]
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            if hi > lo:
                sized.append((count / strips, z, (lo, hi)))
    plan = TilesPlan(published, Path(path), zooms)
    for _, z, columns in sorted(sized, key=lambda job: (-job[0], -job[1], job[2])):
        plan.jobs.append(partial(_zoom_job, levels, z, z == zooms.maxzoom, bounds, columns))
    return plan


def write_pmtiles(
    published: PublishedBuild,
    path: Path,
    *,
    minzoom: int | None = None,
    maxzoom: int | None = None,
    workers: int = WORKERS,
) -> TilesSummary:
    """Write the build's vector tiles to ``path`` (PMTiles v3, gzip MVT, clustered) on up
    to ``workers`` processes; the bytes do not depend on ``workers``."""
    plan = plan_pmtiles(published, path, minzoom=minzoom, maxzoom=maxzoom)
    return plan.write(run_jobs(plan.jobs, workers=workers))


def _finish(published: PublishedBuild, path: Path, zooms: ZoomRange, tiles: dict[int, bytes]
            ) -> TilesSummary:
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
