"""Writing the PMTiles v3 archive: header, JSON metadata, directories and tile data.

Tiles are gzip-compressed, stored in tile-id order (clustered), identical tiles once and
consecutive repeats as one run. The gzip streams carry no timestamp, so the same build
writes the same bytes. The archive is written beside its target and moved into place, so a
reader never sees half a file.
"""

from __future__ import annotations

import gzip
import html
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pmtiles.tile import (
    Compression,
    Entry,
    TileType,
    serialize_header,
    tileid_to_zxy,
    zxy_to_tileid,
)
from pmtiles.writer import optimize_directories

from geo import __version__
from geo.errors import BuildError
from geo.release import TOTAL, PublishedBuild
from geo.render.tiles.features import field_types
from geo.render.tiles.tiling import iter_tiles
from geo.render.tiles.zoom import ZoomRange, zoom_range


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
