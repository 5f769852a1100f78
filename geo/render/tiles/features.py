"""Feature properties: what each area carries in the tiles of its level.

Only published values ever enter a tile: the properties are columns of the release's
per-level table ``geo.release.wide_values`` (computed once per release and shared with the
GeoPackage, QGIS styles and the OGC API), where withheld cells are already empty. Empty
values are left out of a feature rather than encoded. Every zoom carries the rate and status
of each indicator's latest year; the archive's maxzoom adds intervals and counts.
"""

from __future__ import annotations

import pandas as pd

from geo.release import PublishedBuild, wide_values
from geo.render.tiles.mvt import LayerAttributes

TILE_FIELDS = ("status",)
"""Per indicator every tile carries the rate ``<ind>`` and ``<ind>_status`` (latest year)."""
DETAIL_FIELDS = ("ci_low", "ci_high", "numerator", "denominator")
"""Carried as ``<ind>_<field>`` only at the archive's maxzoom (what QGIS and overzoomed street
views read); low zooms stay light. Reliability, comparisons and other years come from the API."""


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


def field_types(published: PublishedBuild) -> dict[str, str]:
    """The ``fields`` of each vector layer in the archive's metadata (String or Number)."""
    fields = {"area_id": "String", "name": "String", "parent_id": "String"}
    for ind in published.catalogue.indicators:
        fields[ind.id] = "Number"
        for fld in (*TILE_FIELDS, *DETAIL_FIELDS):
            fields[f"{ind.id}_{fld}"] = "String" if fld == "status" else "Number"
    return fields


def level_attributes(published: PublishedBuild, level: str) -> tuple[pd.Index, LayerAttributes]:
    """The area ids of one level in attribute order, and their feature properties encoded."""
    table = feature_properties(published, level)
    detail = {f"{i.id}_{f}" for i in published.catalogue.indicators for f in DETAIL_FIELDS}
    return pd.Index(table["area_id"]), LayerAttributes(table, detail)
