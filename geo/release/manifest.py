"""``manifest.json``: what a release is (geography, years, inputs, parameters, files).

Written last, so its presence marks a complete build.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from geo import __version__
from geo.release.layout import MANIFEST_FILE
from geo.release.published import GeographyInfo, LevelInfo, PublishedBuild


def manifest_dict(
    published: PublishedBuild, files: list[str],
    year_digests: Mapping[int, Mapping[str, str]] | None = None,
) -> dict[str, Any]:
    """The manifest of a release as plain JSON data.

    ``year_digests`` (keyed HMACs of each year's and variable's raw cells,
    ``geo.release.digests``) tell a later build which counts it shares (``geo.release.union``).
    """
    counts = pd.concat([published.cells["status"], published.measures["status"]]).value_counts()
    geo = published.geography
    return {
        "geography": {
            "id": geo.id,
            "name": geo.name,
            "attribution": geo.attribution,
            "notice": geo.notice,
            "total_id": geo.total_id,
            "total_name": geo.total_name,
            "levels": [{"id": lv.id, "name": lv.name, "count": lv.count} for lv in geo.levels],
            "crs": geo.crs,
        },
        "release_id": published.release_id,
        "quartier_version": __version__,
        "created": published.created,
        "years": list(published.years),
        "inputs": dict(published.inputs),
        "parameters": published.parameters.to_dict(),
        "cells": {s: int(counts.get(s, 0)) for s in ("published", "suppressed", "missing")},
        "files": sorted(files),
        "year_digests": {str(y): dict(sorted(d.items()))
                         for y, d in sorted((year_digests or {}).items())},
    }


def write_manifest(
    published: PublishedBuild, out_dir: Path, files: list[str],
    year_digests: Mapping[int, Mapping[str, str]] | None = None,
) -> None:
    """Write manifest.json last: its presence marks a complete build."""
    (out_dir / MANIFEST_FILE).write_text(
        json.dumps(manifest_dict(published, files, year_digests), ensure_ascii=False, indent=1),
        encoding="utf-8",
    )


def read_manifest(build_dir: Path) -> dict[str, Any]:
    """Parse a build's manifest.json (raises OSError, ValueError on a broken file)."""
    data = json.loads((Path(build_dir) / MANIFEST_FILE).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError("manifest.json is not an object")
    return data


def geography_from_manifest(manifest: dict[str, Any]) -> GeographyInfo:
    """The ``GeographyInfo`` a manifest describes."""
    g = manifest["geography"]
    return GeographyInfo(
        id=g["id"],
        name=g["name"],
        attribution=g["attribution"],
        total_id=g["total_id"],
        total_name=g["total_name"],
        levels=tuple(LevelInfo(lv["id"], lv["name"], int(lv["count"])) for lv in g["levels"]),
        notice=g.get("notice") or "",
        crs=g.get("crs") or "EPSG:4326",
    )


def year_digests_from_manifest(manifest: Mapping[str, Any]) -> dict[int, dict[str, str]]:
    """The manifest's digests per year and variable (empty for releases of older versions)."""
    return {int(y): {str(v): str(d) for v, d in per_variable.items()}
            for y, per_variable in (manifest.get("year_digests") or {}).items()
            if isinstance(per_variable, dict)}
