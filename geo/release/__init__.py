"""The published release: the frozen type, its files, its manifest and derived tables.

- ``published``: ``PublishedBuild`` (withheld cells carry no value) and ``publish``.
- ``parameters``: ``BuildParameters``, the typed settings of a build.
- ``identity``: release ids and file digests.
- ``layout``: the file names of a build folder.
- ``tables``: the per-level table and the indicator x level x year selection, once per release.
- ``files``: CSV/JSON writers and ``read_build``.
- ``manifest``: ``manifest.json``.
- ``digests``: keyed per-year digests of the raw cells (which years two releases share).
- ``history``: the releases of a build folder (list, add, make current, roll back, withdraw).
- ``union``: releases protect each other (forced cells, the combined audit, revised cells).
- ``audit``: ``audit_build`` (one written release) and ``audit_releases`` (every online
  release alone and combined).
- ``folder``: the build folder checked before a build; what killed builds left, removed.
"""

from geo.inputs.geography import TOTAL
from geo.release.audit import audit_build
from geo.release.files import attribution_text, read_build, write_build
from geo.release.identity import file_hash, release_id
from geo.release.layout import (
    AREAS_FILE,
    ATTRIBUTION_FILE,
    CATALOGUE_FILE,
    CELLS_FILE,
    GPKG_FILE,
    MANIFEST_FILE,
    PROVENANCE_FILE,
    TILES_FILE,
    VALUES_FILE,
    suppression_log_path,
)
from geo.release.manifest import write_manifest
from geo.release.parameters import BuildParameters
from geo.release.published import GeographyInfo, LevelInfo, PublishedBuild, publish
from geo.release.tables import (
    WIDE_FIELDS,
    indicator_rows,
    level_area_ids,
    resolve_year,
    total_rate,
    wide_values,
)

__all__ = [
    "AREAS_FILE", "ATTRIBUTION_FILE", "CATALOGUE_FILE", "CELLS_FILE", "GPKG_FILE",
    "MANIFEST_FILE", "PROVENANCE_FILE", "TILES_FILE", "TOTAL", "VALUES_FILE", "WIDE_FIELDS",
    "BuildParameters",
    "GeographyInfo", "LevelInfo", "PublishedBuild", "attribution_text", "audit_build",
    "file_hash", "indicator_rows", "level_area_ids", "publish", "read_build", "release_id",
    "resolve_year", "suppression_log_path", "total_rate", "wide_values", "write_build",
    "write_manifest",
]
