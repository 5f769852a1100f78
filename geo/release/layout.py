"""The files of a build folder (``data/<geography id>/``) and what lies beside it."""

from __future__ import annotations

from pathlib import Path

MANIFEST_FILE = "manifest.json"
"""Written last: its presence marks a complete build."""
CATALOGUE_FILE = "indicators.json"
AREAS_FILE = "areas.csv"
CELLS_FILE = "cells.csv"
VALUES_FILE = "values.csv"
GPKG_FILE = "layers.gpkg"
TILES_FILE = "tiles.pmtiles"
ATTRIBUTION_FILE = "ATTRIBUTION.txt"
PROVENANCE_FILE = "PROVENANCE.json"
"""Provenance of the counts files that came from ``quartier intake``, by counts file name."""
LOG_SUFFIX = ".suppression.csv"
"""The sign-off log ``<build>.suppression.csv`` lies beside the build folder, never inside."""


def suppression_log_path(out: Path) -> Path:
    """The sign-off log lies beside the build folder, never inside it (never served)."""
    return out.parent / f"{out.name}{LOG_SUFFIX}"
