"""The files of a build folder (``data/<geography id>/``) and what lies beside it.

Every release lives in ``data/<geo>.releases/<release id>/`` with its sign-off log beside it
(``<release id>.suppression.csv``); ``data/<geo>`` and ``data/<geo>.suppression.csv`` are
symbolic links to the current release and its log (``geo.release.history``).
"""

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


RELEASES_SUFFIX = ".releases"
"""Every release of ``data/<geo>`` lies in ``data/<geo>.releases/<release id>/``."""


def releases_dir(out: Path) -> Path:
    """The folder that holds every release of the build folder ``out``."""
    return out.parent / f"{out.name}{RELEASES_SUFFIX}"


def release_dir(out: Path, release_id: str) -> Path:
    """The folder of one release of ``out`` (its log lies beside it)."""
    return releases_dir(out) / release_id
