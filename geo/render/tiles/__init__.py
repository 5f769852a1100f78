"""Vector tiles of a published build: one PMTiles v3 archive, one MVT layer per level.

The archive is written by a small encoder of our own (measured against tippecanoe in
bench/tiles.py): each level is simplified per zoom as a coverage, so neighbours share
vertices and no sliver opens between them at any zoom; every area appears at every zoom;
only published values ever enter a tile.

Modules, in the order data flows through them:

- ``zoom``: ``ZoomRange`` and ``zoom_range``, the zooms an archive holds.
- ``mvt``: the protobuf MVT encoder.
- ``features``: ``feature_properties``, what each area carries, from
  ``geo.release.wide_values``.
- ``tiling``: per-zoom coverage simplification and ``iter_tiles``.
- ``writer``: ``tiles_metadata`` and ``write_pmtiles``, the archive on disk.
- ``archive``: ``PMTilesArchive``, the reader, and ``open_archive``, a small bounded cache
  of open archives by path.
"""

from geo.render.tiles.archive import MAX_OPEN_ARCHIVES, PMTilesArchive, open_archive
from geo.render.tiles.features import DETAIL_FIELDS, TILE_FIELDS, feature_properties
from geo.render.tiles.mvt import EXTENT
from geo.render.tiles.tiling import iter_tiles
from geo.render.tiles.writer import TilesSummary, tiles_metadata, write_pmtiles
from geo.render.tiles.zoom import ZoomRange, zoom_range

__all__ = [
    "DETAIL_FIELDS", "EXTENT", "MAX_OPEN_ARCHIVES", "TILE_FIELDS", "PMTilesArchive",
    "TilesSummary", "ZoomRange", "feature_properties", "iter_tiles",
    "open_archive", "tiles_metadata", "write_pmtiles", "zoom_range",
]
