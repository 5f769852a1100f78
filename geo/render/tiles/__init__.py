"""Vector tiles of a published build: one PMTiles v3 archive, one MVT layer per level.

The archive is written by a small encoder of our own (measured against tippecanoe in
bench/tiles.py): each level is simplified per zoom as a coverage, so neighbours share
vertices and no sliver opens between them at any zoom; every area appears at every zoom;
only published values ever enter a tile.

Modules, in the order data flows through them:

- ``zoom``: ``ZoomRange`` and ``zoom_range``, the zooms an archive holds.
- ``mvt``: the protobuf MVT encoder, vectorised: varints packed in one numpy pass,
  ``LayerAttributes`` (a level's keys and values encoded once) and ``encode_layers``.
- ``geometry``: ``polygon_commands``, MVT geometry of every clipped feature at once.
- ``features``: ``feature_properties``, what each area carries, from
  ``geo.release.wide_values``.
- ``simplify``: ``simplify_zoom``, a level's coverage simplified for one zoom (only the
  areas with a corner below the tolerance), and ``Packed``, geometry as one WKB buffer.
- ``tiling``: per-zoom coverage simplification and ``encode_zoom`` (``iter_tiles`` for
  one process); ``level_geometry``, the projection and simplification from the geography
  alone, which a build computes ahead beside its disclosure control (sent back packed).
- ``pool``: ``run_jobs``, independent jobs on forked worker processes (``WORKERS``, one per
  core), results in job order; ``Ahead``, one job started early, its result taken later.
- ``writer``: ``plan_pmtiles`` (the archive as jobs, a zoom each), ``write_pmtiles`` and
  ``tiles_metadata``, the archive on disk; the bytes do not depend on the number of workers.
- ``archive``: ``PMTilesArchive``, the reader, and ``open_archive``, a small bounded cache
  of open archives by path.
"""

from geo.render.tiles.archive import MAX_OPEN_ARCHIVES, PMTilesArchive, open_archive
from geo.render.tiles.features import DETAIL_FIELDS, TILE_FIELDS, feature_properties
from geo.render.tiles.mvt import EXTENT
from geo.render.tiles.pool import WORKERS, Ahead, run_jobs
from geo.render.tiles.tiling import (
    LevelGeometry,
    geography_geometry,
    iter_tiles,
    level_geometry,
)
from geo.render.tiles.writer import (
    TilesPlan,
    TilesSummary,
    plan_pmtiles,
    tiles_metadata,
    write_pmtiles,
)
from geo.render.tiles.zoom import ZoomRange, zoom_range, zoom_range_of

__all__ = [
    "DETAIL_FIELDS", "EXTENT", "MAX_OPEN_ARCHIVES", "TILE_FIELDS", "WORKERS", "Ahead",
    "LevelGeometry", "PMTilesArchive", "TilesPlan", "TilesSummary", "ZoomRange",
    "feature_properties", "geography_geometry", "iter_tiles", "level_geometry", "open_archive",
    "plan_pmtiles", "run_jobs", "tiles_metadata", "write_pmtiles", "zoom_range", "zoom_range_of",
]
