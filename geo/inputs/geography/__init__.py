"""Geographies: the ``geography.toml`` manifest, boundary loading and nesting checks.

A geography is a folder with a ``geography.toml`` and boundary files, one level per file
(coarsest first), or a level derived from the next finer one by dissolving it by parent key.
Loading validates every file and the nesting between levels and collects the problems in a
:class:`Report`; :func:`load_geography` raises when the report has errors,
:func:`check_geography` only returns it.

Modules, in the order data flows through them:

- ``report``: ``Finding`` and ``Report``, what a check found and how it is shown.
- ``manifest``: ``load_manifest``, ``GeographySpec`` and ``LevelSpec``; ``MANIFEST``, ``TOTAL``.
- ``rows``: key, name, geometry and parent-key checks of a file's rows.
- ``coordinates``: coordinates judged against their CRS (impossible values, a projected GeoJSON
  without ``crs`` member, coordinates far from where the CRS is used); ``AREA_OF_USE_MARGIN``.
- ``files``: reading one level's file (zipped datasets, layer, ``where``, CRS).
- ``nesting``: derived levels, parents by field, prefix or overlap, nesting and coverage.
- ``load``: ``Geography``, output in EPSG:4326, ``check_geography`` and ``load_geography``.
"""

from geo.inputs.geography.coordinates import AREA_OF_USE_MARGIN
from geo.inputs.geography.load import OUTPUT_CRS, Geography, check_geography, load_geography
from geo.inputs.geography.manifest import (
    MANIFEST,
    TOTAL,
    GeographySpec,
    LevelSpec,
    load_manifest,
)
from geo.inputs.geography.nesting import (
    GAP_TOLERANCE,
    INSIDE_TOLERANCE,
    MIN_INSIDE,
    OVERLAP_TOLERANCE,
)
from geo.inputs.geography.report import Finding, Report, Severity

__all__ = [
    "AREA_OF_USE_MARGIN", "GAP_TOLERANCE", "INSIDE_TOLERANCE", "MANIFEST", "MIN_INSIDE",
    "OUTPUT_CRS", "OVERLAP_TOLERANCE", "TOTAL", "Finding", "Geography", "GeographySpec",
    "LevelSpec", "Report", "Severity", "check_geography", "load_geography", "load_manifest",
]
