"""The profile of one area as plain JSON (the data behind the page and the PDF).

A withheld value has ``rate``, ``ci_low``, ``ci_high``, ``numerator`` and ``denominator`` all
null, as in ``values.csv``; so have its comparisons and rank.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from geo.render.profiles.data import AreaProfile, AreaRef, IndicatorProfile
from geo.render.profiles.definitions import definition_record

VALUE_KEYS = ("year", "rate", "ci_low", "ci_high", "numerator", "denominator", "status",
              "reliable", "vs_total", "vs_parent", "rank", "rank_of")


def _ref(ref: AreaRef) -> dict[str, Any]:
    return {"level": ref.level, "level_name": ref.level_name, "area_id": ref.area_id,
            "name": ref.name}


def _indicator(item: IndicatorProfile) -> dict[str, Any]:
    ind = item.indicator
    spine = asdict(item.spine) if item.spine is not None else None
    return {
        "indicator": ind.id,
        "name": ind.name,
        "theme": ind.theme,
        "unit": ind.unit,
        "higher_is": ind.higher_is,
        "year": item.year,
        "definition": definition_record(item.definition),
        "spine": spine,
        "values": [{k: getattr(v, k) for k in VALUE_KEYS} | {"total_rate": v.total_rate,
                                                               "parent_rate": v.parent_rate}
                   for v in item.values],
    }


def profile_document(profile: AreaProfile) -> dict[str, Any]:
    """``{"area": {...}, "indicators": [...]}`` with the release's id and attribution."""
    geo = profile.geography
    pop = profile.population
    area = _ref(profile.area) | {
        "parents": [_ref(p) for p in profile.parents],
        "population": None if pop is None else {
            "variable": pop.variable, "name": pop.name, "year": pop.year, "value": pop.value,
            "status": pop.status},
    }
    return {
        "geography": geo.id,
        "release_id": profile.release_id,
        "attribution": geo.attribution,
        "notice": geo.notice or None,
        "years": list(profile.years),
        "area": area,
        "indicators": [_indicator(item) for item in profile.indicators],
    }
