"""Find areas by name or key, on every level (the viewer's area search)."""

from __future__ import annotations

import unicodedata
from typing import Any

from geo.errors import ParameterError
from geo.release import TOTAL, PublishedBuild
from geo.release.tables import memoised

MAX_MATCHES = 20
MAX_QUERY = 100


def _fold(text: str) -> str:
    """Case- and accent-free text: ``Dönberg`` and ``donberg`` match, ``ß`` matches ``ss``."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _entries(published: PublishedBuild) -> list[tuple[int, str, str, str, str, str]]:
    """(level order, level, level name, area_id, name, folded name) of every area."""

    def make() -> list[tuple[int, str, str, str, str, str]]:
        geo = published.geography
        order = {TOTAL: 0, **{lv.id: i + 1 for i, lv in enumerate(geo.levels)}}
        names = {TOTAL: geo.total_name, **{lv.id: lv.name for lv in geo.levels}}
        return [
            (order.get(str(lv), 99), str(lv), names.get(str(lv), str(lv)), str(aid), str(nm),
             _fold(str(nm)))
            for lv, aid, nm in published.areas[["level", "area_id", "name"]].itertuples(
                index=False, name=None)
        ]

    return memoised(published, ("profile-search",), make)


def _bounds(published: PublishedBuild) -> dict[tuple[str, str], list[float]]:
    """(level, area_id) -> [west, south, east, north] in degrees (the shapes are EPSG:4326)."""

    def make() -> dict[tuple[str, str], list[float]]:
        out = {}
        for level, shapes in published.shapes.items():
            box = shapes.geometry.bounds.round(6)
            for aid, row in zip(shapes["area_id"], box.itertuples(index=False), strict=True):
                out[(str(level), str(aid))] = [float(v) for v in row]
        return out

    return memoised(published, ("profile-search-bounds",), make)


def search_areas(published: PublishedBuild, query: str, *, level: str | None = None,
                 limit: int = MAX_MATCHES) -> list[dict[str, Any]]:
    """Areas whose key or name matches ``query``: exact key first, then names that start with
    it, then names that contain it (coarser levels first, then by name). Each match has its
    ``bbox`` (west, south, east, north in degrees) for a map to zoom to.

    Raises:
        ParameterError: empty or overlong query, or a limit below 1.
        NotFoundError: unknown level.
    """
    text = query.strip()
    if not text or len(text) > MAX_QUERY:
        raise ParameterError(f"q must have 1 to {MAX_QUERY} characters")
    if limit < 1:
        raise ParameterError(f"limit must be at least 1, not {limit}")
    if level is not None:
        published.geography.level(level)
    folded = _fold(text)
    scored = []
    for order, lv, lv_name, aid, name, fname in _entries(published):
        if level is not None and lv != level:
            continue
        if aid == text:
            score = 0
        elif fname == folded:
            score = 1
        elif fname.startswith(folded) or aid.startswith(text):
            score = 2
        elif folded in fname:
            score = 3
        else:
            continue
        scored.append((score, order, fname, aid, lv, lv_name, name))
    scored.sort()
    bounds = _bounds(published)
    return [
        {"level": lv, "level_name": lv_name, "area_id": aid, "name": name,
         "bbox": bounds.get((lv, aid))}
        for _, _, _, aid, lv, lv_name, name in scored[:limit]
    ]
